package nomination

import (
	"strings"
	"testing"

	"github.com/igf/nomina/internal/workflow"
)

// The replay is compared with the stored projection, and a disagreement is
// blamed on the event whose effect the projection does not show.
func TestFirstDisagreement(t *testing.T) {
	s := New(Config{Workflows: workflow.NewRegistry()})
	evs := chain(t, 4) // created (draft), then three changes of organization
	projection := func(t *testing.T, upto int) *Nomination {
		t.Helper()
		n, err := Replay("n1", evs[:upto])
		if err != nil {
			t.Fatal(err)
		}
		s.setPanels(n)
		n.DerivedSeq = upto // how far side effects are done is not compared
		return n
	}
	cases := []struct {
		name   string
		upto   int
		change func(*Nomination)
		bad    int
		says   string
	}{
		{"equal", 4, func(*Nomination) {}, 0, ""},
		{"behind its events, equal so far", 2, func(*Nomination) {}, 0, ""},
		{"state", 4, func(n *Nomination) { n.State = "appointed" }, 1, "State"},
		{"form answer", 4, func(n *Nomination) { n.Fields["organization"] = "Forged" }, 4, "Fields.organization"},
		{"answer of the projection's last event", 3, func(n *Nomination) { n.Fields["organization"] = "Forged" }, 3, "Fields.organization"},
		{"answer given at creation", 4, func(n *Nomination) { n.Fields["gender"] = "male" }, 1, "Fields.gender"},
		{"answer no event gave", 4, func(n *Nomination) { n.Fields["salary"] = "1" }, 4, "Fields.salary"},
		{"list item", 4, func(n *Nomination) { n.Visited[0] = "appointed" }, 1, "Visited[0]"},
		{"list item no event added", 4, func(n *Nomination) { n.Visited = append(n.Visited, "appointed") }, 4, "Visited[1]"},
		{"nothing sets it", 4, func(n *Nomination) { n.LastReason = "forged" }, 4, "LastReason"},
		{"two parts: the earlier event first", 4, func(n *Nomination) { n.Fields["organization"], n.State = "Forged", "appointed" }, 1, "State"},
		{"last hash", 4, func(n *Nomination) { n.LastHash = strings.Repeat("0", 64) }, 4, "LastHash"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stored := projection(t, tc.upto)
			tc.change(stored)
			bad, problem := s.firstDisagreement("n1", evs, stored)
			if bad != tc.bad || !strings.Contains(problem, tc.says) {
				t.Fatalf("firstDisagreement = %d %q, want %d naming %q", bad, problem, tc.bad, tc.says)
			}
		})
	}
	// An event that cannot be replayed is bad even past the projection.
	broken := chain(t, 4)
	broken[3].Type = "no_such_type"
	if bad, problem := s.firstDisagreement("n1", broken, projection(t, 2)); bad != 4 || !strings.Contains(problem, "replay") {
		t.Fatalf("unreadable event: %d %q", bad, problem)
	}
}
