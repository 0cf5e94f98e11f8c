package tandem

import (
	"errors"
	"fmt"
)

// Error codes, mapped to HTTP statuses in one table by the API.
const (
	ECONFLICT     = "conflict"
	EINTERNAL     = "internal"
	EINVALID      = "invalid"
	EINVALIDFLOW  = "invalid_flow"
	ENOTFOUND     = "not_found"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	ETOOLARGE     = "too_large"
	ERATELIMITED  = "rate_limited"
	EUNAVAILABLE  = "unavailable"
	// EIDEMPOTENCY is a client's message id used again for other content.
	EIDEMPOTENCY = "idempotency_conflict"

	// The web widget's: a wrong identity hash where identity_required (401), an anonymous
	// visitor where identity_required (403), a page not in allowed_origins (403).
	EIDENTITYINVALID  = "identity_invalid"
	EIDENTITYREQUIRED = "identity_required"
	EORIGIN           = "origin_not_allowed"
)

// Error is an error whose message is safe to show to users. The cause, if any, is logged once at
// the boundary, never shown.
type Error struct {
	Code    string
	Message string
	// Details carries structured problems (for example every finding of a flow validation).
	Details any
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("tandem error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of an *Error in err's chain, or EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the public message of an *Error in err's chain, or a generic text.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
