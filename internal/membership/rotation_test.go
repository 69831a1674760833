package membership_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/igf/nomina/internal/membership"
	"github.com/igf/nomina/internal/nomination"
)

// seededMAG is a MAG with terms from 2023 to 2027, one calendar-year term a
// row: name, seat kind, group, gender, nationality (region follows it),
// then the years served. Io's 2026 term ended early (June).
var seededMAG = []struct {
	name, seat, group, gender, nat string
	years                          []int
}{
	{"Ana", "", "civil_society", "female", "KE", []int{2024, 2025, 2026}},
	{"Bo", "", "government", "male", "FR", []int{2025, 2026}},
	{"Cy", "", "private_sector", "female", "JP", []int{2025, 2026, 2027}},
	{"Di", "", "technical_community", "male", "BR", []int{2026, 2027}},
	{"Ed", "", "government", "other", "PL", []int{2023, 2024, 2026}},
	{"Fa", "", "civil_society", "female", "NG", []int{2027}},
	{"Gu", "chair", "", "male", "DE", []int{2024, 2025, 2026, 2027}},
	{"Ha", "", "government", "female", "IN", []int{2025}},
	{"Io", "", "private_sector", "male", "GH", []int{2026}},
	{"Ju", "", "civil_society", "female", "MX", []int{2025, 2027}},
}

func seedMAG(tb testing.TB, f fixture) {
	tb.Helper()
	var b strings.Builder
	b.WriteString("body,email,name,seat_kind,stakeholder_group,gender,nationality,start,end\n")
	for _, m := range seededMAG {
		for _, y := range m.years {
			end := fmt.Sprintf("%d-12-31", y)
			if m.name == "Io" {
				end = fmt.Sprintf("%d-06-30", y)
			}
			fmt.Fprintf(&b, "mag,%s@example.org,%s,%s,%s,%s,%s,%d-01-01,%s\n", strings.ToLower(m.name), m.name, m.seat, m.group, m.gender, m.nat, y, end)
		}
	}
	rep, err := f.svc.Import(context.Background(), staff, strings.NewReader(b.String()), membership.ImportOptions{})
	if err != nil || rep.Bad > 0 {
		tb.Fatalf("seed: %+v %v", rep, err)
	}
}

// planRow is a plan entry as the hand-computed table gives it.
type planRow struct {
	Name        string
	TermYear    int
	Consecutive int
	Final       bool
}

func rows(es []membership.PlanEntry) []planRow {
	out := []planRow{}
	for _, e := range es {
		out = append(out, planRow{e.Name, e.TermStart.Year(), e.ConsecutiveTerms, e.FinalTerm})
	}
	return out
}

func counts(cs []membership.Count) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%s=%d", c.Value, c.Count))
	}
	return strings.Join(parts, " ")
}

// The rotation into 2027 of the seeded MAG, computed by hand:
//
//	Ana  2024-2026, no 2027 term   3 in a row: limit reached, rotates out
//	Bo   2025-2026                 2: term ends, may serve again
//	Cy   2025-2027                 continues; 2027 is the third: final term
//	Di   2026-2027                 continues (2)
//	Ed   2023-2024, 2026           1 (2025 was a gap): term ends
//	Fa   2027                      joins
//	Gu   chair 2024-2027           continues (4): chairs are not limited
//	Ha   2025                      not in the body at the end of 2026
//	Io   2026 ended in June        not in the body at the end of 2026
//	Ju   2025, 2027                joins again after a gap (1)
func TestRotationPlanOfSeededMAG(t *testing.T) {
	f := newFixture(t)
	seedMAG(t, f)
	p, err := f.svc.RotationPlan(context.Background(), staff, "mag", 2027)
	if err != nil {
		t.Fatal(err)
	}
	tables := []struct {
		name string
		got  []membership.PlanEntry
		want []planRow
	}{
		{"continuing", p.Continuing, []planRow{{"Cy", 2027, 3, true}, {"Di", 2027, 2, false}, {"Gu", 2027, 4, false}}},
		{"ending", p.Ending, []planRow{{"Bo", 2026, 2, false}, {"Ed", 2026, 1, false}}},
		{"limit reached", p.LimitReached, []planRow{{"Ana", 2026, 3, true}}},
		{"joining", p.Joining, []planRow{{"Fa", 2027, 1, false}, {"Ju", 2027, 1, false}}},
	}
	for _, tc := range tables {
		t.Run(tc.name, func(t *testing.T) {
			if got := rows(tc.got); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	compositions := []struct {
		name string
		got  membership.Composition
		want [5]string // total, seats, groups, regions, genders
	}{
		{"continuing", p.Composition, [5]string{"3",
			"stakeholder_group=2 chair=1 ex_officio=0 observer=0",
			"government=0 private_sector=1 civil_society=0 technical_community=1 =1",
			"african=0 asia_pacific=1 eastern_european=0 latin_american_caribbean=1 western_european_others=1",
			"female=1 male=2 other=0 undisclosed=0"}},
		{"next", p.Next, [5]string{"5",
			"stakeholder_group=4 chair=1 ex_officio=0 observer=0",
			"government=0 private_sector=1 civil_society=2 technical_community=1 =1",
			"african=1 asia_pacific=1 eastern_european=0 latin_american_caribbean=2 western_european_others=1",
			"female=3 male=2 other=0 undisclosed=0"}},
	}
	for _, tc := range compositions {
		t.Run("composition/"+tc.name, func(t *testing.T) {
			got := [5]string{fmt.Sprint(tc.got.Total), counts(tc.got.SeatKind), counts(tc.got.StakeholderGroup), counts(tc.got.Region), counts(tc.got.Gender)}
			if got != tc.want {
				t.Fatalf("\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestRotationPlanErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		actor nomination.Actor
		body  string
		year  int
		code  string
	}{
		{"not staff", reviewer, "mag", 2027, nomination.EFORBIDDEN},
		{"unknown body", staff, "board", 2027, nomination.ENOTFOUND},
		{"year out of range", staff, "mag", 27, nomination.EINVALID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.RotationPlan(context.Background(), tc.actor, tc.body, tc.year)
			mustCode(t, err, tc.code)
		})
	}
	p, err := f.svc.RotationPlan(context.Background(), staff, "lp", 2027)
	if err != nil || p.Composition.Total != 0 || len(p.Continuing) != 0 || p.Terms.Years != 2 {
		t.Fatalf("empty body: %+v %v", p, err)
	}
}

func TestRoster(t *testing.T) {
	f := newFixture(t)
	seedMAG(t, f)
	r, err := f.svc.Roster(context.Background(), staff, "mag", day(2026, 3, 1))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range r {
		got = append(got, fmt.Sprintf("%s:%s:%d", e.Name, e.SeatKind, e.ConsecutiveTerms))
	}
	// Stakeholder seats first, by group key then name; then the chair.
	// Di's 2027 term is not counted: it starts after the current one ends.
	want := []string{"Ana:stakeholder_group:3", "Bo:stakeholder_group:2", "Ed:stakeholder_group:1",
		"Cy:stakeholder_group:2", "Io:stakeholder_group:1", "Di:stakeholder_group:1", "Gu:chair:3"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("roster\n got %v\nwant %v", got, want)
	}
	if cells := r[0].Cells(); len(cells) != len(membership.RosterColumns) || cells[9] != "2026-01-01" {
		t.Fatalf("cells %v", cells)
	}
}
