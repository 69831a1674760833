package auth

import (
	"context"
	"fmt"
	"slices"

	"github.com/igf/nomina/internal/nomination"
)

// Languages lists the language preferences an account may hold: the six
// official languages of the United Nations, as BCP 47 tags.
var Languages = []string{"ar", "en", "es", "fr", "ru", "zh"}

// Profile is what a user changes about themselves on their account page.
type Profile struct {
	Name string
	// Language is one of Languages, or empty for no preference.
	Language string
}

// UpdateProfile changes the caller's own name and language preference. It
// returns EUNAUTHORIZED without a caller, EINVALID naming "name" or
// "language", ENOTFOUND when the account is gone.
func (s *Service) UpdateProfile(ctx context.Context, actor *Principal, p Profile) (*User, error) {
	if actor == nil {
		return nil, errNoActor
	}
	var fe fieldErrors
	name, err := checkText("name", p.Name, 1, MaxNameLength)
	fe.add(err)
	if p.Language != "" && !slices.Contains(Languages, p.Language) {
		fe = append(fe, nomination.Problem("language", "LanguageOneOf", "must be one of ar, en, es, fr, ru, zh"))
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	lang := p.Language
	u, err := s.store.UpdateUser(ctx, actor.UserID, UserChanges{Name: &name, Language: &lang, UpdatedAt: s.now()})
	if nomination.ErrorCode(err) == nomination.ENOTFOUND {
		return nil, nomination.Fail(nomination.ENOTFOUND, "NoSuchUser", "no such user")
	}
	if err != nil {
		return nil, fmt.Errorf("update profile: %w", err)
	}
	return u, nil
}

// ChangePassword replaces the caller's password after checking the current
// one under the sign-in throttle (a wrong one counts as a failed sign-in
// of the account from clientIP), and ends every session and token family
// of the account, the caller's own included: the caller starts a new one
// (Sessions.Start, NewTokenPair). It returns EUNAUTHORIZED without a
// caller or for a disabled account, EINVALID naming "current_password"
// when it is wrong and "password" when the policy refuses the new one,
// ETOOMANY when throttled.
func (s *Service) ChangePassword(ctx context.Context, actor *Principal, current, password, clientIP string) (*User, error) {
	if actor == nil {
		return nil, errNoActor
	}
	u, err := s.store.UserByID(ctx, actor.UserID)
	if nomination.ErrorCode(err) == nomination.ENOTFOUND {
		return nil, errNoActor
	}
	if err != nil {
		return nil, fmt.Errorf("change password: %w", err)
	}
	if u.Disabled {
		return nil, errNoActor
	}
	if current == "" {
		return nil, nomination.Invalid(nomination.Problem("current_password", "Required", "is required"))
	}
	if len(current) > 4*MaxPasswordLength {
		return nil, nomination.Invalid(nomination.Problem("current_password", "NotCurrentPassword", "is not your current password"))
	}
	if err := CheckPassword(password, u.Email, u.Name); err != nil {
		return nil, err
	}
	attempts, err := s.beginLogin(ctx, u.EmailKey, clientIP)
	if err != nil {
		return nil, err
	}
	ok, err := s.verify(ctx, current, u.PasswordHash)
	if err != nil && ctx.Err() != nil {
		s.endAttempt(ctx, attempts)
		return nil, ctx.Err()
	}
	if !ok {
		// The attempt stays recorded: guessing here is guessing a sign-in.
		s.failLogin(ctx, u.EmailKey)
		s.log.WarnContext(ctx, "password change refused: wrong current password", "user_id", u.ID, "client_ip", clientIP)
		return nil, nomination.Invalid(nomination.Problem("current_password", "NotCurrentPassword", "is not your current password"))
	}
	s.endAttempt(ctx, attempts)
	encoded, err := s.hash(ctx, password)
	if err != nil {
		return nil, err
	}
	now := s.now()
	va := nextValidAfter(now, u)
	out, err := s.store.UpdateUser(ctx, u.ID, UserChanges{PasswordHash: &encoded, ValidAfter: &va, UpdatedAt: now})
	if err != nil {
		return nil, fmt.Errorf("change password: %w", err)
	}
	s.log.InfoContext(ctx, "password changed; sessions ended", "user_id", u.ID)
	return out, nil
}

// NewTokenPair starts a new API session (refresh family) for u, as a login
// does: after a password change, the caller's way to carry on.
func (s *Service) NewTokenPair(ctx context.Context, u *User) (*TokenPair, error) {
	family, err := s.newID("s-")
	if err != nil {
		return nil, err
	}
	now := s.now()
	return s.issue(ctx, u, family, issueTime(now, u), now)
}
