package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/igf/nomina/internal/nomination"
)

// Account links: a password reset, a first password, an address
// confirmation. Each is a token signed by the link signer, whose claims say
// whose account it is (Ref), which address it was mailed to (Address),
// when it was issued and when it expires, plus a nonce. The mail job keeps
// the claims only and the token is signed when the message is sent, so
// neither the mail queue nor any other collection holds a working link. A
// password link is single-use: using it inserts a record keyed by its
// hash, and the password change it makes ends every link issued before.

// Pages the account links lead to (NOMINA_BASE_URL + path + token).
const (
	resetPath   = "/reset-password/"
	setPath     = "/set-password/"
	confirmPath = "/confirm-email/"
)

// addressTag fingerprints an account's address (its email key) in a link,
// so a link mailed to one address confirms nothing about another.
func addressTag(emailKey string) string {
	sum := sha256.Sum256([]byte("nomina-address\x00" + emailKey))
	return hex.EncodeToString(sum[:8])
}

// sealedLink returns the sealed link of purpose for u, valid for ttl.
func (s *Service) sealedLink(u *User, purpose, path string, ttl time.Duration) (nomination.SealedLink, error) {
	nonce, err := randomID(s.cfg.Rand, 16)
	if err != nil {
		return nomination.SealedLink{}, err
	}
	now := s.now()
	return nomination.SealedLink{Path: path, Claims: nomination.LinkClaims{
		Kind: purpose, Ref: u.ID, Nonce: nonce, Address: addressTag(u.EmailKey),
		Issued: issueTime(now, u).Unix(), Expires: now.Add(ttl).Unix(),
	}}, nil
}

// enqueueAccountMail queues template to u, with its sealed links.
func (s *Service) enqueueAccountMail(ctx context.Context, id, template string, u *User, sealed map[string]nomination.SealedLink) error {
	job := nomination.MailJob{
		ID: id, Template: template, To: u.Email, Name: u.Name, RecipientID: u.ID,
		Sealed: sealed, CreatedAt: s.now(), Language: u.Language,
	}
	if job.Language == "" {
		// No preference yet: the language of the page the person used.
		job.Language = nomination.ReaderLanguage(ctx)
	}
	if err := s.outbox.Enqueue(ctx, job); err != nil {
		return fmt.Errorf("enqueue %s mail: %w", template, err)
	}
	return nil
}

// sendLink mails u a password link: a reset (PurposePasswordReset) or a
// first password (PurposeSetPassword). Both templates show it as
// .Links.reset.
func (s *Service) sendLink(ctx context.Context, u *User, purpose string) error {
	ttl, template, path := s.cfg.ResetTTL, "password_reset", resetPath
	if purpose == PurposeSetPassword {
		ttl, template, path = s.cfg.SetPasswordTTL, "set_password", setPath
	}
	l, err := s.sealedLink(u, purpose, path, ttl)
	if err != nil {
		return err
	}
	// The job id names the link by its nonce, which alone opens nothing.
	return s.enqueueAccountMail(ctx, purpose+"/"+u.ID+"/"+l.Claims.Nonce, template, u, map[string]nomination.SealedLink{"reset": l})
}

// sendConfirmation mails u the link that confirms the account's address
// (.Links.confirm in the confirm_email template).
func (s *Service) sendConfirmation(ctx context.Context, u *User) error {
	l, err := s.sealedLink(u, PurposeConfirmEmail, confirmPath, s.cfg.ConfirmTTL)
	if err != nil {
		return err
	}
	return s.enqueueAccountMail(ctx, PurposeConfirmEmail+"/"+u.ID+"/"+l.Claims.Nonce, "confirm_email", u, map[string]nomination.SealedLink{"confirm": l})
}

// tellOwner mails the owner of the account with that email key that
// someone tried to register the address again (at most once an hour):
// the registration's answer does not say so, the mail does, to the one
// person entitled to know.
func (s *Service) tellOwner(ctx context.Context, emailKey string) error {
	u, err := s.store.UserByEmailKey(ctx, emailKey)
	if err != nil {
		return fmt.Errorf("register user: %w", err)
	}
	s.log.InfoContext(ctx, "registration of an existing address", "user_id", u.ID)
	hour := s.now().Truncate(time.Hour).Format("2006010215")
	return s.enqueueAccountMail(ctx, "account_exists/"+u.ID+"/"+hour, "account_exists", u, nil)
}

// RequestPasswordReset mails a single-use reset link when email belongs to
// an enabled account, and a message saying no usable account has that
// address otherwise. Which it did is not told, and both take the same
// work; too many requests for one address are dropped silently. It
// returns EINVALID only for text that cannot be an address, and an
// internal error when the store or mail queue fails.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	addr, key, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	ids, err := s.beginAttempt(ctx, []throttleKey{{"reset:" + key, s.cfg.Throttle.ResetsPerHour}}, time.Hour)
	if nomination.ErrorCode(err) == nomination.ETOOMANY {
		s.log.WarnContext(ctx, "password reset throttled", "account", logKey(key))
		return nil
	}
	if err != nil {
		return err
	}
	u, err := s.store.UserByEmailKey(ctx, key)
	switch nomination.ErrorCode(err) {
	case "":
	case nomination.ENOTFOUND:
		u = nil
	default:
		s.endAttempt(ctx, ids)
		return fmt.Errorf("password reset: %w", err)
	}
	if u == nil || u.Disabled {
		// Someone at the address asked: tell them, with the same work
		// as a real reset (a lookup and one queued message).
		nobody := &User{Email: addr, EmailKey: key, Name: addr}
		if err := s.enqueueAccountMail(ctx, "password_reset_unknown/"+logKey(key)+"/"+ids[0], "password_reset_unknown", nobody, nil); err != nil {
			s.endAttempt(ctx, ids)
			return err
		}
		s.log.InfoContext(ctx, "password reset for an address without a usable account", "account", logKey(key))
		return nil
	}
	if err := s.sendLink(ctx, u, PurposePasswordReset); err != nil {
		s.endAttempt(ctx, ids)
		return err
	}
	s.log.InfoContext(ctx, "password reset mailed", "user_id", u.ID)
	return nil
}

// errBadLink is the one answer to an account link that is not accepted.
var errBadLink = nomination.Fail(nomination.EINVALID, "LinkInvalid", "the link is invalid or has expired").
	With(nomination.Problem("token", "TokenSpent", "is invalid, used or expired"))

// linkUser checks an account link token of one of kinds and returns its
// claims and the enabled account it belongs to; errBadLink otherwise (a bad
// signature, another kind, expired, an unknown or disabled account, or
// another address).
func (s *Service) linkUser(ctx context.Context, token string, kinds ...string) (nomination.LinkClaims, *User, error) {
	now := s.now()
	var c nomination.LinkClaims
	var err error = errBadLink
	for _, k := range kinds {
		if c, err = s.cfg.Links.Verify(token, k, now); err == nil {
			break
		}
	}
	if err != nil || c.Ref == "" {
		return c, nil, errBadLink
	}
	u, uerr := s.store.UserByID(ctx, c.Ref)
	if nomination.ErrorCode(uerr) == nomination.ENOTFOUND {
		return c, nil, errBadLink
	}
	err = uerr
	if err != nil {
		return c, nil, fmt.Errorf("check link: %w", err)
	}
	if u.Disabled || c.Address != addressTag(u.EmailKey) {
		return c, nil, errBadLink
	}
	return c, u, nil
}

// ResetPassword sets a new password with a mailed reset or set-password
// token, using the token up, ending every session of the user and every
// other password link, and confirming the address the link was mailed to.
// It returns EINVALID naming "token" for a token that is forged, used,
// expired or older than the user's last password change, and naming
// "password" for a password the policy refuses (the token then stays
// usable).
func (s *Service) ResetPassword(ctx context.Context, token, password string) error {
	c, u, err := s.linkUser(ctx, token, PurposePasswordReset, PurposeSetPassword)
	if err != nil {
		return err
	}
	if time.Unix(c.Issued, 0).Before(u.ValidAfter) {
		return errBadLink
	}
	if err := CheckPassword(password, u.Email, u.Name); err != nil {
		return err
	}
	encoded, err := s.hash(ctx, password)
	if err != nil {
		return err
	}
	now := s.now()
	if err := s.store.ConsumeLinkToken(ctx, HashToken(token), now, time.Unix(c.Expires, 0)); err != nil {
		if nomination.ErrorCode(err) == nomination.ECONFLICT {
			return errBadLink
		}
		return fmt.Errorf("reset password: %w", err)
	}
	va := nextValidAfter(now, u)
	ch := UserChanges{PasswordHash: &encoded, ValidAfter: &va, UpdatedAt: now}
	if !u.EmailConfirmed() {
		// The link reached its owner at the address: that confirms it.
		ch.EmailConfirmedAt = &now
	}
	if _, err := s.store.UpdateUser(ctx, u.ID, ch); err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	s.log.InfoContext(ctx, "password set by mailed link", "user_id", u.ID, "purpose", c.Kind)
	return nil
}

// ConfirmEmail confirms the address of the account a mailed confirmation
// token belongs to; confirming again is not an error. It returns EINVALID
// naming "token" for a token that is forged, expired or for another
// address, or whose account is disabled.
func (s *Service) ConfirmEmail(ctx context.Context, token string) error {
	_, u, err := s.linkUser(ctx, token, PurposeConfirmEmail)
	if err != nil {
		return err
	}
	if u.EmailConfirmed() {
		return nil
	}
	now := s.now()
	if _, err := s.store.UpdateUser(ctx, u.ID, UserChanges{EmailConfirmedAt: &now, UpdatedAt: now}); err != nil {
		return fmt.Errorf("confirm email: %w", err)
	}
	s.log.InfoContext(ctx, "email confirmed", "user_id", u.ID)
	return nil
}

// ConfirmEmailOf confirms the address of the account with that id on the
// operator's behalf (a command run from the shell, a test's setup), with
// no link. It returns ENOTFOUND for no such account.
func (s *Service) ConfirmEmailOf(ctx context.Context, id string) error {
	u, err := s.User(ctx, id)
	if err != nil {
		return err
	}
	if u.EmailConfirmed() {
		return nil
	}
	now := s.now()
	if _, err := s.store.UpdateUser(ctx, u.ID, UserChanges{EmailConfirmedAt: &now, UpdatedAt: now}); err != nil {
		return fmt.Errorf("confirm email: %w", err)
	}
	s.log.InfoContext(ctx, "email confirmed by the operator", "user_id", u.ID)
	return nil
}

// RequestEmailConfirmation mails the caller a new confirmation link, unless
// the address is confirmed already (then it does nothing). It returns
// EUNAUTHORIZED without a caller and ETOOMANY when the account asked too
// often.
func (s *Service) RequestEmailConfirmation(ctx context.Context, actor *Principal) error {
	if actor == nil {
		return errNoActor
	}
	u, err := s.User(ctx, actor.UserID)
	if err != nil {
		return err
	}
	if u.EmailConfirmed() {
		return nil
	}
	if s.cfg.Limiter != nil {
		if err := s.cfg.Limiter.Take(ctx, "confirm:account:"+u.ID, s.cfg.Throttle.ConfirmationMails, s.now()); err != nil {
			return throttled(err, "ConfirmSentOften", "a confirmation link was sent several times already; try again later")
		}
	}
	return s.sendConfirmation(ctx, u)
}

// LinkStatus says what a mailed account link is good for now.
type LinkStatus int

const (
	// LinkUsable: the link does what it was mailed for.
	LinkUsable LinkStatus = iota
	// LinkUnknown: not a link Nomina made for a usable account: forged or
	// mangled, another kind of link, an account that is gone or disabled,
	// or one whose address has changed since.
	LinkUnknown
	// LinkSpent: a link Nomina made that no longer works: expired, used,
	// or (a password link) made before the account's last password change.
	LinkSpent
)

// LinkCheck is what CheckLink found.
type LinkCheck struct {
	Status LinkStatus
	// Email is the address the link was mailed to, and EmailConfirmed
	// whether it is confirmed; both are set for a usable link only.
	Email          string
	EmailConfirmed bool
}

// CheckLink tells, without using it or changing anything, what the account
// link token of purpose (PurposePasswordReset, PurposeSetPassword or
// PurposeConfirmEmail) is good for now: so a page shows a used or expired
// link as such before anyone types a password. ResetPassword and
// ConfirmEmail check again when they act. Errors are the store's only.
func (s *Service) CheckLink(ctx context.Context, token, purpose string) (LinkCheck, error) {
	unknown := LinkCheck{Status: LinkUnknown}
	c, err := s.cfg.Links.Inspect(token, purpose)
	if err != nil || c.Ref == "" {
		return unknown, nil
	}
	u, err := s.store.UserByID(ctx, c.Ref)
	if nomination.ErrorCode(err) == nomination.ENOTFOUND {
		return unknown, nil
	}
	if err != nil {
		return LinkCheck{}, fmt.Errorf("check link: %w", err)
	}
	if u.Disabled || c.Address != addressTag(u.EmailKey) {
		return unknown, nil
	}
	spent := LinkCheck{Status: LinkSpent}
	if s.now().Unix() >= c.Expires {
		return spent, nil
	}
	if purpose != PurposeConfirmEmail {
		if time.Unix(c.Issued, 0).Before(u.ValidAfter) {
			return spent, nil
		}
		used, err := s.store.LinkTokenUsed(ctx, HashToken(token))
		if err != nil {
			return LinkCheck{}, fmt.Errorf("check link: %w", err)
		}
		if used {
			return spent, nil
		}
	}
	return LinkCheck{Status: LinkUsable, Email: u.Email, EmailConfirmed: u.EmailConfirmed()}, nil
}

// ConfirmLinkTTL is how long a mailed confirmation link works, for the
// pages that tell its reader.
func (s *Service) ConfirmLinkTTL() time.Duration { return s.cfg.ConfirmTTL }
