package httpapi

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

// The counts per state are counted from the nominations' projections, on
// every instance. After transitions made at once through two instances
// (each draft withdrawn through both: one withdrawal commits, the other
// is refused), the counts of each instance (one from the embedded store's
// file, one through the driver) are the states the events lead to. After
// a crash between a transition's event and its projection, the count,
// like the listings, shows the projection's state until the nomination's
// next read repairs it; from then on it is the events' again.
func TestStateCountsFollowTheEvents(t *testing.T) {
	var crashOn atomic.Value // the nomination whose next action crashes
	crashOn.Store("")
	st := newStack(t, func(st *stack, cfg *nomination.Config) {
		cfg.AfterAppend = func(e nomination.Event) error {
			if e.Type == nomination.EvAction && crashOn.CompareAndSwap(e.NominationID, "") {
				return errors.New("simulated crash after the event")
			}
			return nil
		}
	})
	other := newStackOn(t, storetest.Connect(t, st.db.Name()), st.clock)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	type draft struct {
		owner account
		id    string
	}
	var drafts []draft
	for i := range 12 {
		cand := st.candidate(fmt.Sprintf("cand%02d@example.org", i))
		drafts = append(drafts, draft{cand, st.mustDraft(cand, "mag-2027", magFields("civil_society")).ID})
	}
	// The truth: the state each nomination's events lead to.
	truth := func() map[string]int {
		t.Helper()
		out := map[string]int{}
		for _, d := range drafts {
			evs, err := st.store.Nominations().Events(context.Background(), d.id)
			if err != nil {
				t.Fatal(err)
			}
			state := ""
			for _, e := range evs {
				if e.To != "" {
					state = e.To
				}
			}
			out[state]++
		}
		return out
	}
	counts := func(inst *stack) map[string]int {
		t.Helper()
		var body struct{ Counts map[string]int }
		mustStatus(t, inst.call("GET", "/api/v1/calls/mag-2027/counts", sec, nil), http.StatusOK, &body)
		return body.Counts
	}

	var wg sync.WaitGroup
	statuses := make(chan int, 2*len(drafts))
	for i, d := range drafts[:8] {
		for _, inst := range []*stack{st, other} {
			wg.Go(func() {
				statuses <- inst.call("POST", "/api/v1/nominations/"+d.id+"/actions/withdraw", d.owner, nil).Code
			})
		}
		if i%3 == 0 { // and a change of answers on some, through the other instance
			wg.Go(func() {
				_ = other.call("PATCH", "/api/v1/nominations/"+d.id, d.owner, map[string]any{"fields": map[string]any{"organization": "Changed"}}, "If-Match", "*")
			})
		}
	}
	wg.Wait()
	close(statuses)
	withdrawn := 0
	for code := range statuses {
		switch code {
		case http.StatusOK:
			withdrawn++
		case http.StatusConflict:
		default:
			t.Errorf("withdrawal answered %d", code)
		}
	}
	want := truth()
	if withdrawn != 8 || want["withdrawn"] != 8 || want["draft"] != 4 {
		t.Fatalf("%d withdrawals accepted; the events say %v", withdrawn, want)
	}
	for name, inst := range map[string]*stack{"file": st, "driver": other} {
		if got := counts(inst); !maps.Equal(got, want) {
			t.Errorf("counts on the instance reading the %s: %v, the events say %v", name, got, want)
		}
	}

	crashed := drafts[8]
	crashOn.Store(crashed.id)
	if code := st.call("POST", "/api/v1/nominations/"+crashed.id+"/actions/withdraw", crashed.owner, nil).Code; code != http.StatusInternalServerError {
		t.Fatalf("the crash was not simulated: %d", code)
	}
	want = truth()
	if want["withdrawn"] != 9 {
		t.Fatalf("the event was not committed: %v", want)
	}
	t.Logf("before the next read: counts %v, the events %v", counts(st), want)
	mustStatus(t, other.call("GET", "/api/v1/nominations/"+crashed.id, crashed.owner, nil), http.StatusOK, nil)
	for name, inst := range map[string]*stack{"file": st, "driver": other} {
		if got := counts(inst); !maps.Equal(got, want) {
			t.Errorf("counts on the instance reading the %s after the repair: %v, the events say %v", name, got, want)
		}
	}
}
