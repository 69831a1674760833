// Package mail renders Nomina's email from the templates beside the
// workflows and delivers queued mail jobs over SMTP with go-mail: workers
// claim a batch of attempts from the queue, send their messages over one
// reused connection, and record the outcomes, so that a message is sent at
// least once, a resend carries the same Message-ID, and several service
// instances can deliver from one queue.
package mail

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"net/url"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/igf/nomina/internal/nomination"
)

// Config holds the service settings mail delivery depends on.
type Config struct {
	// SMTPURL is smtp://[user:pass@]host[:port] (STARTTLS, port 587 by
	// default) or smtps://... (TLS from the start, port 465). Empty means no
	// delivery: jobs stay queued until a server is configured.
	SMTPURL string
	// From is the sender, such as "Nomina <nomina@example.org>".
	From string
	// BaseURL makes the links in mail absolute.
	BaseURL string
	// InsecurePlaintext allows a server that is not on loopback to be used
	// without STARTTLS. Credentials are still never sent in the clear.
	InsecurePlaintext bool
	// Workers is how many workers (each with one SMTP connection) run.
	Workers int
}

// Validate checks the settings and returns an error naming the bad one.
// An empty SMTPURL is valid: delivery is off.
func (c Config) Validate() error {
	if _, err := netmail.ParseAddress(c.From); err != nil {
		return fmt.Errorf("mail sender %q: %w", c.From, err)
	}
	if u, err := url.Parse(c.BaseURL); err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("mail base URL %q: must be an absolute URL", c.BaseURL)
	}
	if c.SMTPURL != "" {
		if _, err := ParseSMTPURL(c.SMTPURL); err != nil {
			return err
		}
	}
	return nil
}

// DeliveryDisabled reports whether cfg turns delivery off (no SMTP URL).
// When it does, it logs one warning that mail is kept in the queue and
// delivered once a server is configured; call it once at start.
func DeliveryDisabled(cfg Config, log *slog.Logger) bool {
	if cfg.SMTPURL != "" {
		return false
	}
	if log == nil {
		log = slog.Default()
	}
	log.Warn("mail delivery is off: NOMINA_SMTP_URL is not set; mail is queued and will be sent once an SMTP server is configured")
	return true
}

// MessageID returns the Message-ID of the job with that ID, angle brackets
// included. It depends on the job ID only, so every attempt of a job (a
// resend after a crash, say) carries the same one and can be recognised.
func MessageID(jobID string) string {
	sum := sha256.Sum256([]byte(jobID))
	return "<" + hex.EncodeToString(sum[:])[:32] + "@nomina>"
}

// JobData returns the data a job's template renders with: the job's
// snapshot of the nomination and call (names as plain text, see
// PlainName), and its links made absolute with baseURL. Values a producer put in the job's Data instead of its own
// fields count as well: "link_<name>" as link <name>, and "state",
// "comment" and "reason"; the job's own fields win.
func JobData(job nomination.MailJob, baseURL string) Data {
	links := make(map[string]string, len(job.Links))
	extra := make(map[string]string, len(job.Data))
	for k, v := range job.Data {
		extra[k] = v
		if name, ok := strings.CutPrefix(k, "link_"); ok && name != "" {
			links[name] = absoluteURL(baseURL, v)
		}
	}
	for k, v := range job.Links {
		links[k] = absoluteURL(baseURL, v)
	}
	or := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	return Data{
		Recipient: Recipient{Name: PlainName(job.Name), Email: job.To},
		Nomination: Nomination{
			ID:          job.NominationID,
			State:       or(job.NominationState, job.Data["state"]),
			NomineeName: PlainName(job.NomineeName),
			Fields:      job.Fields,
		},
		Call:     Call{Title: job.CallTitle, Slug: job.CallSlug, ClosesAt: job.CallClosesAt},
		Links:    links,
		Comment:  or(job.Comment, job.Data["comment"]),
		Reason:   or(job.Reason, job.Data["reason"]),
		Extra:    extra,
		Language: job.Language,
	}
}

// PlainName returns a name someone typed as it may appear in mail: as
// plain text, never a link. Mail programs turn whatever looks like an
// address or a URL ("evil.example", "https://...") into a link, in the
// text part as in the HTML part, so a name could otherwise carry its
// sender's link into a message Nomina sends. A zero-width space after
// every '.', ':', '/' and '@' keeps the name looking the same while no
// program recognises a link in it any more.
func PlainName(name string) string {
	if !strings.ContainsAny(name, ".:/@") {
		return name
	}
	var b strings.Builder
	for _, r := range name {
		b.WriteRune(r)
		switch r {
		case '.', ':', '/', '@':
			b.WriteRune('\u200b')
		}
	}
	return b.String()
}

// absoluteURL keeps an absolute link and joins a path to base.
func absoluteURL(base, link string) string {
	if u, err := url.Parse(link); err == nil && u.IsAbs() {
		return link
	}
	return strings.TrimRight(base, "/") + "/" + strings.TrimLeft(link, "/")
}

// buildMsg turns a rendered message for job into a go-mail message. Every
// header goes through go-mail's setters: display names are encoded by
// net/mail and the subject by go-mail, and control characters are taken out
// of names first, so no value can add a header. An address that does not
// parse is an error (the job cannot be delivered).
func buildMsg(from *netmail.Address, job nomination.MailJob, m Message, now time.Time) (*gomail.Msg, error) {
	to, err := netmail.ParseAddress(job.To)
	if err != nil {
		return nil, fmt.Errorf("recipient address %q: %w", job.To, err)
	}
	// The display name is plain text too (see PlainName).
	name := oneLine(PlainName(job.Name))
	if name == "" {
		name = oneLine(to.Name)
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.SetAddrHeaderFromMailAddress(gomail.HeaderFrom, from)
	msg.SetAddrHeaderFromMailAddress(gomail.HeaderTo, &netmail.Address{Name: name, Address: to.Address})
	msg.Subject(oneLine(m.Subject))
	msg.SetMessageIDWithValue(strings.Trim(MessageID(job.ID), "<>"))
	msg.SetDateWithValue(now)
	// Auto-Submitted keeps out-of-office replies from answering a robot.
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	if m.Language != "" {
		msg.SetGenHeader(gomail.Header("Content-Language"), m.Language)
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}
