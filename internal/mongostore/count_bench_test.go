package mongostore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
)

// The counts per state of one call, on the embedded store (from its
// file's (call, state) index) and through the driver: with 1,000
// nominations in one call, 100,000 in one call, and 100,000 spread over
// 100 calls of 1,000 (one of them counted):
//
//	go test -run '^$' -bench CountStates -benchtime 100x -timeout 30m ./internal/mongostore/
//
// Median ms on 2 shared cores (load about 5), before and after the
// driver's count became a $group:
//
//	from the file, a call of 1,000 alone              0.79, 0.49
//	from the file, a call of 100,000 alone            12.3, 11.7
//	from the file, a call of 1,000 among 100 such     0.48, 0.48
//	through the driver (the embedded store), 1,000    175, 167
//
// The index count grows with the counted call's own size (about 0.12 µs a
// nomination), not with the store's: a call of the size the IGF's calls
// have (hundreds to a few thousand) is counted in a millisecond or less.
// The embedded store reads its whole collection for any query through
// the driver either way; on MongoDB the $group can be answered from the
// (call, state) index, and sends one document a state instead of one a
// nomination (not measured here: no MongoDB server).
func BenchmarkCountStates(b *testing.B) {
	for _, shape := range []struct {
		name         string
		calls, each  int
		driverCounts bool
	}{
		{"one-call-of-1000", 1, 1000, true},
		{"one-call-of-100000", 1, 100000, false}, // through the driver: a scan of all of it, seconds each
		{"100-calls-of-1000", 100, 1000, false},
	} {
		b.Run(shape.name, func(b *testing.B) {
			store := storetest.NewStore(b)
			seedCalls(b, store.Nominations(), shape.calls, shape.each)
			ctx := context.Background()
			count := func(b *testing.B, noms *mongostore.Nominations) {
				medianLoop(b, func() {
					c, err := noms.CountStates(ctx, "c000")
					if err != nil {
						b.Fatal(err)
					}
					total := 0
					for _, n := range c {
						total += n
					}
					if total != shape.each {
						b.Fatalf("counts %v: %d, want %d", c, total, shape.each)
					}
				})
			}
			b.Run("file", func(b *testing.B) { count(b, store.Nominations()) })
			if shape.driverCounts {
				b.Run("driver", func(b *testing.B) { count(b, mongostore.New(store.DB(), nil).Nominations()) })
			}
		})
	}
}

// seedCalls stores each nominations in each of calls calls, c000 on.
func seedCalls(b *testing.B, noms *mongostore.Nominations, calls, each int) {
	b.Helper()
	wf := magWorkflow(b)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Go(func() {
			for i := w; i < calls*each; i += 4 {
				n := seedNomination(wf, i%each, each)
				n.ID, n.CallSlug = fmt.Sprintf("n%07d", i), fmt.Sprintf("c%03d", i/each)
				if err := noms.PutNomination(context.Background(), n); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
