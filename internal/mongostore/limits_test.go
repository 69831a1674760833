package mongostore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

// Of 50 concurrent takers on two clients, exactly Max succeed in a window;
// the others get ETOOMANY with the seconds until the window ends; the next
// window counts anew and other keys are not affected.
func TestLimitsTakeExactlyMax(t *testing.T) {
	st := storetest.NewStore(t)
	other := mongostore.New(storetest.Connect(t, st.DB().Name()), nil).Limits()
	limiters := []*mongostore.Limits{st.Limits(), other}
	r := nomination.Rate{Max: 7, Per: time.Minute}
	now := time.Date(2026, 3, 2, 9, 0, 20, 0, time.UTC)
	ctx := context.Background()
	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = limiters[i%2].Take(ctx, "writes:account:u-1", r, now) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		wantCode(t, err, nomination.ETOOMANY)
		var e *nomination.Error
		if !errors.As(err, &e) || e.RetryAfter != 40 {
			t.Fatalf("error %v: want RetryAfter 40 (the window ends at 09:01)", err)
		}
	}
	if ok != r.Max {
		t.Fatalf("%d takes succeeded, want exactly %d", ok, r.Max)
	}
	if err := st.Limits().Take(ctx, "writes:account:u-2", r, now); err != nil {
		t.Fatalf("another key: %v", err)
	}
	if err := st.Limits().Take(ctx, "writes:account:u-1", r, now.Add(40*time.Second)); err != nil {
		t.Fatalf("the next window: %v", err)
	}
	// Ended windows are purged; the current one is kept.
	removed, err := st.Limits().Purge(ctx, now.Add(40*time.Second))
	if err != nil || removed != int64(r.Max)+1 {
		t.Fatalf("purged %d, %v; want %d", removed, err, r.Max+1)
	}
	for range r.Max - 1 {
		if err := st.Limits().Take(ctx, "writes:account:u-1", r, now.Add(41*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, st.Limits().Take(ctx, "writes:account:u-1", r, now.Add(42*time.Second)), nomination.ETOOMANY)
}

// Sequential takes find the next free slot however far the count is.
func TestLimitsSequential(t *testing.T) {
	l := storetest.NewStore(t).Limits()
	ctx := context.Background()
	r := nomination.Rate{Max: 100, Per: time.Hour}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i := range r.Max {
		if err := l.Take(ctx, "k", r, now); err != nil {
			t.Fatalf("take %d: %v", i+1, err)
		}
	}
	wantCode(t, l.Take(ctx, "k", r, now), nomination.ETOOMANY)
	if err := l.Take(ctx, "k", nomination.Rate{}, now); err != nil {
		t.Fatalf("a zero rate limits: %v", err)
	}
}
