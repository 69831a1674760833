package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

// Two instances over one store: the second answers repeated requests from
// its cache, without store lookups, and stops accepting a session within
// auth.SessionCacheBound of its logout or of the account being disabled
// through the first; the first stops at once.
func TestSessionCacheAcrossInstances(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mon := mongostore.NewCommandMonitor(nil)
	b := f.service(t, mongostore.New(storetest.ConnectMonitored(t, f.db, mon), nil).Users())
	a := f.svc
	f.mustRegister(t, "ana@example.org")
	_, admin := f.mustUser(t, "root@example.org", auth.RoleAdmin)

	accepted := func(svc *auth.Service, token string) bool {
		t.Helper()
		_, err := svc.Authenticate(ctx, token)
		if err != nil && nomination.ErrorCode(err) != nomination.EUNAUTHORIZED {
			t.Fatal(err)
		}
		return err == nil
	}

	t.Run("cached", func(t *testing.T) {
		pair := f.mustLogin(t, a, "ana@example.org", password)
		if !accepted(b, pair.AccessToken) {
			t.Fatal("refused")
		}
		before := mon.RoundTrips()
		for range 20 {
			if !accepted(b, pair.AccessToken) {
				t.Fatal("refused")
			}
		}
		// At most a read of the change log, should its interval pass.
		if n := mon.RoundTrips() - before; n > 2 {
			t.Fatalf("20 requests made %d store commands", n)
		}
	})

	t.Run("logout", func(t *testing.T) {
		pair := f.mustLogin(t, a, "ana@example.org", password)
		p, err := a.Authenticate(ctx, pair.AccessToken)
		if err != nil || !accepted(b, pair.AccessToken) {
			t.Fatalf("before logout: %v", err)
		}
		if err := a.Logout(ctx, p, pair.RefreshToken); err != nil {
			t.Fatal(err)
		}
		if accepted(a, pair.AccessToken) {
			t.Fatal("the instance that logged out still accepts the session")
		}
		time.Sleep(auth.SessionCacheBound)
		if accepted(b, pair.AccessToken) {
			t.Fatalf("the other instance accepts the session %v after its logout", auth.SessionCacheBound)
		}
	})

	t.Run("disabled", func(t *testing.T) {
		pair := f.mustLogin(t, a, "ana@example.org", password)
		if !accepted(b, pair.AccessToken) || !accepted(b, pair.AccessToken) {
			t.Fatal("refused before")
		}
		ana, err := a.Authenticate(ctx, pair.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		yes := true
		if _, err := a.UpdateUser(ctx, admin, ana.UserID, auth.UserPatch{Disabled: &yes}); err != nil {
			t.Fatal(err)
		}
		if accepted(a, pair.AccessToken) {
			t.Fatal("the instance that disabled the account still accepts it")
		}
		time.Sleep(auth.SessionCacheBound)
		if accepted(b, pair.AccessToken) {
			t.Fatalf("the other instance accepts a disabled account %v after", auth.SessionCacheBound)
		}
	})
}
