package export

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
)

// count is how many members hold one value.
type count struct {
	value string
	n     int
}

// compose builds a selection from its three marginals, given in order:
// member i takes the i-th entry of each expanded list. The marginals must
// add up to the same size.
func compose(tb testing.TB, groups, regions, genders []count) []Candidate {
	tb.Helper()
	expand := func(cs []count) []string {
		var out []string
		for _, c := range cs {
			for range c.n {
				out = append(out, c.value)
			}
		}
		return out
	}
	g, r, s := expand(groups), expand(regions), expand(genders)
	if len(g) != len(r) || len(r) != len(s) {
		tb.Fatalf("marginals of %d, %d and %d members", len(g), len(r), len(s))
	}
	out := make([]Candidate, len(g))
	for i := range out {
		out[i] = Candidate{ID: fmt.Sprintf("m%02d", i), Score: 1, Fields: map[string]string{"stakeholder_group": g[i], "region": r[i], "gender": s[i]}}
	}
	return out
}

// evenRegions spreads n members over the five regions as evenly as the
// order allows (the first regions take the remainder).
func evenRegions(n int) []count {
	regions := igfChoices["region"]
	out := make([]count, len(regions))
	for i, r := range regions {
		out[i] = count{r, n / len(regions)}
		if i < n%len(regions) {
			out[i].n++
		}
	}
	return out
}

func halfGenders(n int) []count { return []count{{"female", n / 2}, {"male", n - n/2}} }

func mustBalance(tb testing.TB, items []Candidate, seats int, t Targets) Report {
	tb.Helper()
	r, err := ComputeBalance(items, seats, t)
	if err != nil {
		tb.Fatalf("ComputeBalance: %v", err)
	}
	return r
}

func messages(fs []Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Message
	}
	return out
}

func TestComputeBalanceBrokenRules(t *testing.T) {
	mag := MAGTargets(10)
	tests := []struct {
		name   string
		items  []Candidate
		seats  int
		t      Targets
		broken []string
		off    []int
	}{
		{
			name:  "balanced MAG of 40",
			items: compose(t, []count{{"government", 16}, {"private_sector", 8}, {"civil_society", 8}, {"technical_community", 8}}, evenRegions(40), halfGenders(40)),
			seats: 40, t: mag,
		},
		{
			name:  "government over its 40 %",
			items: compose(t, []count{{"government", 18}, {"private_sector", 8}, {"civil_society", 7}, {"technical_community", 7}}, evenRegions(40), halfGenders(40)),
			seats: 40, t: mag,
			broken: []string{"Seats held by Government: 18 of 40 (45 %); the limit is 40 % (16 seats)."},
			off:    []int{2},
		},
		{
			// An empty region and an empty stakeholder group: both are
			// still judged, and the spread counts the empty group as 0.
			name: "empty groups",
			items: compose(t, []count{{"government", 16}, {"private_sector", 12}, {"civil_society", 12}},
				[]count{{"asia_pacific", 10}, {"eastern_european", 10}, {"latin_american_caribbean", 10}, {"western_european_others", 10}}, halfGenders(40)),
			seats: 40, t: mag,
			broken: []string{
				"Private sector (12), Civil society (12) and Technical community (0) should hold equal numbers of seats, at most 1 seat apart; they are 12 seats apart.",
				"Seats held by African Group: 0 of 40 (0 %); the minimum is 10 % (4 seats).",
			},
			off: []int{11, 4},
		},
		{
			// 10 % of 41 seats is 4.1: a minimum rounds up to 5.
			name:  "minimum rounds up",
			items: compose(t, []count{{"civil_society", 41}}, []count{{"african", 4}, {"asia_pacific", 37}}, halfGenders(41)),
			seats: 41, t: Targets{Rules: []Rule{{Field: "region", Values: []string{"african"}, MinPercent: ptr(10.0)}}},
			broken: []string{"Seats held by African Group: 4 of 41 (9.8 %); the minimum is 10 % (5 seats)."},
			off:    []int{1},
		},
		{
			name:  "women and men above parity",
			items: compose(t, []count{{"government", 16}, {"private_sector", 8}, {"civil_society", 8}, {"technical_community", 8}}, evenRegions(40), []count{{"female", 12}, {"male", 26}, {"other", 2}}),
			seats: 40, t: mag,
			broken: []string{"Seats held by Men: 26 of 40 (65 %); the limit is 50 % (20 seats)."},
			off:    []int{6},
		},
		{
			name:  "too many nominations for the seats",
			items: compose(t, []count{{"government", 9}, {"civil_society", 36}}, evenRegions(45), halfGenders(45)),
			seats: 40, t: Targets{Rules: []Rule{{Field: "stakeholder_group", Values: []string{"government"}, MaxPercent: ptr(40.0)}}},
			broken: []string{"The selection has 45 nominations for 40 seats: 5 too many."},
			off:    []int{5},
		},
		{
			name:  "seats left unfilled",
			items: compose(t, []count{{"civil_society", 30}}, evenRegions(30), halfGenders(30)),
			seats: 40, t: Targets{},
			broken: []string{"The selection has 30 nominations for 40 seats: 10 seats unfilled."},
			off:    []int{10},
		},
		{
			// No seats given: the pool itself is the body.
			name:  "a pool of submissions",
			items: compose(t, []count{{"government", 54}, {"civil_society", 66}}, evenRegions(120), halfGenders(120)),
			seats: 0, t: Targets{Rules: []Rule{{Field: "stakeholder_group", Values: []string{"government"}, MaxPercent: ptr(40.0)}}},
			broken: []string{"Nominations from Government: 54 of 120 (45 %); the limit is 40 % (48 nominations)."},
			off:    []int{6},
		},
		{
			name:  "a seat count and a percentage: the stricter counts",
			items: compose(t, []count{{"government", 5}, {"civil_society", 15}}, evenRegions(20), halfGenders(20)),
			seats: 20, t: Targets{Rules: []Rule{{Field: "stakeholder_group", Values: []string{"government"}, MaxSeats: ptr(4), MaxPercent: ptr(40.0)}}},
			broken: []string{"Seats held by Government: 5 of 20 (25 %); the limit is 4 seats."},
			off:    []int{1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustBalance(t, tt.items, tt.seats, tt.t)
			if got := messages(r.Broken); !slices.Equal(got, tt.broken) && !(len(got) == 0 && len(tt.broken) == 0) {
				t.Errorf("broken:\n%q\nwant:\n%q", got, tt.broken)
			}
			for i, f := range r.Broken {
				if i < len(tt.off) && f.Off != tt.off[i] {
					t.Errorf("finding %d is off by %d seats, want %d", i, f.Off, tt.off[i])
				}
			}
			if r.Members != len(tt.items) {
				t.Errorf("members = %d, want %d", r.Members, len(tt.items))
			}
		})
	}
}

// TestRoundingAtTheFortyPercentLine checks max seats = floor(40 % × seats)
// on both sides of the line.
func TestRoundingAtTheFortyPercentLine(t *testing.T) {
	targets := Targets{Rules: []Rule{{Field: "stakeholder_group", Values: []string{"government"}, MaxPercent: ptr(40.0)}}}
	tests := []struct {
		seats, government, limit int
		broken                   string
	}{
		{40, 16, 16, ""},
		{40, 17, 16, "Seats held by Government: 17 of 40 (42.5 %); the limit is 40 % (16 seats)."},
		{41, 16, 16, ""},
		{41, 17, 16, "Seats held by Government: 17 of 41 (41.5 %); the limit is 40 % (16 seats)."},
		{42, 17, 16, "Seats held by Government: 17 of 42 (40.5 %); the limit is 40 % (16 seats)."},
		{44, 17, 17, ""},
		{45, 18, 18, ""},
		{10, 4, 4, ""},
		{10, 5, 4, "Seats held by Government: 5 of 10 (50 %); the limit is 40 % (4 seats)."},
		{3, 2, 1, "Seats held by Government: 2 of 3 (66.7 %); the limit is 40 % (1 seat)."},
		{2, 1, 0, "Seats held by Government: 1 of 2 (50 %); the limit is 40 % (0 seats)."},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d of %d seats", tt.government, tt.seats), func(t *testing.T) {
			items := compose(t, []count{{"government", tt.government}, {"civil_society", tt.seats - tt.government}}, evenRegions(tt.seats), halfGenders(tt.seats))
			r := mustBalance(t, items, tt.seats, targets)
			gov := r.Fields[0].Values[0]
			if gov.Value != "government" || gov.MaxSeats == nil || *gov.MaxSeats != tt.limit {
				t.Fatalf("government = %+v, want max seats %d", gov, tt.limit)
			}
			var want []string
			if tt.broken != "" {
				want = []string{tt.broken}
			}
			if got := messages(r.Broken); !slices.Equal(got, want) {
				t.Errorf("broken = %q, want %q", got, want)
			}
		})
	}
}

func TestComputeBalanceCounts(t *testing.T) {
	items := compose(t,
		[]count{{"government", 3}, {"civil_society", 4}, {"at_large", 1}},
		[]count{{"asia_pacific", 5}, {"western_european_others", 3}},
		[]count{{"female", 4}, {"male", 3}, {"", 1}})
	items[0].Fields["language"] = "fr"
	for i, g := range []string{"developing", "developing", "developing", "developed", "transition"} {
		items[i].Fields["economic_group"] = g
	}
	targets := Targets{
		Choices: map[string][]string{"language": {"en", "fr", "es"}},
		Labels:  map[string]string{"fr": "French", "language": "Working language"},
		Rules:   []Rule{{Field: "language", Values: []string{"es"}, MinSeats: ptr(1)}},
	}
	r := mustBalance(t, items, 10, targets)
	type vc struct {
		value, label string
		count        int
		share        float64
	}
	want := map[string][]vc{
		"stakeholder_group": {{"government", "Government", 3, 0.3}, {"private_sector", "Private sector", 0, 0}, {"civil_society", "Civil society", 4, 0.4}, {"technical_community", "Technical community", 0, 0}, {"at_large", "At-large", 1, 0.1}},
		"region":            {{"african", "African Group", 0, 0}, {"asia_pacific", "Asia-Pacific Group", 5, 0.5}, {"eastern_european", "Eastern European Group", 0, 0}, {"latin_american_caribbean", "Latin American and Caribbean Group (GRULAC)", 0, 0}, {"western_european_others", "Western European and Others Group (WEOG)", 3, 0.3}},
		"gender":            {{"female", "Women", 4, 0.4}, {"male", "Men", 3, 0.3}, {"other", "Other gender", 0, 0}, {"undisclosed", "Gender undisclosed", 0, 0}, {"", "Not given", 1, 0.1}},
		"economic_group":    {{"developed", "Developed countries", 1, 0.1}, {"developing", "Developing countries", 3, 0.3}, {"transition", "Economies in transition", 1, 0.1}, {"", "Not given", 3, 0.3}},
		"language":          {{"en", "En", 0, 0}, {"fr", "French", 1, 0.1}, {"es", "Es", 0, 0}, {"", "Not given", 7, 0.7}},
	}
	var fields []string
	for _, f := range r.Fields {
		fields = append(fields, f.Field)
		var got []vc
		for _, v := range f.Values {
			got = append(got, vc{v.Value, v.Label, v.Count, v.Share})
		}
		if !reflect.DeepEqual(got, want[f.Field]) {
			t.Errorf("%s:\n got %v\nwant %v", f.Field, got, want[f.Field])
		}
	}
	if !slices.Equal(fields, []string{"stakeholder_group", "region", "economic_group", "gender", "language"}) {
		t.Errorf("fields = %v", fields)
	}
	if r.Fields[4].Label != "Working language" {
		t.Errorf("language label = %q", r.Fields[4].Label)
	}
	if got := messages(r.Broken); !slices.Equal(got, []string{
		"The selection has 8 nominations for 10 seats: 2 seats unfilled.",
		"Seats held by Es: 0 of 10 (0 %); the minimum is 1 seat.",
	}) {
		t.Errorf("broken = %q", got)
	}
	if r.TotalScore != 8 {
		t.Errorf("total score = %v, want 8", r.TotalScore)
	}
}

func TestTargetsValidate(t *testing.T) {
	tests := []struct {
		name      string
		targets   Targets
		wantField string // "" for valid
	}{
		{name: "MAG targets", targets: MAGTargets(10)},
		{name: "empty", targets: Targets{}},
		{name: "custom field with choices", targets: Targets{Choices: map[string][]string{"language": {"en", "fr"}}, Rules: []Rule{{Field: "language", MinSeats: ptr(2)}}}},
		{name: "no field", targets: Targets{Rules: []Rule{{MaxSeats: ptr(3)}}}, wantField: "targets.rules[0].field"},
		{name: "percent over 100", targets: Targets{Rules: []Rule{{Field: "region", MaxPercent: ptr(140.0)}}}, wantField: "targets.rules[0].max_percent"},
		{name: "percent not a number", targets: Targets{Rules: []Rule{{Field: "region", MinPercent: ptr(math.NaN())}}}, wantField: "targets.rules[0].min_percent"},
		{name: "negative seats", targets: Targets{Rules: []Rule{{Field: "region", MinSeats: ptr(-1)}}}, wantField: "targets.rules[0].min_seats"},
		{name: "minimum above maximum", targets: Targets{Rules: []Rule{{Field: "region", MinSeats: ptr(5), MaxSeats: ptr(4)}}}, wantField: "targets.rules[0].min_seats"},
		{name: "minimum percent above maximum", targets: Targets{Rules: []Rule{{Field: "region", MinPercent: ptr(50.0), MaxPercent: ptr(40.0)}}}, wantField: "targets.rules[0].min_percent"},
		{name: "no target", targets: Targets{Rules: []Rule{{Field: "region"}}}, wantField: "targets.rules[0]"},
		{name: "unknown value", targets: Targets{Rules: []Rule{{Field: "stakeholder_group", Values: []string{"gov"}, MaxSeats: ptr(1)}}}, wantField: "targets.rules[0].values"},
		{name: "repeated value", targets: Targets{Rules: []Rule{{Field: "gender", Values: []string{"male", "male"}, MaxSeats: ptr(1)}}}, wantField: "targets.rules[0].values"},
		{name: "spread of one value", targets: Targets{Rules: []Rule{{Field: "gender", Values: []string{"male"}, MaxSpread: ptr(1)}}}, wantField: "targets.rules[0].max_spread"},
		{name: "field without known values", targets: Targets{Rules: []Rule{{Field: "language", MinSeats: ptr(1)}}}, wantField: "targets.rules[0].values"},
		{name: "bad choices", targets: Targets{Choices: map[string][]string{"language": {"en", "en"}}}, wantField: "targets.choices.language"},
		{name: "second rule named", targets: Targets{Rules: []Rule{{Field: "region", MinSeats: ptr(1)}, {Field: "Gender!", MinSeats: ptr(1)}}}, wantField: "targets.rules[1].field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.targets.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			assertInvalid(t, err, tt.wantField)
		})
	}
	t.Run("ComputeBalance refuses invalid targets", func(t *testing.T) {
		_, err := ComputeBalance(nil, 40, Targets{Rules: []Rule{{Field: "region"}}})
		assertInvalid(t, err, "targets.rules[0]")
	})
}

func TestTargetsJSON(t *testing.T) {
	// The example of the Targets documentation, as a call stores it.
	doc := `{"rules": [
	  {"field": "stakeholder_group", "values": ["government"], "max_percent": 40},
	  {"field": "stakeholder_group", "values": ["private_sector", "civil_society", "technical_community"], "max_spread": 1},
	  {"field": "region", "min_seats": 6},
	  {"field": "gender", "values": ["female", "male"], "max_percent": 50}]}`
	var got Targets
	if err := json.Unmarshal([]byte(doc), &got); err != nil {
		t.Fatal(err)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	want := MAGTargets(10)
	want.Rules[2] = Rule{Field: "region", MinSeats: ptr(6)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded %+v, want %+v", got, want)
	}
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var again Targets
	if err := json.Unmarshal(b, &again); err != nil || !reflect.DeepEqual(again, want) {
		t.Errorf("round trip: %s gave %+v (%v)", b, again, err)
	}
}
