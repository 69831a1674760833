package httpapi

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/igf/nomina/internal/nomination"
)

// crashBeforeProjection is the real store, except that one write of the
// projection, the first at seq, fails: the process stopping after the
// event is committed and its side effects derived, before the projection
// records them.
type crashBeforeProjection struct {
	nomination.Store
	seq     int
	crashed atomic.Bool
}

func (c *crashBeforeProjection) PutNomination(ctx context.Context, n *nomination.Nomination) error {
	if n.Seq == c.seq && c.crashed.CompareAndSwap(false, true) {
		return errors.New("simulated crash before the projection is written")
	}
	return c.Store.PutNomination(ctx, n)
}

type mailJobSummary struct {
	ID       string `bson:"_id"`
	Template string `bson:"template"`
	To       string `bson:"to"`
	State    string `bson:"nomination_state"`
}

func mustMailJobDocs(tb testing.TB, st *stack, nominationID string) []mailJobSummary {
	tb.Helper()
	cur, err := st.db.Collection("mail_jobs").Find(context.Background(), bson.D{{Key: "nomination_id", Value: nominationID}})
	if err != nil {
		tb.Fatal(err)
	}
	var out []mailJobSummary
	if err := cur.All(context.Background(), &out); err != nil {
		tb.Fatal(err)
	}
	return out
}

// Side effects derived, then a crash before the projection is written: the
// next reader, on another instance and later, derives them again, and
// finds each mail job once, because a job's id comes from the event.
func TestCrashAfterDeriveEnqueuesEachMailOnce(t *testing.T) {
	var crash *crashBeforeProjection
	st := newStack(t, func(st *stack, cfg *nomination.Config) {
		crash = &crashBeforeProjection{Store: cfg.Store}
		cfg.Store = crash
	})
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	cand := st.candidate("ana@example.org")
	n := st.mustDraft(cand, "mag-2027", magFields("civil_society"))
	mustStatus(t, st.upload(cand, n.ID, "cv", "cv.pdf", minimalPDF), http.StatusCreated, nil)
	st.mustEndorse(cand, n.ID)
	before := mustMailJobDocs(t, st, n.ID)

	var current nominationBody
	mustStatus(t, st.call("GET", "/api/v1/nominations/"+n.ID, cand, nil), http.StatusOK, &current)
	crash.seq = current.Version + 1
	mustStatus(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/actions/submit", cand, nil), http.StatusOK, nil)
	if !crash.crashed.Load() {
		t.Fatal("the crash was not simulated")
	}
	stored, err := st.store.Nominations().GetNomination(context.Background(), n.ID)
	if err != nil || stored.Seq != current.Version {
		t.Fatalf("the projection should be behind at %d: %+v %v", current.Version, stored, err)
	}
	derived := mustMailJobDocs(t, st, n.ID)
	if len(derived) <= len(before) {
		t.Fatalf("no mail derived before the crash: %d jobs, %d before", len(derived), len(before))
	}

	// Later, another instance reads: it folds the event in and derives its
	// side effects again.
	st.clock.Advance(time.Minute)
	other := newStackOn(t, st.db, st.clock)
	var repaired nominationBody
	mustStatus(t, other.call("GET", "/api/v1/nominations/"+n.ID, other.login(cand), nil), http.StatusOK, &repaired)
	if repaired.State != "submitted" {
		t.Fatalf("state after the repair: %s", repaired.State)
	}
	if stored, err := st.store.Nominations().GetNomination(context.Background(), n.ID); err != nil || stored.DerivedSeq != stored.Seq {
		t.Fatalf("the repair did not record the derived side effects: %+v %v", stored, err)
	}
	after := mustMailJobDocs(t, st, n.ID)
	seen := map[[3]string]string{}
	for _, j := range after {
		k := [3]string{j.Template, j.To, j.State}
		if id, dup := seen[k]; dup {
			t.Errorf("%s to %s enqueued twice: %s and %s", j.Template, j.To, id, j.ID)
		}
		seen[k] = j.ID
	}
	if len(after) != len(derived) {
		t.Fatalf("%d mail jobs after the repair, %d before it", len(after), len(derived))
	}
	st.mustConsistent(n.ID)
}
