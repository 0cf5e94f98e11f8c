package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tandemchat/tandem"
)

// eMethodNotAllowed is the code of a request whose path is served, but not with its method.
// It is the API's own: nothing below the HTTP layer can fail that way.
const eMethodNotAllowed = "method_not_allowed"

// statuses maps error codes to HTTP statuses: the one table.
var statuses = map[string]int{
	eMethodNotAllowed:    http.StatusMethodNotAllowed,
	tandem.EINVALID:      http.StatusBadRequest,
	tandem.EUNAUTHORIZED: http.StatusUnauthorized,
	tandem.EFORBIDDEN:    http.StatusForbidden,
	tandem.ENOTFOUND:     http.StatusNotFound,
	tandem.ECONFLICT:     http.StatusConflict,
	tandem.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	tandem.EINVALIDFLOW:  http.StatusUnprocessableEntity,
	tandem.ERATELIMITED:  http.StatusTooManyRequests,
	tandem.EUNAVAILABLE:  http.StatusServiceUnavailable,
	tandem.EINTERNAL:     http.StatusInternalServerError,
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error struct {
		Code     string `json:"code"`
		Message  string `json:"message"`
		Problems any    `json:"problems,omitempty"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, err error) {
	code := tandem.ErrorCode(err)
	if isMaxBytes(err) {
		code = tandem.ETOOLARGE
		err = tandem.Errorf(code, "The request body is too large.")
	}
	status, ok := statuses[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	var body errorBody
	body.Error.Code = code
	body.Error.Message = tandem.ErrorMessage(err)
	var te *tandem.Error
	if errors.As(err, &te) && te.Details != nil {
		body.Error.Problems = te.Details
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// decode reads a JSON body into v, refusing unknown fields and naming the field at fault.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return tandem.Errorf(tandem.EINVALID, "The body holds more than one JSON value.")
	}
	return nil
}

func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case isMaxBytes(err):
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

// invalid returns a 400 error naming a field.
func invalid(field, format string, args ...any) error {
	return tandem.Errorf(tandem.EINVALID, "%s: %s", field, fmt.Sprintf(format, args...))
}
