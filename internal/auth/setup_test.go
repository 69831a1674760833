package auth_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

func beginSetup(t *testing.T, f *fixture, setup *auth.Setup) string {
	t.Helper()
	token, expires, err := setup.Begin(context.Background())
	if err != nil || token == "" {
		t.Fatalf("Begin = %q, %v", token, err)
	}
	if want := f.clock.Now().Add(auth.DefaultSetupTTL); !expires.Equal(want) {
		t.Errorf("expires %v, want %v", expires, want)
	}
	f.secret(token)
	return token
}

func TestSetupCreatesTheFirstAdminOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	setup := f.svc.Setup(f.store, 0)
	token := beginSetup(t, f, setup)

	// Another instance on the same store honours the link: only its hash
	// is stored, in the store.
	other := f.service(t, mongostore.New(storetest.Connect(t, f.db), nil).Users())
	otherSetup := other.Setup(mongostore.New(storetest.Connect(t, f.db), nil).Users(), 0)
	if err := otherSetup.Check(ctx, token); err != nil {
		t.Fatalf("Check on another instance: %v", err)
	}

	// Bad input is refused naming the fields, and spends nothing.
	f.secret("short")
	_, err := setup.Complete(ctx, token, auth.NewUser{Name: "", Email: "not an address", Password: "short"})
	if nomination.ErrorCode(err) != nomination.EINVALID {
		t.Fatalf("bad input: %v", err)
	}
	for _, field := range []string{"name", "email", "password"} {
		if !hasField(err, field) {
			t.Errorf("error %v does not name %s", err, field)
		}
	}
	if exists, _ := f.store.AnyUserWithRole(ctx, auth.RoleAdmin); exists {
		t.Fatal("an administrator was stored from bad input")
	}

	f.secret(password)
	u, err := otherSetup.Complete(ctx, token, auth.NewUser{Name: "Ada Root", Email: "Ada@Example.org", Password: password,
		Roles: []auth.Role{auth.RoleCandidate}, Panels: []string{"mag"}})
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if len(u.Roles) != 1 || u.Roles[0] != auth.RoleAdmin || len(u.Panels) != 0 || !u.EmailConfirmed() {
		t.Fatalf("created %+v, want a confirmed administrator and nothing more", u)
	}
	if _, err := f.svc.Login(ctx, "ada@example.org", password, ""); err != nil {
		t.Fatalf("the new administrator cannot sign in: %v", err)
	}

	// Spent: the same link, and any check of it, is refused.
	_, err = setup.Complete(ctx, token, auth.NewUser{Name: "Eve", Email: "eve@example.org", Password: password})
	if nomination.ErrorCode(err) != nomination.ENOTFOUND {
		t.Fatalf("second use: %v", err)
	}
	if err := setup.Check(ctx, token); nomination.ErrorCode(err) != nomination.ENOTFOUND {
		t.Fatalf("Check after use: %v", err)
	}
	// With an administrator there is no new link.
	if tok, _, err := setup.Begin(ctx); tok != "" || err != nil {
		t.Fatalf("Begin with an administrator = %q, %v", tok, err)
	}
}

func hasField(err error, field string) bool {
	de, ok := err.(*nomination.Error)
	if !ok {
		return false
	}
	for _, f := range de.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

func TestSetupRefused(t *testing.T) {
	ctx := context.Background()
	t.Run("wrong", func(t *testing.T) {
		f := newFixture(t)
		setup := f.svc.Setup(f.store, 0)
		token := beginSetup(t, f, setup)
		other := []byte(token)
		other[0] ^= 1 // still well formed, not the token
		if other[0] == '-' || other[0] == '_' {
			other[0] = 'A'
		}
		for _, wrong := range []string{string(other), "", "abc", token + "x"} {
			if _, err := setup.Complete(ctx, wrong, auth.NewUser{Name: "Eve", Email: "eve@example.org", Password: password}); nomination.ErrorCode(err) != nomination.ENOTFOUND {
				t.Errorf("token %q: %v", wrong, err)
			}
		}
		if err := setup.Check(ctx, token); err != nil {
			t.Fatalf("the right link stopped working after wrong ones: %v", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		f := newFixture(t)
		setup := f.svc.Setup(f.store, time.Hour)
		token, _, err := setup.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		f.secret(token)
		f.clock.Advance(time.Hour - time.Second)
		if err := setup.Check(ctx, token); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
		f.clock.Advance(2 * time.Second)
		if _, err := setup.Complete(ctx, token, auth.NewUser{Name: "Late", Email: "late@example.org", Password: password}); nomination.ErrorCode(err) != nomination.ENOTFOUND {
			t.Fatalf("after expiry: %v", err)
		}
	})
	t.Run("administrator exists", func(t *testing.T) {
		f := newFixture(t)
		setup := f.svc.Setup(f.store, 0)
		token := beginSetup(t, f, setup)
		f.secret(password)
		if created, err := f.svc.EnsureAdmin(ctx, "root@example.org", password); !created || err != nil {
			t.Fatal(created, err)
		}
		if _, err := setup.Complete(ctx, token, auth.NewUser{Name: "Eve", Email: "eve@example.org", Password: password}); nomination.ErrorCode(err) != nomination.ENOTFOUND {
			t.Fatalf("with an administrator: %v", err)
		}
	})
}

// TestSetupConcurrent uses several links at once, as two people opening
// the links two instances logged would: exactly one administrator.
func TestSetupConcurrent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const n = 6
	tokens := make([]string, n)
	setups := make([]*auth.Setup, n)
	for i := range n {
		users := mongostore.New(storetest.Connect(t, f.db), nil).Users()
		setups[i] = f.service(t, users).Setup(users, 0)
		tokens[i] = beginSetup(t, f, setups[i])
	}
	f.secret(password)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = setups[i].Complete(ctx, tokens[(i+1)%n], auth.NewUser{Name: fmt.Sprint("Admin ", i), Email: fmt.Sprintf("admin%d@example.org", i), Password: password})
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch nomination.ErrorCode(err) {
		case "":
			ok++
		case nomination.ENOTFOUND:
		default:
			t.Errorf("setup %d: %v", i, err)
		}
	}
	admins, err := f.store.ListUsers(ctx, auth.UserFilter{Role: auth.RoleAdmin, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if ok != 1 || len(admins) != 1 {
		t.Fatalf("%d setups succeeded, %d administrators; want 1 and 1", ok, len(admins))
	}
}
