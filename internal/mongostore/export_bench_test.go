package mongostore_test

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/igf/nomina/internal/export"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/workflow"
)

// peakHeap samples the heap while f runs and returns the highest HeapInuse.
func peakHeap(f func()) uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	return peak.Load()
}

// Exporting 100,000 nominations of a call to CSV and XLSX, next to a raw
// cursor scan of the same collection in the same run: rows/s and peak heap.
//
//	go test -run '^$' -bench Export100k -benchtime 1x ./internal/mongostore/
func BenchmarkExport100k(b *testing.B) {
	const rows = 100000
	ctx := context.Background()
	store := storetest.NewStore(b)
	noms := store.Nominations()
	reg, _, err := workflow.LoadDir("../../workflows")
	if err != nil {
		b.Fatal(err)
	}
	def, _ := reg.Latest("mag")
	opens, closes, term, seats, title := time.Now().Add(-time.Hour), time.Now().Add(time.Hour), time.Now(), 40, "MAG"
	svc := nomination.New(nomination.Config{Store: noms, Files: noms, Workflows: reg, BaseURL: "http://x"})
	staff := nomination.Actor{UserID: "s", Roles: []string{"secretariat"}}
	if _, err := svc.CreateCall(ctx, staff, nomination.CallInput{Slug: "mag-2027", Title: &title, Workflow: "mag", OpensAt: &opens, ClosesAt: &closes, TermStart: &term, Seats: &seats}); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Go(func() {
			for i := w; i < rows; i += 4 {
				score := float64(i%5 + 1)
				n := &nomination.Nomination{ID: fmt.Sprintf("n%07d", i), CallSlug: "mag-2027", State: "shortlisted", Seq: 1,
					Workflow: nomination.WorkflowRef{ID: def.ID, Version: def.Version, Hash: def.Hash},
					Nominee:  nomination.Person{Name: fmt.Sprintf("Candidate %d", i), Email: fmt.Sprintf("c%d@example.org", i)},
					Fields: map[string]any{"stakeholder_group": "civil_society", "region": "african", "gender": "female", "nationality": "KE",
						"organization": "=Org " + fmt.Sprint(i), "motivation": "Ten years of work on internet governance in the region."},
					Votes: []nomination.Vote{{Reviewer: "r1", Stage: "panel_review", Round: 1, Decision: "approve", Score: &score}},
				}
				if err := noms.PutNomination(ctx, n); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	report := func(b *testing.B, count int, peak uint64) {
		b.ReportMetric(float64(count)/b.Elapsed().Seconds()*float64(b.N), "rows/s")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	}
	b.Run("raw-scan", func(b *testing.B) {
		var count int
		peak := peakHeap(func() {
			for b.Loop() {
				count = 0
				cur, err := store.DB().Collection("nominations").Find(ctx, bson.D{{Key: "call", Value: "mag-2027"}})
				if err != nil {
					b.Fatal(err)
				}
				for cur.Next(ctx) {
					count++
				}
				cur.Close(ctx)
			}
		})
		if count != rows {
			b.Fatalf("scanned %d", count)
		}
		report(b, count, peak)
	})
	for _, format := range []string{"csv", "xlsx"} {
		b.Run(format, func(b *testing.B) {
			var count int
			peak := peakHeap(func() {
				for b.Loop() {
					t, err := svc.Export(ctx, staff, "mag-2027", nomination.ShortlistQuery{})
					if err != nil {
						b.Fatal(err)
					}
					count = 0
					inner := t.Rows
					t.Rows = func(yield func(nomination.ExportRow, error) bool) {
						for r, err := range inner {
							count++
							if !yield(r, err) {
								return
							}
						}
					}
					if err := (export.Shortlists{}).WriteExport(ctx, io.Discard, format, t, false); err != nil {
						b.Fatal(err)
					}
				}
			})
			if count != rows {
				b.Fatalf("exported %d", count)
			}
			report(b, count, peak)
		})
	}
}
