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

// Token is an API token's record; the token itself is never stored.
type Token struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Agent     string    `json:"agent,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// TokenPrefix starts every API token, so a leaked one is easy to recognise.
const TokenPrefix = "tdm_"

// HashToken returns the stored form of a token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// TokenCreate mints a token, stores its hash and returns the token (shown once).
func (db *DB) TokenCreate(ctx context.Context, name, agent string, now time.Time, newID func() string) (string, *Token, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	token := TokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
	t := &Token{ID: newID(), Name: name, Agent: agent, CreatedAt: now}
	err := db.write(ctx, func(q q) error {
		_, err := q.exec(`INSERT INTO tokens (id, name, hash, agent, created_at) VALUES (?, ?, ?, ?, ?)`, t.ID, name, HashToken(token), agent, micros(now))
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("token: create: %w", err)
	}
	return token, t, nil
}

// TokenLookup returns the live token record for a token, or an unauthorized error.
func (db *DB) TokenLookup(ctx context.Context, token string) (*Token, error) {
	var t Token
	var created int64
	err := db.read(ctx).row(`SELECT id, name, agent, created_at FROM tokens WHERE hash = ? AND revoked_at IS NULL`, HashToken(token)).
		Scan(&t.ID, &t.Name, &t.Agent, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tandem.Errorf(tandem.EUNAUTHORIZED, "The token is not valid; create one with `tandem token create`.")
	} else if err != nil {
		return nil, fmt.Errorf("token: lookup: %w", err)
	}
	t.CreatedAt = fromMicros(created)
	return &t, nil
}

// TokenRevoke revokes a token by id.
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
