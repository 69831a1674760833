// Package httpapi is Nomina's HTTP edge: the gin router, request decoding,
// authentication and per-route access declarations, the mapping of domain
// errors to problem+json responses, and the ops endpoints. It is the only
// package that imports gin.
package httpapi

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/locale"
	"github.com/igf/nomina/internal/membership"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/phrase"
	"github.com/igf/nomina/internal/workflow"
)

// Caller is the authenticated user behind a request.
type Caller struct {
	UserID       string
	Email        string
	Name         string
	Roles        []string
	Panels       []string
	Organization string
	// EmailConfirmed says the caller has confirmed their address.
	EmailConfirmed bool
	// SessionID names the refresh-token family the access token belongs to.
	SessionID string
}

// HasRole reports whether the caller holds role; an admin holds every role
// a secretariat member holds.
func (c *Caller) HasRole(role string) bool {
	if c == nil {
		return false
	}
	for _, r := range c.Roles {
		if r == role || (r == "admin" && role == "secretariat") {
			return true
		}
	}
	return false
}

// Config is what the server needs from the outside.
type Config struct {
	Logger *slog.Logger
	// Ready reports whether the store answers; it is called with a deadline.
	Ready func(ctx context.Context) error
	// Registry receives the HTTP metrics; Gatherer is what MetricsHandler
	// serves.
	Registry prometheus.Registerer
	Gatherer prometheus.Gatherer
	// MaxBodyBytes bounds every request body except uploads.
	MaxBodyBytes int64
	// MaxUploadBytes bounds one multipart upload.
	MaxUploadBytes int64
	// Authenticate turns a bearer token into a caller; nil rejects every
	// token, so only public routes work.
	Authenticate func(ctx context.Context, token string) (*Caller, error)
	// CORSOrigins lists the origins allowed to call the API from a browser;
	// empty turns CORS off.
	CORSOrigins []string
	// TrustedProxies lists the proxies whose X-Forwarded-For is believed
	// for the client address; empty trusts none.
	TrustedProxies []string
	// Version is reported by /healthz.
	Version string
	// Auth runs accounts and sessions.
	Auth *auth.Service
	// Mail is the mail log and its retry.
	Mail MailLog
	// Workflows holds the loaded workflow definitions.
	Workflows *workflow.Registry
	// Shortlists writes exports and balance reports.
	Shortlists Shortlists
	// Nominations runs calls, nominations, votes and their links.
	Nominations *nomination.Service
	// Members runs members, terms and the rotation plan; nil answers the
	// membership routes with 503.
	Members *membership.Service
}

// Server holds the router and its dependencies.
type Server struct {
	cfg     Config
	log     *slog.Logger
	engine  *gin.Engine
	metrics *httpMetrics
	access  map[string]Access // "METHOD /path" -> who may call it
	// msgs says the domain's messages in the language a client asks for.
	msgs *locale.Catalog
	// pageNotFound answers unmatched paths outside the API (see Pages).
	pageNotFound http.Handler
	// handler serves every request: the engine, or the engine wrapped by
	// a test's checks of each exchange against the OpenAPI document.
	handler http.Handler
	// extensions register further routes; see Register.
}

// New builds the router with every route registered. Options add the
// routes of optional parts (each receives the server and registers its own).
func New(cfg Config, parts ...func(*Server)) *Server {
	gin.SetMode(gin.ReleaseMode)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = 10 << 20
	}
	if cfg.Registry == nil {
		r := prometheus.NewRegistry()
		cfg.Registry, cfg.Gatherer = r, r
	}
	s := &Server{cfg: cfg, log: cfg.Logger, access: map[string]Access{}}
	if sub, err := fs.Sub(phrase.Catalogs, "locales"); err == nil {
		if s.msgs, err = locale.New(cfg.Logger, sub); err != nil {
			// The catalogs are part of the binary and checked by tests:
			// without them the API still answers, in English.
			cfg.Logger.Error("message catalogs", "err", err)
		}
	}
	s.metrics = newHTTPMetrics(cfg.Registry)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	if err := e.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		cfg.Logger.Error("trusted proxies ignored", "err", err)
		_ = e.SetTrustedProxies(nil)
	}
	e.Use(s.requestID, s.accessLog, s.recoverPanics, s.securityHeaders, s.cors, s.limitBody, s.authenticate, readerLanguage)
	e.NoRoute(s.notFound)
	e.NoMethod(func(c *gin.Context) {
		s.problem(c, http.StatusMethodNotAllowed, "method not allowed", "this resource does not accept "+c.Request.Method, nil)
	})
	s.engine = e
	s.handler = e
	s.routes()
	for _, p := range parts {
		p(s)
	}
	return s
}

// Handler returns the http.Handler serving every route.
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler serves the Prometheus metrics at GET /metrics and answers
// 404 to anything else. It is not on the router: the metrics describe the
// service's traffic and internals, so they are served on a listener of
// their own that the public never reaches.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}))
	return mux
}

func (s *Server) routes() {
	s.Handle(http.MethodGet, "/healthz", Public, s.healthz)
	s.Handle(http.MethodGet, "/readyz", Public, s.readyz)
	s.Handle(http.MethodGet, "/api/v1/openapi.yaml", Public, s.openAPI)
	s.docsRoutes()
	s.workflowRoutes()
	s.nominationRoutes()
	s.shortlistRoutes()
	s.mailRoutes()
	s.accountRoutes()
	s.memberRoutes()
}
