package mongostore_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/workflow"
)

// seedCall stores count nominations in the call mag-2027, spread over
// states, stakeholder groups, regions, genders and 100 owners, straight
// through the store (as the service writes projections).
func seedCall(b testing.TB, count int) (*nomination.Service, nomination.Store) {
	b.Helper()
	return seedCallIn(b, storetest.NewStore(b).Nominations(), count)
}

// seedCallIn is seedCall in the store of noms.
func seedCallIn(b testing.TB, noms *mongostore.Nominations, count int) (*nomination.Service, nomination.Store) {
	b.Helper()
	svc := listService(b, noms)
	opens, closes, term, seats, title := time.Now().Add(-time.Hour), time.Now().Add(time.Hour), time.Now(), 40, "MAG"
	staff := nomination.Actor{UserID: "s", Roles: []string{"secretariat"}}
	if _, err := svc.CreateCall(context.Background(), staff, nomination.CallInput{Slug: "mag-2027", Title: &title, Workflow: "mag", OpensAt: &opens, ClosesAt: &closes, TermStart: &term, Seats: &seats}); err != nil {
		b.Fatal(err)
	}
	wf := magWorkflow(b)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Go(func() {
			for i := w; i < count; i += 4 {
				if err := noms.PutNomination(context.Background(), seedNomination(wf, i, count)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return svc, noms
}

// listService is a service over noms with the repository's workflows.
func listService(tb testing.TB, noms *mongostore.Nominations) *nomination.Service {
	tb.Helper()
	reg, _, err := workflow.LoadDir("../../workflows")
	if err != nil {
		tb.Fatal(err)
	}
	return nomination.New(nomination.Config{Store: noms, Files: noms, Workflows: reg, BaseURL: "http://x"})
}

var (
	seedStates  = []string{"draft", "submitted", "panel_review", "secretariat_review", "shortlisted", "withdrawn"}
	seedGroups  = []string{"government", "private_sector", "civil_society", "technical_community"}
	seedRegions = []string{"african", "asia_pacific", "eastern_european", "latin_american_caribbean", "western_european_others"}
	seedGenders = []string{"female", "male", "other", "undisclosed"}
)

// magWorkflow is the reference of the MAG workflow's latest version.
func magWorkflow(tb testing.TB) nomination.WorkflowRef {
	tb.Helper()
	reg, _, err := workflow.LoadDir("../../workflows")
	if err != nil {
		tb.Fatal(err)
	}
	def, _ := reg.Latest("mag")
	return nomination.WorkflowRef{ID: def.ID, Version: def.Version, Hash: def.Hash}
}

// seedNomination is the i-th of count nominations seedCall stores.
func seedNomination(wf nomination.WorkflowRef, i, count int) *nomination.Nomination {
	score := float64(i%5 + 1)
	state := seedStates[(i/4)%len(seedStates)]
	n := &nomination.Nomination{ID: fmt.Sprintf("n%07d", i), CallSlug: "mag-2027", State: state, Seq: 1,
		OwnerID:  fmt.Sprintf("u%03d", i%100),
		Workflow: wf,
		Nominee:  nomination.Person{Name: fmt.Sprintf("Candidate %d", (i*7919)%count), Email: fmt.Sprintf("c%d@example.org", i)},
		Fields: map[string]any{"stakeholder_group": seedGroups[i%4], "region": seedRegions[i%5], "gender": seedGenders[i%3], "nationality": "KE",
			"organization": "Org " + fmt.Sprint(i), "motivation": "Ten years of work on internet governance in the region."},
		Votes:       []nomination.Vote{{Reviewer: "r1", Stage: "panel_review", Round: 1, Decision: "approve", Score: &score}},
		MeanScore:   score,
		SubmittedAt: time.Unix(int64(1_700_000_000+i), 0).UTC(),
	}
	if state == "panel_review" {
		n.ReviewPanels = []string{seedGroups[i%4]}
	}
	return n
}

// medianLoop runs f once per iteration of b and reports, beside Go's
// mean, the median time of one run in milliseconds (median-ms): a deep
// page's first run, or a slow run on a busy machine, moves the mean more
// than what a user waits.
func medianLoop(b *testing.B, f func()) {
	b.Helper()
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		f()
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "median-ms")
}

// cursorOfPage follows a listing's cursors from its first page to page
// want, or to its last page when it has fewer, and returns the cursor of
// that page and its number.
func cursorOfPage(b *testing.B, svc *nomination.Service, actor nomination.Actor, q nomination.ListQuery, want int) (string, int) {
	b.Helper()
	ctx := context.Background()
	cursor, page := "", 1
	for page < want {
		q.Cursor = cursor
		p, err := svc.List(ctx, actor, q)
		if err != nil {
			b.Fatal(err)
		}
		if p.Next == "" {
			break
		}
		cursor, page = p.Next, page+1
	}
	return cursor, page
}

// The secretariat's list of one call (filtered by state and stakeholder
// group, sorted by name, 50 a page: its first page, and page 50, or its
// last page when it has fewer: page 1 of 1 at 1,000), the last page of
// the call's whole table by score (page 20 at 1,000, page 2,000 at
// 100,000), the counts per state, an owner's list and a panel's queue,
// with 1,000 and with 100,000 nominations stored in that call:
//
//	go test -run '^$' -bench NominationLists -benchtime 200x -timeout 30m ./internal/mongostore/
//
// Median ms on 2 shared cores (load about 5), -benchtime 100x, pages
// by offset (before) and by keyset (after):
//
//	                                   n=1,000       n=100,000
//	filtered table, first page         3.1 -> 3.2    3.7 -> 3.8
//	filtered table, page 50            3.1 -> 4.0    145 -> 3.9   (at 1,000: page 1 of 1)
//	whole call by score, last page     1.7 -> 1.8    10.1 -> 1.6  (page 20; page 2,000)
func BenchmarkNominationLists(b *testing.B) {
	for _, count := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("n=%d", count), func(b *testing.B) {
			ctx := context.Background()
			svc, noms := seedCall(b, count)
			staff := nomination.Actor{UserID: "s", Roles: []string{"secretariat"}}
			table := nomination.ListQuery{Call: "mag-2027", State: "submitted", Sort: "name",
				Fields: map[string]string{"stakeholder_group": "civil_society"}}
			b.Run("secretariat-filtered-sorted", func(b *testing.B) {
				medianLoop(b, func() {
					p, err := svc.List(ctx, staff, table)
					if err != nil {
						b.Fatal(err)
					}
					if len(p.Items) == 0 {
						b.Fatalf("page of %d, next %q", len(p.Items), p.Next)
					}
				})
			})
			b.Run("secretariat-filtered-sorted-page-50", func(b *testing.B) {
				q := table
				cursor, page := cursorOfPage(b, svc, staff, q, 50)
				q.Cursor = cursor
				medianLoop(b, func() {
					p, err := svc.List(ctx, staff, q)
					if err != nil {
						b.Fatal(err)
					}
					if len(p.Items) == 0 {
						b.Fatalf("page %d empty", page)
					}
				})
				b.ReportMetric(float64(page), "page")
			})
			b.Run("secretariat-last-page", func(b *testing.B) {
				q := nomination.ListQuery{Call: "mag-2027", Sort: "score"}
				cursor, page := cursorOfPage(b, svc, staff, q, count)
				q.Cursor = cursor
				medianLoop(b, func() {
					p, err := svc.List(ctx, staff, q)
					if err != nil {
						b.Fatal(err)
					}
					if len(p.Items) != 50 || p.Next != "" {
						b.Fatalf("last page (%d) of %d, next %q", page, len(p.Items), p.Next)
					}
				})
				b.ReportMetric(float64(page), "page")
			})
			b.Run("secretariat-second-page", func(b *testing.B) {
				first, err := svc.List(ctx, staff, nomination.ListQuery{Call: "mag-2027", Sort: "score"})
				if err != nil {
					b.Fatal(err)
				}
				medianLoop(b, func() {
					p, err := svc.List(ctx, staff, nomination.ListQuery{Call: "mag-2027", Sort: "score", Cursor: first.Next})
					if err != nil {
						b.Fatal(err)
					}
					if len(p.Items) != 50 {
						b.Fatalf("page of %d", len(p.Items))
					}
				})
			})
			b.Run("count-states", func(b *testing.B) {
				medianLoop(b, func() {
					c, err := noms.CountStates(ctx, "mag-2027")
					if err != nil {
						b.Fatal(err)
					}
					if c["draft"] == 0 {
						b.Fatalf("counts %v", c)
					}
				})
			})
			b.Run("owner", func(b *testing.B) {
				owner := nomination.Actor{UserID: "u007", Roles: []string{"candidate"}}
				for b.Loop() {
					p, err := svc.List(ctx, owner, nomination.ListQuery{Limit: 10})
					if err != nil {
						b.Fatal(err)
					}
					if len(p.Items) != 10 {
						b.Fatalf("page of %d", len(p.Items))
					}
				}
			})
			b.Run("panel-queue", func(b *testing.B) {
				rev := nomination.Actor{UserID: "r9", Roles: []string{"reviewer"}, Panels: []string{"civil_society"}}
				for b.Loop() {
					p, err := svc.List(ctx, rev, nomination.ListQuery{Panel: "civil_society", Limit: 20})
					if err != nil {
						b.Fatal(err)
					}
					if len(p.Items) != 20 {
						b.Fatalf("page of %d", len(p.Items))
					}
				}
			})
		})
	}
}
