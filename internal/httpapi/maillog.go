package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/igf/nomina/internal/nomination"
)

// MailLog is the record of mail sent, pending and dead, for the
// secretariat; cmd/nomina wires the store's mail queue.
type MailLog interface {
	MailLog(ctx context.Context, nominationID, status string, limit int) ([]nomination.MailRecord, error)
	RetryDead(ctx context.Context, jobID string, now time.Time) error
}

func (s *Server) mailRoutes() {
	s.Handle(http.MethodGet, "/api/v1/mail", Roles("secretariat"), s.mailLog)
	s.Handle(http.MethodPost, "/api/v1/mail/retry", Roles("secretariat"), s.retryMail)
}

type mailRecordResponse struct {
	ID          string     `json:"id"`
	Template    string     `json:"template"`
	To          string     `json:"to"`
	Nomination  string     `json:"nomination,omitempty"`
	Status      string     `json:"status"`
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"last_error,omitempty"`
	NextAttempt *time.Time `json:"next_attempt_at,omitempty"`
	SentAt      *time.Time `json:"sent_at,omitempty"`
	MessageID   string     `json:"message_id,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	CallSlug    string     `json:"call,omitempty"`
	NomineeName string     `json:"nominee,omitempty"`
}

func (s *Server) mailLog(c *gin.Context) {
	status := c.Query("status")
	switch status {
	case "", nomination.MailQueued, nomination.MailSent, nomination.MailDead:
	default:
		s.fail(c, nomination.Fail(nomination.EBADREQUEST, "UnknownStatus", "unknown status").
			With(nomination.Problem("status", "QueuedSentDead", "queued, sent or dead")))
		return
	}
	limit := 100
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 500 {
			s.fail(c, nomination.Fail(nomination.EBADREQUEST, "Limit500", "limit must be 1 to 500").
				With(nomination.Problem("limit", "Range1To500", "1 to 500")))
			return
		}
		limit = n
	}
	if len(c.Query("nomination")) > 64 {
		s.fail(c, nomination.Invalid(nomination.Problem("nomination", "NotANominationID", "not a nomination id")))
		return
	}
	recs, err := s.cfg.Mail.MailLog(c.Request.Context(), c.Query("nomination"), status, limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]mailRecordResponse, 0, len(recs))
	for _, r := range recs {
		out = append(out, mailRecordResponse{
			ID: r.Job.ID, Template: r.Job.Template, To: r.Job.To, Nomination: r.Job.NominationID, Status: r.Status,
			Attempts: r.Attempts, LastError: r.LastError, NextAttempt: timePtr(r.NextAttemptAt), SentAt: timePtr(r.SentAt),
			MessageID: r.MessageID, CreatedAt: r.Job.CreatedAt, UpdatedAt: r.UpdatedAt, CallSlug: r.Job.CallSlug, NomineeName: r.Job.NomineeName,
		})
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

type retryRequest struct {
	ID string `json:"id"`
}

func (s *Server) retryMail(c *gin.Context) {
	var req retryRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if req.ID == "" || len(req.ID) > 512 {
		s.fail(c, nomination.Invalid(nomination.Problem("id", "DeadJobID", "the id of a dead mail job")))
		return
	}
	if err := s.cfg.Mail.RetryDead(c.Request.Context(), req.ID, time.Now()); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusAccepted)
}
