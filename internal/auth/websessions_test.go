package auth_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

// pageInstance is one instance's web sessions over the fixture's
// database, with the store commands of its own client counted.
type pageInstance struct {
	svc      *auth.Service
	sessions *auth.Sessions
	store    *mongostore.WebSessions
	mon      *mongostore.CommandMonitor
}

func (f *fixture) pageInstance(t *testing.T, cfg auth.SessionConfig) *pageInstance {
	t.Helper()
	mon := mongostore.NewCommandMonitor(nil)
	st := mongostore.New(storetest.ConnectMonitored(t, f.db, mon), nil)
	svc := f.service(t, st.Users())
	return &pageInstance{svc: svc, sessions: svc.Sessions(st.WebSessions(), cfg), store: st.WebSessions(), mon: mon}
}

// resume reports whether the instance accepts the cookie, with its user.
func (pi *pageInstance) resume(t *testing.T, token string) (*auth.Principal, bool) {
	t.Helper()
	p, err := pi.sessions.Resume(context.Background(), token)
	if err != nil && nomination.ErrorCode(err) != nomination.EUNAUTHORIZED {
		t.Fatal(err)
	}
	return p, err == nil
}

func (f *fixture) mustStart(t *testing.T, pi *pageInstance, userID string) string {
	t.Helper()
	token, _, err := pi.sessions.Start(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	f.secret(token)
	return token
}

// idleExpiry is the session's idle expiry as the store holds it.
func (pi *pageInstance) idleExpiry(t *testing.T, token string) time.Time {
	t.Helper()
	ws, err := pi.store.WebSessionByHash(context.Background(), auth.HashToken(token))
	if err != nil {
		t.Fatal(err)
	}
	return ws.IdleExpiresAt
}

// A cached session keeps the store's lifetimes exactly: its idle expiry
// is written once per Touch however often it is used, it ends when idle
// for Idle and at Max, and a copy made stale by another instance's touch
// neither ends it early nor keeps the touch from being written.
func TestWebSessionLifetimesWithCache(t *testing.T) {
	f := newFixture(t)
	cfg := auth.SessionConfig{Idle: 2 * time.Hour, Max: 5 * time.Hour, Touch: 5 * time.Minute}
	a, b := f.pageInstance(t, cfg), f.pageInstance(t, cfg)
	ana := f.mustRegister(t, "ana@example.org")
	t0 := f.clock.Now()
	token := f.mustStart(t, a, ana.ID)
	accept := func(pi *pageInstance, what string) {
		t.Helper()
		if _, ok := pi.resume(t, token); !ok {
			t.Fatalf("%s: refused", what)
		}
	}

	t.Run("touched at most once per Touch", func(t *testing.T) {
		for range 5 {
			accept(a, "within Touch")
			f.clock.Advance(time.Minute)
		}
		// Four minutes on: not yet due.
		if got := a.idleExpiry(t, token); !got.Equal(t0.Add(2 * time.Hour)) {
			t.Fatalf("idle expiry %v, want it unmoved at %v", got, t0.Add(2*time.Hour))
		}
		accept(a, "at Touch")
		want := f.clock.Now().Add(2 * time.Hour)
		if got := a.idleExpiry(t, token); !got.Equal(want) {
			t.Fatalf("idle expiry %v after Touch, want %v", got, want)
		}
		before := a.mon.RoundTrips()
		for range 20 {
			accept(a, "after the touch")
		}
		// At most a read of the change log, should its interval pass.
		if n := a.mon.RoundTrips() - before; n > 2 {
			t.Fatalf("20 resumes made %d store commands", n)
		}
	})

	t.Run("a stale copy does not end a session used elsewhere", func(t *testing.T) {
		// a holds a copy with idle expiry E; b uses the session an hour
		// later and moves the store's to E+1h; at E, a's copy says idle
		// but the session is not.
		copyExpiry := a.idleExpiry(t, token)
		f.clock.Advance(time.Hour)
		accept(b, "on the other instance")
		if got := b.idleExpiry(t, token); !got.After(copyExpiry) {
			t.Fatalf("the other instance did not touch: %v", got)
		}
		f.clock.Set(copyExpiry)
		accept(a, "past its copy's idle expiry, before the store's")
		if got := a.idleExpiry(t, token); !got.Equal(copyExpiry.Add(2 * time.Hour)) {
			t.Fatalf("idle expiry %v, want the touch due from the stale copy written: %v", got, copyExpiry.Add(2*time.Hour))
		}
	})

	t.Run("idle", func(t *testing.T) {
		last := a.idleExpiry(t, token)
		f.clock.Set(last.Add(-time.Millisecond))
		other := f.mustStart(t, a, ana.ID) // a second session to show the user is still fine
		f.clock.Set(last)
		for _, pi := range []*pageInstance{a, b} {
			if _, ok := pi.resume(t, token); ok {
				t.Fatal("accepted at its idle expiry")
			}
		}
		if _, ok := a.resume(t, other); !ok {
			t.Fatal("a fresh session refused")
		}
	})

	t.Run("absolute", func(t *testing.T) {
		start := t0.Add(5*time.Hour - 10*time.Minute)
		f.clock.Set(start)
		late := f.mustStart(t, a, ana.ID)
		// Used every hour (each use touches it) up to a minute before
		// its Max, twice then: the second from the copy the first kept.
		for at := time.Hour; at < 5*time.Hour; at += time.Hour {
			f.clock.Set(start.Add(at))
			if _, ok := a.resume(t, late); !ok {
				t.Fatalf("refused %v after its start", at)
			}
		}
		f.clock.Set(start.Add(5*time.Hour - time.Minute))
		for range 2 {
			if _, ok := a.resume(t, late); !ok {
				t.Fatal("refused a minute before Max")
			}
		}
		f.clock.Advance(time.Minute)
		before := a.mon.RoundTrips()
		if _, ok := a.resume(t, late); ok {
			t.Fatal("accepted at Max")
		}
		// Refused from the copy: at most a read of the change log.
		if n := a.mon.RoundTrips() - before; n > 1 {
			t.Fatalf("the refusal made %d store commands", n)
		}
	})
}

// holdsBound polls still until it reports false and fails if an instance
// still answered true to a call begun later than auth.SessionCacheBound
// after done, the time the change had committed; or if it never stops
// (a generous limit: the bound itself is judged by when calls began,
// not by how long the test took).
func holdsBound(t *testing.T, what string, done time.Time, still func() bool) {
	t.Helper()
	deadline := done.Add(20 * time.Second)
	for {
		began := time.Now()
		if !still() {
			return
		}
		if late := began.Sub(done); late > auth.SessionCacheBound {
			t.Fatalf("%s: a request begun %v after the change still saw the old state (bound %v)", what, late, auth.SessionCacheBound)
		}
		if began.After(deadline) {
			t.Fatalf("%s: never seen", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Two instances over one store: the second answers a page session from
// its cache, without store commands, and stops accepting it within
// auth.SessionCacheBound of its sign-out, of a password change or of the
// account being disabled through the first, and shows changed roles
// within the same bound; the first sees each change at once.
func TestWebSessionCacheAcrossInstances(t *testing.T) {
	f := newFixture(t)
	a, b := f.pageInstance(t, auth.SessionConfig{}), f.pageInstance(t, auth.SessionConfig{})
	ctx := context.Background()
	_, admin := f.mustUser(t, "root@example.org", auth.RoleAdmin)
	n := 0
	// warm starts a session on a for a new account and has b serve it
	// from its cache.
	warm := func(t *testing.T) (*auth.User, string) {
		t.Helper()
		n++
		u := f.mustRegister(t, "user"+string(rune('a'+n))+"@example.org")
		token := f.mustStart(t, a, u.ID)
		for range 2 {
			if _, ok := b.resume(t, token); !ok {
				t.Fatal("refused before the change")
			}
		}
		return u, token
	}
	refusedBy := func(pi *pageInstance, token string) func() bool {
		return func() bool { _, ok := pi.resume(t, token); return ok }
	}

	t.Run("cached", func(t *testing.T) {
		_, token := warm(t)
		before := b.mon.RoundTrips()
		for range 20 {
			if _, ok := b.resume(t, token); !ok {
				t.Fatal("refused")
			}
		}
		// At most a read of the change log, should its interval pass.
		if n := b.mon.RoundTrips() - before; n > 2 {
			t.Fatalf("20 page requests made %d store commands", n)
		}
	})

	t.Run("sign-out", func(t *testing.T) {
		_, token := warm(t)
		if err := a.sessions.End(ctx, token); err != nil {
			t.Fatal(err)
		}
		done := time.Now()
		if _, ok := a.resume(t, token); ok {
			t.Fatal("the instance that signed out still accepts the session")
		}
		holdsBound(t, "sign-out on the other instance", done, refusedBy(b, token))
	})

	t.Run("disabled", func(t *testing.T) {
		u, token := warm(t)
		yes := true
		if _, err := a.svc.UpdateUser(ctx, admin, u.ID, auth.UserPatch{Disabled: &yes}); err != nil {
			t.Fatal(err)
		}
		done := time.Now()
		if _, ok := a.resume(t, token); ok {
			t.Fatal("the instance that disabled the account still accepts it")
		}
		holdsBound(t, "disabling on the other instance", done, refusedBy(b, token))
	})

	t.Run("password changed", func(t *testing.T) {
		u, token := warm(t)
		p, ok := a.resume(t, token)
		if !ok {
			t.Fatal("refused")
		}
		f.secret("a new password of some length")
		if _, err := a.svc.ChangePassword(ctx, p, password, "a new password of some length", "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		done := time.Now()
		if _, ok := a.resume(t, token); ok {
			t.Fatal("the instance that changed the password still accepts the old session")
		}
		holdsBound(t, "password change on the other instance", done, refusedBy(b, token))
		f.clock.Advance(time.Second)
		if _, ok := b.resume(t, f.mustStart(t, a, u.ID)); !ok {
			t.Fatal("a session started after the change refused")
		}
	})

	t.Run("roles changed", func(t *testing.T) {
		u, token := warm(t)
		roles := []auth.Role{auth.RoleReviewer}
		panels := []string{"civil_society"}
		if _, err := a.svc.UpdateUser(ctx, admin, u.ID, auth.UserPatch{Roles: &roles, Panels: &panels}); err != nil {
			t.Fatal(err)
		}
		done := time.Now()
		reviewer := func(pi *pageInstance) bool {
			p, ok := pi.resume(t, token)
			if !ok {
				t.Fatal("a role change ended the session")
			}
			return p.HasRole(auth.RoleReviewer) && slices.Equal(p.Panels, panels)
		}
		if !reviewer(a) {
			t.Fatal("the instance that changed the roles still shows the old ones")
		}
		holdsBound(t, "role change on the other instance", done, func() bool { return !reviewer(b) })
	})
}
