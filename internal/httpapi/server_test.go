package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/goccy/go-yaml"

	"github.com/igf/nomina/internal/nomination"
)

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func mustServer(tb testing.TB, cfg Config, parts ...func(*Server)) (*Server, *syncBuffer) {
	tb.Helper()
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	return newTestServer(tb, cfg, parts...), logs
}

func do(tb testing.TB, h http.Handler, method, path string, body string, headers ...string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func mustProblem(tb testing.TB, rec *httptest.ResponseRecorder, status int) Problem {
	tb.Helper()
	if rec.Code != status {
		tb.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		tb.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		tb.Fatalf("problem body: %v", err)
	}
	if p.Status != status || p.Title == "" {
		tb.Fatalf("problem = %+v", p)
	}
	return p
}

func TestUnknownRouteAndWrongMethod(t *testing.T) {
	s, _ := mustServer(t, Config{})
	mustProblem(t, do(t, s.Handler(), "GET", "/api/v1/nothing-here", ""), http.StatusNotFound)
	mustProblem(t, do(t, s.Handler(), "DELETE", "/healthz", ""), http.StatusMethodNotAllowed)
}

func TestPanicAnswersPlain500AndLogsStack(t *testing.T) {
	s, logs := mustServer(t, Config{}, func(s *Server) {
		s.Handle("GET", "/boom", Public, func(c *gin.Context) { panic("secret internal detail") })
	})
	rec := do(t, s.Handler(), "GET", "/boom", "")
	p := mustProblem(t, rec, http.StatusInternalServerError)
	if strings.Contains(rec.Body.String(), "secret internal detail") || strings.Contains(rec.Body.String(), "goroutine") {
		t.Fatalf("panic detail leaked to the client: %s", rec.Body)
	}
	if p.Detail != "internal error" {
		t.Fatalf("detail = %q", p.Detail)
	}
	if !strings.Contains(logs.String(), "goroutine") || !strings.Contains(logs.String(), "secret internal detail") {
		t.Fatalf("stack not logged: %s", logs)
	}
}

func TestDomainErrorsMapToStatuses(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		detail string
	}{
		{"not found", nomination.Errorf(nomination.ENOTFOUND, "no such call"), 404, "no such call"},
		{"conflict wrapped", errors.Join(errors.New("ctx"), nomination.Errorf(nomination.ECONFLICT, "taken")), 409, "taken"},
		{"invalid with field", nomination.Invalid(nomination.Problem("email", "MustBeAddress", "must be an address")), 422, "the request is invalid"},
		{"throttled", &nomination.Error{Code: nomination.ETOOMANY, Message: "slow down", RetryAfter: 30}, 429, "slow down"},
		{"driver error", errors.New("connection refused to 10.0.0.1:27017 user=admin"), 500, "internal error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, logs := mustServer(t, Config{}, func(s *Server) {
				s.Handle("GET", "/fail", Public, func(c *gin.Context) { s.fail(c, tc.err) })
			})
			rec := do(t, s.Handler(), "GET", "/fail", "")
			p := mustProblem(t, rec, tc.status)
			if p.Detail != tc.detail {
				t.Fatalf("detail = %q, want %q", p.Detail, tc.detail)
			}
			if tc.status == 429 && rec.Header().Get("Retry-After") != "30" {
				t.Fatalf("Retry-After = %q", rec.Header().Get("Retry-After"))
			}
			if tc.status == 500 && !strings.Contains(logs.String(), "connection refused") {
				t.Fatalf("internal error not logged: %s", logs)
			}
		})
	}
}

func TestReadiness(t *testing.T) {
	var down error
	s, _ := mustServer(t, Config{Ready: func(ctx context.Context) error { return down }})
	if rec := do(t, s.Handler(), "GET", "/readyz", ""); rec.Code != 200 {
		t.Fatalf("ready: %d", rec.Code)
	}
	down = context.DeadlineExceeded
	p := mustProblem(t, do(t, s.Handler(), "GET", "/readyz", ""), 503)
	if !strings.Contains(p.Detail, "no answer within 1s") {
		t.Fatalf("reason = %q", p.Detail)
	}
}

func TestOversizedBodyIs413(t *testing.T) {
	s, _ := mustServer(t, Config{MaxBodyBytes: 1024}, func(s *Server) {
		s.Handle("POST", "/echo", Public, func(c *gin.Context) {
			var v map[string]any
			if err := decodeJSON(c, &v); err != nil {
				s.fail(c, err)
				return
			}
			c.JSON(200, v)
		})
	})
	for _, trailing := range []string{`{"a":1}}`, `{"a":1}]`, `{"a":1} {"b":2}`} {
		mustProblem(t, do(t, s.Handler(), "POST", "/echo", trailing), http.StatusBadRequest)
	}
	if rec := do(t, s.Handler(), "POST", "/echo", "{\"a\":1}\n"); rec.Code != 200 {
		t.Fatalf("trailing newline refused: %d", rec.Code)
	}
	big := `{"a":"` + strings.Repeat("x", 4096) + `"}`
	mustProblem(t, do(t, s.Handler(), "POST", "/echo", big), 413)
	// Without Content-Length the reader still stops at the limit.
	req := httptest.NewRequest("POST", "/echo", struct{ *strings.Reader }{strings.NewReader(big)})
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	mustProblem(t, rec, 413)
}

func TestSecurityHeaders(t *testing.T) {
	s, _ := mustServer(t, Config{})
	rec := do(t, s.Handler(), "GET", "/api/v1/openapi.yaml", "")
	for h, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "no-store",
		"Referrer-Policy":        "no-referrer",
	} {
		if got := rec.Header().Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("CSP = %q", rec.Header().Get("Content-Security-Policy"))
	}
	if rec.Header().Get("X-Request-ID") == "" {
		t.Error("no request id")
	}
}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z_]+)`)

// Every routed path is documented and every documented path is routed.
func TestOpenAPIMatchesRouter(t *testing.T) {
	s := newFullTestServer(t)
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "post", "put", "patch", "delete":
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	routed := map[string]bool{}
	for _, r := range s.Routes() {
		if a, _ := s.AccessOf(r.Method, r.Path); strings.HasPrefix(a.String(), "page:") {
			continue // the web pages are no part of the API
		}
		routed[r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	var missing, extra []string
	for k := range routed {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !routed[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routed but not documented in openapi.yaml: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("documented but not routed: %v", extra)
	}
}

// Every route declares who may call it (deny by default).
func TestEveryRouteDeclaresAccess(t *testing.T) {
	s := newFullTestServer(t)
	for _, r := range s.Routes() {
		if _, ok := s.AccessOf(r.Method, r.Path); !ok {
			t.Errorf("%s %s has no access declaration", r.Method, r.Path)
		}
	}
	if len(s.Routes()) < 4 {
		t.Fatalf("only %d routes", len(s.Routes()))
	}
}

func TestProtectedRouteNeedsToken(t *testing.T) {
	s, _ := mustServer(t, Config{}, func(s *Server) {
		s.Handle("GET", "/private", Authenticated, func(c *gin.Context) { c.Status(204) })
		s.Handle("GET", "/staff", Roles("secretariat"), func(c *gin.Context) { c.Status(204) })
	})
	mustProblem(t, do(t, s.Handler(), "GET", "/private", ""), 401)
	mustProblem(t, do(t, s.Handler(), "GET", "/private", "", "Authorization", "Bearer whatever"), 401)
	s2, _ := mustServer(t, Config{Authenticate: func(ctx context.Context, tok string) (*Caller, error) {
		if tok == "admin" {
			return &Caller{UserID: "a", Roles: []string{"admin"}}, nil
		}
		return &Caller{UserID: "c", Roles: []string{"candidate"}}, nil
	}}, func(s *Server) {
		s.Handle("GET", "/staff", Roles("secretariat"), func(c *gin.Context) { c.Status(204) })
	})
	mustProblem(t, do(t, s2.Handler(), "GET", "/staff", "", "Authorization", "Bearer cand"), 403)
	if rec := do(t, s2.Handler(), "GET", "/staff", "", "Authorization", "Bearer admin"); rec.Code != 204 {
		t.Fatalf("admin as secretariat: %d", rec.Code)
	}
}
