package nomination

import (
	"context"
	"time"
)

// MailJob is one message to send, derived from the event (or request) that
// caused it. Its ID is deterministic, so deriving it twice enqueues it once.
type MailJob struct {
	// ID identifies the job: "<source>/<template>/<recipient key>", for
	// example "n-123/000004/review_request/u-9" or "reset/<token id>".
	ID string
	// Template names a template in workflows/templates (without extension).
	Template string
	// To is the recipient's address and display name.
	To   string
	Name string
	// NominationID and CallSlug link the message to its subject, when any.
	NominationID string
	CallSlug     string
	// Data carries the template's extra values (.Extra in a template).
	Data map[string]string
	// Links names the links the message carries (.Links in a template). A
	// path such as "/nominations/n-123" is made absolute with the configured
	// base URL when the message is rendered; an absolute URL is kept.
	Links map[string]string
	// Sealed names the links whose token is made only when the message is
	// sent (see SealedLink); LinkSigner.Unseal adds them to Links.
	Sealed map[string]SealedLink
	// The subject as it was when the job was derived, so that a resend says
	// what the first attempt said: the nomination's state, nominee and form
	// fields, the call's title and deadline, and the actor's comment or
	// reason for the action that caused the message.
	NominationState string
	NomineeName     string
	Fields          map[string]any
	CallTitle       string
	CallClosesAt    time.Time
	Comment         string
	Reason          string
	// Language is the language the message is written in: the
	// recipient's account's preference, or for someone without an
	// account the language of the page they were invited from; "" for
	// English.
	Language string
	// Audience is who the message was meant for (panel, secretariat, ...)
	// and RecipientID the account it went to, when it went to one: at send
	// time the audience is checked again (see Service.StillAddressed).
	Audience    string
	RecipientID string
	// CreatedAt is when the job was derived; NotBefore delays delivery.
	CreatedAt time.Time
	NotBefore time.Time
}

// Delivery states of a mail job.
const (
	MailQueued = "queued" // waiting for its next attempt
	MailSent   = "sent"   // accepted by the SMTP server
	MailDead   = "dead"   // refused for good or out of attempts; the secretariat may retry it
)

// MailRecord is a mail job with its delivery state: one line of the mail log.
type MailRecord struct {
	Job MailJob
	// Status is MailQueued, MailSent or MailDead.
	Status string
	// Attempts counts the delivery attempts started, interrupted ones included.
	Attempts int
	// NextAttemptAt is when a queued job is due.
	NextAttemptAt time.Time
	// LastError is the server's reply to the last failed attempt, or the
	// connection error that ended it.
	LastError string
	// SentAt and MessageID are set once the server accepted the message.
	SentAt    time.Time
	MessageID string
	UpdatedAt time.Time
}

// MailAttempt is one claimed delivery attempt of a mail job.
type MailAttempt struct {
	// Record is the job and its delivery state before the attempt.
	Record MailRecord
	// Number numbers the attempt among all of the job's attempts.
	Number int
	// Try counts the attempts since the job was queued or last retried by
	// hand: 1 for the first.
	Try int
}

// Outbox accepts mail jobs for delivery. Enqueue is idempotent: a job whose
// ID is already queued is accepted without a second copy.
type Outbox interface {
	Enqueue(ctx context.Context, job MailJob) error
}
