package mongostore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/nomination"
)

// Two instances over one store: each sees its own change of a call at
// once, the other's within callCacheTTL, and a change that loses its race
// to the other's revision reads the store again.
func TestCallCacheAcrossInstances(t *testing.T) {
	ctx := context.Background()
	c := preparedClient(t, t.TempDir())
	a, b := c.NewStore("nomina", nil), c.NewStore("nomina", nil)
	clock := time.Now()
	b.calls.now = func() time.Time { return clock }
	call := nomination.Call{Slug: "mag", Title: "MAG", Workflow: "mag", Seats: 40, Version: 1}
	if err := a.Nominations().CreateCall(ctx, call); err != nil {
		t.Fatal(err)
	}
	seats := func(s *Store) int {
		t.Helper()
		got, err := s.Nominations().GetCall(ctx, "mag")
		if err != nil {
			t.Fatal(err)
		}
		return got.Seats
	}
	if got := seats(b); got != 40 {
		t.Fatalf("b reads %d seats", got)
	}
	call.Seats, call.Version = 30, 2
	if err := a.Nominations().ReplaceCall(ctx, call); err != nil {
		t.Fatal(err)
	}
	if got := seats(a); got != 30 {
		t.Fatalf("a reads %d seats after its own change", got)
	}
	if got := seats(b); got != 40 {
		t.Fatalf("b reads %d seats: the cache was not used", got) // the cache is what is measured here
	}
	clock = clock.Add(callCacheTTL)
	if got := seats(b); got != 30 {
		t.Fatalf("b reads %d seats a TTL after the change", got)
	}
	// b, behind again, loses the race for revision 3 and then reads it.
	call.Seats, call.Version = 20, 3
	if err := a.Nominations().ReplaceCall(ctx, call); err != nil {
		t.Fatal(err)
	}
	stale, _ := b.Nominations().GetCall(ctx, "mag")
	stale.Version++
	if err := b.Nominations().ReplaceCall(ctx, stale); nomination.ErrorCode(err) != nomination.ECONFLICT {
		t.Fatalf("stale revision: %v", err)
	}
	if got := seats(b); got != 20 {
		t.Fatalf("b reads %d seats after losing the race", got)
	}
}

// The directory's lists: a change made through this instance is seen at
// once, one made through another within memberCacheTTL.
func TestMemberCacheAcrossInstances(t *testing.T) {
	ctx := context.Background()
	c := preparedClient(t, t.TempDir())
	a, b := c.NewStore("nomina", nil), c.NewStore("nomina", nil)
	clock := time.Now()
	a.members.now = func() time.Time { return clock }
	add := func(s *Store, n int) {
		t.Helper()
		email := fmt.Sprintf("r%d@x", n)
		if err := s.Users().CreateUser(ctx, &auth.User{ID: fmt.Sprint("u", n), EmailKey: email, Email: email, Name: email,
			Roles: []auth.Role{auth.RoleReviewer}, Panels: []string{"lp"}}); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		t.Helper()
		ms, err := a.Directory().PanelMembers(ctx, "lp")
		if err != nil {
			t.Fatal(err)
		}
		return len(ms)
	}
	add(a, 1)
	if n := count(); n != 1 {
		t.Fatalf("%d members", n)
	}
	add(a, 2)
	if n := count(); n != 2 {
		t.Fatalf("%d members after a change here", n)
	}
	add(b, 3)
	if n := count(); n != 2 {
		t.Fatalf("%d members: the cache was not used", n)
	}
	clock = clock.Add(memberCacheTTL)
	if n := count(); n != 3 {
		t.Fatalf("%d members a TTL after another instance's change", n)
	}
}
