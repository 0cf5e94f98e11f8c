// Package seal encrypts small secrets for storage (AES-256-GCM), each sealed value naming the
// key that sealed it, so that keys can be rotated: a Keyring seals with its current key and opens
// with any of its keys. It is the standard library only, holds no state besides the keys, and
// never logs or prints a key or a plaintext. It does not read the environment: callers load the
// keys (cmd/tandem reads TANDEM_SECRET_KEY) and decide where sealed values live.
//
// A sealed value is text: "v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>". The key id is
// the first 8 hex digits of a SHA-256 of the key: it names a key without revealing it. The
// caller's context string (for example a row's table and name) is authenticated with the value,
// so a sealed value copied to another row does not open there.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a key in bytes (AES-256).
const KeySize = 32

// version starts every sealed value; a later format gets another.
const version = "v1"

// Key is one AES-256-GCM key and its id.
type Key struct {
	id   string
	aead cipher.AEAD
}

// ID names the key without revealing it.
func (k *Key) ID() string { return k.id }

// String shows the id only, so that printing a key by mistake reveals nothing.
func (k *Key) String() string { return "seal key " + k.id }

// GoString is String, for %#v.
func (k *Key) GoString() string { return k.String() }

// ParseKey reads a key written as 32 bytes in base64 (standard or URL alphabet, padded or not)
// or in hex (64 digits). Surrounding spaces are ignored. The error never repeats the text.
func ParseKey(text string) (*Key, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, errors.New("the key is empty; make one with `openssl rand -base64 32` (or `tandem secret key`)")
	}
	var raw []byte
	if len(text) == 2*KeySize {
		raw, _ = hex.DecodeString(text)
	}
	if raw == nil {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(text); err == nil {
				raw = b
				break
			}
		}
	}
	if raw == nil {
		return nil, errors.New("the key is neither base64 nor hex; make one with `openssl rand -base64 32`")
	}
	if len(raw) != KeySize {
		return nil, fmt.Errorf("the key is %d bytes long, want %d; make one with `openssl rand -base64 32`", len(raw), KeySize)
	}
	return newKey(raw)
}

func newKey(raw []byte) (*Key, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte("tandem seal key id\x00"), raw...))
	return &Key{id: hex.EncodeToString(sum[:4]), aead: aead}, nil
}

// NewKeyText returns a fresh random key in the text form ParseKey reads (base64).
func NewKeyText() string {
	raw := make([]byte, KeySize)
	rand.Read(raw) // never fails (crypto/rand panics if the system has no randomness)
	return base64.StdEncoding.EncodeToString(raw)
}

// Keyring seals with its current key and opens with any of its keys.
type Keyring struct {
	current *Key
	keys    map[string]*Key
}

// NewKeyring returns a keyring sealing with current and opening with current and old. Old keys
// equal to current, or repeated, are ignored.
func NewKeyring(current *Key, old ...*Key) *Keyring {
	k := &Keyring{current: current, keys: map[string]*Key{current.id: current}}
	for _, o := range old {
		if o != nil && k.keys[o.id] == nil {
			k.keys[o.id] = o
		}
	}
	return k
}

// KeyID is the id of the key that seals.
func (k *Keyring) KeyID() string { return k.current.id }

// Has reports whether the keyring holds the key with the id.
func (k *Keyring) Has(id string) bool { return k.keys[id] != nil }

// String shows the key ids only.
func (k *Keyring) String() string {
	var old []string
	for id := range k.keys {
		if id != k.current.id {
			old = append(old, id)
		}
	}
	return fmt.Sprintf("seal keyring current=%s old=%v", k.current.id, old)
}

// GoString is String, for %#v.
func (k *Keyring) GoString() string { return k.String() }

// Seal encrypts plaintext with the current key, bound to context (which Open must be given
// again; it is not stored).
func (k *Keyring) Seal(plaintext []byte, context string) string {
	a := k.current.aead
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(plaintext)+a.Overhead())
	rand.Read(nonce)
	out := a.Seal(nonce, nonce, plaintext, aad(k.current.id, context))
	return version + "." + k.current.id + "." + base64.RawURLEncoding.EncodeToString(out)
}

// ErrUnknownKey is returned by Open when the value was sealed with a key the keyring lacks;
// errors.As with *UnknownKeyError gives its id.
var ErrUnknownKey = errors.New("sealed with a key that is not given")

// UnknownKeyError names the key a value was sealed with when the keyring lacks it.
type UnknownKeyError struct{ ID string }

func (e *UnknownKeyError) Error() string {
	return fmt.Sprintf("the value was sealed with key %s, which is not among the keys given", e.ID)
}

// Is makes errors.Is(err, ErrUnknownKey) hold.
func (e *UnknownKeyError) Is(target error) bool { return target == ErrUnknownKey }

// ErrCorrupt is returned by Open when a value is not a sealed value, was changed, or was sealed
// with another context.
var ErrCorrupt = errors.New("the sealed value is damaged or belongs elsewhere")

// Open decrypts a sealed value with the key it names.
func (k *Keyring) Open(sealed, context string) ([]byte, error) {
	id, body, err := parse(sealed)
	if err != nil {
		return nil, err
	}
	key := k.keys[id]
	if key == nil {
		return nil, &UnknownKeyError{ID: id}
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(raw) < key.aead.NonceSize()+key.aead.Overhead() {
		return nil, ErrCorrupt
	}
	n := key.aead.NonceSize()
	out, err := key.aead.Open(nil, raw[:n], raw[n:], aad(id, context))
	if err != nil {
		return nil, ErrCorrupt
	}
	return out, nil
}

// Current reports whether a sealed value was sealed with the current key (rotation skips it).
func (k *Keyring) Current(sealed string) bool {
	id, _, err := parse(sealed)
	return err == nil && id == k.current.id
}

// KeyID returns the id of the key a sealed value names.
func KeyID(sealed string) (string, error) {
	id, _, err := parse(sealed)
	return id, err
}

func parse(sealed string) (id, body string, err error) {
	v, rest, ok := strings.Cut(sealed, ".")
	if !ok || v != version {
		return "", "", ErrCorrupt
	}
	id, body, ok = strings.Cut(rest, ".")
	if !ok || len(id) != 8 || body == "" {
		return "", "", ErrCorrupt
	}
	return id, body, nil
}

// aad binds a value to its key id and the caller's context.
func aad(id, context string) []byte { return []byte(version + "\x00" + id + "\x00" + context) }
