package workflow

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// walkDepth bounds the walk. The shipped workflows' configurations (state
// and tally) are few, so the walk ends well before it; the test fails if
// it does not, since the bound would then hide part of the workflow.
const walkDepth = 40

// config is what distinguishes two moments of a nomination in the walk.
type config struct {
	state string
	tally Tally
}

// TestWalkShipped walks every shipped workflow from its initial state
// through every sequence of actions (by the owner, the secretariat and an
// admin), votes (each option, with the lowest and highest score where the
// review takes one) and timers, for several kinds of nomination, and checks
// that no step leaves the defined states, that Available and Fire agree,
// that every non-final configuration can still reach a final state, and
// that final states offer nothing.
func TestWalkShipped(t *testing.T) {
	variants := []struct {
		name   string
		mutate func(*Subject)
		env    Env
		// all is set when every state must be reached.
		all bool
	}{
		{"eligible nomination", func(*Subject) {}, envNow, true},
		{"over the term limit", func(s *Subject) { s.ConsecutiveTerms = 3 }, envNow, false},
		{"incomplete", func(s *Subject) { s.Attachments = nil }, envNow, false},
		{"consent declined", func(s *Subject) { s.Consent = "declined" }, envNow, false},
		{"after the call closed", func(*Subject) {}, Env{Now: closes.Add(time.Hour), Call: call}, false},
	}
	for _, id := range shippedIDs {
		d := mustShipped(t, id)
		for _, v := range variants {
			t.Run(id+"/"+v.name, func(t *testing.T) {
				base := completeLP("")
				base.State = d.Initial
				for name := range base.Fields {
					if _, ok := d.Field(name); !ok {
						delete(base.Fields, name) // the union of the shipped forms
					}
				}
				v.mutate(&base)
				reached := walk(t, d, base, v.env)
				if v.all && len(reached) != len(d.States) {
					t.Errorf("walk reached %d of %d states: %v", len(reached), len(d.States), reached)
				}
			})
		}
	}
}

func walk(t *testing.T, d *Definition, base Subject, env Env) map[string]bool {
	eligible := 3
	if st := d.States["panel_review"]; st != nil && st.Review != nil && st.Review.Score != nil {
		eligible = 4
	}
	actors := []Actor{owner, secretariat, admin, stranger, reviewer}
	subject := func(c config) Subject {
		s := base
		s.State, s.Tally, s.EnteredAt = c.state, c.tally, env.Now
		return s
	}
	edges := map[config][]config{}
	seen := map[config]bool{}
	start := config{state: d.Initial}
	seen[start] = true
	frontier := []config{start}
	reachedStates := map[string]bool{}
	// next records a step, checking it stays within the definition.
	next := func(from config, what string, out *Outcome) {
		t.Helper()
		if _, ok := d.States[out.To]; !ok {
			t.Fatalf("%s from %s leads to undefined state %q", what, from.state, out.To)
		}
		if out.From != from.state {
			t.Fatalf("%s from %s reports From %q", what, from.state, out.From)
		}
		to := config{state: out.To}
		if out.To == from.state && out.Action == "" {
			to.tally = from.tally // a reminder changes nothing
		}
		if out.To == from.state && out.Action != "" {
			t.Fatalf("%s from %s stays in the state", what, from.state)
		}
		edges[from] = append(edges[from], to)
		if !seen[to] {
			seen[to] = true
			frontier = append(frontier, to)
		}
	}
	for depth := 0; len(frontier) > 0; depth++ {
		if depth > walkDepth {
			t.Fatalf("walk not finished after %d steps: %d configurations still open", walkDepth, len(frontier))
		}
		current := frontier
		frontier = nil
		for _, c := range current {
			reachedStates[c.state] = true
			st := d.States[c.state]
			s := subject(c)
			if st.Final {
				checkFinal(t, d, s, actors, env)
				continue
			}
			for _, a := range actors {
				for _, as := range d.Available(s, a, env) {
					out, err := d.Fire(s, a, as.Name, Input{Reason: "r", Comment: "c"}, env)
					if !as.Allowed {
						if !errors.Is(err, ErrGuardFailed) {
							t.Fatalf("%s listed %s as refused in %s, but Fire gave %v", a.ID, as.Name, c.state, err)
						}
						continue
					}
					if err != nil {
						t.Fatalf("%s listed %s as allowed in %s, but Fire gave %v", a.ID, as.Name, c.state, err)
					}
					next(c, a.ID+" "+as.Name, out)
				}
			}
			for _, tm := range st.Timers {
				out, err := d.FireTimer(s, tm.Name, env.Now, env)
				if errors.Is(err, ErrGuardFailed) {
					continue
				}
				if err != nil {
					t.Fatalf("timer %s in %s: %v", tm.Name, c.state, err)
				}
				next(c, "timer "+tm.Name, out)
			}
			if rv := st.Review; rv != nil && c.tally.Votes() < eligible {
				for _, vote := range votesOf(rv) {
					if err := d.CheckVote(c.state, vote.decision, vote.score); err != nil {
						t.Fatalf("vote %v refused: %v", vote, err)
					}
					voted := c.tally
					voted.Eligible = eligible
					vote.apply(&voted)
					s2 := subject(config{state: c.state, tally: voted})
					out, err := d.Decide(s2, env)
					if err != nil {
						t.Fatalf("Decide after %v in %s: %v", vote, c.state, err)
					}
					if out == nil {
						to := config{state: c.state, tally: voted}
						edges[c] = append(edges[c], to)
						if !seen[to] {
							seen[to] = true
							frontier = append(frontier, to)
						}
						continue
					}
					next(c, fmt.Sprintf("vote %v", vote), out)
				}
			}
		}
	}
	// Every configuration reached must be able to end.
	ends := map[config]bool{}
	for c := range seen {
		if d.States[c.state].Final {
			ends[c] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for c, outs := range edges {
			if ends[c] {
				continue
			}
			for _, o := range outs {
				if ends[o] {
					ends[c], changed = true, true
					break
				}
			}
		}
	}
	for c := range seen {
		if !ends[c] {
			t.Errorf("from %s (tally %+v) no sequence of steps reaches a final state", c.state, c.tally)
		}
	}
	if len(seen) < 2 {
		t.Fatalf("walk visited only %v", seen)
	}
	t.Logf("%d configurations, states reached: %d of %d", len(seen), len(reachedStates), len(d.States))
	return reachedStates
}

// checkFinal asserts a final state offers no action, vote or timer.
func checkFinal(t *testing.T, d *Definition, s Subject, actors []Actor, env Env) {
	t.Helper()
	for _, a := range actors {
		if got := d.Available(s, a, env); len(got) != 0 {
			t.Errorf("final state %s offers %s: %+v", s.State, a.ID, got)
		}
	}
	for _, ac := range d.Actions {
		if _, err := d.Fire(s, admin, ac.Name, Input{Reason: "r", Comment: "c"}, env); err == nil {
			t.Errorf("final state %s let %s fire", s.State, ac.Name)
		}
	}
	if _, err := d.Decide(s, env); !errors.Is(err, ErrNotAvailable) {
		t.Errorf("final state %s holds a review: %v", s.State, err)
	}
	if len(d.States[s.State].Timers) != 0 {
		t.Errorf("final state %s has timers", s.State)
	}
}

type vote struct {
	decision string
	score    *int
}

func (v vote) String() string {
	if v.score != nil {
		return fmt.Sprintf("%s(%d)", v.decision, *v.score)
	}
	return v.decision
}

func (v vote) apply(t *Tally) {
	switch v.decision {
	case VoteApprove:
		t.Approve++
	case VoteReject:
		t.Reject++
	case VoteRequestChanges:
		t.RequestChanges++
	case VoteRecuse:
		t.Recuse++
	}
	if v.score != nil {
		t.Scored++
		t.ScoreSum += float64(*v.score)
	}
}

// votesOf lists the votes a review takes: each option, with its lowest and
// highest score where scores apply.
func votesOf(r *Review) []vote {
	var out []vote
	for _, o := range r.Options {
		if r.Score != nil && o != VoteRecuse {
			lo, hi := r.Score.Min, r.Score.Max
			out = append(out, vote{o, &lo}, vote{o, &hi})
			continue
		}
		out = append(out, vote{o, nil})
	}
	return out
}
