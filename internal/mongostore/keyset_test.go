package mongostore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

// A listing read a page at a time while other writers insert nominations
// into it (before and after the page being read) and rewrite the ones it
// holds, as reviews and edits do, returns no nomination twice, and every
// nomination that was in it from the first page to the last, with the
// same sort key, exactly once: on the embedded store's file and through
// the driver, in every order, for the secretariat's filtered table and
// for the whole call. (Paging by offset fails this: a row inserted before
// the page being read pushes one already returned onto the next page.)
func TestListingWalkWhileWriting(t *testing.T) {
	ctx := context.Background()
	store := storetest.NewStore(t)
	const seeded = 400
	viaFile, _ := seedCallIn(t, store.Nominations(), seeded)
	viaDriver := listService(t, mongostore.New(store.DB(), nil).Nominations())
	noms := store.Nominations()
	wf := magWorkflow(t)
	staff := nomination.Actor{UserID: "s", Roles: []string{"secretariat"}}
	var inserted atomic.Int64
	inserted.Store(seeded)
	for _, path := range []struct {
		name string
		svc  *nomination.Service
	}{{"file", viaFile}, {"driver", viaDriver}} {
		for _, sortBy := range []string{"", "name", "submitted", "score"} {
			for _, q := range []nomination.ListQuery{
				{Call: "mag-2027", Sort: sortBy, Limit: 40},
				{Call: "mag-2027", State: "submitted", Fields: map[string]string{"stakeholder_group": "civil_society"}, Sort: sortBy, Limit: 3},
			} {
				t.Run(fmt.Sprintf("%s sort %q state %q", path.name, sortBy, q.State), func(t *testing.T) {
					// What the listing holds before the walk: every one of
					// these stays in it, with its sort key, until the end.
					before := map[string]bool{}
					all := q
					all.Limit = nomination.MaxPageSize
					for page := ""; ; {
						all.Cursor = page
						p, err := path.svc.List(ctx, staff, all)
						if err != nil {
							t.Fatal(err)
						}
						for _, v := range p.Items {
							before[v.Nomination.ID] = true
						}
						if page = p.Next; page == "" {
							break
						}
					}
					if len(before) < 10 {
						t.Fatalf("a listing of %d", len(before))
					}
					// Each writer writes once per token; the walk hands out
					// tokens after each page and reads the next one when
					// some of their writes are done, while the others run.
					stop, tokens := make(chan struct{}), make(chan struct{}, 64)
					var wg sync.WaitGroup
					stopWriters := sync.OnceFunc(func() { close(stop); wg.Wait() })
					defer stopWriters()
					var writes atomic.Int64
					write := func(f func(r *rand.Rand) error) {
						wg.Go(func() {
							r := rand.New(rand.NewPCG(rand.Uint64(), 1))
							for {
								select {
								case <-stop:
									return
								case <-tokens:
								}
								if err := f(r); err != nil {
									t.Error(err)
									return
								}
								writes.Add(1)
							}
						})
					}
					writeSome := func() {
						w := writes.Load()
						for range 4 {
							tokens <- struct{}{}
						}
						for deadline := time.Now().Add(30 * time.Second); writes.Load() < w+2; time.Sleep(100 * time.Microsecond) {
							if time.Now().After(deadline) {
								t.Fatal("no writes for 30 s")
							}
						}
					}
					// New nominations, with keys anywhere in each order
					// (the seed's ids are n0000000 to n0000399: new ids
					// fall before and after them as well).
					write(func(r *rand.Rand) error {
						i := int(inserted.Add(1))
						n := seedNomination(wf, i, seeded)
						n.ID = fmt.Sprintf("n%07dx%d", r.IntN(2*seeded), i) // a fresh id, among the seed's or after them
						n.Nominee.Name = fmt.Sprintf("Candidate %d", r.IntN(2*seeded))
						n.MeanScore = float64(r.IntN(6))
						n.SubmittedAt = time.Unix(int64(1_700_000_000+r.IntN(2*seeded)), 0).UTC()
						return noms.PutNomination(ctx, n)
					})
					// Rewrites of the seeded nominations that keep their
					// keys, as an edit of an answer or a comment does.
					write(func(r *rand.Rand) error {
						n := seedNomination(wf, r.IntN(seeded), seeded)
						n.Seq++
						n.Fields["motivation"] = fmt.Sprintf("Edited %d", r.Int())
						n.UpdatedAt = time.Now()
						return noms.PutNomination(ctx, n)
					})
					seen := map[string]int{}
					pages := 0
					for cursor := ""; ; pages++ {
						q.Cursor = cursor
						p, err := path.svc.List(ctx, staff, q)
						if err != nil {
							t.Fatalf("page %d: %v", pages+1, err)
						}
						for _, v := range p.Items {
							seen[v.Nomination.ID]++
						}
						if cursor = p.Next; cursor == "" {
							break
						}
						writeSome()
					}
					stopWriters()
					for id, n := range seen {
						if n > 1 {
							t.Errorf("%s returned %d times", id, n)
						}
					}
					for id := range before {
						if seen[id] == 0 {
							t.Errorf("%s, in the listing all along, never returned", id)
						}
					}
					t.Logf("%d pages, %d rows, %d writes meanwhile", pages+1, len(seen), writes.Load())
				})
			}
		}
	}
}
