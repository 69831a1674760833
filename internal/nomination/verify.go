package nomination

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
)

// Verification is what checking a nomination's stored history found.
type Verification struct {
	// Events is the number of events checked.
	Events int
	// FirstBad is the seq of the first event that fails: altered, missing,
	// out of order, not readable, or disagreeing with the stored
	// projection. It is 0 when the history verifies.
	FirstBad int
	// Problem says what is wrong with FirstBad, in words; empty when the
	// history verifies.
	Problem string
}

// OK reports whether the history verifies.
func (v Verification) OK() bool { return v.FirstBad == 0 }

// Verify checks the stored history of a nomination: gap-free seqs, an
// intact hash chain, every event readable, and a stored projection equal
// to the replay of the events it claims to fold (a projection behind its
// events is compared with the replay up to its seq: readers repair it).
// It reports the first event that fails. It returns ENOTFOUND when there is
// neither an event nor a projection, and the store's errors.
func (s *Service) Verify(ctx context.Context, id string) (Verification, error) {
	// The projection first: events only grow, so every event it folded is
	// among the events read after it.
	stored, err := s.Store.GetNomination(ctx, id)
	switch ErrorCode(err) {
	case "":
	case ENOTFOUND:
		stored = nil
	default:
		return Verification{}, err
	}
	evs, err := s.Store.Events(ctx, id)
	if err != nil {
		return Verification{}, err
	}
	if len(evs) == 0 && stored == nil {
		return Verification{}, Errorf(ENOTFOUND, "no such nomination")
	}
	v := Verification{Events: len(evs)}
	if seq, err := VerifyChain(evs); err != nil {
		v.FirstBad, v.Problem = seq, err.Error()
		return v, nil
	}
	if stored != nil && stored.Seq > len(evs) {
		v.FirstBad = len(evs) + 1
		v.Problem = fmt.Sprintf("event %d is missing: the stored projection is at event %d and the history ends at event %d", len(evs)+1, stored.Seq, len(evs))
		return v, nil
	}
	v.FirstBad, v.Problem = s.firstDisagreement(id, evs, stored)
	return v, nil
}

// VerifiedHistory returns the nomination's events as actor may see them
// (see History) and, for the secretariat, the verification of the whole
// stored history; others get a nil Verification.
func (s *Service) VerifiedHistory(ctx context.Context, actor Actor, id string) ([]Event, *Verification, error) {
	evs, err := s.History(ctx, actor, id)
	if err != nil || !actor.IsStaff() {
		return evs, nil, err
	}
	v, err := s.Verify(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return evs, &v, nil
}

// firstDisagreement replays evs and compares the replay, at the stored
// projection's seq, with the stored projection (nil: none to compare). It
// returns the first event that cannot be applied or whose effect the
// projection does not show, and what disagrees; 0 when all agree.
//
// Every part of the projection is compared except how far side effects are
// done (DerivedSeq), which no event records. A part that disagrees is
// blamed on the last event that set it in the replay, or on the
// projection's own last event when no event did.
func (s *Service) firstDisagreement(id string, evs []Event, stored *Nomination) (int, string) {
	upto := len(evs)
	if stored != nil {
		upto = stored.Seq
	}
	n := &Nomination{ID: id}
	prev := s.projectionParts(n)
	setBy := map[string]int{}
	for _, e := range evs {
		if err := Apply(n, e); err != nil {
			return e.Seq, fmt.Sprintf("event %d cannot be replayed: %v", e.Seq, err)
		}
		if e.Seq > upto {
			continue // past the projection: only readability is checked
		}
		parts := s.projectionParts(n)
		for k, v := range parts {
			if !bytes.Equal(prev[k], v) {
				setBy[k] = e.Seq
			}
		}
		prev = parts
	}
	if stored == nil {
		return 0, ""
	}
	want := prev
	got := partsOf(stored)
	if _, err := s.definition(stored); err != nil {
		// Without the workflow the review panels cannot be worked out.
		delete(got, "ReviewPanels")
		delete(want, "ReviewPanels")
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	first, problem := 0, ""
	for _, k := range keys {
		if k == "DerivedSeq" || bytes.Equal(want[k], got[k]) {
			continue
		}
		seq := setBy[k]
		if seq == 0 {
			seq = stored.Seq
		}
		if first == 0 || seq < first {
			first = seq
			problem = fmt.Sprintf("event %d disagrees with the stored projection: it makes %s %s, the projection says %s",
				seq, k, clip(want[k]), clip(got[k]))
		}
	}
	return first, problem
}

// projectionParts is the replay n as the service would store it (with its
// review panels and mean score worked out), part by part.
func (s *Service) projectionParts(n *Nomination) map[string]json.RawMessage {
	cp := *n
	s.setPanels(&cp)
	return partsOf(&cp)
}

// partsOf splits n's JSON form into its top-level parts.
func partsOf(n *Nomination) map[string]json.RawMessage {
	var parts map[string]json.RawMessage
	_ = json.Unmarshal(mustJSON(n), &parts) // a Nomination always encodes
	return parts
}

// clip shortens a JSON value for a message.
func clip(v json.RawMessage) string {
	const max = 80
	if v == nil {
		return "nothing"
	}
	r := []rune(string(v))
	if len(r) > max {
		return string(r[:max]) + "…"
	}
	return string(r)
}
