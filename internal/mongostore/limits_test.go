package mongostore_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

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

// Two instances whose hints go stale as each takes uses behind the other's
// back still count exactly: rounds of concurrent takers on both never get
// more than Max, the slots taken are exactly 1..Max (none skipped, so
// none refused early), and an instance whose hint is behind finds the
// next free slot.
func TestLimitsExactWithStaleHintsOnTwoInstances(t *testing.T) {
	st := storetest.NewStore(t)
	mon := mongostore.NewCommandMonitor(nil)
	a := st.Limits()
	b := mongostore.New(storetest.ConnectMonitored(t, st.DB().Name(), mon), nil).Limits()
	ctx := context.Background()
	r := nomination.Rate{Max: 40, Per: time.Hour}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	const key = "writes:account:u-1"
	// a's hint becomes 3, then b takes 4..10 behind its back.
	for range 3 {
		if err := a.Take(ctx, key, r, now); err != nil {
			t.Fatal(err)
		}
	}
	for range 7 {
		if err := b.Take(ctx, key, r, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Take(ctx, key, r, now); err != nil {
		t.Fatalf("a take with a stale hint: %v", err)
	}
	ok := 11
	for round := range 4 {
		const n = 16
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			l := a
			if i%2 == 1 {
				l = b
			}
			wg.Go(func() { errs[i] = l.Take(ctx, key, r, now) })
		}
		wg.Wait()
		for _, err := range errs {
			if err == nil {
				ok++
			} else {
				wantCode(t, err, nomination.ETOOMANY)
			}
		}
		if ok > r.Max {
			t.Fatalf("round %d: %d takes succeeded, more than %d", round, ok, r.Max)
		}
	}
	if ok != r.Max {
		t.Fatalf("%d takes succeeded over 75 tries, want exactly %d", ok, r.Max)
	}
	cur, err := st.DB().Collection("limits").Find(ctx, bson.D{{Key: "key", Value: key}})
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	slots := map[string]bool{}
	for _, d := range docs {
		slots[d.ID[strings.LastIndex(d.ID, "|")+1:]] = true
	}
	for n := 1; n <= r.Max; n++ {
		if !slots[strconv.Itoa(n)] {
			t.Errorf("slot %d is free", n)
		}
	}
	if len(docs) != r.Max {
		t.Fatalf("%d slots stored, want %d", len(docs), r.Max)
	}
	// An instance that has seen the last slot taken refuses without asking
	// the store; the next window counts anew.
	before := mon.RoundTrips()
	wantCode(t, b.Take(ctx, key, r, now), nomination.ETOOMANY)
	if got := mon.RoundTrips() - before; got != 0 {
		t.Fatalf("a refusal after the last slot was seen cost %d commands, want 0", got)
	}
	if err := b.Take(ctx, key, r, now.Add(time.Hour)); err != nil {
		t.Fatalf("the next window: %v", err)
	}
}

// Commands and time per take when several takers share one key, from its
// first use to its limit and past it (a flood of one account): the hint
// spares the search of the first free slot by reads.
//
//	go test -run '^$' -bench LimitsNearTheLimit -benchtime 3000x ./internal/mongostore/
func BenchmarkLimitsNearTheLimit(b *testing.B) {
	mon := mongostore.NewCommandMonitor(nil)
	db := storetest.NewDatabase(b)
	l := mongostore.New(storetest.ConnectMonitored(b, db.Name(), mon), nil).Limits()
	ctx := context.Background()
	r := nomination.Rate{Max: 500, Per: time.Hour}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	// Each key is asked 600 times: 500 takes, then 100 refusals.
	var seq atomic.Int64
	var refused atomic.Int64
	before := mon.RoundTrips()
	b.SetParallelism(2) // 2 x GOMAXPROCS concurrent takers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := fmt.Sprintf("k%d", seq.Add(1)/600)
			err := l.Take(ctx, key, r, now)
			var e *nomination.Error
			if errors.As(err, &e) && e.Code == nomination.ETOOMANY {
				refused.Add(1)
			} else if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(mon.RoundTrips()-before)/float64(b.N), "commands/take")
	b.ReportMetric(float64(refused.Load())/float64(b.N), "refused/take")
}
