// Package nomination owns the domain of Nomina: calls, nominations, votes and
// their event streams, the services that change them, and the interfaces
// (Store, Outbox) those services need from the outside world.
package nomination

import (
	"errors"
	"fmt"

	"github.com/igf/nomina/internal/phrase"
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

// FieldError names one field of the input and what is wrong with it:
// Message in English, Text for saying it in the reader's language.
type FieldError struct {
	Field   string      `json:"field"`
	Message string      `json:"message"`
	Text    phrase.Text `json:"-"`
}

// Error is the one error type of the domain. Message is safe to show to the
// caller, in English; Text says the same in a form the edge can say in the
// reader's language (the domain translates nothing itself); Fields lists
// per-field problems; RetryAfter (seconds) accompanies ETOOMANY.
type Error struct {
	Code       string
	Message    string
	Text       phrase.Text
	Fields     []FieldError
	RetryAfter int
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("%s: %s (%s: %s)", e.Code, e.Message, e.Fields[0].Field, e.Fields[0].Message)
}

// Errorf returns an *Error with the given code and a formatted message
// that has no translation: for errors nobody but the log reads (EINTERNAL).
// Messages people read are made with Fail, Invalid and Problem.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Fail returns an *Error of code whose message is catalog message id: its
// English is english with the {{.Name}} placeholders filled from args
// (name, value pairs), and the edge says it in the reader's language from
// the catalogs in locales/ beside the package that raises it.
func Fail(code, id, english string, args ...any) *Error {
	t := phrase.New(id, english, args...)
	return &Error{Code: code, Message: t.English, Text: t}
}

// Problem returns the problem of one field, as catalog message id (see
// Fail).
func Problem(field, id, english string, args ...any) FieldError {
	return ProblemText(field, phrase.New(id, english, args...))
}

// ProblemText returns the problem of one field, said by t.
func ProblemText(field string, t phrase.Text) FieldError {
	return FieldError{Field: field, Message: t.English, Text: t}
}

// Invalid returns an EINVALID error naming the problems of some fields.
func Invalid(fields ...FieldError) *Error {
	return Invalidf("RequestInvalid", "the request is invalid", fields...)
}

// Invalidf returns an EINVALID error whose message is catalog message id
// (see Fail) naming the problems of some fields.
func Invalidf(id, english string, fields ...FieldError) *Error {
	e := Fail(EINVALID, id, english)
	e.Fields = fields
	return e
}

// With returns e with the problems of some fields added.
func (e *Error) With(fields ...FieldError) *Error {
	e.Fields = append(e.Fields, fields...)
	return e
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

// startRefused is the refusal of a nomination the workflow's start rules
// do not allow, in the workflow's words.
func startRefused(failed []phrase.Text) *Error {
	t := phrase.Join(" ", failed...)
	return &Error{Code: EFORBIDDEN, Message: t.English, Text: t}
}

// WithArgs returns e with the values of its message's placeholders set
// (name, value pairs) and its English filled again.
func (e *Error) WithArgs(args ...any) *Error {
	t := phrase.New(e.Text.ID, e.Text.English, args...)
	e.Text, e.Message = t, t.English
	return e
}
