// Package nomination owns the domain of Nomina: calls, nominations, votes and
// their event streams, the services that change them, and the interfaces
// (Store, Outbox) those services need from the outside world.
package nomination

import (
	"errors"
	"fmt"
)

// Error codes. The HTTP layer maps each to one status in a single table.
const (
	EINVALID      = "invalid"               // the input is malformed or breaks a rule (422)
	EBADREQUEST   = "bad_request"           // the request cannot be read at all (400)
	EUNAUTHORIZED = "unauthorized"          // no valid credentials (401)
	EFORBIDDEN    = "forbidden"             // authenticated but not allowed (403)
	ENOTFOUND     = "not_found"             // no such record, or not visible to the caller (404)
	ECONFLICT     = "conflict"              // the record's state forbids it, or a duplicate (409)
	EPRECONDITION = "precondition"          // If-Match did not match the current version (412)
	EPRECONDREQ   = "precondition_required" // a change that needs If-Match came without it (428)
	ETOOLARGE     = "too_large"             // body or upload over its limit (413)
	EUNSUPPORTED  = "unsupported"           // the content is not of an accepted type (415)
	ETOOMANY      = "too_many"              // throttled (429)
	EUNAVAILABLE  = "unavailable"           // a dependency is down (503)
	EINTERNAL     = "internal"              // anything else (500)
)

// FieldError names one field of the input and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the one error type of the domain. Message is safe to show to the
// caller; Fields lists per-field problems; RetryAfter (seconds) accompanies
// ETOOMANY.
type Error struct {
	Code       string
	Message    string
	Fields     []FieldError
	RetryAfter int
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("%s: %s (%s: %s)", e.Code, e.Message, e.Fields[0].Field, e.Fields[0].Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error naming one field.
func Invalid(field, message string) *Error {
	return &Error{Code: EINVALID, Message: "the request is invalid", Fields: []FieldError{{Field: field, Message: message}}}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err: the *Error's message,
// or a generic text for anything else.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
