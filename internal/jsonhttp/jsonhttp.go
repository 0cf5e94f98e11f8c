// Package jsonhttp reads and writes the JSON bodies of Tandem's HTTP routes, the same way for
// the API server and for the channels' routes: decoding refuses unknown fields and names the
// field at fault in a tandem.Error (EINVALID, or ETOOLARGE past the body limit).
package jsonhttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tandemchat/tandem"
)

// Write answers with status and v as JSON (HTML characters not escaped).
func Write(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Decode reads one JSON value from r's body into v, refusing unknown fields.
func Decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return DecodeError(err)
	}
	if dec.More() {
		return tandem.Errorf(tandem.EINVALID, "The body holds more than one JSON value.")
	}
	return nil
}

// DecodeError turns an encoding/json error into a tandem.Error that names the field.
func DecodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case IsMaxBytes(err):
		return tandem.Errorf(tandem.ETOOLARGE, "The request body is too large.")
	case errors.Is(err, io.EOF):
		return tandem.Errorf(tandem.EINVALID, "The request body is empty; send a JSON object.")
	case errors.As(err, &syn):
		return tandem.Errorf(tandem.EINVALID, "The body is not valid JSON (at byte %d): %s.", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))
	case errors.As(err, &typ):
		return tandem.Errorf(tandem.EINVALID, "%s: expected %s, got %s.", fieldName(typ.Field), typ.Type.String(), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return tandem.Errorf(tandem.EINVALID, "%s: unknown field.", strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return tandem.Errorf(tandem.EINVALID, "The body is not valid JSON: it ends too early.")
	}
	return tandem.Errorf(tandem.EINVALID, "The body is not valid JSON: %s.", strings.TrimPrefix(err.Error(), "json: "))
}

func fieldName(f string) string {
	if f == "" {
		return "body"
	}
	return f
}

// Invalid returns a 400 error naming a field.
func Invalid(field, format string, args ...any) error {
	return tandem.Errorf(tandem.EINVALID, "%s: %s", field, fmt.Sprintf(format, args...))
}

// IsMaxBytes reports whether err comes from a body longer than http.MaxBytesReader allows.
func IsMaxBytes(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}
