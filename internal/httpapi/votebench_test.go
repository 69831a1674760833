package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/igf/nomina/internal/nomination"
)

// Votes per second with 50 reviewers over 500 nominations in review, next
// to raw inserts per second on the same store, and store round trips per
// vote. Every operation is a vote the service accepts: reviewers vote in
// turn on each nomination until the 26th approval decides it (the MAG
// rule with 50 eligible reviewers), so the seeded nominations take 13,000
// votes; a run that needs more stops rather than count refusals as votes.
func BenchmarkVotes(b *testing.B) {
	st, mon := monitored(b)
	ctx := context.Background()
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	staff := nomination.Actor{UserID: "bench", Roles: []string{"secretariat"}}
	revs := make([]account, 50)
	for i := range revs {
		revs[i] = st.reviewer(fmt.Sprintf("r%02d@example.org", i), fmt.Sprintf("Org %d", i), "civil_society")
	}
	ids := make([]string, 500)
	for i := range ids {
		cand := nomination.Actor{UserID: fmt.Sprintf("c%03d", i), Name: fmt.Sprintf("Candidate %d", i), Email: fmt.Sprintf("c%03d@example.org", i), Roles: []string{"candidate"}}
		v, err := st.noms.Create(ctx, cand, "mag-2027", nomination.NominationInput{Fields: magFields("civil_society")})
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range []string{"submit", "admit"} {
			if _, err := st.noms.Override(ctx, staff, v.Nomination.ID, a, "seeded for the benchmark"); err != nil {
				b.Fatal(err)
			}
		}
		ids[i] = v.Nomination.ID
	}
	b.Run("raw-insert", func(b *testing.B) {
		coll := st.db.Collection("bench_raw")
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: bson.NewObjectID()}}); err != nil {
					b.Error(err)
				}
			}
		})
	})
	// What a vote costs at the least: an insert (its event) and a rewrite
	// by _id (the projection), the pair the design commits with; in the
	// events collection, whose _id lookups the store indexes.
	b.Run("raw-pair", func(b *testing.B) {
		coll := st.db.Collection("events")
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				id := "raw/" + bson.NewObjectID().Hex()
				if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "v", Value: 1}}); err != nil {
					b.Error(err)
				}
				if _, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "v", Value: 2}}); err != nil {
					b.Error(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
	})
	// The approvals that decide a nomination with every reviewer eligible.
	const toDecide = 26
	var next atomic.Int64
	b.Run("vote", func(b *testing.B) {
		before := mon.RoundTrips()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				k := next.Add(1) - 1
				round := k / int64(len(ids))
				if round >= toDecide {
					b.Errorf("every seeded nomination is decided after %d votes: run with -benchtime at most %dx", toDecide*len(ids), toDecide*len(ids))
					return
				}
				id, who := ids[k%int64(len(ids))], revs[round]
				if code := st.vote(who, id, "approve", ""); code != http.StatusCreated {
					b.Errorf("vote %d refused: status %d", k, code)
					return
				}
			}
		})
		b.ReportMetric(float64(mon.RoundTrips()-before)/float64(b.N), "roundtrips/op")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "votes/s")
	})
}
