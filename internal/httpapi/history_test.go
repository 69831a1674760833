package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/igf/nomina/internal/nomination"
)

type verificationBody struct {
	Verified    bool   `json:"verified"`
	Events      int    `json:"events"`
	FirstBadSeq int    `json:"first_bad_seq"`
	Problem     string `json:"problem"`
}

type verifiedHistoryBody struct {
	Items        []eventResponse   `json:"items"`
	Verification *verificationBody `json:"verification"`
}

func (st *stack) mustVerifiedHistory(who account, id string) verifiedHistoryBody {
	st.tb.Helper()
	var h verifiedHistoryBody
	mustStatus(st.tb, st.call("GET", "/api/v1/nominations/"+id+"/history", who, nil), http.StatusOK, &h)
	return h
}

// eventWith returns the seq of the first stored event of type typ to state.
func eventWith(tb testing.TB, items []eventResponse, typ, to string) int {
	tb.Helper()
	for _, e := range items {
		if e.Type == typ && e.To == to {
			return e.Seq
		}
	}
	tb.Fatalf("no %s event to %s in %+v", typ, to, items)
	return 0
}

// setStored changes one field of a stored document behind the service's
// back, with the driver.
func (st *stack) setStored(collection, id, field string, value any) {
	st.tb.Helper()
	res, err := st.db.Collection(collection).UpdateOne(context.Background(), bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: field, Value: value}}}})
	if err != nil || res.MatchedCount != 1 {
		st.tb.Fatalf("update %s %s: %v (matched %d)", collection, id, err, res.MatchedCount)
	}
}

// A submitted and admitted MAG nomination, for the history tests.
func admittedNomination(t *testing.T) (*stack, account, account, nominationBody) {
	st := newStack(t)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	cand := st.candidate("ana@example.org")
	n := st.mustSubmitted(cand, "mag-2027", "civil_society")
	mustStatus(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/actions/admit", sec, nil), http.StatusOK, &n)
	return st, sec, cand, n
}

// The history answer tells the secretariat whether the stored history
// verifies; an intact one does, and every event carries its hash version.
func TestHistoryVerifiesForTheSecretariat(t *testing.T) {
	st, sec, cand, n := admittedNomination(t)
	h := st.mustVerifiedHistory(sec, n.ID)
	if h.Verification == nil || !h.Verification.Verified || h.Verification.FirstBadSeq != 0 || h.Verification.Events != len(h.Items) {
		t.Fatalf("intact history: %+v over %d events", h.Verification, len(h.Items))
	}
	if len(h.Items) < 6 || h.Items[0].Prev != "" || h.Items[1].Prev != h.Items[0].Hash {
		t.Fatalf("history chain: %+v", h.Items)
	}
	for _, e := range h.Items {
		if e.HashVersion != nomination.HashVersion {
			t.Fatalf("event %d has hash version %d, want %d", e.Seq, e.HashVersion, nomination.HashVersion)
		}
	}
	// The candidate reads the history without the verification.
	if h := st.mustVerifiedHistory(cand, n.ID); h.Verification != nil || len(h.Items) == 0 {
		t.Fatalf("the candidate's history: %+v", h)
	}
}

// One event's to state changed in the store: the hash chain breaks at that
// event, and the secretariat's history answer says so.
func TestChangedToStateFailsTheHistoryAnswer(t *testing.T) {
	st, sec, _, n := admittedNomination(t)
	submit := eventWith(t, st.mustHistory(sec, n.ID), nomination.EvAction, "submitted")
	st.setStored("events", nomination.EventID(n.ID, submit), "to", "shortlisted")

	v := st.mustVerifiedHistory(sec, n.ID).Verification
	if v == nil || v.Verified || v.FirstBadSeq != submit || !strings.Contains(v.Problem, "altered") {
		t.Fatalf("verification = %+v, want the event %d named as altered", v, submit)
	}
	got, err := st.noms.Verify(context.Background(), n.ID)
	if err != nil || got.OK() || got.FirstBad != submit {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
}

// Other changes behind the service's back, each found at the right event.
func TestHistoryTamperingIsFound(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(st *stack, n nominationBody, items []eventResponse) int // returns the event expected first bad
		says   string
	}{
		{"data", func(st *stack, n nominationBody, items []eventResponse) int {
			st.setStored("events", nomination.EventID(n.ID, 2), "data", `{"set":{"organization":"Forged Org"}}`)
			return 2
		}, "altered"},
		{"type", func(st *stack, n nominationBody, items []eventResponse) int {
			admit := eventWith(st.tb, items, nomination.EvAction, "panel_review")
			st.setStored("events", nomination.EventID(n.ID, admit), "type", nomination.EvOverride)
			return admit
		}, "altered"},
		{"from", func(st *stack, n nominationBody, items []eventResponse) int {
			admit := eventWith(st.tb, items, nomination.EvAction, "panel_review")
			st.setStored("events", nomination.EventID(n.ID, admit), "from", "draft")
			return admit
		}, "altered"},
		{"downgraded to the legacy encoding", func(st *stack, n nominationBody, items []eventResponse) int {
			ev, err := st.store.Nominations().Event(context.Background(), n.ID, 3)
			if err != nil {
				st.tb.Fatal(err)
			}
			ev.HashVersion = 0
			legacy, _ := nomination.HashEvent(ev)
			st.setStored("events", nomination.EventID(n.ID, 3), "hash_version", 0)
			st.setStored("events", nomination.EventID(n.ID, 3), "hash", legacy)
			return 3
		}, "legacy"},
		{"last event removed", func(st *stack, n nominationBody, items []eventResponse) int {
			last := items[len(items)-1].Seq
			if _, err := st.db.Collection("events").DeleteOne(context.Background(), bson.D{{Key: "_id", Value: nomination.EventID(n.ID, last)}}); err != nil {
				st.tb.Fatal(err)
			}
			return last
		}, "missing"},
		{"state of the stored nomination", func(st *stack, n nominationBody, items []eventResponse) int {
			stored, err := st.store.Nominations().GetNomination(context.Background(), n.ID)
			if err != nil {
				st.tb.Fatal(err)
			}
			stored.State = "appointed"
			if err := st.store.Nominations().PutNomination(context.Background(), stored); err != nil {
				st.tb.Fatal(err)
			}
			return eventWith(st.tb, items, nomination.EvAction, "panel_review")
		}, "State"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, sec, _, n := admittedNomination(t)
			items := st.mustHistory(sec, n.ID)
			want := tc.tamper(st, n, items)
			got, err := st.noms.Verify(context.Background(), n.ID)
			if err != nil || got.OK() || got.FirstBad != want || !strings.Contains(got.Problem, tc.says) {
				t.Fatalf("Verify = %+v, %v; want event %d, naming %q", got, err, want, tc.says)
			}
		})
	}
}

// A history stored before hash versions were recorded (no version in its
// events, hashed with the legacy encoding) still verifies, and goes on
// with versioned events after it.
func TestLegacyHistoryVerifiesAndGrows(t *testing.T) {
	st := newStack(t)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	cand := st.candidate("ana@example.org")
	n := st.mustDraft(cand, "mag-2027", map[string]any{"stakeholder_group": "civil_society"})
	mustStatus(t, st.call("PATCH", "/api/v1/nominations/"+n.ID, cand, map[string]any{"fields": map[string]any{"gender": "female"}}, "If-Match", "*"), http.StatusOK, nil)

	// Rewrite the stored events as the service wrote them before: legacy
	// hashes, no version; the projection is dropped and rebuilt by a read.
	ctx := context.Background()
	evs, err := st.store.Nominations().Events(ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	prev := ""
	for _, e := range evs {
		e.HashVersion, e.PrevHash = 0, prev
		h, err := nomination.HashEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		_, err = st.db.Collection("events").UpdateOne(ctx, bson.D{{Key: "_id", Value: nomination.EventID(n.ID, e.Seq)}}, bson.D{
			{Key: "$set", Value: bson.D{{Key: "hash", Value: h}, {Key: "prev_hash", Value: prev}}},
			{Key: "$unset", Value: bson.D{{Key: "hash_version", Value: ""}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		prev = h
	}
	if _, err := st.db.Collection("nominations").DeleteOne(ctx, bson.D{{Key: "_id", Value: n.ID}}); err != nil {
		t.Fatal(err)
	}
	if v := st.mustVerifiedHistory(sec, n.ID).Verification; v == nil || !v.Verified {
		t.Fatalf("the legacy history does not verify: %+v", v)
	}

	mustStatus(t, st.call("PATCH", "/api/v1/nominations/"+n.ID, cand, map[string]any{"fields": map[string]any{"gender": "male"}}, "If-Match", "*"), http.StatusOK, nil)
	h := st.mustVerifiedHistory(sec, n.ID)
	if h.Verification == nil || !h.Verification.Verified {
		t.Fatalf("the legacy history with a new event does not verify: %+v", h.Verification)
	}
	versions := []int{}
	for _, e := range h.Items {
		versions = append(versions, e.HashVersion)
	}
	if len(versions) != 3 || versions[0] != 0 || versions[1] != 0 || versions[2] != nomination.HashVersion || h.Items[2].Prev != prev {
		t.Fatalf("hash versions %v, prev %s (want the legacy last hash %s)", versions, h.Items[2].Prev, prev)
	}
}

// BenchmarkVerify measures the check of one stored history of 50 events:
// reading the events and the projection, the hash chain, and the replay
// compared part by part with the projection.
func BenchmarkVerify(b *testing.B) {
	st := newStack(b)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	cand := st.candidate("ana@example.org")
	n := st.mustDraft(cand, "mag-2027", magFields("civil_society"))
	for i := 2; i <= 50; i++ {
		mustStatus(b, st.call("PATCH", "/api/v1/nominations/"+n.ID, cand,
			map[string]any{"fields": map[string]any{"organization": fmt.Sprint("Organisation ", i)}}, "If-Match", "*"), http.StatusOK, nil)
	}
	ctx := context.Background()
	for b.Loop() {
		v, err := st.noms.Verify(ctx, n.ID)
		if err != nil || !v.OK() || v.Events != 50 {
			b.Fatalf("Verify = %+v, %v", v, err)
		}
	}
	b.ReportMetric(float64(50*b.N)/b.Elapsed().Seconds(), "events/s")
}
