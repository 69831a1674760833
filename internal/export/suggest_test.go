package export

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/igf/nomina/internal/nomination"
)

// mustSuggest calls Suggest and fails the test on error.
func mustSuggest(tb testing.TB, cands []Candidate, seats int, t Targets) Suggestion {
	tb.Helper()
	s, err := Suggest(context.Background(), cands, seats, t)
	if err != nil {
		tb.Fatalf("Suggest: %v", err)
	}
	return s
}

// shortfall judges a choice against targets independently of the
// package's own resolution code: percent bounds by floating point with a
// small tolerance, every rule read straight from the JSON shape.
func shortfall(t Targets, seats int, chosen []Candidate) int {
	count := func(f, v string) int {
		n := 0
		for _, c := range chosen {
			if c.Fields[f] == v {
				n++
			}
		}
		return n
	}
	off := 0
	for _, r := range t.Rules {
		values := r.Values
		if len(values) == 0 {
			values = t.choices(r.Field)
		}
		lo, hi := 0, math.MaxInt
		if r.MinSeats != nil {
			lo = *r.MinSeats
		}
		if r.MinPercent != nil {
			lo = max(lo, int(math.Ceil(*r.MinPercent*float64(seats)/100-1e-9)))
		}
		if r.MaxSeats != nil {
			hi = *r.MaxSeats
		}
		if r.MaxPercent != nil {
			hi = min(hi, int(math.Floor(*r.MaxPercent*float64(seats)/100+1e-9)))
		}
		most, least := 0, math.MaxInt
		for _, v := range values {
			n := count(r.Field, v)
			off += max(0, lo-n) + max(0, n-hi)
			most, least = max(most, n), min(least, n)
		}
		if r.MaxSpread != nil {
			off += max(0, most-least-*r.MaxSpread)
		}
	}
	return off
}

// bruteForce returns the smallest shortfall of any choice of seats
// candidates and the highest total score among choices with it.
func bruteForce(cands []Candidate, seats int, t Targets) (int, float64) {
	bestOff, bestScore := math.MaxInt, math.Inf(-1)
	pick := make([]Candidate, 0, seats)
	var rec func(i int)
	rec = func(i int) {
		if len(pick) == seats {
			off := shortfall(t, seats, pick)
			score := 0.0
			for _, c := range pick {
				score += c.Score
			}
			if off < bestOff || off == bestOff && score > bestScore {
				bestOff, bestScore = off, score
			}
			return
		}
		if len(cands)-i < seats-len(pick) {
			return
		}
		pick = append(pick, cands[i])
		rec(i + 1)
		pick = pick[:len(pick)-1]
		rec(i + 1)
	}
	rec(0)
	return bestOff, bestScore
}

// randomInstance draws a small call: up to 13 candidates over three
// stakeholder groups, three regions and two genders, with scores on a
// coarse grid (so ties are common) and targets that are sometimes
// impossible.
//
// A skewed instance is larger (14 to 17 candidates) and favours government
// and men in both numbers and scores, so that the targets bind and the
// search has to branch.
func randomInstance(rng *rand.Rand, skewed bool) ([]Candidate, int, Targets) {
	groups := []string{"government", "private_sector", "civil_society", "technical_community"}
	regions := []string{"african", "asia_pacific", "eastern_european"}
	genders := []string{"female", "male"}
	n := 4 + rng.IntN(10)
	seats := 1 + rng.IntN(min(n-1, 7))
	if skewed {
		n, seats = 14+rng.IntN(4), 4+rng.IntN(4)
	}
	cands := make([]Candidate, n)
	for i := range cands {
		c := Candidate{
			ID:    fmt.Sprintf("n%02d", i),
			Score: float64(rng.IntN(21)) / 4,
			Fields: map[string]string{
				"stakeholder_group": groups[rng.IntN(len(groups))],
				"region":            regions[rng.IntN(len(regions))],
				"gender":            genders[rng.IntN(len(genders))],
			},
		}
		if skewed && rng.IntN(2) == 0 {
			c.Fields["stakeholder_group"], c.Fields["gender"] = "government", "male"
			c.Score += 2
		}
		cands[i] = c
	}
	t := Targets{
		Choices: map[string][]string{"region": regions},
		Rules: []Rule{
			{Field: "stakeholder_group", Values: []string{"government"}, MaxPercent: ptr(float64(20 + 5*rng.IntN(9)))},
		},
	}
	if rng.IntN(2) == 0 {
		t.Rules = append(t.Rules, Rule{Field: "stakeholder_group", Values: groups[1:], MaxSpread: ptr(rng.IntN(3))})
	}
	if rng.IntN(2) == 0 {
		t.Rules = append(t.Rules, Rule{Field: "region", MinSeats: ptr(rng.IntN(3))})
	}
	if rng.IntN(3) > 0 {
		t.Rules = append(t.Rules, Rule{Field: "gender", Values: genders, MaxPercent: ptr(float64(50 + 10*rng.IntN(3)))})
	}
	if rng.IntN(4) == 0 {
		t.Rules = append(t.Rules, Rule{Field: "gender", Values: []string{"female"}, MinSeats: ptr(rng.IntN(seats + 1))})
	}
	return cands, seats, t
}

func TestSuggestMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(20260301, 7))
	infeasible := 0
	for i := range 400 {
		cands, seats, targets := randomInstance(rng, i%8 == 7)
		t.Run(fmt.Sprintf("instance %d", i), func(t *testing.T) {
			got := mustSuggest(t, cands, seats, targets)
			wantOff, wantScore := bruteForce(cands, seats, targets)
			if len(got.Picks) != seats {
				t.Fatalf("%d picks, want %d", len(got.Picks), seats)
			}
			if off := shortfall(targets, seats, got.Picks); off != wantOff || got.Shortfall != wantOff {
				t.Errorf("shortfall = %d (reported %d), brute force %d", off, got.Shortfall, wantOff)
			}
			if math.Abs(got.TotalScore-wantScore) > 1e-9 {
				t.Errorf("total score = %v, brute force %v\ntargets %+v\ncandidates %+v", got.TotalScore, wantScore, targets.Rules, cands)
			}
			if got.Feasible != (wantOff == 0) {
				t.Errorf("feasible = %v with brute-force shortfall %d", got.Feasible, wantOff)
			}
			if !got.Optimal {
				t.Errorf("not proven optimal")
			}
			if wantOff > 0 {
				infeasible++
				if len(got.Unmet) == 0 {
					t.Errorf("infeasible, but no unmet target listed")
				}
			}
		})
	}
	// The instances must exercise both outcomes, or the test proves little.
	if infeasible == 0 || infeasible == 400 {
		t.Errorf("%d of 400 instances infeasible; want a mix", infeasible)
	}
}

// TestSearchParts checks the branch and bound without its first
// incumbent, with and without reduced-cost fixing. The greedy first
// incumbent is often optimal on small instances, and then a fault in the
// pruning could not show in the answer.
func TestSearchParts(t *testing.T) {
	for _, mode := range []struct {
		name     string
		noFixing bool
	}{{"bare branch and bound", true}, {"with reduced-cost fixing", false}} {
		t.Run(mode.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(99, 1))
			branched := 0
			for i := range 300 {
				cands, seats, targets := randomInstance(rng, true)
				t.Run(fmt.Sprintf("instance %d", i), func(t *testing.T) {
					slices.SortStableFunc(cands, func(a, b Candidate) int { return cmp.Compare(b.Score, a.Score) })
					s := newSearch(context.Background(), compile(targets, seats), cands, seats)
					s.noHeuristic, s.noFixing = true, mode.noFixing
					if err := s.run(); err != nil {
						t.Fatal(err)
					}
					if s.nodes > 1 {
						branched++
					}
					wantOff, wantScore := bruteForce(cands, seats, targets)
					if off := shortfall(targets, seats, s.picks(s.best)); off != wantOff || math.Abs(s.bestScore-wantScore) > 1e-9 {
						t.Errorf("shortfall %d score %v, brute force %d and %v", off, s.bestScore, wantOff, wantScore)
					}
				})
			}
			if branched < 30 {
				t.Errorf("only %d of 300 instances branched; the test would not cover branching", branched)
			}
		})
	}
}

// bestCounts enumerates every vector of class counts inside box nd that
// fills the seats and returns the best shortfall and score among them.
func bestCounts(s *search, nd node) (int, float64) {
	bestViol, bestScore := math.MaxInt, math.Inf(-1)
	x := make([]int, len(s.classes))
	var rec func(c, left int)
	rec = func(c, left int) {
		if c == len(x) {
			if left == 0 {
				v, sc := s.evaluate(x)
				if v < bestViol || v == bestViol && sc > bestScore {
					bestViol, bestScore = v, sc
				}
			}
			return
		}
		for k := nd.lo[c]; k <= min(nd.hi[c], left); k++ {
			x[c] = k
			rec(c+1, left-k)
		}
		x[c] = 0
	}
	rec(0, s.seats)
	return bestViol, bestScore
}

// TestReducedCostFixingKeepsTheOptimum sets the incumbent just below the
// true optimum, so that reduced-cost fixing narrows the root box as far as
// it ever may, and checks that the optimum is still inside the box.
func TestReducedCostFixingKeepsTheOptimum(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 3))
	narrowed, fractional := 0, 0
	for i := range 600 {
		cands, seats, targets := randomInstance(rng, true)
		t.Run(fmt.Sprintf("instance %d", i), func(t *testing.T) {
			slices.SortStableFunc(cands, func(a, b Candidate) int { return cmp.Compare(b.Score, a.Score) })
			s := newSearch(context.Background(), compile(targets, seats), cands, seats)
			root := node{lo: make([]int, len(s.classes)), hi: make([]int, len(s.classes))}
			for c := range s.classes {
				root.hi[c] = len(s.classes[c].members)
			}
			wantViol, wantScore := bestCounts(s, root)
			s.found, s.bestViol, s.bestScore = true, wantViol, wantScore-0.01
			x, bound, err := s.relax(root, seats)
			if err != nil {
				t.Fatal(err)
			}
			box, changed := s.fixByReducedCost(root, bound)
			if !changed {
				return
			}
			if slices.ContainsFunc(x, func(v float64) bool { return math.Abs(v-math.Round(v)) > 1e-6 }) {
				fractional++
			}
			narrowed++
			if v, sc := bestCounts(s, box); v != wantViol || math.Abs(sc-wantScore) > 1e-9 {
				t.Errorf("the narrowed box holds at best shortfall %d score %v; the optimum is %d and %v", v, sc, wantViol, wantScore)
			}
		})
	}
	t.Logf("%d boxes narrowed, %d of them around a fractional relaxation", narrowed, fractional)
	if narrowed < 200 || fractional < 30 {
		t.Errorf("fixing narrowed %d of 600 boxes, %d around a fractional relaxation; the test would prove little", narrowed, fractional)
	}
}

// TestFixingAgreesWithoutIt checks reduced-cost fixing on instances too
// large for brute force: a search that relies on fixing (and has no greedy
// first incumbent to hide behind) and one without fixing must reach the
// same optimum, and Suggest with everything on must too.
func TestFixingAgreesWithoutIt(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 30 {
		n, seats := 40+rng.IntN(40), 8+rng.IntN(8)
		cands := skewedCandidates(rng, n)
		targets := MAGTargets(10)
		t.Run(fmt.Sprintf("%d candidates for %d seats", n, seats), func(t *testing.T) {
			sorted := slices.Clone(cands)
			slices.SortStableFunc(sorted, func(a, b Candidate) int { return cmp.Compare(b.Score, a.Score) })
			run := func(noHeuristic, noFixing bool) *search {
				s := newSearch(context.Background(), compile(targets, seats), sorted, seats)
				s.noHeuristic, s.noFixing = noHeuristic, noFixing
				if err := s.run(); err != nil {
					t.Fatal(err)
				}
				if s.exhausted {
					t.Fatalf("the search stopped after %d nodes", s.nodes)
				}
				return s
			}
			fixing, without := run(true, false), run(false, true)
			if fixing.bestViol != without.bestViol || math.Abs(fixing.bestScore-without.bestScore) > 1e-9 {
				t.Errorf("with fixing: shortfall %d score %v; without: %d and %v", fixing.bestViol, fixing.bestScore, without.bestViol, without.bestScore)
			}
			got := mustSuggest(t, cands, seats, targets)
			if got.Shortfall != without.bestViol || math.Abs(got.TotalScore-without.bestScore) > 1e-9 {
				t.Errorf("Suggest: shortfall %d score %v; without fixing: %d and %v", got.Shortfall, got.TotalScore, without.bestViol, without.bestScore)
			}
		})
	}
}

func TestSuggestNamesTheTargetThatCannotBeMet(t *testing.T) {
	// Six candidates, none from the African Group, and a rule that every
	// region holds at least one of three seats.
	cands := []Candidate{
		cand("a", 9, "government", "asia_pacific", "female"),
		cand("b", 8, "civil_society", "asia_pacific", "male"),
		cand("c", 7, "private_sector", "eastern_european", "female"),
		cand("d", 6, "technical_community", "eastern_european", "male"),
		cand("e", 5, "civil_society", "asia_pacific", "female"),
		cand("f", 4, "government", "eastern_european", "male"),
	}
	targets := Targets{
		Choices: map[string][]string{"region": {"african", "asia_pacific", "eastern_european"}},
		Rules:   []Rule{{Field: "region", MinSeats: ptr(1)}},
	}
	got := mustSuggest(t, cands, 3, targets)
	if got.Feasible {
		t.Fatal("feasible, want infeasible")
	}
	if got.Shortfall != 1 || len(got.Unmet) != 1 {
		t.Fatalf("shortfall %d, unmet %+v; want one seat short on one target", got.Shortfall, got.Unmet)
	}
	u := got.Unmet[0]
	if u.Kind != "min" || u.Field != "region" || !slices.Equal(u.Values, []string{"african"}) || u.Rule != 0 {
		t.Errorf("unmet = %+v, want the African Group minimum of rule 0", u)
	}
	for _, want := range []string{"African Group", "the minimum is 1 seat", "Only 0 of the nominations are from African Group"} {
		if !strings.Contains(u.Message, want) {
			t.Errorf("message %q does not say %q", u.Message, want)
		}
	}
	// The closest choice still takes the best scores it can: a, b, c.
	if ids := pickIDs(got); !slices.Equal(ids, []string{"a", "b", "c"}) {
		t.Errorf("picks = %v, want [a b c]", ids)
	}
}

func TestSuggestFeasibleShortlist(t *testing.T) {
	// Four seats, government at most 25 % (1 seat), each gender at most
	// 50 %. The two best are government women; the best choice keeps one.
	cands := []Candidate{
		cand("g1", 10, "government", "african", "female"),
		cand("g2", 9.5, "government", "african", "female"),
		cand("p1", 9, "private_sector", "asia_pacific", "female"),
		cand("c1", 8, "civil_society", "african", "male"),
		cand("t1", 7, "technical_community", "asia_pacific", "male"),
		cand("c2", 6, "civil_society", "asia_pacific", "male"),
	}
	targets := Targets{Rules: []Rule{
		{Field: "stakeholder_group", Values: []string{"government"}, MaxPercent: ptr(25.0)},
		{Field: "gender", Values: []string{"female", "male"}, MaxPercent: ptr(50.0)},
	}}
	got := mustSuggest(t, cands, 4, targets)
	if !got.Feasible || !got.Optimal {
		t.Fatalf("feasible %v optimal %v, want both", got.Feasible, got.Optimal)
	}
	if ids := pickIDs(got); !slices.Equal(ids, []string{"g1", "p1", "c1", "t1"}) {
		t.Errorf("picks = %v, want [g1 p1 c1 t1]", ids)
	}
	if got.TotalScore != 34 {
		t.Errorf("total score = %v, want 34", got.TotalScore)
	}
	// Government is at its limit and keeps g2 (9.5) out: with two
	// government seats the women would be g1 and g2 instead of g1 and p1
	// (gender still caps women at 2), a gain of 0.5. The gender limits are
	// met exactly too, but relaxing either gains nothing, so they are not
	// binding.
	var gov *Finding
	for i, b := range got.Binding {
		if b.Field == "stakeholder_group" {
			gov = &got.Binding[i]
		}
	}
	if gov == nil || len(got.Binding) != 1 {
		t.Fatalf("binding = %+v, want the government limit", got.Binding)
	}
	if math.Abs(gov.Gain-0.5) > 1e-9 || gov.Kind != "max" || gov.Limit != 1 || gov.Have != 1 {
		t.Errorf("government binding = %+v, want limit 1, have 1, gain 0.5", *gov)
	}
	if !strings.Contains(gov.Message, "Seats held by Government: 1 of 4 (25 %), exactly the limit of 25 % (1 seat).") {
		t.Errorf("message = %q", gov.Message)
	}
}

func TestSuggestTooFewCandidates(t *testing.T) {
	cands := []Candidate{cand("a", 3, "government", "african", "female"), cand("b", 2, "civil_society", "african", "male")}
	got := mustSuggest(t, cands, 3, Targets{})
	if got.Feasible || len(got.Picks) != 2 {
		t.Fatalf("feasible %v with %d picks, want infeasible with both candidates", got.Feasible, len(got.Picks))
	}
	if len(got.Unmet) != 1 || got.Unmet[0].Kind != "seats" || got.Unmet[0].Message != "Only 2 nominations are available for 3 seats." {
		t.Errorf("unmet = %+v", got.Unmet)
	}
}

func TestSuggestErrors(t *testing.T) {
	ok := []Candidate{cand("a", 1, "government", "african", "female")}
	tests := []struct {
		name      string
		cands     []Candidate
		seats     int
		targets   Targets
		wantField string
	}{
		{"no seats", ok, 0, Targets{}, "seats"},
		{"score not a number", []Candidate{{ID: "x", Score: math.NaN()}}, 1, Targets{}, "candidates[0].score"},
		{"invalid targets", ok, 1, Targets{Rules: []Rule{{Field: "region", MaxPercent: ptr(140.0)}}}, "targets.rules[0].max_percent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Suggest(context.Background(), tt.cands, tt.seats, tt.targets)
			assertInvalid(t, err, tt.wantField)
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		cands := syntheticCandidates(rand.New(rand.NewPCG(1, 1)), 200)
		if _, err := Suggest(ctx, cands, 40, MAGTargets(10)); err != context.Canceled {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}

func TestSuggestLargeCallIsFeasibleAndBalanced(t *testing.T) {
	cands := syntheticCandidates(rand.New(rand.NewPCG(42, 1)), 500)
	targets := MAGTargets(10)
	got := mustSuggest(t, cands, 40, targets)
	if !got.Feasible || !got.Optimal || len(got.Picks) != 40 {
		t.Fatalf("feasible %v optimal %v picks %d", got.Feasible, got.Optimal, len(got.Picks))
	}
	if off := shortfall(targets, 40, got.Picks); off != 0 {
		t.Errorf("picks miss the targets by %d seats", off)
	}
	// No single exchange of a pick for a non-pick can raise the score
	// without breaking a target: a necessary condition of optimality that
	// is cheap to check at this size.
	picked := map[string]bool{}
	for _, p := range got.Picks {
		picked[p.ID] = true
	}
	for i, out := range got.Picks {
		for _, in := range cands {
			if picked[in.ID] || in.Score <= out.Score {
				continue
			}
			trial := slices.Clone(got.Picks)
			trial[i] = in
			if shortfall(targets, 40, trial) == 0 {
				t.Fatalf("swapping %s (%v) for %s (%v) keeps the targets and raises the score", out.ID, out.Score, in.ID, in.Score)
			}
		}
	}
}

// syntheticCandidates draws n candidates spread over the IGF values, with
// scores that are means of three to seven votes on a 1–10 scale.
func syntheticCandidates(rng *rand.Rand, n int) []Candidate {
	groups := igfChoices["stakeholder_group"]
	regions := igfChoices["region"]
	genders := []string{"female", "male", "female", "male", "other", "undisclosed"}
	cands := make([]Candidate, n)
	for i := range cands {
		votes := 3 + rng.IntN(5)
		sum := 0
		for range votes {
			sum += 1 + rng.IntN(10)
		}
		cands[i] = Candidate{
			ID:    fmt.Sprintf("nom-%04d", i),
			Score: float64(sum) / float64(votes),
			Fields: map[string]string{
				"stakeholder_group": groups[rng.IntN(len(groups))],
				"region":            regions[rng.IntN(len(regions))],
				"gender":            genders[rng.IntN(len(genders))],
			},
		}
	}
	return cands
}

func cand(id string, score float64, group, region, gender string) Candidate {
	return Candidate{ID: id, Score: score, Fields: map[string]string{"stakeholder_group": group, "region": region, "gender": gender}}
}

func pickIDs(s Suggestion) []string {
	ids := make([]string, len(s.Picks))
	for i, p := range s.Picks {
		ids[i] = p.ID
	}
	return ids
}

// assertInvalid checks that err is an EINVALID *nomination.Error naming field.
func assertInvalid(tb testing.TB, err error, field string) {
	tb.Helper()
	if code := nomination.ErrorCode(err); code != nomination.EINVALID {
		tb.Fatalf("error %v has code %q, want %q", err, code, nomination.EINVALID)
	}
	var names []string
	for _, f := range err.(*nomination.Error).Fields {
		names = append(names, f.Field)
		if f.Field == field {
			return
		}
	}
	tb.Errorf("error names fields %v, want %q", names, field)
}
