package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/igf/nomina/internal/nomination"
)

// Defaults of Config.
const (
	DefaultIssuer         = "nomina"
	DefaultAudience       = "nomina-api"
	DefaultRefreshTTL     = 7 * 24 * time.Hour
	DefaultSessionMaxAge  = 30 * 24 * time.Hour
	DefaultResetTTL       = time.Hour
	DefaultSetPasswordTTL = 72 * time.Hour
	DefaultConfirmTTL     = 7 * 24 * time.Hour
)

// Config holds the settings of a Service. Zero fields take the defaults
// above; BaseURL (the public address links in mail point to) and Links are
// required.
type Config struct {
	// NoSessionCache makes every request read its user and session from
	// the store even when the store keeps a RevocationLog.
	NoSessionCache bool
	Issuer         string
	Audience       string
	BaseURL        string
	AccessTTL      time.Duration
	RefreshTTL     time.Duration
	SessionMaxAge  time.Duration
	ResetTTL       time.Duration
	SetPasswordTTL time.Duration
	ConfirmTTL     time.Duration
	Hash           HashParams
	Throttle       ThrottleConfig
	// Links signs and checks the tokens of mailed account links
	// (required). Mail jobs keep only the claims; the mail worker signs
	// them with the same key when it sends the message.
	Links *nomination.LinkSigner
	// Limiter keeps the registration and confirmation-mail counts, shared
	// by every instance; nil counts nothing.
	Limiter nomination.Limiter
	// Now is the clock; Rand the source of salts, ids and tokens.
	Now  func() time.Time
	Rand io.Reader
	// Logger receives the security log (logins, resets, token reuse).
	Logger *slog.Logger
}

// Service runs accounts and sessions. It is safe for concurrent use and
// keeps no state between calls other than its configuration, so any number
// of replicas can share one store.
type Service struct {
	store   Store
	outbox  nomination.Outbox
	tokens  *AccessTokens
	cfg     Config
	log     *slog.Logger
	hashSem chan struct{}
	// everyone bounds this instance's takes at once of the count of
	// registrations from everyone (see takeRegistration).
	everyone chan struct{}
	// dummyHash is verified against when there is no real hash to check,
	// so a login for an unknown account takes as long as one for a known one.
	dummyHash string
	// cache, when the store keeps a RevocationLog, answers Authenticate
	// without store lookups (see sessioncache.go); nil otherwise.
	cache *sessionCache
}

// NewService returns a Service over store, enqueuing mail on outbox and
// signing access tokens with the keys keys gives at each call. It returns
// an error when BaseURL is missing or the random source fails.
func NewService(store Store, outbox nomination.Outbox, keys KeySource, cfg Config) (*Service, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("auth: BaseURL is required for the links in mail")
	}
	if cfg.Links == nil {
		return nil, errors.New("auth: a link signer is required for the links in mail")
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = DefaultRefreshTTL
	}
	if cfg.SessionMaxAge <= 0 {
		cfg.SessionMaxAge = DefaultSessionMaxAge
	}
	if cfg.ResetTTL <= 0 {
		cfg.ResetTTL = DefaultResetTTL
	}
	if cfg.SetPasswordTTL <= 0 {
		cfg.SetPasswordTTL = DefaultSetPasswordTTL
	}
	if cfg.Hash == (HashParams{}) {
		cfg.Hash = DefaultHashParams()
	}
	if cfg.ConfirmTTL <= 0 {
		cfg.ConfirmTTL = DefaultConfirmTTL
	}
	cfg.Throttle = cfg.Throttle.withDefaults()
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	dummy, err := HashPassword("nomina dummy password", cfg.Hash, cfg.Rand)
	if err != nil {
		return nil, err
	}
	var cache *sessionCache
	if rl, ok := store.(RevocationLog); ok && !cfg.NoSessionCache {
		cache = newSessionCache(rl, time.Now)
		store = cachingStore{Store: store, cache: cache}
	}
	return &Service{
		cache:     cache,
		store:     store,
		outbox:    outbox,
		tokens:    NewAccessTokens(keys, cfg.Issuer, cfg.Audience, cfg.AccessTTL, cfg.Now),
		cfg:       cfg,
		log:       cfg.Logger,
		hashSem:   make(chan struct{}, runtime.GOMAXPROCS(0)),
		everyone:  make(chan struct{}, everyoneTakers),
		dummyHash: dummy,
	}, nil
}

// TokenPair is what a login or refresh hands out.
type TokenPair struct {
	AccessToken  string
	RefreshToken string
	// ExpiresIn is the access token's lifetime in seconds.
	ExpiresIn int
	ExpiresAt time.Time
}

// Registration is the input of Register. ClientIP, the address the
// request came from, is throttled (may be empty).
type Registration struct {
	Email    string
	Password string
	Name     string
	ClientIP string
}

// NewUser is the input of CreateUser and Provision. Without a Password the
// user is mailed a link to set one.
type NewUser struct {
	Email        string
	Name         string
	Roles        []Role
	Panels       []string
	Organization string
	Password     string
}

// UserPatch lists the changes UpdateUser makes; nil fields stay unchanged.
type UserPatch struct {
	Name         *string
	Roles        *[]Role
	Panels       *[]string
	Organization *string
	Disabled     *bool
}

// UserQuery selects a page of users for ListUsers.
type UserQuery struct {
	Role   Role
	Panel  string
	Limit  int
	Cursor string
}

// UserPage is one page of ListUsers; NextCursor is empty on the last page.
type UserPage struct {
	Items      []*User
	NextCursor string
}

// Page size bounds of ListUsers.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

var (
	errBadCredentials = nomination.Fail(nomination.EUNAUTHORIZED, "BadCredentials", "invalid email or password")
	errBadRefresh     = nomination.Fail(nomination.EUNAUTHORIZED, "BadRefresh", "the refresh token is invalid or expired")
	errNoActor        = nomination.Fail(nomination.EUNAUTHORIZED, "SignInFirst", "sign in first")
	errNotStaff       = nomination.Fail(nomination.EFORBIDDEN, "StaffManagesAccounts", "only the secretariat and administrators manage accounts")
)

// fieldErrors gathers the problems of several fields into one EINVALID.
type fieldErrors []nomination.FieldError

func (fe *fieldErrors) add(err error) {
	var e *nomination.Error
	if errors.As(err, &e) {
		*fe = append(*fe, e.Fields...)
	}
}

func (fe fieldErrors) err() error {
	if len(fe) == 0 {
		return nil
	}
	return nomination.Invalid(fe...)
}

// now returns the clock's time at the millisecond precision the store keeps.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

// issueTime is when a token or session for u issued now counts as issued:
// never before u.ValidAfter, so one made in the same second as a password
// change or disabling is not mistaken for an older one.
func issueTime(now time.Time, u *User) time.Time {
	if now.Before(u.ValidAfter) {
		return u.ValidAfter
	}
	return now
}

// nextValidAfter is the ValidAfter that ends every token issued up to now:
// the next whole second, because JWT times are whole seconds.
func nextValidAfter(now time.Time, u *User) time.Time {
	v := now.Truncate(time.Second).Add(time.Second)
	if v.Before(u.ValidAfter) {
		return u.ValidAfter
	}
	return v
}

func (s *Service) hash(ctx context.Context, password string) (string, error) {
	if err := s.acquire(ctx); err != nil {
		return "", err
	}
	defer s.release()
	return HashPassword(password, s.cfg.Hash, s.cfg.Rand)
}

func (s *Service) verify(ctx context.Context, password, encoded string) (bool, error) {
	if err := s.acquire(ctx); err != nil {
		return false, err
	}
	defer s.release()
	if encoded == "" {
		_, _ = VerifyPassword(password, s.dummyHash)
		return false, nil
	}
	return VerifyPassword(password, encoded)
}

// acquire bounds concurrent argon2 computations, each holding Memory KiB,
// to the number of CPUs: more would not finish sooner and could exhaust
// memory under a login flood.
func (s *Service) acquire(ctx context.Context) error {
	select {
	case s.hashSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Service) release() { <-s.hashSem }

func (s *Service) newID(prefix string) (string, error) {
	id, err := randomID(s.cfg.Rand, 12)
	if err != nil {
		return "", err
	}
	return prefix + id, nil
}

// logKey identifies an email address in the log without writing it: what a
// person types as an address is sometimes their password.
func logKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:6])
}

// Register creates a candidate account from a self-registration and
// mails its owner a link to confirm the address. When the address has an
// account already, nothing is created and that account's owner is mailed
// instead; the caller is told the same either way, and the work done is the
// same, so the answer reveals nothing about which addresses are
// registered. It returns ETOOMANY when registrations from the client
// address, or in all, are over their limit (counted before the input is
// checked), and EINVALID naming the fields that break the rules.
func (s *Service) Register(ctx context.Context, in Registration) error {
	// Throttled before any work: checking a password's strength and
	// hashing it are what a flood of registrations would make everyone
	// else wait for.
	if err := s.takeRegistration(ctx, in.ClientIP); err != nil {
		s.log.WarnContext(ctx, "registration throttled", "client_ip", in.ClientIP)
		return err
	}
	nu := NewUser{Email: in.Email, Name: in.Name, Password: in.Password, Roles: []Role{RoleCandidate}}
	u, err := s.checkNewUser(nu, true)
	if err != nil {
		return err
	}
	if u.PasswordHash, err = s.hash(ctx, in.Password); err != nil {
		return err
	}
	err = s.store.CreateUser(ctx, u)
	switch nomination.ErrorCode(err) {
	case "":
		s.log.InfoContext(ctx, "user register", "user_id", u.ID, "roles", u.Roles)
		return s.sendConfirmation(ctx, u)
	case nomination.ECONFLICT:
		return s.tellOwner(ctx, u.EmailKey)
	default:
		return fmt.Errorf("register user: %w", err)
	}
}

// takeRegistration holds a registration against the limits per client
// address and in all.
func (s *Service) takeRegistration(ctx context.Context, clientIP string) error {
	if s.cfg.Limiter == nil {
		return nil
	}
	now := s.now()
	t := s.cfg.Throttle
	if clientIP != "" {
		if err := s.cfg.Limiter.Take(ctx, "register:address:"+clientIP, t.RegistrationsPerAddress, now); err != nil {
			return throttled(err, "TooManyRegistrationsHere", "too many registrations from your network address; try again later")
		}
	}
	// One key counts every registration, so a crowd registering at once
	// takes it at once. The limiter finds a free use by reading and then
	// inserts it; takers of one key at the same moment find the same use
	// free, and all but one insert in vain and try the next: with N at
	// once, each registration costs O(N) inserts (38 on average, and 4 s,
	// with 48 at once on three instances). At most everyoneTakers takes
	// at a time per instance bound the collisions; one at a time would
	// make registrations queue behind each other's search, some twenty
	// reads each (on a loaded store a median wait of 7 s, and minutes at
	// the tail). The count stays the store's, shared by every instance.
	select {
	case s.everyone <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	err := s.cfg.Limiter.Take(ctx, "register:all", t.Registrations, now)
	<-s.everyone
	if err != nil {
		return throttled(err, "TooManyRegistrations", "too many registrations at the moment; try again later")
	}
	return nil
}

// everyoneTakers is how many registrations of one instance take the count
// of everyone's registrations at once (see takeRegistration).
const everyoneTakers = 4

// throttled gives a limiter's ETOOMANY the catalog message id, whose
// English is english; other errors pass.
func throttled(err error, id, english string) error {
	var e *nomination.Error
	if errors.As(err, &e) && e.Code == nomination.ETOOMANY {
		te := nomination.Fail(nomination.ETOOMANY, id, english)
		te.RetryAfter = max(e.RetryAfter, 1)
		return te
	}
	return err
}

// Provision creates a user on the operator's behalf (command line,
// start-up), with no caller to check. The operator vouches for the
// address of a user given a password; a user without one is mailed a
// set-password link, and setting it confirms the address. Errors:
// EINVALID naming the fields, ECONFLICT when the email is taken.
func (s *Service) Provision(ctx context.Context, in NewUser) (*User, error) {
	return s.provision(ctx, in, true, "provision")
}

// CreateUser creates a user on behalf of actor: an admin may create any
// account, the secretariat only candidates and reviewers. Without a password
// the new user is mailed a set-password link (setting it confirms the
// address); with one, a link to confirm the address. It returns
// EUNAUTHORIZED with no actor, EFORBIDDEN for a role the actor may not
// grant, EINVALID naming the fields, ECONFLICT when the email is taken.
func (s *Service) CreateUser(ctx context.Context, actor *Principal, in NewUser) (*User, error) {
	if actor == nil {
		return nil, errNoActor
	}
	if !actor.HasAnyRole(RoleAdmin, RoleSecretariat) {
		return nil, errNotStaff
	}
	if err := mayGrant(actor, in.Roles); err != nil {
		return nil, err
	}
	u, err := s.provision(ctx, in, false, "create")
	if err == nil {
		s.log.InfoContext(ctx, "user created", "actor", actor.UserID, "user_id", u.ID, "roles", u.Roles)
	}
	return u, err
}

// mayGrant refuses roles above what the secretariat manages.
func mayGrant(actor *Principal, roles []Role) error {
	if actor.HasRole(RoleAdmin) {
		return nil
	}
	for _, r := range roles {
		if r == RoleSecretariat || r == RoleAdmin {
			return nomination.Fail(nomination.EFORBIDDEN, "SecretariatManagesSome", "the secretariat manages candidate and reviewer accounts only")
		}
	}
	return nil
}

// checkNewUser validates in and returns the user it describes, not yet
// stored and without a password hash; passwordRequired refuses a missing
// password.
func (s *Service) checkNewUser(in NewUser, passwordRequired bool) (*User, error) {
	var fe fieldErrors
	email, key, err := NormalizeEmail(in.Email)
	fe.add(err)
	name, err := checkText("name", in.Name, 1, MaxNameLength)
	fe.add(err)
	org, err := checkText("organization", in.Organization, 0, MaxOrgLength)
	fe.add(err)
	roles, err := checkRoles(in.Roles)
	fe.add(err)
	panels, err := checkPanels(in.Panels)
	fe.add(err)
	if in.Password != "" || passwordRequired {
		if in.Password == "" {
			fe = append(fe, nomination.Problem("password", "Required", "is required"))
		} else {
			fe.add(CheckPassword(in.Password, email, name))
		}
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	now := s.now()
	u := &User{
		Email: email, EmailKey: key, Name: name, Roles: roles, Panels: panels, Organization: org,
		CreatedAt: now, UpdatedAt: now,
	}
	if u.ID, err = s.newID("u-"); err != nil {
		return nil, err
	}
	return u, nil
}

// provision creates an account for the operator (trusted: its address
// counts as confirmed when a password is given) or for staff (how
// "create": the owner confirms it from the first mail). Without a password
// the owner is mailed a set-password link, and setting it confirms the
// address.
func (s *Service) provision(ctx context.Context, in NewUser, operator bool, how string) (*User, error) {
	u, err := s.checkNewUser(in, false)
	if err != nil {
		return nil, err
	}
	if in.Password != "" {
		if u.PasswordHash, err = s.hash(ctx, in.Password); err != nil {
			return nil, err
		}
		if operator {
			u.EmailConfirmedAt = u.CreatedAt
		}
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		if nomination.ErrorCode(err) == nomination.ECONFLICT {
			return nil, nomination.Fail(nomination.ECONFLICT, "AccountExists", "an account with this email already exists").
				With(nomination.Problem("email", "EmailRegistered", "is already registered"))
		}
		return nil, fmt.Errorf("%s user: %w", how, err)
	}
	s.log.InfoContext(ctx, "user "+how, "user_id", u.ID, "roles", u.Roles)
	switch {
	case u.PasswordHash == "":
		if err := s.sendLink(ctx, u, PurposeSetPassword); err != nil {
			return nil, err
		}
	case !u.EmailConfirmed():
		if err := s.sendConfirmation(ctx, u); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// Login checks email and password and starts a session. clientIP (may be
// empty) is throttled together with the account (see ThrottleConfig). It
// returns EUNAUTHORIZED for a wrong email or password or a disabled
// account, ETOOMANY with RetryAfter when throttled, EINVALID for an address
// that cannot be one.
func (s *Service) Login(ctx context.Context, email, password, clientIP string) (*TokenPair, error) {
	u, err := s.checkLogin(ctx, email, password, clientIP)
	if err != nil {
		return nil, err
	}
	family, err := s.newID("s-")
	if err != nil {
		return nil, err
	}
	now := s.now()
	pair, err := s.issue(ctx, u, family, issueTime(now, u), now)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "login succeeded", "user_id", u.ID, "client_ip", clientIP, "session", family)
	return pair, nil
}

// checkLogin checks email and password under the login throttle and
// returns the account they open. Errors as Login.
func (s *Service) checkLogin(ctx context.Context, email, password, clientIP string) (*User, error) {
	_, key, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if len(password) > 4*MaxPasswordLength {
		return nil, errBadCredentials
	}
	attempts, err := s.beginLogin(ctx, key, clientIP)
	if err != nil {
		if nomination.ErrorCode(err) == nomination.ETOOMANY {
			s.log.WarnContext(ctx, "login throttled", "account", logKey(key), "client_ip", clientIP)
		}
		return nil, err
	}
	u, err := s.store.UserByEmailKey(ctx, key)
	switch nomination.ErrorCode(err) {
	case "":
	case nomination.ENOTFOUND:
		u = nil
	default:
		s.endAttempt(ctx, attempts)
		return nil, fmt.Errorf("login: %w", err)
	}
	encoded := ""
	if u != nil {
		encoded = u.PasswordHash
	}
	ok, err := s.verify(ctx, password, encoded)
	if err != nil && ctx.Err() != nil {
		s.endAttempt(ctx, attempts)
		return nil, ctx.Err()
	}
	if err != nil {
		s.log.ErrorContext(ctx, "stored password hash unreadable", "user_id", u.ID, "error", err)
	}
	if !ok || u == nil {
		// The attempt records stay: they are the failures that throttle.
		s.failLogin(ctx, key)
		if u != nil {
			s.log.WarnContext(ctx, "login failed", "user_id", u.ID, "client_ip", clientIP)
		} else {
			s.log.WarnContext(ctx, "login failed", "account", logKey(key), "client_ip", clientIP, "reason", "no such account")
		}
		return nil, errBadCredentials
	}
	if u.Disabled {
		s.log.WarnContext(ctx, "login refused", "user_id", u.ID, "client_ip", clientIP, "reason", "disabled")
		return nil, nomination.Fail(nomination.EUNAUTHORIZED, "AccountDisabled", "the account is disabled")
	}
	s.endAttempt(ctx, attempts)
	if NeedsRehash(u.PasswordHash, s.cfg.Hash) {
		s.rehash(ctx, u, password)
	}
	return u, nil
}

// rehash stores a hash made with the current parameters; failing to is
// logged and otherwise harmless.
func (s *Service) rehash(ctx context.Context, u *User, password string) {
	h, err := s.hash(ctx, password)
	if err == nil {
		_, err = s.store.UpdateUser(ctx, u.ID, UserChanges{PasswordHash: &h, UpdatedAt: s.now()})
	}
	if err != nil {
		s.log.ErrorContext(ctx, "rehash password", "user_id", u.ID, "error", err)
	}
}

// issue stores a new refresh token in family and signs an access token.
func (s *Service) issue(ctx context.Context, u *User, family string, familyStart, now time.Time) (*TokenPair, error) {
	refresh, err := randomToken(s.cfg.Rand)
	if err != nil {
		return nil, err
	}
	iat := issueTime(now, u)
	rt := &RefreshToken{
		Hash: HashToken(refresh), Family: family, UserID: u.ID,
		FamilyStartedAt: familyStart, IssuedAt: iat, ExpiresAt: now.Add(s.cfg.RefreshTTL),
	}
	if limit := familyStart.Add(s.cfg.SessionMaxAge); rt.ExpiresAt.After(limit) {
		rt.ExpiresAt = limit
	}
	if err := s.store.CreateRefreshToken(ctx, rt); err != nil {
		return nil, fmt.Errorf("store refresh token: %w", err)
	}
	jti, err := randomID(s.cfg.Rand, 12)
	if err != nil {
		return nil, err
	}
	access, exp, err := s.tokens.Issue(u.ID, family, jti, iat)
	if err != nil {
		return nil, err
	}
	return &TokenPair{AccessToken: access, RefreshToken: refresh, ExpiresIn: int(s.cfg.AccessTTL / time.Second), ExpiresAt: exp}, nil
}

// Refresh spends a refresh token and returns a new pair in the same
// session. Presenting a token that was already spent revokes the whole
// session (someone holds a copy) and is logged. It returns EUNAUTHORIZED for
// any token not accepted.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (*TokenPair, error) {
	if !wellFormedOpaque(refreshToken) {
		return nil, errBadRefresh
	}
	hash := HashToken(refreshToken)
	rt, err := s.store.RefreshTokenByHash(ctx, hash)
	if nomination.ErrorCode(err) == nomination.ENOTFOUND {
		return nil, errBadRefresh
	}
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	now := s.now()
	if !now.Before(rt.ExpiresAt) {
		return nil, errBadRefresh
	}
	revoked, err := s.store.FamilyRevoked(ctx, rt.Family)
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	if revoked {
		return nil, errBadRefresh
	}
	u, err := s.store.UserByID(ctx, rt.UserID)
	if nomination.ErrorCode(err) == nomination.ENOTFOUND {
		return nil, errBadRefresh
	}
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	if u.Disabled || rt.FamilyStartedAt.Before(u.ValidAfter) {
		return nil, errBadRefresh
	}
	// The spend record's unique id decides: of two uses of one token
	// exactly one gets here first, and the other is a reuse.
	if err := s.store.SpendRefreshToken(ctx, hash, now); err != nil {
		if nomination.ErrorCode(err) != nomination.ECONFLICT {
			return nil, fmt.Errorf("refresh: %w", err)
		}
		if err := s.store.RevokeFamily(ctx, rt.Family, "reuse", now); err != nil {
			return nil, fmt.Errorf("revoke session: %w", err)
		}
		s.log.WarnContext(ctx, "refresh token reused; session revoked", "user_id", u.ID, "session", rt.Family)
		return nil, errBadRefresh
	}
	return s.issue(ctx, u, rt.Family, rt.FamilyStartedAt, now)
}

// Logout ends the caller's current session and, when refreshToken belongs
// to the caller, the session it belongs to. It returns EUNAUTHORIZED
// without a caller.
func (s *Service) Logout(ctx context.Context, actor *Principal, refreshToken string) error {
	if actor == nil {
		return errNoActor
	}
	now := s.now()
	families := []string{actor.SessionID}
	if wellFormedOpaque(refreshToken) {
		rt, err := s.store.RefreshTokenByHash(ctx, HashToken(refreshToken))
		switch {
		case err == nil && rt.UserID == actor.UserID && rt.Family != actor.SessionID:
			families = append(families, rt.Family)
		case err != nil && nomination.ErrorCode(err) != nomination.ENOTFOUND:
			return fmt.Errorf("logout: %w", err)
		}
	}
	for _, f := range families {
		if f == "" {
			continue
		}
		if err := s.store.RevokeFamily(ctx, f, "logout", now); err != nil {
			return fmt.Errorf("logout: %w", err)
		}
	}
	s.log.InfoContext(ctx, "logout", "user_id", actor.UserID, "session", actor.SessionID)
	return nil
}

// Authenticate verifies an access token and returns the caller as the
// store knows them now. It returns EUNAUTHORIZED when the token is not
// accepted, its session was ended, the user no longer exists or is
// disabled, or the token predates the user's last password change.
func (s *Service) Authenticate(ctx context.Context, accessToken string) (*Principal, error) {
	c, err := s.tokens.Verify(accessToken)
	if err != nil {
		return nil, err
	}
	cached := s.cache != nil && s.cache.usable(ctx)
	var readAt time.Time
	if cached {
		readAt = s.cache.now()
	}
	u, hit := (*User)(nil), false
	if cached {
		u, hit = s.cache.user(c.UserID)
	}
	if !hit {
		var err error
		u, err = s.store.UserByID(ctx, c.UserID)
		if nomination.ErrorCode(err) == nomination.ENOTFOUND {
			return nil, errBadToken
		}
		if err != nil {
			return nil, fmt.Errorf("authenticate: %w", err)
		}
		if cached {
			s.cache.putUser(u, readAt)
		}
	}
	if u.Disabled || c.IssuedAt.Before(u.ValidAfter) {
		return nil, errBadToken
	}
	if !cached || !s.cache.sessionLive(c.SessionID) {
		revoked, err := s.store.FamilyRevoked(ctx, c.SessionID)
		if err != nil {
			return nil, fmt.Errorf("authenticate: %w", err)
		}
		if revoked {
			return nil, errBadToken
		}
		if cached {
			s.cache.putLive(c.SessionID, readAt)
		}
	}
	return &Principal{
		UserID: u.ID, Email: u.Email, Name: u.Name, Roles: u.Roles, Panels: u.Panels,
		Organization: u.Organization, EmailConfirmed: u.EmailConfirmed(), Language: u.Language,
		SessionID: c.SessionID,
	}, nil
}

// User returns the user with that id, or ENOTFOUND.
func (s *Service) User(ctx context.Context, id string) (*User, error) {
	u, err := s.store.UserByID(ctx, id)
	if err != nil {
		if nomination.ErrorCode(err) == nomination.ENOTFOUND {
			return nil, nomination.Fail(nomination.ENOTFOUND, "NoSuchUser", "no such user")
		}
		return nil, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

// ListUsers returns a page of users ordered by email for an admin or the
// secretariat. It returns EUNAUTHORIZED without a caller, EFORBIDDEN for
// anyone else, EINVALID for a bad filter, limit or cursor.
func (s *Service) ListUsers(ctx context.Context, actor *Principal, q UserQuery) (*UserPage, error) {
	if actor == nil {
		return nil, errNoActor
	}
	if !actor.HasAnyRole(RoleAdmin, RoleSecretariat) {
		return nil, errNotStaff
	}
	if q.Role != "" && !q.Role.Valid() {
		return nil, nomination.Invalid(nomination.Problem("role", "RoleOneOf", "must be one of candidate, reviewer, secretariat, admin"))
	}
	if q.Panel != "" && !panelPattern.MatchString(q.Panel) {
		return nil, nomination.Invalid(nomination.Problem("panel", "NotAPanel", "is not a panel name"))
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultPageSize
	case q.Limit < 0 || q.Limit > MaxPageSize:
		return nil, nomination.Invalid(nomination.Problem("limit", "LimitBetween", "must be between 1 and {{.Max}}", "Max", MaxPageSize))
	}
	after, err := decodeCursor(q.Cursor)
	if err != nil {
		return nil, err
	}
	users, err := s.store.ListUsers(ctx, UserFilter{Role: q.Role, Panel: q.Panel, After: after, Limit: q.Limit + 1})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	page := &UserPage{Items: users}
	if len(users) > q.Limit {
		page.Items = users[:q.Limit]
		page.NextCursor = encodeCursor(page.Items[q.Limit-1].EmailKey)
	}
	return page, nil
}

// UpdateUser changes a user's name, roles, panels, organisation or disabled
// flag on behalf of actor. Disabling ends every session of the user. An admin
// may change anyone; the secretariat only candidates and reviewers, and
// only into those roles; nobody changes their own roles or disables
// themselves. It returns EUNAUTHORIZED, EFORBIDDEN, ENOTFOUND and EINVALID
// accordingly.
func (s *Service) UpdateUser(ctx context.Context, actor *Principal, id string, p UserPatch) (*User, error) {
	if actor == nil {
		return nil, errNoActor
	}
	if !actor.HasAnyRole(RoleAdmin, RoleSecretariat) {
		return nil, errNotStaff
	}
	u, err := s.User(ctx, id)
	if err != nil {
		return nil, err
	}
	if !actor.HasRole(RoleAdmin) && (u.HasRole(RoleAdmin) || u.HasRole(RoleSecretariat)) {
		return nil, nomination.Fail(nomination.EFORBIDDEN, "SecretariatManagesSome", "the secretariat manages candidate and reviewer accounts only")
	}
	if actor.UserID == u.ID && (p.Roles != nil || (p.Disabled != nil && *p.Disabled)) {
		return nil, nomination.Fail(nomination.EFORBIDDEN, "NotYourOwnRoles", "you cannot change your own roles or disable your own account")
	}
	now := s.now()
	ch := UserChanges{UpdatedAt: now}
	var fe fieldErrors
	if p.Name != nil {
		name, err := checkText("name", *p.Name, 1, MaxNameLength)
		fe.add(err)
		ch.Name = &name
	}
	if p.Organization != nil {
		org, err := checkText("organization", *p.Organization, 0, MaxOrgLength)
		fe.add(err)
		ch.Organization = &org
	}
	if p.Roles != nil {
		roles, err := checkRoles(*p.Roles)
		fe.add(err)
		ch.Roles = &roles
	}
	if p.Panels != nil {
		panels, err := checkPanels(*p.Panels)
		fe.add(err)
		ch.Panels = &panels
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	if ch.Roles != nil {
		if err := mayGrant(actor, *ch.Roles); err != nil {
			return nil, err
		}
	}
	if p.Disabled != nil {
		ch.Disabled = p.Disabled
		if *p.Disabled && !u.Disabled {
			va := nextValidAfter(now, u)
			ch.ValidAfter = &va
		}
	}
	out, err := s.store.UpdateUser(ctx, id, ch)
	if err != nil {
		if nomination.ErrorCode(err) == nomination.ENOTFOUND {
			return nil, nomination.Fail(nomination.ENOTFOUND, "NoSuchUser", "no such user")
		}
		return nil, fmt.Errorf("update user: %w", err)
	}
	s.log.InfoContext(ctx, "user updated", "actor", actor.UserID, "user_id", id, "roles", out.Roles, "disabled", out.Disabled)
	return out, nil
}

// EnsureAdmin creates an admin with email and password when no admin
// exists yet, and reports whether it did. It returns EINVALID for an address
// or password the policy refuses, and ECONFLICT when the address belongs to
// an account that is not an admin (which is never promoted: whoever
// registered it chose its password).
func (s *Service) EnsureAdmin(ctx context.Context, email, password string) (bool, error) {
	exists, err := s.store.AnyUserWithRole(ctx, RoleAdmin)
	if err != nil {
		return false, fmt.Errorf("ensure admin: %w", err)
	}
	if exists {
		return false, nil
	}
	if password == "" {
		return false, nomination.Invalid(nomination.Problem("password", "FirstAdminPassword", "is required to create the first administrator"))
	}
	_, err = s.Provision(ctx, NewUser{Email: email, Name: "Administrator", Roles: []Role{RoleAdmin}, Password: password})
	if nomination.ErrorCode(err) == nomination.ECONFLICT {
		// Another replica starting at the same moment may have created it.
		_, key, _ := NormalizeEmail(email)
		if u, gerr := s.store.UserByEmailKey(ctx, key); gerr == nil && u.HasRole(RoleAdmin) {
			return false, nil
		}
		return false, nomination.Fail(nomination.ECONFLICT, "AdminEmailTaken", "the administrator's email belongs to an existing account that is not an administrator")
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// encodeCursor makes the opaque cursor that continues a listing after the
// user with that email key.
func encodeCursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func decodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(c)
	if err != nil || len(b) > MaxEmailLength || !utf8.Valid(b) {
		return "", nomination.Invalid(nomination.Problem("cursor", "NotAListingCursor", "is not a cursor this listing returned"))
	}
	return string(b), nil
}

// PurgeExpired removes throttling records and tokens nobody can use any
// more; run it now and then (the store has no expiring indexes). It returns
// how many records went.
func (s *Service) PurgeExpired(ctx context.Context) (int64, error) {
	now := s.now()
	keep := max(s.cfg.Throttle.Window, time.Hour)
	n, err := s.store.DeleteExpired(ctx, now.Add(-keep), now)
	if err != nil {
		return n, fmt.Errorf("purge expired: %w", err)
	}
	return n, nil
}
