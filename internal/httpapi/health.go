package httpapi

import (
	"context"
	_ "embed"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/igf/nomina/internal/nomination"
)

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok", "version": s.cfg.Version})
}

// readyz answers 200 when the store answers a ping within one second.
func (s *Server) readyz(c *gin.Context) {
	if s.cfg.Ready == nil {
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), time.Second)
	defer cancel()
	if err := s.cfg.Ready(ctx); err != nil {
		s.log.Debug("not ready", "err", err)
		s.problem(c, http.StatusServiceUnavailable, "Service Unavailable", "the store does not answer: "+readinessReason(err), nil)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// readinessReason says why in words that leak no address or credential.
func readinessReason(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer within 1s"
	}
	var de *nomination.Error
	if errors.As(err, &de) {
		return de.Message
	}
	return "connection failed"
}

//go:embed openapi.yaml
var openAPIDoc []byte

func (s *Server) openAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/yaml; charset=utf-8", openAPIDoc)
}
