package desk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/tandemchat/tandem"
)

// MaxHookBody caps the body of a desk's webhook.
const MaxHookBody = 1 << 20

// ErrTooLarge is returned by ReadBody for a body over its cap.
var ErrTooLarge = errors.New("the body is too large")

// ReadBody reads a webhook's body whole, up to max bytes (ErrTooLarge past it).
func ReadBody(r *http.Request, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || int64(len(b)) > max {
		return nil, ErrTooLarge
	}
	return b, err
}

// WriteJSON answers a webhook with a JSON body.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Equal compares a presented credential with the configured one in constant time, whatever
// their lengths; an empty configured value matches nothing.
func Equal(presented, configured string) bool {
	if configured == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(presented)), sha256.Sum256([]byte(configured))
	return hmac.Equal(a[:], b[:])
}

// HookBody starts serving a webhook of a desk kind: a not_found error when d is nil (no desk
// of the kind has the path's id), too_large past MaxHookBody; otherwise the body. Errors are
// *tandem.Error, which the server answers in the API's shape, {"error": {"code", "message"}},
// with the code's status.
func HookBody(d tandem.Desk, r *http.Request) ([]byte, error) {
	if d == nil {
		return nil, tandem.Errorf(tandem.ENOTFOUND, "No desk %q of this kind is configured; check the webhook's URL against the desks of tandem.yaml.", r.PathValue("desk_id"))
	}
	body, err := ReadBody(r, MaxHookBody)
	if errors.Is(err, ErrTooLarge) {
		return nil, tandem.Errorf(tandem.ETOOLARGE, "The webhook's body is over %d bytes; Tandem does not read it.", MaxHookBody)
	}
	return body, err // err: the client went away mid-body
}
