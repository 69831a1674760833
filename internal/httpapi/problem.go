package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/igf/nomina/internal/clientclose"
	"github.com/igf/nomina/internal/locale"
	"github.com/igf/nomina/internal/nomination"
)

// statusOf is the one table from domain error codes to HTTP statuses.
var statusOf = map[string]int{
	nomination.EBADREQUEST:   http.StatusBadRequest,
	nomination.EINVALID:      http.StatusUnprocessableEntity,
	nomination.EUNAUTHORIZED: http.StatusUnauthorized,
	nomination.EFORBIDDEN:    http.StatusForbidden,
	nomination.ENOTFOUND:     http.StatusNotFound,
	nomination.ECONFLICT:     http.StatusConflict,
	nomination.EPRECONDITION: http.StatusPreconditionFailed,
	nomination.EPRECONDREQ:   http.StatusPreconditionRequired,
	nomination.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	nomination.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	nomination.ETOOMANY:      http.StatusTooManyRequests,
	nomination.EUNAVAILABLE:  http.StatusServiceUnavailable,
	nomination.EINTERNAL:     http.StatusInternalServerError,
}

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type      string                  `json:"type"`
	Title     string                  `json:"title"`
	Status    int                     `json:"status"`
	Detail    string                  `json:"detail,omitempty"`
	Errors    []nomination.FieldError `json:"errors,omitempty"`
	RequestID string                  `json:"request_id,omitempty"`
}

// problem writes a problem+json response.
func (s *Server) problem(c *gin.Context, status int, title, detail string, fields []nomination.FieldError) {
	p := Problem{
		Type:      "about:blank",
		Title:     title,
		Status:    status,
		Detail:    detail,
		Errors:    fields,
		RequestID: c.GetString(requestIDKey),
	}
	c.Header("Content-Type", "application/problem+json")
	// Every 401 names the scheme that would be accepted (RFC 9110 15.5.2),
	// a refused sign-in or refresh as much as a missing token.
	if status == http.StatusUnauthorized && c.Writer.Header().Get("WWW-Authenticate") == "" {
		c.Header("WWW-Authenticate", `Bearer realm="nomina"`)
	}
	if c.Writer.Header().Get("Content-Language") == "" {
		c.Header("Content-Language", locale.Source)
	}
	c.Writer.Header().Add("Vary", "Accept-Language")
	c.Status(status)
	c.JSON(status, p)
}

// fail answers err: a domain *nomination.Error with its status and message;
// anything else is logged with the request's context and answered with a
// generic 500 so no internal detail reaches the client. A request whose
// client went away, and which failed only because of that, is no failure
// of the service: it is logged as a client close and recorded as 499.
func (s *Server) fail(c *gin.Context, err error) {
	if clientclose.Is(c.Request.Context(), err) {
		s.log.Info("client closed request", "request_id", c.GetString(requestIDKey), "method", c.Request.Method, "route", c.FullPath(), "err", err)
		c.Status(clientclose.Status)
		c.Abort()
		return
	}
	var de *nomination.Error
	if errors.As(err, &de) && de.Code != nomination.EINTERNAL {
		status, ok := statusOf[de.Code]
		if !ok {
			status = http.StatusInternalServerError
		}
		if status == http.StatusServiceUnavailable {
			s.log.Warn("dependency unavailable", "request_id", c.GetString(requestIDKey), "route", c.FullPath(), "err", err)
		}
		if de.RetryAfter > 0 {
			c.Header("Retry-After", strconv.Itoa(de.RetryAfter))
		}
		detail, fields := s.inLanguage(c, de)
		s.problem(c, status, http.StatusText(status), detail, fields)
		return
	}
	s.log.Error("request failed", "request_id", c.GetString(requestIDKey), "method", c.Request.Method, "route", c.FullPath(), "err", err)
	s.problem(c, http.StatusInternalServerError, "Internal Server Error", "internal error", nil)
}

// inLanguage says a domain error's message and its fields' in the language
// the request's Accept-Language asks for, when Nomina speaks it (and
// says so in Content-Language); in English otherwise. The title and each
// error's field stay as they are: clients match on those.
func (s *Server) inLanguage(c *gin.Context, de *nomination.Error) (string, []nomination.FieldError) {
	lang := locale.Match(c.GetHeader("Accept-Language"))
	c.Header("Content-Language", lang)
	if lang == locale.Source || s.msgs == nil {
		return de.Message, de.Fields
	}
	L := s.msgs.In(lang)
	detail := de.Message
	if de.Text.English != "" {
		detail = L.Say(de.Text)
	}
	fields := make([]nomination.FieldError, len(de.Fields))
	for i, f := range de.Fields {
		fields[i] = f
		if f.Text.English != "" {
			fields[i].Message = L.Say(f.Text)
		}
	}
	return detail, fields
}

// logAttrs is a helper for handlers that log with the request's identity.
func logAttrs(c *gin.Context) []any {
	return []any{slog.String("request_id", c.GetString(requestIDKey)), slog.String("route", c.FullPath())}
}

// readerLanguage tells the domain the language a client asks for with
// Accept-Language: mail an API call causes to someone without a language
// of their own (a nominee invited, an endorser asked) is written in it.
func readerLanguage(c *gin.Context) {
	if accept := c.GetHeader("Accept-Language"); accept != "" {
		c.Request = c.Request.WithContext(nomination.WithReaderLanguage(c.Request.Context(), locale.Match(accept)))
	}
	c.Next()
}
