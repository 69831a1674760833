// Package auth owns the identity of Nomina's users: accounts and their roles,
// password hashing and policy, signed access tokens, rotating refresh tokens,
// signed single-use mailed links, address confirmation, and the throttling
// of logins, registrations and account mail. It knows nothing of HTTP or
// of the database driver: it declares the Store it needs and returns
// *nomination.Error for everything a caller may see.
package auth

import (
	"context"
	"slices"
	"time"
)

// Role is what a user may do in Nomina.
type Role string

// The roles, from least to most privileged.
const (
	RoleCandidate   Role = "candidate"
	RoleReviewer    Role = "reviewer"
	RoleSecretariat Role = "secretariat"
	RoleAdmin       Role = "admin"
)

// Roles lists every role Nomina knows, in order of privilege.
var Roles = []Role{RoleCandidate, RoleReviewer, RoleSecretariat, RoleAdmin}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// User is an account. EmailKey is the normalised address that makes emails
// unique regardless of case; Email keeps the spelling the user gave.
type User struct {
	ID           string
	Email        string
	EmailKey     string
	Name         string
	Roles        []Role
	Panels       []string
	Organization string
	// Language is the language the user prefers for pages and mail, one
	// of Languages, or empty for no preference.
	Language string
	// PasswordHash is the PHC-style argon2id string, or empty for an account
	// whose owner has not set a password yet.
	PasswordHash string
	Disabled     bool
	// ValidAfter ends sessions: access tokens, refresh families and mailed
	// links issued before it are refused. It is always a whole second.
	ValidAfter time.Time
	// EmailConfirmedAt is when the owner showed they receive mail at Email
	// (a confirmation link, or a password set or reset through a mailed
	// link); zero until then. Until it is set, Nomina mails nobody else
	// on the account's behalf.
	EmailConfirmedAt time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// HasRole reports whether the user holds role r.
func (u *User) HasRole(r Role) bool { return slices.Contains(u.Roles, r) }

// EmailConfirmed reports whether the user's address is confirmed.
func (u *User) EmailConfirmed() bool { return !u.EmailConfirmedAt.IsZero() }

// Principal is the authenticated caller of a request, as established by
// Service.Authenticate from an access token and the current user record.
type Principal struct {
	UserID       string
	Email        string
	Name         string
	Roles        []Role
	Panels       []string
	Organization string
	// EmailConfirmed says the caller's address is confirmed.
	EmailConfirmed bool
	// Language is the user's preferred language (see User.Language).
	Language string
	// SessionID names the refresh family the access token belongs to.
	SessionID string
}

// HasRole reports whether the caller holds role r.
func (p *Principal) HasRole(r Role) bool { return p != nil && slices.Contains(p.Roles, r) }

// HasAnyRole reports whether the caller holds at least one of roles.
func (p *Principal) HasAnyRole(roles ...Role) bool {
	for _, r := range roles {
		if p.HasRole(r) {
			return true
		}
	}
	return false
}

// InPanel reports whether the caller sits on the named panel.
func (p *Principal) InPanel(panel string) bool {
	return p != nil && slices.Contains(p.Panels, panel)
}

// UserChanges lists the fields of a user to change; nil fields stay as
// they are.
type UserChanges struct {
	Name             *string
	Roles            *[]Role
	Panels           *[]string
	Organization     *string
	Disabled         *bool
	PasswordHash     *string
	ValidAfter       *time.Time
	EmailConfirmedAt *time.Time
	Language         *string
	UpdatedAt        time.Time
}

// UserFilter selects users to list. After is the EmailKey of the last user
// of the previous page.
type UserFilter struct {
	Role  Role
	Panel string
	After string
	Limit int
}

// RefreshToken is the stored form of an opaque refresh token: only its hash
// is kept. Tokens of one login form a family that ends as a whole.
type RefreshToken struct {
	Hash            string
	Family          string
	UserID          string
	FamilyStartedAt time.Time
	IssuedAt        time.Time
	ExpiresAt       time.Time
}

// Purposes of mailed account links: the kinds of their signed tokens
// (see nomination.LinkSigner).
const (
	PurposePasswordReset = "password_reset"
	PurposeSetPassword   = "set_password"
	PurposeConfirmEmail  = "confirm_email"
)

// Attempt is one recorded login attempt (or other throttled event) under a
// key such as "account:<email key>" or "address:<ip>".
type Attempt struct {
	ID  string
	Key string
	At  time.Time
}

// Store keeps users, tokens and throttling records. Every change that can
// race is committed by inserting a document with a unique id; the store
// never relies on conditional updates for correctness.
//
// Errors: a missing record is a *nomination.Error with code ENOTFOUND; an
// id that is already taken is ECONFLICT; anything else is an internal error.
type Store interface {
	// CreateUser inserts u; its EmailKey is the unique commit point, so of
	// concurrent creations with one address exactly one succeeds and the
	// others get ECONFLICT.
	CreateUser(ctx context.Context, u *User) error
	// UserByID returns the user with that id, or ENOTFOUND.
	UserByID(ctx context.Context, id string) (*User, error)
	// UserByEmailKey returns the user with that normalised email, or ENOTFOUND.
	UserByEmailKey(ctx context.Context, key string) (*User, error)
	// UpdateUser applies ch to the user with that id and returns the
	// result, or ENOTFOUND.
	UpdateUser(ctx context.Context, id string, ch UserChanges) (*User, error)
	// ListUsers returns up to f.Limit users ordered by EmailKey.
	ListUsers(ctx context.Context, f UserFilter) ([]*User, error)
	// AnyUserWithRole reports whether at least one user holds role r.
	AnyUserWithRole(ctx context.Context, r Role) (bool, error)

	// CreateRefreshToken stores a new refresh token.
	CreateRefreshToken(ctx context.Context, t *RefreshToken) error
	// RefreshTokenByHash returns the refresh token with that hash, or ENOTFOUND.
	RefreshTokenByHash(ctx context.Context, hash string) (*RefreshToken, error)
	// SpendRefreshToken marks the token spent by inserting a record keyed
	// by its hash: ECONFLICT means it had been spent before (reuse).
	SpendRefreshToken(ctx context.Context, hash string, at time.Time) error
	// RevokeFamily ends a refresh family; revoking twice is not an error.
	RevokeFamily(ctx context.Context, family, reason string, at time.Time) error
	// FamilyRevoked reports whether the family has been revoked.
	FamilyRevoked(ctx context.Context, family string) (bool, error)

	// ConsumeLinkToken marks a mailed link's token used by inserting a
	// record keyed by its hash, kept until the token expires: ECONFLICT
	// means it had been used before.
	ConsumeLinkToken(ctx context.Context, hash string, at, expires time.Time) error
	// LinkTokenUsed reports whether the token with that hash has been
	// used (a record ConsumeLinkToken inserted is there).
	LinkTokenUsed(ctx context.Context, hash string) (bool, error)

	// AddAttempt records one attempt.
	AddAttempt(ctx context.Context, a Attempt) error
	// RemoveAttempt deletes the attempt with that id; a missing one is not
	// an error.
	RemoveAttempt(ctx context.Context, id string) error
	// Attempts returns the times of the attempts under key recorded after
	// since, oldest first, at most limit of them.
	Attempts(ctx context.Context, key string, since time.Time, limit int) ([]time.Time, error)

	// DeleteExpired removes attempts recorded before attemptsBefore, and
	// refresh tokens and used-link records that expired before
	// tokensBefore, and returns how many records it removed.
	DeleteExpired(ctx context.Context, attemptsBefore, tokensBefore time.Time) (int64, error)
}
