package export

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSuggestHonoursEconomicGroups: with six seats and every economic
// group required, the best-scored six (all from developed and developing
// countries) are not the suggestion; the best candidate from an economy in
// transition replaces the weakest pick that keeps the other three
// dimensions met.
func TestSuggestHonoursEconomicGroups(t *testing.T) {
	c := func(id string, score float64, group, region, gender, economic string) Candidate {
		cd := cand(id, score, group, region, gender)
		cd.Fields["economic_group"] = economic
		return cd
	}
	cands := []Candidate{
		c("a", 10, "government", "western_european_others", "female", "developed"),
		c("b", 9, "civil_society", "african", "male", "developing"),
		c("c", 8, "private_sector", "asia_pacific", "female", "developing"),
		c("d", 7, "technical_community", "latin_american_caribbean", "male", "developing"),
		c("e", 6, "civil_society", "eastern_european", "female", "developed"),
		c("f", 5, "private_sector", "african", "male", "developing"),
		c("t", 2, "technical_community", "eastern_european", "male", "transition"),
	}
	targets := Targets{Rules: []Rule{
		{Field: "stakeholder_group", Values: []string{"government"}, MaxPercent: ptr(40.0)},
		{Field: "region", MinSeats: ptr(1)},
		{Field: "gender", Values: []string{"female", "male"}, MaxPercent: ptr(50.0)},
	}}.WithEconomicGroups(10)
	got := mustSuggest(t, cands, 6, targets)
	if !got.Feasible || !got.Optimal {
		t.Fatalf("feasible %v optimal %v", got.Feasible, got.Optimal)
	}
	ids := pickIDs(got)
	slices.Sort(ids)
	// t is a man: parity makes him replace a man, and f is the weakest man
	// whose region (African) another pick still covers.
	if want := []string{"a", "b", "c", "d", "e", "t"}; !slices.Equal(ids, want) {
		t.Errorf("picks = %v, want %v", ids, want)
	}
	for _, fb := range got.Report.Fields {
		if fb.Field != "economic_group" {
			continue
		}
		for _, v := range fb.Values {
			if v.Value != "" && (v.Count < 1 || v.MinSeats == nil || *v.MinSeats != 1) {
				t.Errorf("economic group %s: %d seats, min %v", v.Value, v.Count, v.MinSeats)
			}
		}
		return
	}
	t.Error("the suggestion's report has no economic group")
}

// TestSuggestLargeCallMeetsAllFourDimensions is the MAG's targets with the
// economic groups, over a pool of 500.
func TestSuggestLargeCallMeetsAllFourDimensions(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 3))
	cands := syntheticCandidates(rng, 500)
	economic := igfChoices["economic_group"]
	for i := range cands {
		// Economies in transition are few, as in the real pool.
		g := economic[rng.IntN(2)]
		if rng.IntN(12) == 0 {
			g = "transition"
		}
		cands[i].Fields["economic_group"] = g
	}
	targets := MAGTargets(10).WithEconomicGroups(10)
	got := mustSuggest(t, cands, 40, targets)
	if !got.Feasible || len(got.Picks) != 40 {
		t.Fatalf("feasible %v, %d picks; unmet %+v", got.Feasible, len(got.Picks), got.Unmet)
	}
	if off := shortfall(targets, 40, got.Picks); off != 0 {
		t.Errorf("picks miss the targets by %d seats", off)
	}
	counts := map[string]int{}
	for _, p := range got.Picks {
		counts[p.Fields["economic_group"]]++
	}
	for _, g := range economic {
		if counts[g] < 4 {
			t.Errorf("%s holds %d of 40 seats, under 10 %%", g, counts[g])
		}
	}
}
