package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/phrase"
)

// ThrottleConfig bounds what one client address, one account, or everyone
// can make the service do: password guesses, registrations and account
// mail. Zero fields take DefaultThrottle's.
//
// Failed logins are counted per account and client address together. One
// address may fail FreeFailures times on one account within Window; after
// that each further try waits BaseDelay, doubling with every failure, at
// most MaxDelay, so a lockout grows gradually. Someone guessing from one
// address therefore never locks the owner out at another. When the
// account's failures from all addresses reach PerAccount, the addresses
// that failed on it wait until failures leave the window, while an address
// that has not failed is still let through: a correct password from it
// signs in. PerAddress bounds one address's failures on all accounts.
type ThrottleConfig struct {
	Window       time.Duration
	FreeFailures int
	BaseDelay    time.Duration
	MaxDelay     time.Duration
	PerAccount   int
	PerAddress   int
	// ResetsPerHour bounds the password reset mails to one address.
	ResetsPerHour int
	// RegistrationsPerAddress and Registrations bound self-registrations
	// from one client address and from everyone.
	RegistrationsPerAddress nomination.Rate
	Registrations           nomination.Rate
	// ConfirmationMails bounds the confirmation links one account asks
	// for again.
	ConfirmationMails nomination.Rate
}

// DefaultThrottle returns the limits config/nomina.yaml documents: five
// free failures per account and address, then waits from 1s doubling to
// 15 minutes; 10 failures per account and 100 per address in 15 minutes;
// 3 reset mails per address and hour; 10 registrations per client address
// and 500 in all per hour; 5 confirmation mails per account and hour.
func DefaultThrottle() ThrottleConfig {
	return ThrottleConfig{
		Window: 15 * time.Minute, FreeFailures: 5, BaseDelay: time.Second, MaxDelay: 15 * time.Minute,
		PerAccount: 10, PerAddress: 100, ResetsPerHour: 3,
		RegistrationsPerAddress: nomination.Rate{Max: 10, Per: time.Hour},
		Registrations:           nomination.Rate{Max: 500, Per: time.Hour},
		ConfirmationMails:       nomination.Rate{Max: 5, Per: time.Hour},
	}
}

// withDefaults fills the zero fields of t from DefaultThrottle.
func (t ThrottleConfig) withDefaults() ThrottleConfig {
	d := DefaultThrottle()
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	setR := func(v *nomination.Rate, def nomination.Rate) {
		if v.Max <= 0 || v.Per <= 0 {
			*v = def
		}
	}
	setD(&t.Window, d.Window)
	set(&t.FreeFailures, d.FreeFailures)
	setD(&t.BaseDelay, d.BaseDelay)
	setD(&t.MaxDelay, d.MaxDelay)
	set(&t.PerAccount, d.PerAccount)
	set(&t.PerAddress, d.PerAddress)
	set(&t.ResetsPerHour, d.ResetsPerHour)
	setR(&t.RegistrationsPerAddress, d.RegistrationsPerAddress)
	setR(&t.Registrations, d.Registrations)
	setR(&t.ConfirmationMails, d.ConfirmationMails)
	return t
}

// maxTracked bounds the attempts read back for one key: enough to decide,
// however many failures a key collects.
const maxTracked = 512

// tooMany is the answer to a throttled attempt, waiting until.
func tooMany(now, until time.Time, msg phrase.Text) error {
	secs := int((until.Sub(now) + time.Second - 1) / time.Second)
	return &nomination.Error{Code: nomination.ETOOMANY, Message: msg.English, Text: msg, RetryAfter: max(secs, 1)}
}

// throttleKey is one counter an attempt is held against.
type throttleKey struct {
	key   string
	limit int
}

// beginAttempt records an attempt under every key and returns the ids of
// the records. Recording before counting keeps the limit exact even when
// attempts arrive at once on several replicas: each sees every attempt
// recorded before its own count. Over the limit, the records are removed
// again (a refused attempt does not prolong the wait) and ETOOMANY says
// how many seconds until the oldest counted attempt leaves the window.
func (s *Service) beginAttempt(ctx context.Context, keys []throttleKey, window time.Duration) ([]string, error) {
	now := s.now()
	var ids []string
	var until time.Time
	for _, k := range keys {
		if _, err := s.record(ctx, k.key, now, &ids); err != nil {
			return nil, err
		}
		times, err := s.store.Attempts(ctx, k.key, now.Add(-window), 4*k.limit+64)
		if err != nil {
			s.endAttempt(ctx, ids)
			return nil, fmt.Errorf("count attempts: %w", err)
		}
		if len(times) > k.limit {
			// times includes this attempt (the newest); the earlier ones
			// count, and the first len-limit of them must expire.
			earlier := times[:len(times)-1]
			if u := earlier[len(earlier)-k.limit].Add(window); u.After(until) {
				until = u
			}
		}
	}
	if !until.IsZero() {
		s.endAttempt(ctx, ids)
		return nil, tooMany(now, until, phrase.New("TooManyAttempts", "too many attempts; try again later"))
	}
	return ids, nil
}

// record stores one attempt under key and appends its id to ids; on
// failure it removes the ones in ids.
func (s *Service) record(ctx context.Context, key string, at time.Time, ids *[]string) (string, error) {
	id, err := s.newID("a-")
	if err != nil {
		s.endAttempt(ctx, *ids)
		return "", err
	}
	if err := s.store.AddAttempt(ctx, Attempt{ID: id, Key: key, At: at}); err != nil {
		s.endAttempt(ctx, *ids)
		return "", fmt.Errorf("record attempt: %w", err)
	}
	*ids = append(*ids, id)
	return id, nil
}

// endTimeout bounds the removal of an attempt's records.
const endTimeout = 10 * time.Second

// endAttempt removes attempt records that turned out not to be failures.
// It does so also when the request's client has gone away meanwhile (the
// request's context cancelled): records left behind would count as
// failures, and enough of them would make the account's owner wait.
func (s *Service) endAttempt(ctx context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endTimeout)
	defer cancel()
	for _, id := range ids {
		if err := s.store.RemoveAttempt(ctx, id); err != nil {
			s.log.ErrorContext(ctx, "remove login attempt", "error", err)
		}
	}
}

// pairKey names the failures of one client address on one account.
func pairKey(account, clientIP string) string { return "login:" + account + "|" + clientIP }

// beginLogin records a login attempt on account (an email key) from
// clientIP as pending and decides whether it may go ahead (see
// ThrottleConfig). The pending records are counted by attempts that come
// at the same moment, so parallel guesses wait like sequential ones. It
// returns the records' ids, to be removed if the login succeeds, or
// ETOOMANY with the seconds to wait.
func (s *Service) beginLogin(ctx context.Context, account, clientIP string) ([]string, error) {
	t := s.cfg.Throttle
	now := s.now()
	since := now.Add(-t.Window)
	var ids []string
	pair := pairKey(account, clientIP)
	if _, err := s.record(ctx, pair, now, &ids); err != nil {
		return nil, err
	}
	if clientIP != "" {
		if _, err := s.record(ctx, "address:"+clientIP, now, &ids); err != nil {
			return nil, err
		}
	}
	refuse := func(until time.Time, msg phrase.Text) ([]string, error) {
		s.endAttempt(ctx, ids)
		return nil, tooMany(now, until, msg)
	}
	if clientIP != "" {
		times, err := s.store.Attempts(ctx, "address:"+clientIP, since, maxTracked)
		if err != nil {
			s.endAttempt(ctx, ids)
			return nil, fmt.Errorf("count attempts: %w", err)
		}
		if earlier := len(times) - 1; earlier >= t.PerAddress {
			return refuse(times[earlier-t.PerAddress].Add(t.Window), phrase.New("TooManySignInsHere", "too many failed sign-ins from your network address; try again later"))
		}
	}
	times, err := s.store.Attempts(ctx, pair, since, maxTracked)
	if err != nil {
		s.endAttempt(ctx, ids)
		return nil, fmt.Errorf("count attempts: %w", err)
	}
	failed := len(times) - 1 // the others on this account from this address
	if failed == 0 {
		// An address that has not failed on the account goes ahead,
		// however many failures others made.
		return ids, nil
	}
	acct, err := s.store.Attempts(ctx, "account:"+account, since, maxTracked)
	if err != nil {
		s.endAttempt(ctx, ids)
		return nil, fmt.Errorf("count attempts: %w", err)
	}
	if len(acct) >= t.PerAccount {
		return refuse(acct[len(acct)-t.PerAccount].Add(t.Window), phrase.New("TooManySignInsAccount", "too many failed sign-ins on this account; try again later"))
	}
	if failed >= t.FreeFailures {
		delay := t.BaseDelay
		for i := t.FreeFailures; i < failed && delay < t.MaxDelay; i++ {
			delay *= 2
		}
		delay = min(delay, t.MaxDelay)
		if last := times[len(times)-2]; now.Before(last.Add(delay)) {
			return refuse(last.Add(delay), phrase.New("TooManySignIns", "too many failed sign-ins; wait before trying again"))
		}
	}
	return ids, nil
}

// failLogin keeps a failed attempt's records and counts it against the
// account too.
func (s *Service) failLogin(ctx context.Context, account string) {
	var ids []string
	if _, err := s.record(ctx, "account:"+account, s.now(), &ids); err != nil {
		s.log.ErrorContext(ctx, "record failed login", "error", err)
	}
}
