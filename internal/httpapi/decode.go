package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
			return &nomination.Error{Code: nomination.ETOOLARGE, Message: fmt.Sprintf("the request body is larger than %d bytes", mbe.Limit)}
		}
		return &nomination.Error{Code: nomination.EBADREQUEST, Message: "the request body could not be read"}
	}
	if ct := c.ContentType(); ct != "application/json" && !strings.HasSuffix(ct, "+json") {
		return &nomination.Error{Code: nomination.EUNSUPPORTED, Message: "send the body as application/json"}
	}
	if !utf8.Valid(body) {
		return &nomination.Error{Code: nomination.EBADREQUEST, Message: "the request body is not valid UTF-8",
			Fields: []nomination.FieldError{{Field: "body", Message: "not valid UTF-8"}}}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	// Only white space may follow the object.
	if rest := bytes.TrimSpace(body[dec.InputOffset():]); len(rest) > 0 {
		return &nomination.Error{Code: nomination.EBADREQUEST, Message: "the request body holds more than one JSON value",
			Fields: []nomination.FieldError{{Field: "body", Message: "unexpected data after the JSON object"}}}
	}
	return nil
}

// jsonError turns a decoding error into a 400 naming the field.
func jsonError(err error) error {
	bad := func(field, msg string) error {
		return &nomination.Error{Code: nomination.EBADREQUEST, Message: "the request body is not acceptable",
			Fields: []nomination.FieldError{{Field: field, Message: msg}}}
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return bad(field, "must be "+jsonTypeName(typeErr.Type.Kind().String()))
	case errors.As(err, &syntaxErr):
		return bad("body", fmt.Sprintf("malformed JSON at byte %d", syntaxErr.Offset))
	case errors.Is(err, io.EOF):
		return bad("body", "a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return bad("body", "the JSON ends too early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return bad(name, "unknown field")
	default:
		return bad("body", "malformed JSON")
	}
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	default:
		if strings.Contains(kind, "int") || strings.Contains(kind, "float") {
			return "a number"
		}
		return "of another type"
	}
}
