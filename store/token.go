package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
)

// Token kinds.
const (
	// TokenAPI is an API token: made with `tandem token create` or the API, held by a program.
	TokenAPI = "api"
	// TokenSession is an agent's login: it expires when unused and ends at logout.
	TokenSession = "session"
)

// Token is a credential's record; the token itself is never stored, only its SHA-256 hash.
type Token struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Kind is TokenAPI or TokenSession.
	Kind string `json:"kind"`
	// Agent is the e-mail of the agent the token acts as; "" for an API token of its own.
	Agent string `json:"agent,omitempty"`
	// Role is the agent's role (agent, admin) when the token was read; "" without an agent.
	Role      string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when the token stops working (zero: never). A session's moves forward as it
	// is used, never past MaxExpiresAt.
	ExpiresAt    time.Time `json:"expires_at,omitzero"`
	MaxExpiresAt time.Time `json:"-"`
	LastUsedAt   time.Time `json:"last_used_at,omitzero"`
	RevokedAt    time.Time `json:"revoked_at,omitzero"`
}

// Live reports whether the token works at now: not revoked, not expired.
func (t *Token) Live(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

// TokenPrefix starts every API token, so a leaked one is easy to recognise.
const TokenPrefix = "tdm_"

// HashToken returns the stored form of a token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// TokenParams describes a token to mint.
type TokenParams struct {
	Name string
	// Kind is TokenAPI (default) or TokenSession.
	Kind  string
	Agent string
	// ExpiresAt is when it stops working (zero: never); MaxExpiresAt bounds how far use may
	// move it (zero: ExpiresAt never moves).
	ExpiresAt, MaxExpiresAt time.Time
	Now                     time.Time
	NewID                   func() string
}

// TokenCreate mints an API token without expiry, stores its hash and returns the token (shown
// once). With an agent, the token acts as that agent.
func (db *DB) TokenCreate(ctx context.Context, name, agent string, now time.Time, newID func() string) (string, *Token, error) {
	return db.TokenMint(ctx, TokenParams{Name: name, Agent: agent, Now: now, NewID: newID})
}

// TokenMint mints a token, stores its hash and returns the token (shown once).
func (db *DB) TokenMint(ctx context.Context, p TokenParams) (string, *Token, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	if p.Kind == "" {
		p.Kind = TokenAPI
	}
	if p.NewID == nil {
		p.NewID = newID
	}
	token := TokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
	t := &Token{ID: p.NewID(), Name: p.Name, Kind: p.Kind, Agent: strings.ToLower(p.Agent), CreatedAt: p.Now,
		ExpiresAt: p.ExpiresAt, MaxExpiresAt: p.MaxExpiresAt}
	err := db.write(ctx, func(q q) error {
		_, err := q.exec(`INSERT INTO tokens (id, name, hash, agent, kind, created_at, expires_at, max_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, t.Name, HashToken(token), t.Agent, t.Kind, micros(p.Now), nullMicros(t.ExpiresAt), nullMicros(t.MaxExpiresAt))
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("token: create: %w", err)
	}
	return token, t, nil
}

const tokenCols = `t.id, t.name, t.kind, t.agent, t.created_at, t.expires_at, t.max_expires_at, t.last_used_at, t.revoked_at, COALESCE(a.role, '')`

func scanToken(row interface{ Scan(...any) error }) (*Token, error) {
	var t Token
	var created int64
	var expires, maxExpires, used, revoked sql.NullInt64
	if err := row.Scan(&t.ID, &t.Name, &t.Kind, &t.Agent, &created, &expires, &maxExpires, &used, &revoked, &t.Role); err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt, t.MaxExpiresAt = fromMicros(created), fromMicros(expires.Int64), fromMicros(maxExpires.Int64)
	t.LastUsedAt, t.RevokedAt = fromMicros(used.Int64), fromMicros(revoked.Int64)
	return &t, nil
}

// TokenLookup returns the record of a token that is not revoked, with its agent's role, or an
// unauthorized error. It does not check expiry: the caller compares ExpiresAt with its clock
// (Live), and moves a session's expiry forward with TokenUsed.
func (db *DB) TokenLookup(ctx context.Context, token string) (*Token, error) {
	t, err := scanToken(db.read(ctx).row(`SELECT `+tokenCols+` FROM tokens t LEFT JOIN agents a ON a.email = t.agent WHERE t.hash = ? AND t.revoked_at IS NULL`, HashToken(token)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tandem.Errorf(tandem.EUNAUTHORIZED, "The token is not valid (it was revoked, or its login ended): log in again, or create an API token with `tandem token create`.")
	} else if err != nil {
		return nil, fmt.Errorf("token: lookup: %w", err)
	}
	return t, nil
}

// TokenUsed records that a token was used at now and sets its expiry (zero: unchanged).
func (db *DB) TokenUsed(ctx context.Context, id string, now, expires time.Time) error {
	return db.write(ctx, func(q q) error {
		var err error
		if expires.IsZero() {
			_, err = q.exec(`UPDATE tokens SET last_used_at = ? WHERE id = ?`, micros(now), id)
		} else {
			_, err = q.exec(`UPDATE tokens SET last_used_at = ?, expires_at = ? WHERE id = ?`, micros(now), micros(expires), id)
		}
		if err != nil {
			return fmt.Errorf("token %s: used: %w", id, err)
		}
		return nil
	})
}

// TokenListParams selects tokens.
type TokenListParams struct {
	// Kind keeps one kind ("" for all); Agent keeps one agent's.
	Kind, Agent string
	// Live drops revoked tokens and those expired at Now.
	Live bool
	Now  time.Time
}

// TokenList returns tokens, newest first.
func (db *DB) TokenList(ctx context.Context, p TokenListParams) ([]Token, error) {
	where := []string{"1 = 1"}
	var args []any
	if p.Kind != "" {
		where = append(where, "t.kind = ?")
		args = append(args, p.Kind)
	}
	if p.Agent != "" {
		where = append(where, "t.agent = ?")
		args = append(args, strings.ToLower(p.Agent))
	}
	if p.Live {
		where = append(where, "t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)")
		args = append(args, micros(p.Now))
	}
	rows, err := db.read(ctx).query(`SELECT `+tokenCols+` FROM tokens t LEFT JOIN agents a ON a.email = t.agent WHERE `+
		strings.Join(where, " AND ")+` ORDER BY t.created_at DESC, t.id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("tokens: %w", err)
		}
		out = append(out, *t)
	}
	return out, rows.Err()
}

// TokenGet returns a token's record by id, revoked or not.
func (db *DB) TokenGet(ctx context.Context, id string) (*Token, error) {
	t, err := scanToken(db.read(ctx).row(`SELECT `+tokenCols+` FROM tokens t LEFT JOIN agents a ON a.email = t.agent WHERE t.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Token", id)
	} else if err != nil {
		return nil, fmt.Errorf("token %s: %w", id, err)
	}
	return t, nil
}

// TokenRevoke revokes a token by id; a token already revoked is not found.
func (db *DB) TokenRevoke(ctx context.Context, id string, now time.Time) error {
	return db.write(ctx, func(q q) error {
		r, err := q.exec(`UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, micros(now), id)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return notFound("Token", id)
		}
		return nil
	})
}

// nullMicros stores a zero time as NULL.
func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}
