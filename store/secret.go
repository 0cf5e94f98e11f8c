package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/seal"
)

// ScopeWorkspace holds the workspace's secrets, which flows read as {{secret.NAME}}.
const ScopeWorkspace = "workspace"

// MaxSecretSize caps a stored secret's value.
const MaxSecretSize = 64 << 10

// ErrNoKey is returned when a secret must be sealed or opened and no key was given.
var ErrNoKey = tandem.Errorf(tandem.EUNAVAILABLE, "Secrets cannot be stored or read: TANDEM_SECRET_KEY is not set. Set it on every server to a 32-byte key (openssl rand -base64 32).")

// Secret is a stored secret's record, without its value.
type Secret struct {
	Scope     string    `json:"scope"`
	Name      string    `json:"name"`
	KeyID     string    `json:"key_id"`
	UpdatedAt time.Time `json:"updated_at"`
}

// workspaceName is what a workspace secret may be called: a name templates can write.
var workspaceName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkSecret checks a secret's scope, name and value.
func checkSecret(scope, name string, value *string) error {
	bad := func(s string) bool {
		return s == "" || len(s) > 200 || strings.ContainsRune(s, 0) || !utf8.ValidString(s)
	}
	switch {
	case bad(scope):
		return tandem.Errorf(tandem.EINVALID, "scope: give a scope of at most 200 characters, without NUL")
	case bad(name):
		return tandem.Errorf(tandem.EINVALID, "name: give a name of at most 200 characters, without NUL")
	case scope == ScopeWorkspace && !workspaceName.MatchString(name):
		return tandem.Errorf(tandem.EINVALID, "name: %q cannot be written in a template as {{secret.NAME}}; use letters, digits and _, not starting with a digit", name)
	case value != nil && len(*value) > MaxSecretSize:
		return tandem.Errorf(tandem.ETOOLARGE, "value: a secret is at most %d KiB", MaxSecretSize>>10)
	}
	return nil
}

// secretContext binds a sealed value to its row: copied to another row, it does not open.
func secretContext(scope, name string) string { return "secrets\x00" + scope + "\x00" + name }

// SecretPut seals value with the keyring's current key and stores it under scope and name,
// replacing any previous value.
func (db *DB) SecretPut(ctx context.Context, keys *seal.Keyring, scope, name, value string, now time.Time) error {
	if err := checkSecret(scope, name, &value); err != nil {
		return err
	}
	if keys == nil {
		return ErrNoKey
	}
	sealed := keys.Seal([]byte(value), secretContext(scope, name))
	return db.write(ctx, func(q q) error {
		_, err := q.exec(`INSERT INTO secrets (scope, name, value, key_id, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (scope, name) DO UPDATE SET value = excluded.value, key_id = excluded.key_id, updated_at = excluded.updated_at`,
			scope, name, sealed, keys.KeyID(), micros(now))
		if err != nil {
			return fmt.Errorf("secret %s/%s: put: %w", scope, name, err)
		}
		return nil
	})
}

// SecretGet returns a stored secret's value; a secret never put is an ENOTFOUND error.
func (db *DB) SecretGet(ctx context.Context, keys *seal.Keyring, scope, name string) (string, error) {
	if err := checkSecret(scope, name, nil); err != nil {
		return "", err
	}
	var sealed string
	err := db.read(ctx).row(`SELECT value FROM secrets WHERE scope = ? AND name = ?`, scope, name).Scan(&sealed)
	if isNoRows(err) {
		return "", tandem.Errorf(tandem.ENOTFOUND, "Secret %q of %s is not set.", name, scope)
	} else if err != nil {
		return "", fmt.Errorf("secret %s/%s: get: %w", scope, name, err)
	}
	return openSecret(keys, scope, name, sealed)
}

// SecretValues returns every secret of a scope, opened, by name.
func (db *DB) SecretValues(ctx context.Context, keys *seal.Keyring, scope string) (map[string]string, error) {
	rows, err := db.read(ctx).query(`SELECT name, value FROM secrets WHERE scope = ? ORDER BY name`, scope)
	if err != nil {
		return nil, fmt.Errorf("secrets of %s: %w", scope, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, sealed string
		if err := rows.Scan(&name, &sealed); err != nil {
			return nil, err
		}
		v, err := openSecret(keys, scope, name, sealed)
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, rows.Err()
}

func openSecret(keys *seal.Keyring, scope, name, sealed string) (string, error) {
	if keys == nil {
		return "", ErrNoKey
	}
	plain, err := keys.Open(sealed, secretContext(scope, name))
	var uk *seal.UnknownKeyError
	switch {
	case errors.As(err, &uk):
		return "", tandem.Errorf(tandem.EUNAVAILABLE, "Secret %q of %s was sealed with key %s, which neither TANDEM_SECRET_KEY nor TANDEM_SECRET_KEY_OLD holds: give the key it was sealed with.", name, scope, uk.ID)
	case err != nil:
		return "", tandem.Errorf(tandem.EINTERNAL, "Secret %q of %s cannot be opened: the stored value is damaged; set it again.", name, scope)
	}
	return string(plain), nil
}

// SecretList lists the stored secrets of a scope ("" for every scope), without their values.
func (db *DB) SecretList(ctx context.Context, scope string) ([]Secret, error) {
	query, args := `SELECT scope, name, key_id, updated_at FROM secrets ORDER BY scope, name`, []any{}
	if scope != "" {
		query, args = `SELECT scope, name, key_id, updated_at FROM secrets WHERE scope = ? ORDER BY scope, name`, []any{scope}
	}
	rows, err := db.read(ctx).query(query, args...)
	if err != nil {
		return nil, fmt.Errorf("secrets: list: %w", err)
	}
	defer rows.Close()
	out := []Secret{}
	for rows.Next() {
		var s Secret
		var at int64
		if err := rows.Scan(&s.Scope, &s.Name, &s.KeyID, &at); err != nil {
			return nil, err
		}
		s.UpdatedAt = fromMicros(at)
		out = append(out, s)
	}
	return out, rows.Err()
}

// SecretDelete removes a stored secret; one never put is an ENOTFOUND error.
func (db *DB) SecretDelete(ctx context.Context, scope, name string) error {
	if err := checkSecret(scope, name, nil); err != nil {
		return err
	}
	var n int64
	err := db.write(ctx, func(q q) error {
		r, err := q.exec(`DELETE FROM secrets WHERE scope = ? AND name = ?`, scope, name)
		if err != nil {
			return fmt.Errorf("secret %s/%s: delete: %w", scope, name, err)
		}
		n, _ = r.RowsAffected()
		return nil
	})
	if err == nil && n == 0 {
		return tandem.Errorf(tandem.ENOTFOUND, "Secret %q of %s is not set.", name, scope)
	}
	return err
}

// SecretKeyIDs returns the ids of the keys the stored secrets were sealed with, and how many
// each sealed.
func (db *DB) SecretKeyIDs(ctx context.Context) (map[string]int, error) {
	rows, err := db.read(ctx).query(`SELECT key_id, COUNT(*) FROM secrets GROUP BY key_id`)
	if err != nil {
		return nil, fmt.Errorf("secrets: keys: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}

// SecretRotate reseals with the keyring's current key every secret sealed with another key, and
// returns how many it resealed. Each is resealed in its own transaction, only if unchanged
// meanwhile, so it can run while servers run and be run again after an interruption.
func (db *DB) SecretRotate(ctx context.Context, keys *seal.Keyring, now time.Time) (int, error) {
	if keys == nil {
		return 0, ErrNoKey
	}
	type row struct{ scope, name, value string }
	rows, err := db.read(ctx).query(`SELECT scope, name, value FROM secrets WHERE key_id <> ? ORDER BY scope, name`, keys.KeyID())
	if err != nil {
		return 0, fmt.Errorf("secrets: rotate: %w", err)
	}
	var old []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.scope, &r.name, &r.value); err != nil {
			rows.Close()
			return 0, err
		}
		old = append(old, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, r := range old {
		plain, err := openSecret(keys, r.scope, r.name, r.value)
		if err != nil {
			return n, err
		}
		sealed := keys.Seal([]byte(plain), secretContext(r.scope, r.name))
		err = db.write(ctx, func(q q) error {
			_, err := q.exec(`UPDATE secrets SET value = ?, key_id = ?, updated_at = ? WHERE scope = ? AND name = ? AND value = ?`,
				sealed, keys.KeyID(), micros(now), r.scope, r.name, r.value)
			return err
		})
		if err != nil {
			return n, fmt.Errorf("secret %s/%s: rotate: %w", r.scope, r.name, err)
		}
		n++
	}
	return n, nil
}

// Secrets is one scope of the stored secrets, for an adapter that keeps credentials it obtains
// at run time (a LiveChat refresh token): it has the Get, Put and Delete that the adapters'
// own Secrets interfaces ask for.
type Secrets struct {
	DB    *DB
	Keys  *seal.Keyring // nil: nothing can be stored (ErrNoKey)
	Scope string        // "desk:<id>", "channel:<id>"
	Clock tandem.Clock
}

// Get returns a secret's value; one never put is an ENOTFOUND error.
func (s *Secrets) Get(ctx context.Context, name string) (string, error) {
	return s.DB.SecretGet(ctx, s.Keys, s.Scope, name)
}

// Put stores a secret, sealed.
func (s *Secrets) Put(ctx context.Context, name, value string) error {
	return s.DB.SecretPut(ctx, s.Keys, s.Scope, name, value, s.Clock.Now())
}

// Delete forgets a secret; one never put is an ENOTFOUND error.
func (s *Secrets) Delete(ctx context.Context, name string) error {
	return s.DB.SecretDelete(ctx, s.Scope, name)
}
