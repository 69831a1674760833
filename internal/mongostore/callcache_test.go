package mongostore

import (
	"context"
	"testing"
	"time"

	"github.com/igf/nomina/internal/nomination"
)

// Two instances over one store: each sees its own change of a call at
// once, the other's within callCacheTTL, and a change that loses its race
// to the other's revision reads the store again.
func TestCallCacheAcrossInstances(t *testing.T) {
	ctx := context.Background()
	c, err := Connect(ctx, Options{DataDir: t.TempDir(), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if err := c.Prepare(ctx, "nomina"); err != nil {
		t.Fatal(err)
	}
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
