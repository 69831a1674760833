package auth

import (
	"context"
	"sync"
	"time"
)

// Revocation is one entry of the store's log of account changes: Key is
// UserKey of a changed user or SessionKey of a revoked session, At when
// the entry was written (by the writer's clock), before the change itself.
type Revocation struct {
	Key string
	At  time.Time
}

// UserKey is the log key of a change to the user with that id.
func UserKey(userID string) string { return "u:" + userID }

// SessionKey is the log key of the revocation of a session: an API
// session (refresh family) by its id, a web session by its hash.
func SessionKey(sessionID string) string { return "s:" + sessionID }

// RevocationLog is what a store offers for caching authentication: the
// log its UpdateUser and RevokeFamily append to before they commit, and
// its SessionStore's DeleteWebSession before it deletes.
type RevocationLog interface {
	// Revocations returns the entries written after since, oldest first.
	Revocations(ctx context.Context, since time.Time) ([]Revocation, error)
}

// SessionCacheBound is how long a change made through another instance can
// go unseen by an instance's session cache (revocationPoll below).
const SessionCacheBound = 250 * time.Millisecond

const (
	// revocationPoll is how often an instance reads the log, and so the
	// bound on how long a change made through another instance (a
	// disabled account, a password change, changed roles or panels, a
	// revoked session) goes unseen here: a request that comes later than
	// this after the last read reads the log first, and while the log
	// cannot be read the cache is not used at all.
	revocationPoll = SessionCacheBound
	// revocationWindow is how far back each read looks, and how long a
	// key stays uncached after its entry: the entry is written before the
	// change commits, so a change that commits within this time of its
	// entry (the store's operations time out well before) is re-read.
	// Writers' clocks must be within this of each other.
	revocationWindow = 40 * time.Second
	// sessionCacheMaxAge bounds how long an entry is used at all.
	sessionCacheMaxAge = 5 * time.Minute
	// sessionCacheMax bounds each map; when full it starts again empty
	// (at most some 20,000 × 300 bytes per map).
	sessionCacheMax = 20000
)

// sessionCache keeps, per instance, the users and the sessions known not
// to be revoked that requests authenticate with, so a request needs no
// store lookup: what may be stale, and for how long, is said above.
type sessionCache struct {
	log RevocationLog
	now func() time.Time // the wall clock: the log is timed by it

	mu       sync.Mutex
	polling  bool
	polledAt time.Time // when the last successful read of the log began
	users    map[string]cachedUser
	live     map[string]time.Time // session id: when it was read unrevoked
	pages    map[string]cachedWebSession
	volatile map[string]time.Time // key: uncached until then
}

type cachedUser struct {
	u  User
	at time.Time
}

// cachedWebSession is a web session as read from the store (its idle
// expiry as this instance last read or moved it) at at.
type cachedWebSession struct {
	ws WebSession
	at time.Time
}

func newSessionCache(log RevocationLog, now func() time.Time) *sessionCache {
	return &sessionCache{log: log, now: now, users: map[string]cachedUser{}, live: map[string]time.Time{},
		pages: map[string]cachedWebSession{}, volatile: map[string]time.Time{}}
}

// usable reports whether the cache may answer now, reading the log first
// when the last read is older than revocationPoll. One request reads it
// at a time; the others read the store meanwhile.
func (c *sessionCache) usable(ctx context.Context) bool {
	c.mu.Lock()
	if c.now().Sub(c.polledAt) < revocationPoll {
		c.mu.Unlock()
		return true
	}
	if c.polling {
		c.mu.Unlock()
		return false
	}
	c.polling = true
	c.mu.Unlock()
	started := c.now()
	revs, err := c.log.Revocations(ctx, started.Add(-revocationWindow))
	c.mu.Lock()
	defer c.mu.Unlock()
	c.polling = false
	if err != nil {
		return false
	}
	for _, r := range revs {
		c.forgetLocked(r.Key, r.At.Add(revocationWindow))
	}
	for k, until := range c.volatile {
		if started.After(until) {
			delete(c.volatile, k)
		}
	}
	c.polledAt = started
	return true
}

// forget drops key and keeps it uncached for revocationWindow: a change
// made through this instance is seen by its next request.
func (c *sessionCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetLocked(key, c.now().Add(revocationWindow))
}

func (c *sessionCache) forgetLocked(key string, until time.Time) {
	if until.After(c.volatile[key]) {
		c.volatile[key] = until
	}
	switch {
	case len(key) > 2 && key[:2] == "u:":
		delete(c.users, key[2:])
	case len(key) > 2 && key[:2] == "s:":
		delete(c.live, key[2:])
		delete(c.pages, key[2:])
	}
}

func (c *sessionCache) fresh(at time.Time) bool { return c.now().Sub(at) < sessionCacheMaxAge }

func (c *sessionCache) user(id string) (*User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.users[id]
	if !ok || !c.fresh(e.at) {
		return nil, false
	}
	u := e.u
	return &u, true
}

// putUser keeps u as read at readAt, unless its key changed lately (an
// entry read since the read began marks it so).
func (c *sessionCache) putUser(u *User, readAt time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.volatile[UserKey(u.ID)]; ok {
		return
	}
	if len(c.users) >= sessionCacheMax {
		clear(c.users)
	}
	c.users[u.ID] = cachedUser{u: *u, at: readAt}
}

func (c *sessionCache) sessionLive(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.live[id]
	return ok && c.fresh(at)
}

func (c *sessionCache) putLive(id string, readAt time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.volatile[SessionKey(id)]; ok {
		return
	}
	if len(c.live) >= sessionCacheMax {
		clear(c.live)
	}
	c.live[id] = readAt
}

func (c *sessionCache) webSession(hash string) (*WebSession, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.pages[hash]
	if !ok || !c.fresh(e.at) {
		return nil, false
	}
	ws := e.ws
	return &ws, true
}

// putWebSession keeps ws as read at readAt, unless its key changed
// lately (as putUser).
func (c *sessionCache) putWebSession(ws *WebSession, readAt time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.volatile[SessionKey(ws.Hash)]; ok {
		return
	}
	if len(c.pages) >= sessionCacheMax {
		clear(c.pages)
	}
	c.pages[ws.Hash] = cachedWebSession{ws: *ws, at: readAt}
}

// cachingStore is the service's store with the cache told at once of the
// changes this instance makes.
type cachingStore struct {
	Store
	cache *sessionCache
}

func (s cachingStore) UpdateUser(ctx context.Context, id string, ch UserChanges) (*User, error) {
	s.cache.forget(UserKey(id))
	return s.Store.UpdateUser(ctx, id, ch)
}

func (s cachingStore) RevokeFamily(ctx context.Context, family, reason string, at time.Time) error {
	s.cache.forget(SessionKey(family))
	return s.Store.RevokeFamily(ctx, family, reason, at)
}

// cachingSessions is the web session store with the cache told at once
// of the sessions this instance ends.
type cachingSessions struct {
	SessionStore
	cache *sessionCache
}

func (s cachingSessions) DeleteWebSession(ctx context.Context, hash string) error {
	s.cache.forget(SessionKey(hash))
	return s.SessionStore.DeleteWebSession(ctx, hash)
}
