package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

// monitored returns a stack whose store commands are counted.
func monitored(b *testing.B, opts ...stackOption) (*stack, *mongostore.CommandMonitor) {
	b.Helper()
	base := newStack(b, opts...)
	mon := mongostore.NewCommandMonitor(nil)
	st := newStackOn(b, storetest.ConnectMonitored(b, base.db.Name(), mon), base.clock, opts...)
	return st, mon
}

// withoutLimits leaves the nomination service's limits unchecked, for
// benchmarks that measure other things by repeating one account's
// request many times in a window.
func withoutLimits(_ *stack, cfg *nomination.Config) { cfg.Limiter = nil }

// Store round trips of one request, counted with the driver's monitor.
func BenchmarkRoundTrips(b *testing.B) {
	st, mon := monitored(b, withoutLimits)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	cand := st.candidate("ana@example.org")
	n := st.mustDraft(cand, "mag-2027", magFields("civil_society"))
	measure := func(name string, req func(i int) int) {
		b.Run(name, func(b *testing.B) {
			before := mon.RoundTrips()
			for i := 0; b.Loop(); i++ {
				if code := req(i); code != 200 {
					b.Fatalf("status %d", code)
				}
			}
			b.ReportMetric(float64(mon.RoundTrips()-before)/float64(b.N), "roundtrips/op")
		})
	}
	measure("GET", func(int) int { return st.call("GET", "/api/v1/nominations/"+n.ID, cand, nil).Code })
	measure("PATCH", func(i int) int {
		return st.call("PATCH", "/api/v1/nominations/"+n.ID, cand, map[string]any{"fields": map[string]any{"position": fmt.Sprint("Director ", i)}}, "If-Match", "*").Code
	})
	// An action (withdraw) on a fresh draft each time; only the action's
	// own commands are counted.
	b.Run("action", func(b *testing.B) {
		var trips int64
		for b.Loop() {
			b.StopTimer()
			id := st.mustDraft(cand, "mag-2027", magFields("civil_society")).ID
			before := mon.RoundTrips()
			b.StartTimer()
			if code := st.call("POST", "/api/v1/nominations/"+id+"/actions/withdraw", cand, nil).Code; code != 200 {
				b.Fatalf("status %d", code)
			}
			trips += mon.RoundTrips() - before
		}
		b.ReportMetric(float64(trips)/float64(b.N), "roundtrips/op")
	})
}

// Field updates per second on one nomination and spread over 1,000, next
// to raw inserts per second on the same store: the ratio is the figure.
//
// Under contention a writer may give up (409 after its bounded retries):
// ns/op counts every attempted update, given-up ones included, so the
// figure to read is accepted/s, with gave-up/op beside it.
func BenchmarkThroughput(b *testing.B) {
	st := newStack(b, withoutLimits)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	cand := st.candidate("ana@example.org")
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = st.mustDraft(cand, "mag-2027", map[string]any{"stakeholder_group": "civil_society"}).ID
	}
	b.Run("raw-insert", func(b *testing.B) {
		coll := st.db.Collection("bench_raw")
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := coll.InsertOne(context.Background(), bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "v", Value: "x"}}); err != nil {
					b.Error(err)
				}
			}
		})
	})
	update := func(pick func(i int64) string) func(b *testing.B) {
		return func(b *testing.B) {
			var seq atomic.Int64
			var accepted, conflicts atomic.Int64
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := seq.Add(1)
					rec := st.call("PATCH", "/api/v1/nominations/"+pick(i), cand, map[string]any{"fields": map[string]any{"position": fmt.Sprint("Director ", i)}}, "If-Match", "*")
					switch rec.Code {
					case http.StatusOK:
						accepted.Add(1)
					case http.StatusConflict:
						conflicts.Add(1)
					default:
						b.Errorf("status %d", rec.Code)
					}
				}
			})
			b.ReportMetric(float64(accepted.Load())/b.Elapsed().Seconds(), "accepted/s")
			b.ReportMetric(float64(conflicts.Load())/float64(b.N), "gave-up/op")
		}
	}
	b.Run("update-one-nomination", update(func(int64) string { return ids[0] }))
	b.Run("update-1000-nominations", update(func(i int64) string { return ids[i%int64(len(ids))] }))
}
