package nomination

import (
	"context"
	"fmt"
	"time"
)

// Rate is a limit: at most Max uses in each window of length Per. A zero
// Rate sets no limit.
type Rate struct {
	Max int
	Per time.Duration
}

// String writes the rate as the configuration does, such as "20/24h0m0s".
func (r Rate) String() string { return fmt.Sprintf("%d/%s", r.Max, r.Per) }

// Limiter counts uses of keys in fixed windows, in the store, so that the
// count is shared by every instance of the service. Keys name what is
// counted and for whom, such as "nominations:account:u-1".
type Limiter interface {
	// Take records one use of key in the window of rate r that holds now,
	// unless r.Max uses are recorded there already. It returns a *Error
	// with ETOOMANY and RetryAfter (seconds until the window ends) when
	// the limit is reached; nothing is recorded then.
	Take(ctx context.Context, key string, r Rate, now time.Time) error
}

// Limits bounds what one account, one client address, or everyone
// together may make Nomina do. Fixed windows: a burst may reach twice a
// limit across a window's end, never more.
type Limits struct {
	// Writes bounds the changes one account makes to nominations
	// (starting, editing, uploading, asking for endorsements).
	Writes Rate
	// Nominations bounds the nominations one account, and one client
	// address, starts.
	NominationsPerAccount Rate
	NominationsPerAddress Rate
	// ConsentRequests bounds the nominations of someone else, each of
	// which mails the nominee.
	ConsentRequestsPerAccount Rate
	ConsentRequestsPerAddress Rate
	// EndorsementRequests bounds the requests for support, each of which
	// mails the endorser.
	EndorsementRequestsPerAccount Rate
	EndorsementRequestsPerAddress Rate
	// MailsPerRecipient bounds the consent and endorsement requests that
	// reach one outside address, whoever asks.
	MailsPerRecipient Rate
}

// DefaultLimits are the limits config/nomina.yaml documents.
func DefaultLimits() Limits {
	day := 24 * time.Hour
	return Limits{
		Writes:                        Rate{Max: 60, Per: time.Minute},
		NominationsPerAccount:         Rate{Max: 20, Per: day},
		NominationsPerAddress:         Rate{Max: 100, Per: day},
		ConsentRequestsPerAccount:     Rate{Max: 10, Per: day},
		ConsentRequestsPerAddress:     Rate{Max: 50, Per: day},
		EndorsementRequestsPerAccount: Rate{Max: 30, Per: day},
		EndorsementRequestsPerAddress: Rate{Max: 100, Per: day},
		MailsPerRecipient:             Rate{Max: 5, Per: day},
	}
}

// limit is one count a request is held against.
type limit struct {
	key  string
	rate Rate
	what string // what was limited, for the message
}

// take holds a request against each limit in order, stopping at the first
// that is reached: ETOOMANY saying what was limited and when to try again.
// Uses taken before a later limit refused stay counted; the order puts the
// narrowest limits (one account) first, so an account that is over its own
// limit spends nothing of the shared ones.
func (s *Service) take(ctx context.Context, limits ...limit) error {
	if s.Limiter == nil {
		return nil
	}
	now := s.now()
	for _, l := range limits {
		if l.rate.Max <= 0 || l.rate.Per <= 0 || l.key == "" {
			continue
		}
		if err := s.Limiter.Take(ctx, l.key, l.rate, now); err != nil {
			if e, ok := err.(*Error); ok && e.Code == ETOOMANY {
				s.Logger.WarnContext(ctx, "limit reached", "limit", l.what, "key", limitKeyForLog(l.key))
				return &Error{Code: ETOOMANY, Message: fmt.Sprintf("too many %s; try again later", l.what), RetryAfter: max(e.RetryAfter, 1)}
			}
			return fmt.Errorf("limit %s: %w", l.what, err)
		}
	}
	return nil
}

// limitKeyForLog keeps addresses out of the log: the key's kind only.
func limitKeyForLog(key string) string {
	for i := len(key) - 1; i >= 0; i-- {
		if key[i] == ':' {
			return key[:i]
		}
	}
	return key
}

// writeLimit is the per-account limit on changes to nominations.
func (s *Service) writeLimit(actor Actor) limit {
	return limit{key: "writes:account:" + actor.UserID, rate: s.Limits.Writes, what: "changes in a short time"}
}

// addressKey is the client-address part of a limit key; an actor without
// one (a command, a test) is counted by account only.
func addressKey(prefix string, actor Actor) string {
	if actor.Address == "" {
		return ""
	}
	return prefix + ":address:" + actor.Address
}
