package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/igf/nomina/internal/clientclose"
)

const requestIDKey = "nomina.request_id"

// clientClosedKey marks a request whose client went away after its
// answer had begun (a download cut short): the access log and the
// metrics record it as a client close, not as the status sent.
const clientClosedKey = "nomina.client_closed"

type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nomina_http_requests_total",
			Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nomina_http_request_duration_seconds",
			Help:    "HTTP request latency by route and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// requestID takes a well-formed X-Request-ID from the client or makes one,
// and echoes it on the response.
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if !validRequestID(id) {
		var b [12]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Set(requestIDKey, id)
	c.Header("X-Request-ID", id)
	c.Next()
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// accessLog logs one line per request with the route template, never the
// raw path (it may hold a token), the query, headers or bodies.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	if c.GetBool(clientClosedKey) {
		status = clientclose.Status // the 200 went out, the rest did not reach the client
	}
	elapsed := time.Since(start)
	s.metrics.requests.WithLabelValues(route, c.Request.Method, strconv.Itoa(status)).Inc()
	s.metrics.latency.WithLabelValues(route, c.Request.Method).Observe(elapsed.Seconds())
	s.log.Info("http request",
		"method", c.Request.Method,
		"route", route,
		"status", status,
		"latency_ms", float64(elapsed.Microseconds())/1000,
		"bytes", c.Writer.Size(),
		"request_id", c.GetString(requestIDKey),
	)
}

// recoverPanics turns a handler panic into a plain 500 problem; the stack
// goes to the log, never to the client.
func (s *Server) recoverPanics(c *gin.Context) {
	defer func() {
		rec := recover()
		if rec == nil {
			return
		}
		if err, ok := rec.(error); ok && errors.Is(err, http.ErrAbortHandler) {
			panic(rec)
		}
		s.log.Error("panic serving request",
			"request_id", c.GetString(requestIDKey),
			"method", c.Request.Method,
			"route", c.FullPath(),
			"panic", rec,
			"stack", string(debug.Stack()),
		)
		if !c.Writer.Written() {
			s.problem(c, http.StatusInternalServerError, "Internal Server Error", "internal error", nil)
		}
		c.Abort()
	}()
	c.Next()
}

// securityHeaders sets the headers every response carries.
func (s *Server) securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if strings.HasPrefix(c.Request.URL.Path, "/api/") {
		h.Set("Cache-Control", "no-store")
	}
	c.Next()
}

// cors answers browsers from the configured origins only; with none
// configured it adds nothing, so browsers refuse cross-origin calls.
func (s *Server) cors(c *gin.Context) {
	origin := c.GetHeader("Origin")
	if origin == "" || len(s.cfg.CORSOrigins) == 0 || !slices.Contains(s.cfg.CORSOrigins, origin) {
		c.Next()
		return
	}
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", "ETag, Retry-After, X-Request-ID, Location")
	if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match, X-Request-ID")
		h.Set("Access-Control-Max-Age", "600")
		c.AbortWithStatus(http.StatusNoContent)
		return
	}
	c.Next()
}

// limitBody bounds every request body; upload routes raise the bound to
// the upload limit. Reading past it fails with *http.MaxBytesError.
func (s *Server) limitBody(c *gin.Context) {
	if s.isPageRoute(c) {
		c.Next() // pages bound their bodies and answer with a page
		return
	}
	limit := s.cfg.MaxBodyBytes
	if strings.HasSuffix(c.Request.URL.Path, "/attachments") && c.Request.Method == http.MethodPost {
		limit = s.cfg.MaxUploadBytes + 64<<10 // room for the multipart framing
	}
	if c.Request.ContentLength > limit {
		s.problem(c, http.StatusRequestEntityTooLarge, "Request Entity Too Large", "the request body is larger than "+strconv.FormatInt(limit, 10)+" bytes", nil)
		c.Abort()
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	c.Next()
}
