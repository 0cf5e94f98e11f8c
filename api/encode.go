package api

import (
	"errors"
	"net/http"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/jsonhttp"
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
	tandem.EIDEMPOTENCY:  http.StatusConflict,
	tandem.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	tandem.EINVALIDFLOW:  http.StatusUnprocessableEntity,
	tandem.ERATELIMITED:  http.StatusTooManyRequests,
	tandem.EUNAVAILABLE:  http.StatusServiceUnavailable,
	tandem.EINTERNAL:     http.StatusInternalServerError,

	tandem.EIDENTITYINVALID:  http.StatusUnauthorized,
	tandem.EIDENTITYREQUIRED: http.StatusForbidden,
	tandem.EORIGIN:           http.StatusForbidden,
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

func writeJSON(w http.ResponseWriter, status int, v any) error { return jsonhttp.Write(w, status, v) }

// decode reads a JSON body into v, refusing unknown fields and naming the field at fault.
func decode(r *http.Request, v any) error { return jsonhttp.Decode(r, v) }

// invalid returns a 400 error naming a field.
func invalid(field, format string, args ...any) error {
	return jsonhttp.Invalid(field, format, args...)
}
