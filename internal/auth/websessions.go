package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/igf/nomina/internal/nomination"
)

// Defaults of SessionConfig.
const (
	DefaultSessionIdle   = 2 * time.Hour
	DefaultSessionMax    = 24 * time.Hour
	DefaultSessionTouch  = 5 * time.Minute
	webSessionIDPrefix   = "w-"
	maxSessionCookieSize = 64
)

// WebSession is a signed-in browser: the server-side session of the web
// pages. The browser holds only a random 256-bit id; the store keeps its
// SHA-256, so reading the store gives nobody a working cookie.
type WebSession struct {
	Hash   string
	UserID string
	// CreatedAt counts as the session's issue time: never before the
	// user's ValidAfter, so a password change or disabling ends it.
	CreatedAt time.Time
	// IdleExpiresAt moves forward as the session is used; ExpiresAt never.
	IdleExpiresAt time.Time
	ExpiresAt     time.Time
}

// SessionStore keeps web sessions. A session is created by the insert of
// its hash (unique), moved forward by an update of its idle expiry alone,
// and ended by its deletion; nothing that decides access relies on a
// conditional update.
//
// When the service's Store keeps a RevocationLog, DeleteWebSession
// appends SessionKey(hash) to it before it deletes: the other instances'
// caches learn of a sign-out from that entry (see Resume).
//
// Errors: a missing session is ENOTFOUND; anything else is internal.
type SessionStore interface {
	CreateWebSession(ctx context.Context, s *WebSession) error
	WebSessionByHash(ctx context.Context, hash string) (*WebSession, error)
	TouchWebSession(ctx context.Context, hash string, idleExpiresAt time.Time) error
	DeleteWebSession(ctx context.Context, hash string) error
	// DeleteExpiredWebSessions removes sessions whose absolute or idle
	// expiry is before t and returns how many it removed.
	DeleteExpiredWebSessions(ctx context.Context, t time.Time) (int64, error)
}

// SessionConfig sets the lifetimes of web sessions. Zero fields take the
// defaults: two hours idle, a day at most, the idle expiry written at most
// once every five minutes (the store's updates are not free).
type SessionConfig struct {
	Idle  time.Duration
	Max   time.Duration
	Touch time.Duration
}

// Sessions runs the web pages' sign-in sessions over the account service:
// the same credentials, throttle and ValidAfter as the API's tokens.
type Sessions struct {
	svc   *Service
	store SessionStore
	cfg   SessionConfig
}

// Sessions returns the web sessions of the service, kept in store.
func (s *Service) Sessions(store SessionStore, cfg SessionConfig) *Sessions {
	if cfg.Idle <= 0 {
		cfg.Idle = DefaultSessionIdle
	}
	if cfg.Max <= 0 {
		cfg.Max = DefaultSessionMax
	}
	if cfg.Touch <= 0 {
		cfg.Touch = DefaultSessionTouch
	}
	if s.cache != nil {
		store = cachingSessions{SessionStore: store, cache: s.cache}
	}
	return &Sessions{svc: s, store: store, cfg: cfg}
}

// errNoSession is the one answer to a cookie that opens no session.
var errNoSession = nomination.Fail(nomination.EUNAUTHORIZED, "SignInToContinue", "sign in to continue")

// SignIn checks email and password exactly as Login does (same throttle,
// same errors) and starts a session. It returns the session's id, for the
// cookie, and the signed-in user.
func (ss *Sessions) SignIn(ctx context.Context, email, password, clientIP string) (string, *Principal, error) {
	u, err := ss.svc.checkLogin(ctx, email, password, clientIP)
	if err != nil {
		return "", nil, err
	}
	return ss.start(ctx, u)
}

// Start starts a session for the user with that id, who has just proved
// who they are some other way (an account just created, a password just
// changed). It returns EUNAUTHORIZED for a disabled or missing account.
func (ss *Sessions) Start(ctx context.Context, userID string) (string, *Principal, error) {
	u, err := ss.svc.store.UserByID(ctx, userID)
	if nomination.ErrorCode(err) == nomination.ENOTFOUND {
		return "", nil, errNoSession
	}
	if err != nil {
		return "", nil, fmt.Errorf("start session: %w", err)
	}
	if u.Disabled {
		return "", nil, errNoSession
	}
	return ss.start(ctx, u)
}

func (ss *Sessions) start(ctx context.Context, u *User) (string, *Principal, error) {
	token, err := randomToken(ss.svc.cfg.Rand)
	if err != nil {
		return "", nil, err
	}
	now := ss.svc.now()
	ws := &WebSession{
		Hash: HashToken(token), UserID: u.ID, CreatedAt: issueTime(now, u),
		IdleExpiresAt: now.Add(ss.cfg.Idle), ExpiresAt: now.Add(ss.cfg.Max),
	}
	if err := ss.store.CreateWebSession(ctx, ws); err != nil {
		return "", nil, fmt.Errorf("store session: %w", err)
	}
	ss.svc.log.InfoContext(ctx, "web session started", "user_id", u.ID, "session", sessionLogID(ws.Hash))
	return token, principalOf(u, ws.Hash), nil
}

// Resume returns the user of a session id from a cookie. The session ends
// (EUNAUTHORIZED) when idle or too old, when the user signed out, changed
// password or was disabled after it started, or when the account is gone.
// Using a session moves its idle expiry, written at most once per
// SessionConfig.Touch.
//
// When the service caches sessions (sessioncache.go), Resume answers from
// this instance's copy of the session and of its user without reading the
// store. What may be stale, and for how long:
//   - a sign-out, password change, disabling, or change of roles, panels
//     or anything else of the user made through another instance: at most
//     SessionCacheBound (the store logs each before it commits, and the
//     cache reads the log that often or is not used); through this
//     instance: not at all;
//   - the idle expiry: the copy's is never later than the store's (it only
//     moves forward), and once the copy's is due for a touch or past, the
//     session is read from the store again before it is touched or refused,
//     so idle expiry is exact and the touch is written when due whichever
//     instance served the session before;
//   - the absolute expiry never changes, so it is checked on the copy.
func (ss *Sessions) Resume(ctx context.Context, token string) (*Principal, error) {
	if !wellFormedOpaque(token) || len(token) > maxSessionCookieSize {
		return nil, errNoSession
	}
	hash := HashToken(token)
	now := ss.svc.now()
	cache := ss.svc.cache
	cached := cache != nil && cache.usable(ctx)
	var readAt time.Time
	if cached {
		readAt = cache.now()
	}
	ws, hit := (*WebSession)(nil), false
	if cached {
		ws, hit = cache.webSession(hash)
		if hit && (!now.Before(ws.IdleExpiresAt) || ss.touchDue(ws, now)) {
			hit = false
		}
	}
	if !hit {
		var err error
		ws, err = ss.store.WebSessionByHash(ctx, hash)
		if nomination.ErrorCode(err) == nomination.ENOTFOUND {
			return nil, errNoSession
		}
		if err != nil {
			return nil, fmt.Errorf("resume session: %w", err)
		}
	}
	if !now.Before(ws.ExpiresAt) || !now.Before(ws.IdleExpiresAt) {
		return nil, errNoSession
	}
	u, userHit := (*User)(nil), false
	if cached {
		u, userHit = cache.user(ws.UserID)
	}
	if !userHit {
		var err error
		u, err = ss.svc.store.UserByID(ctx, ws.UserID)
		if nomination.ErrorCode(err) == nomination.ENOTFOUND {
			return nil, errNoSession
		}
		if err != nil {
			return nil, fmt.Errorf("resume session: %w", err)
		}
		if cached {
			cache.putUser(u, readAt)
		}
	}
	if u.Disabled || ws.CreatedAt.Before(u.ValidAfter) {
		return nil, errNoSession
	}
	if ss.touchDue(ws, now) {
		next := now.Add(ss.cfg.Idle)
		if err := ss.store.TouchWebSession(ctx, hash, next); err != nil {
			// The session still works until its recorded idle expiry.
			ss.svc.log.WarnContext(ctx, "move session idle expiry", "session", sessionLogID(hash), "error", err)
		} else {
			ws.IdleExpiresAt = next
		}
	}
	if cached && !hit {
		cache.putWebSession(ws, readAt)
	}
	return principalOf(u, ws.Hash), nil
}

// touchDue reports whether using ws at now moves its idle expiry: at
// most once per SessionConfig.Touch.
func (ss *Sessions) touchDue(ws *WebSession, now time.Time) bool {
	return now.Add(ss.cfg.Idle).Sub(ws.IdleExpiresAt) >= ss.cfg.Touch
}

// End ends the session with that id (sign-out). Ending a session that is
// not there is not an error.
func (ss *Sessions) End(ctx context.Context, token string) error {
	if !wellFormedOpaque(token) || len(token) > maxSessionCookieSize {
		return nil
	}
	hash := HashToken(token)
	if err := ss.store.DeleteWebSession(ctx, hash); err != nil && nomination.ErrorCode(err) != nomination.ENOTFOUND {
		return fmt.Errorf("end session: %w", err)
	}
	ss.svc.log.InfoContext(ctx, "web session ended", "session", sessionLogID(hash))
	return nil
}

// PurgeExpired removes sessions nobody can use any more and returns how
// many went.
func (ss *Sessions) PurgeExpired(ctx context.Context) (int64, error) {
	n, err := ss.store.DeleteExpiredWebSessions(ctx, ss.svc.now())
	if err != nil {
		return n, fmt.Errorf("purge web sessions: %w", err)
	}
	return n, nil
}

// sessionLogID names a session in the log by a short prefix of its hash,
// never the id the cookie carries.
func sessionLogID(hash string) string {
	if len(hash) > 12 {
		return webSessionIDPrefix + hash[:12]
	}
	return webSessionIDPrefix + hash
}

func principalOf(u *User, sessionHash string) *Principal {
	return &Principal{
		UserID: u.ID, Email: u.Email, Name: u.Name, Roles: u.Roles, Panels: u.Panels,
		Organization: u.Organization, EmailConfirmed: u.EmailConfirmed(), Language: u.Language,
		SessionID: sessionLogID(sessionHash),
	}
}
