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
		return Verification{}, Fail(ENOTFOUND, "NoSuchNomination", "no such nomination")
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
// done (DerivedSeq), which no event records. Lists are compared item by
// item and maps key by key; an item, key or value that disagrees is
// blamed on the last event that changed it in the replay (or, when no
// event made it, on the projection's own last event), and the earliest
// blamed event is reported.
func (s *Service) firstDisagreement(id string, evs []Event, stored *Nomination) (int, string) {
	upto := len(evs)
	if stored != nil {
		upto = stored.Seq
	}
	n := &Nomination{ID: id}
	prev := s.projectionParts(n)
	changes := map[string][]partChange{}
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
				changes[k] = append(changes[k], partChange{e.Seq, v})
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
	var first disagreement
	for _, k := range keys {
		if k == "DerivedSeq" || bytes.Equal(want[k], got[k]) {
			continue
		}
		d := blame(k, changes[k], want[k], got[k])
		if d.seq == 0 {
			d.seq = stored.Seq
		}
		if first.seq == 0 || d.seq < first.seq {
			first = d
		}
	}
	if first.seq == 0 {
		return 0, ""
	}
	return first.seq, fmt.Sprintf("event %d disagrees with the stored projection: it makes %s %s, the projection says %s",
		first.seq, first.path, clip(first.replayed), clip(first.stored))
}

// partChange is the value a part of the replay took at an event.
type partChange struct {
	seq int
	raw json.RawMessage
}

// disagreement is one value of the projection that the replay does not
// give, and the event blamed for it (0: none made it).
type disagreement struct {
	seq              int
	path             string
	replayed, stored json.RawMessage
}

// blame finds, in a part whose replayed and stored values differ, the
// earliest disagreeing item, key or value, and the last event that changed
// it in the replay.
func blame(part string, changes []partChange, replayed, stored json.RawMessage) disagreement {
	whole := disagreement{path: part, replayed: replayed, stored: stored}
	if len(changes) > 0 {
		whole.seq = changes[len(changes)-1].seq
	}
	var r, st any
	if json.Unmarshal(replayed, &r) != nil || json.Unmarshal(stored, &st) != nil {
		return whole
	}
	// The sub-values of a list or a map, by index or key; nil for a scalar.
	subs := func(v any) map[string]any {
		switch x := v.(type) {
		case []any:
			m := make(map[string]any, len(x))
			for i, e := range x {
				m[fmt.Sprintf("[%d]", i)] = e
			}
			return m
		case map[string]any:
			m := make(map[string]any, len(x))
			for k, e := range x {
				m["."+k] = e
			}
			return m
		}
		return nil
	}
	rs, ss := subs(r), subs(st)
	if rs == nil || ss == nil {
		return whole
	}
	// When each sub-value last changed in the replay.
	lastChange := map[string]int{}
	before := map[string]any{}
	for _, c := range changes {
		var v any
		if json.Unmarshal(c.raw, &v) != nil {
			return whole
		}
		now := subs(v)
		for k, e := range now {
			if old, ok := before[k]; !ok || !jsonEqual(old, e) {
				lastChange[k] = c.seq
			}
		}
		for k := range before {
			if _, ok := now[k]; !ok {
				lastChange[k] = c.seq
			}
		}
		before = now
	}
	var first disagreement
	for _, k := range unionKeys(rs, ss) {
		rv, rok := rs[k]
		sv, sok := ss[k]
		if rok && sok && jsonEqual(rv, sv) {
			continue
		}
		d := disagreement{seq: lastChange[k], path: part + k, replayed: mustJSONOrNil(rv, rok), stored: mustJSONOrNil(sv, sok)}
		if first.path == "" || (d.seq != 0 && (first.seq == 0 || d.seq < first.seq)) {
			first = d
		}
	}
	if first.path == "" {
		return whole
	}
	return first
}

func jsonEqual(a, b any) bool { return bytes.Equal(mustJSON(a), mustJSON(b)) }

func mustJSONOrNil(v any, present bool) json.RawMessage {
	if !present {
		return nil
	}
	return mustJSON(v)
}

func unionKeys(a, b map[string]any) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
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
