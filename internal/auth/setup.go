package auth

import (
	"context"
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/igf/nomina/internal/nomination"
)

// DefaultSetupTTL is how long a first-administrator setup link works.
const DefaultSetupTTL = 24 * time.Hour

// setupSpentKey is the used-link record whose insert decides which setup
// creates the first administrator, whatever link and instance it came
// through: of two at once exactly one gets to create it.
const setupSpentKey = "first-admin-setup"

// SetupToken is the stored form of a setup link: the hash of its token and
// when it stops working.
type SetupToken struct {
	Hash      string
	ExpiresAt time.Time
}

// SetupStore keeps the setup links of the first administrator. It is kept
// in the store, so a link one instance logged works on all of them.
type SetupStore interface {
	// AddSetupToken stores a new setup link.
	AddSetupToken(ctx context.Context, t SetupToken) error
	// SetupTokens returns the setup links that have not expired at now.
	SetupTokens(ctx context.Context, now time.Time) ([]SetupToken, error)
}

// Setup creates the first administrator from a one-time link when the
// store has none and none is configured: the service logs the link at
// start, and whoever can read that log opens it and chooses the account.
type Setup struct {
	svc   *Service
	store SetupStore
	ttl   time.Duration
}

// Setup returns the first-administrator setup over store; links work for
// ttl (DefaultSetupTTL when zero).
func (s *Service) Setup(store SetupStore, ttl time.Duration) *Setup {
	if ttl <= 0 {
		ttl = DefaultSetupTTL
	}
	return &Setup{svc: s, store: store, ttl: ttl}
}

// Begin makes a setup link when no administrator exists: it returns the
// token (to log; only its hash is stored) and when it expires, or "" when
// an administrator exists.
func (st *Setup) Begin(ctx context.Context) (string, time.Time, error) {
	exists, err := st.svc.store.AnyUserWithRole(ctx, RoleAdmin)
	if err != nil || exists {
		return "", time.Time{}, err
	}
	token, err := randomToken(st.svc.cfg.Rand)
	if err != nil {
		return "", time.Time{}, err
	}
	expires := st.svc.now().Add(st.ttl)
	if err := st.store.AddSetupToken(ctx, SetupToken{Hash: HashToken(token), ExpiresAt: expires}); err != nil {
		return "", time.Time{}, fmt.Errorf("store setup link: %w", err)
	}
	return token, expires, nil
}

// errSetupGone is the answer for a setup link that does not work (wrong,
// expired, spent, or an administrator exists): which, it does not say.
var errSetupGone = nomination.Fail(nomination.ENOTFOUND, "SetupLinkGone", "this setup link does not work: it is wrong, expired or used, or an administrator exists")

// Check reports whether token is a working setup link: ENOTFOUND when it
// is wrong, expired or spent, or when an administrator exists.
func (st *Setup) Check(ctx context.Context, token string) error {
	if !wellFormedOpaque(token) {
		return errSetupGone
	}
	if exists, err := st.svc.store.AnyUserWithRole(ctx, RoleAdmin); err != nil {
		return err
	} else if exists {
		return errSetupGone
	}
	if spent, err := st.svc.store.LinkTokenUsed(ctx, HashToken(setupSpentKey)); err != nil {
		return err
	} else if spent {
		return errSetupGone
	}
	tokens, err := st.store.SetupTokens(ctx, st.svc.now())
	if err != nil {
		return err
	}
	want := []byte(HashToken(token))
	found := 0
	for _, t := range tokens {
		// Every stored link is compared, in constant time, so the answer
		// takes as long whichever matches.
		found |= subtle.ConstantTimeCompare(want, []byte(t.Hash))
	}
	if found != 1 {
		return errSetupGone
	}
	return nil
}

// Complete creates the first administrator from a working setup link and
// spends it (and every other setup link). Errors: ENOTFOUND when the link
// does not work, EINVALID naming the fields (name, email, password: the
// usual rules), ECONFLICT when the address has an account already.
func (st *Setup) Complete(ctx context.Context, token string, in NewUser) (*User, error) {
	if err := st.Check(ctx, token); err != nil {
		return nil, err
	}
	in.Roles = []Role{RoleAdmin}
	in.Panels = nil
	if _, err := st.svc.checkNewUser(in, true); err != nil {
		return nil, err
	}
	_, key, _ := NormalizeEmail(in.Email)
	if _, err := st.svc.store.UserByEmailKey(ctx, key); err == nil {
		e := nomination.Fail(nomination.ECONFLICT, "AccountExists", "an account with this email already exists")
		e.Fields = []nomination.FieldError{nomination.Problem("email", "EmailTakenAdmin", "is already registered: choose another address for the administrator")}
		return nil, e
	} else if nomination.ErrorCode(err) != nomination.ENOTFOUND {
		return nil, err
	}
	now := st.svc.now()
	// The insert is the commit point: of concurrent setups, one wins.
	if err := st.svc.store.ConsumeLinkToken(ctx, HashToken(setupSpentKey), now, now.AddDate(100, 0, 0)); err != nil {
		if nomination.ErrorCode(err) == nomination.ECONFLICT {
			return nil, errSetupGone
		}
		return nil, err
	}
	// Whoever holds the link read the service's log: the operator, who
	// vouches for the address as for NOMINA_ADMIN_EMAIL.
	u, err := st.svc.Provision(ctx, in)
	if err != nil {
		return nil, err
	}
	st.svc.log.InfoContext(ctx, "first administrator created from the setup link", "user_id", u.ID)
	return u, nil
}
