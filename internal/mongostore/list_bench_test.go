package mongostore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/workflow"
)

// seedCall stores count nominations in the call mag-2027, spread over
// states, stakeholder groups, regions, genders and 100 owners, straight
// through the store (as the service writes projections).
func seedCall(b *testing.B, count int) (*nomination.Service, nomination.Store) {
	b.Helper()
	ctx := context.Background()
	store := storetest.NewStore(b)
	noms := store.Nominations()
	reg, _, err := workflow.LoadDir("../../workflows")
	if err != nil {
		b.Fatal(err)
	}
	def, _ := reg.Latest("mag")
	svc := nomination.New(nomination.Config{Store: noms, Files: noms, Workflows: reg, BaseURL: "http://x"})
	opens, closes, term, seats, title := time.Now().Add(-time.Hour), time.Now().Add(time.Hour), time.Now(), 40, "MAG"
	staff := nomination.Actor{UserID: "s", Roles: []string{"secretariat"}}
	if _, err := svc.CreateCall(ctx, staff, nomination.CallInput{Slug: "mag-2027", Title: &title, Workflow: "mag", OpensAt: &opens, ClosesAt: &closes, TermStart: &term, Seats: &seats}); err != nil {
		b.Fatal(err)
	}
	states := []string{"draft", "submitted", "panel_review", "secretariat_review", "shortlisted", "withdrawn"}
	groups := []string{"government", "private_sector", "civil_society", "technical_community"}
	regions := []string{"african", "asia_pacific", "eastern_european", "latin_american_caribbean", "western_european_others"}
	genders := []string{"female", "male", "other", "undisclosed"}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Go(func() {
			for i := w; i < count; i += 4 {
				score := float64(i%5 + 1)
				state := states[(i/4)%len(states)]
				n := &nomination.Nomination{ID: fmt.Sprintf("n%07d", i), CallSlug: "mag-2027", State: state, Seq: 1,
					OwnerID:  fmt.Sprintf("u%03d", i%100),
					Workflow: nomination.WorkflowRef{ID: def.ID, Version: def.Version, Hash: def.Hash},
					Nominee:  nomination.Person{Name: fmt.Sprintf("Candidate %d", (i*7919)%count), Email: fmt.Sprintf("c%d@example.org", i)},
					Fields: map[string]any{"stakeholder_group": groups[i%4], "region": regions[i%5], "gender": genders[i%3], "nationality": "KE",
						"organization": "Org " + fmt.Sprint(i), "motivation": "Ten years of work on internet governance in the region."},
					Votes:       []nomination.Vote{{Reviewer: "r1", Stage: "panel_review", Round: 1, Decision: "approve", Score: &score}},
					MeanScore:   score,
					SubmittedAt: time.Unix(int64(1_700_000_000+i), 0).UTC(),
				}
				if state == "panel_review" {
					n.ReviewPanels = []string{groups[i%4]}
				}
				if err := noms.PutNomination(ctx, n); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return svc, noms
}

// The secretariat's list of one call (filtered by state and stakeholder
// group, sorted by name, first page of 50), the counts per state, an
// owner's list and a panel's queue, with 1,000 and with 100,000
// nominations stored in that call:
//
//	go test -run '^$' -bench NominationLists -benchtime 200x -timeout 30m ./internal/mongostore/
func BenchmarkNominationLists(b *testing.B) {
	for _, count := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("n=%d", count), func(b *testing.B) {
			ctx := context.Background()
			svc, noms := seedCall(b, count)
			staff := nomination.Actor{UserID: "s", Roles: []string{"secretariat"}}
			b.Run("secretariat-filtered-sorted", func(b *testing.B) {
				for b.Loop() {
					p, err := svc.List(ctx, staff, nomination.ListQuery{Call: "mag-2027", State: "submitted", Sort: "name",
						Fields: map[string]string{"stakeholder_group": "civil_society"}})
					if err != nil {
						b.Fatal(err)
					}
					if len(p.Items) == 0 {
						b.Fatalf("page of %d, next %q", len(p.Items), p.Next)
					}
				}
			})
			b.Run("secretariat-second-page", func(b *testing.B) {
				first, err := svc.List(ctx, staff, nomination.ListQuery{Call: "mag-2027", Sort: "score"})
				if err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					p, err := svc.List(ctx, staff, nomination.ListQuery{Call: "mag-2027", Sort: "score", Cursor: first.Next})
					if err != nil {
						b.Fatal(err)
					}
					if len(p.Items) != 50 {
						b.Fatalf("page of %d", len(p.Items))
					}
				}
			})
			b.Run("count-states", func(b *testing.B) {
				for b.Loop() {
					c, err := noms.CountStates(ctx, "mag-2027")
					if err != nil {
						b.Fatal(err)
					}
					if c["draft"] == 0 {
						b.Fatalf("counts %v", c)
					}
				}
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
