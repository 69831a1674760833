package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The HTTP tests hold every exchange they make with the router to the
// OpenAPI document the service serves: each request against the operation
// it names (parameters, body, security) and each answer against the
// responses that operation documents (status, headers, content type,
// body). A difference fails the test that made the request.
//
// A request the document refuses (the tests send bad ones on purpose) must
// be refused by the service too, with a documented 4xx; a request the
// document accepts must not be refused by the service as malformed (400)
// or of the wrong type (415), since then the document is looser than the
// service. Paths the document does not name must answer 404 or 405 with a
// problem document, except the routes a test registers for itself (and
// the web pages mounted beside the API), which are not the API.

var (
	apiDocOnce   sync.Once
	apiDoc       *openapi3.T
	apiDocRouter routers.Router
	apiDocErr    error
	// apiRoutes are the routes of a server with no parts added: the API.
	apiRoutes map[string]bool
)

// loadAPIDoc parses and validates the served document once per package.
func loadAPIDoc(tb testing.TB) (*openapi3.T, routers.Router) {
	tb.Helper()
	apiDocOnce.Do(func() {
		loader := openapi3.NewLoader()
		apiDoc, apiDocErr = loader.LoadFromData(openAPIDoc)
		if apiDocErr != nil {
			apiDocErr = fmt.Errorf("load openapi.yaml: %w", apiDocErr)
			return
		}
		if err := apiDoc.Validate(loader.Context); err != nil {
			apiDocErr = fmt.Errorf("openapi.yaml is not a valid OpenAPI document: %w", err)
			return
		}
		apiDocRouter, apiDocErr = gorillamux.NewRouter(apiDoc)
		apiRoutes = map[string]bool{}
		for _, r := range New(Config{}).Routes() {
			apiRoutes[r.Method+" "+r.Path] = true
		}
	})
	if apiDocErr != nil {
		tb.Fatal(apiDocErr)
	}
	return apiDoc, apiDocRouter
}

func init() {
	// The document's plain-text answers: the validator compares them
	// with a string schema as they are.
	for _, ct := range []string{"text/vnd.mermaid", "text/vnd.graphviz", "text/html", "text/javascript", "text/css"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
	// An address is what net/mail parses, as the generated client checks
	// it (the validator knows no "email" format of its own).
	openapi3.DefineStringFormatValidator("email", openapi3.NewCallbackValidator(func(s string) error {
		_, err := mail.ParseAddress(s)
		return err
	}))
}

// newTestServer builds the router as New does and, in tests (not in
// benchmarks, which measure the service alone), checks every exchange
// against the OpenAPI document.
func newTestServer(tb testing.TB, cfg Config, parts ...func(*Server)) *Server {
	tb.Helper()
	s := New(cfg, parts...)
	if _, bench := tb.(*testing.B); !bench {
		checkAgainstDocument(tb, s)
	}
	return s
}

// checkAgainstDocument wraps the server's handler in the document check.
func checkAgainstDocument(tb testing.TB, s *Server) {
	tb.Helper()
	_, router := loadAPIDoc(tb)
	chk := &docCheck{tb: tb, next: s.handler, router: router}
	for _, r := range s.Routes() {
		if !apiRoutes[r.Method+" "+r.Path] {
			chk.outside = append(chk.outside, routePattern(r.Method, r.Path))
		}
	}
	s.handler = chk
}

// routePattern matches the requests of a gin route.
func routePattern(method, path string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^" + regexp.QuoteMeta(method) + " ")
	for i, seg := range strings.Split(path, "/") {
		if i > 0 {
			b.WriteString("/")
		}
		switch {
		case strings.HasPrefix(seg, ":"):
			b.WriteString("[^/]+")
		case strings.HasPrefix(seg, "*"):
			b.WriteString(".*")
		default:
			b.WriteString(regexp.QuoteMeta(seg))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

type docCheck struct {
	tb     testing.TB
	next   http.Handler
	router routers.Router
	// outside are the routes that are not the API's: registered by a
	// test, or web pages.
	outside []*regexp.Regexp
}

func (d *docCheck) isOutside(r *http.Request) bool {
	key := r.Method + " " + r.URL.Path
	for _, re := range d.outside {
		if re.MatchString(key) {
			return true
		}
	}
	return false
}

func (d *docCheck) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if d.isOutside(r) || isPreflight(r) {
		d.next.ServeHTTP(w, r)
		return
	}
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			d.tb.Errorf("openapi check: read the request body: %v", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	// The check reads its own copy of the request.
	vr := r.Clone(context.Background())
	vr.Body = io.NopCloser(bytes.NewReader(body))
	vr.GetBody = nil

	rec := &exchangeRecorder{ResponseWriter: w}
	d.next.ServeHTTP(rec, r)
	rec.finish()
	if r.Context().Err() != nil {
		return // the client went away: no answer reached anyone
	}

	exchange := fmt.Sprintf("%s %s → %d", r.Method, r.URL.RequestURI(), rec.status)
	route, params, err := d.router.FindRoute(vr)
	if err != nil {
		// Not in the document: the service must not serve it either.
		if rec.status != http.StatusNotFound && rec.status != http.StatusMethodNotAllowed {
			d.tb.Errorf("openapi: %s: the document has no such operation (%v), yet the service answered %d: %.300s", exchange, err, rec.status, rec.body.Bytes())
			return
		}
		d.checkProblem(exchange, rec)
		return
	}
	opts := &openapi3filter.Options{
		MultiError:            true,
		IncludeResponseStatus: true,
		AuthenticationFunc:    bearerSent,
	}
	in := &openapi3filter.RequestValidationInput{Request: vr, PathParams: params, Route: route, Options: opts}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	if reqErr == nil {
		reqErr = notJSON(vr, body)
	}
	op := route.Method + " " + route.Path
	switch {
	case reqErr != nil && rec.status < 400:
		d.tb.Errorf("openapi: %s (%s): the document refuses the request, yet the service answered %d:\n%.2000s", exchange, op, rec.status, reqErr)
	case reqErr != nil && rec.status >= 500 && rec.status != http.StatusServiceUnavailable:
		// (503: the part is off, which says nothing of the request.)
		d.tb.Errorf("openapi: %s (%s): the document refuses the request, and the service failed:\n%.2000s", exchange, op, reqErr)
	case reqErr == nil && (rec.status == http.StatusBadRequest || rec.status == http.StatusUnsupportedMediaType) && !judgedByContent(rec.body.Bytes()):
		d.tb.Errorf("openapi: %s (%s): the document accepts the request, yet the service refused it as malformed: %.300s", exchange, op, rec.body.Bytes())
	}
	resp := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: rec.status, Header: rec.header, Options: opts,
		Body: io.NopCloser(bytes.NewReader(rec.body.Bytes())),
	}
	if err := openapi3filter.ValidateResponse(context.Background(), resp); err != nil {
		d.tb.Errorf("openapi: %s (%s): the answer differs from the document:\n%.2000s\nbody: %.500s", exchange, op, err, rec.body.Bytes())
		return
	}
	// A response documented without content has no body.
	if ref := route.Operation.Responses.Status(rec.status); ref != nil && ref.Value != nil && len(ref.Value.Content) == 0 && rec.body.Len() > 0 {
		d.tb.Errorf("openapi: %s (%s): the document gives this answer no content, yet it has a body: %.300s", exchange, op, rec.body.Bytes())
	}
}

// checkProblem checks an answer outside the document's operations: a
// problem document.
func (d *docCheck) checkProblem(exchange string, rec *exchangeRecorder) {
	if ct := rec.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		d.tb.Errorf("openapi: %s: Content-Type %q, want application/problem+json", exchange, ct)
		return
	}
	schema := apiDoc.Components.Schemas["Problem"]
	if schema == nil {
		d.tb.Errorf("openapi: the document has no Problem schema")
		return
	}
	var v any
	if err := json.Unmarshal(rec.body.Bytes(), &v); err != nil {
		d.tb.Errorf("openapi: %s: the problem is not JSON: %v", exchange, err)
		return
	}
	if err := schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors()); err != nil {
		d.tb.Errorf("openapi: %s: the problem differs from the document's Problem: %v", exchange, err)
	}
}

// notJSON refuses a body sent as JSON that is not one JSON value in
// valid UTF-8 (RFC 8259), which the validator's decoder lets through.
func notJSON(r *http.Request, body []byte) error {
	ct := r.Header.Get("Content-Type")
	if len(body) == 0 || !(strings.HasPrefix(ct, "application/json") || strings.Contains(ct, "+json")) {
		return nil
	}
	if !utf8.Valid(body) || !json.Valid(body) {
		return errors.New("the body is not one JSON value in UTF-8")
	}
	return nil
}

// judgedByContent reports a refusal the document can only describe in
// words: form answers are checked against the workflow's form (400 naming
// fields.<key>), and an upload's type is judged by its bytes (415 naming
// file).
func judgedByContent(problem []byte) bool {
	var p Problem
	if json.Unmarshal(problem, &p) != nil || len(p.Errors) == 0 {
		return false
	}
	for _, e := range p.Errors {
		if !strings.HasPrefix(e.Field, "fields.") && !(p.Status == http.StatusUnsupportedMediaType && e.Field == "file") {
			return false
		}
	}
	return true
}

// bearerSent is the check of the document's bearer scheme: a request to an
// operation that needs a token must carry one (whether it verifies is the
// service's to say, with 401).
func bearerSent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecuritySchemeName != "bearer" {
		return fmt.Errorf("unknown security scheme %q", in.SecuritySchemeName)
	}
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return errors.New("no bearer token")
	}
	return nil
}

// isPreflight reports a CORS preflight request, which is the protocol's,
// not an operation of the API.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
}

// exchangeRecorder passes a response through and keeps a copy of its
// status, headers (as sent) and body.
type exchangeRecorder struct {
	http.ResponseWriter
	status int
	header http.Header
	body   bytes.Buffer
}

func (r *exchangeRecorder) WriteHeader(status int) {
	if r.header == nil {
		r.status = status
		r.header = r.ResponseWriter.Header().Clone()
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *exchangeRecorder) Write(p []byte) (int, error) {
	if r.header == nil {
		r.WriteHeader(http.StatusOK)
	}
	r.body.Write(p)
	return r.ResponseWriter.Write(p)
}

func (r *exchangeRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *exchangeRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// finish records an answer that wrote nothing: 200 with no body.
func (r *exchangeRecorder) finish() {
	if r.header == nil {
		r.status = http.StatusOK
		r.header = r.ResponseWriter.Header().Clone()
	}
}

// Every router the tests build goes through newTestServer, so every
// exchange of every test is checked against the document.
func TestEveryTestServerIsChecked(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	if err != nil || len(files) < 10 {
		t.Fatalf("test files: %v %v", files, err)
	}
	direct := regexp.MustCompile(`(^|[^.\w])New\((Config\{|cfg[,)])`)
	for _, f := range files {
		if f == "openapi_check_test.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if loc := direct.FindIndex(src); loc != nil {
			t.Errorf("%s:%d builds a router with New; use newTestServer so its exchanges are checked against the document",
				f, bytes.Count(src[:loc[0]], []byte("\n"))+1)
		}
	}
}

// recordingTB keeps what a check reports instead of failing the test.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// The check itself: each way an answer or a request can differ from the
// document is reported, and an exchange that matches is not.
func TestDocumentCheckReportsDifferences(t *testing.T) {
	loadAPIDoc(t)
	healthz := func(w http.ResponseWriter, body string) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = io.WriteString(w, body)
	}
	cases := []struct {
		name    string
		method  string
		path    string
		body    string
		handler http.HandlerFunc
		want    string // "" when the exchange matches
	}{
		{"matches", "GET", "/healthz", "", func(w http.ResponseWriter, r *http.Request) { healthz(w, `{"status":"ok","version":"1"}`) }, ""},
		{"a field renamed", "GET", "/healthz", "", func(w http.ResponseWriter, r *http.Request) { healthz(w, `{"state":"ok","version":"1"}`) }, "differs from the document"},
		{"a value of another type", "GET", "/healthz", "", func(w http.ResponseWriter, r *http.Request) { healthz(w, `{"status":"ok","version":1}`) }, "differs from the document"},
		{"an undocumented status", "GET", "/healthz", "", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }, "differs from the document"},
		{"another content type", "GET", "/healthz", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "ok")
		}, "differs from the document"},
		{"a required header missing", "GET", "/api/v1/nominations/n-1", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("Content-Language", "en")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"type":"about:blank","title":"unauthorized","status":401}`)
		}, `"WWW-Authenticate" missing`},
		{"a body where none is documented", "POST", "/api/v1/auth/logout", "", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
			_, _ = io.WriteString(w, "bye")
		}, "no content"},
		{"a refused request accepted", "POST", "/api/v1/auth/login", `{"email":"a@example.org"}`, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}, "the document refuses the request"},
		{"an accepted request refused as malformed", "POST", "/api/v1/auth/login", `{"email":"a@example.org","password":"x"}`, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"type":"about:blank","title":"Bad Request","status":400}`)
		}, "the document accepts the request"},
		{"a path the document does not name", "GET", "/api/v1/elsewhere", "", func(w http.ResponseWriter, r *http.Request) { healthz(w, `{}`) }, "no such operation"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rtb := &recordingTB{TB: t}
			_, router := loadAPIDoc(t)
			chk := &docCheck{tb: rtb, next: tc.handler, router: router}
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			chk.ServeHTTP(httptest.NewRecorder(), req)
			got := strings.Join(rtb.errors, "\n")
			switch {
			case tc.want == "" && got != "":
				t.Errorf("a matching exchange was reported: %s", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("reported %q, want a report naming %q", got, tc.want)
			}
		})
	}
}
