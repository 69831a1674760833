package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/igf/nomina/internal/nomination"
)

// decodeJSON reads the request body into dst: one JSON object, valid UTF-8,
// no unknown fields, within the body limit. Its errors are domain errors
// naming the field: EBADREQUEST (400) or ETOOLARGE (413).
func decodeJSON(c *gin.Context, dst any) error {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nomination.Fail(nomination.ETOOLARGE, "BodyTooLarge", "the request body is larger than {{.Limit}} bytes", "Limit", mbe.Limit)
		}
		return nomination.Fail(nomination.EBADREQUEST, "BodyUnreadable", "the request body could not be read")
	}
	if ct := c.ContentType(); ct != "application/json" && !strings.HasSuffix(ct, "+json") {
		return nomination.Fail(nomination.EUNSUPPORTED, "SendJSON", "send the body as application/json")
	}
	if !utf8.Valid(body) {
		return nomination.Fail(nomination.EBADREQUEST, "BodyNotUTF8", "the request body is not valid UTF-8").
			With(nomination.Problem("body", "NotUTF8", "not valid UTF-8"))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	// Only white space may follow the object.
	if rest := bytes.TrimSpace(body[dec.InputOffset():]); len(rest) > 0 {
		return nomination.Fail(nomination.EBADREQUEST, "BodyTwoValues", "the request body holds more than one JSON value").
			With(nomination.Problem("body", "DataAfterJSON", "unexpected data after the JSON object"))
	}
	return nil
}

// jsonError turns a decoding error into a 400 naming the field.
func jsonError(err error) error {
	bad := func(field, id, english string, args ...any) error {
		return nomination.Fail(nomination.EBADREQUEST, "BodyNotAcceptable", "the request body is not acceptable").
			With(nomination.Problem(field, id, english, args...))
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return jsonTypeProblem(bad, field, typeErr.Type.Kind().String())
	case errors.As(err, &syntaxErr):
		return bad("body", "MalformedJSONAt", "malformed JSON at byte {{.Offset}}", "Offset", syntaxErr.Offset)
	case errors.Is(err, io.EOF):
		return bad("body", "JSONObjectRequired", "a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return bad("body", "JSONEndsEarly", "the JSON ends too early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return bad(name, "UnknownField", "unknown field")
	default:
		return bad("body", "MalformedJSON", "malformed JSON")
	}
}

// jsonTypeProblem says which JSON type a field must have.
func jsonTypeProblem(bad func(field, id, english string, args ...any) error, field, kind string) error {
	switch kind {
	case "string":
		return bad(field, "MustBeString", "must be a string")
	case "bool":
		return bad(field, "MustBeTrueFalse", "must be true or false")
	case "slice", "array":
		return bad(field, "MustBeArray", "must be an array")
	case "map", "struct", "ptr":
		return bad(field, "MustBeObject", "must be an object")
	default:
		if strings.Contains(kind, "int") || strings.Contains(kind, "float") {
			return bad(field, "MustBeNumber", "must be a number")
		}
		return bad(field, "MustBeOtherType", "must be of another type")
	}
}
