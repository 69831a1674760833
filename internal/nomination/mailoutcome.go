package nomination

import "time"

// MailOutcome is what became of one claimed attempt of a mail job, as the
// worker that claimed it records it (several at once).
type MailOutcome struct {
	JobID string
	// Attempt and Try are the attempt's MailAttempt.Number and Try.
	Attempt int
	Try     int
	// Status is MailSent, MailDead, or MailQueued: tried again at Next.
	Status string
	// Released, with MailQueued, gives the attempt back unmade (its
	// worker ran out of time or lost the server before sending it): the
	// next attempt is due at Next and counts as the same try.
	Released bool
	// MaybeSent, with a failure, says the server may have accepted the
	// message all the same (the connection broke while its reply to the
	// message was awaited): a later attempt may deliver a second copy.
	MaybeSent bool
	// Reply is the server's reply or the reason, for a failure.
	Reply string
	// MessageID is the accepted message's Message-ID, for MailSent.
	MessageID string
	At        time.Time
	Next      time.Time
}
