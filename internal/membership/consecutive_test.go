package membership

import (
	"fmt"
	"testing"
	"time"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// years returns one calendar-year term per year given.
func years(ys ...int) []Term {
	var out []Term
	for _, y := range ys {
		out = append(out, Term{ID: fmt.Sprint(y), Start: day(y, 1, 1), End: day(y, 12, 31)})
	}
	return out
}

func TestConsecutive(t *testing.T) {
	tests := []struct {
		name  string
		terms []Term
		asOf  time.Time
		want  int
	}{
		{"none", nil, day(2027, 1, 1), 0},
		{"three in a row reach the next year", years(2024, 2025, 2026), day(2027, 1, 1), 3},
		{"order of the input does not matter", years(2026, 2024, 2025), day(2027, 1, 1), 3},
		{"a gap year resets", years(2023, 2024, 2026), day(2027, 1, 1), 1},
		{"a gap just before asOf gives none", years(2024, 2025), day(2027, 1, 1), 0},
		{"four in a row", years(2023, 2024, 2025, 2026), day(2027, 1, 1), 4},
		{"a term starting on asOf is not counted", years(2025, 2026, 2027), day(2027, 1, 1), 2},
		{"a later term is not counted", years(2025, 2026, 2028), day(2027, 1, 1), 2},
		{"the term running on asOf counts", years(2025, 2026), day(2026, 6, 1), 2},
		{"asOf as a time of day counts the day", years(2026), time.Date(2027, 1, 1, 23, 59, 0, 0, time.UTC), 1},
		{"two-year terms", []Term{
			{ID: "a", Start: day(2023, 1, 1), End: day(2024, 12, 31)},
			{ID: "b", Start: day(2025, 1, 1), End: day(2026, 12, 31)}}, day(2027, 1, 1), 2},
		{"a term ended early leaves a gap", []Term{
			{ID: "a", Start: day(2024, 1, 1), End: day(2024, 12, 31)},
			{ID: "b", Start: day(2025, 1, 1), End: day(2025, 6, 30)},
			{ID: "c", Start: day(2026, 1, 1), End: day(2026, 12, 31)}}, day(2027, 1, 1), 1},
		{"mid-year terms back to back", []Term{
			{ID: "a", Start: day(2024, 7, 1), End: day(2025, 6, 30)},
			{ID: "b", Start: day(2025, 7, 1), End: day(2026, 6, 30)}}, day(2026, 7, 1), 2},
		{"a one-day gap breaks the run", []Term{
			{ID: "a", Start: day(2024, 1, 1), End: day(2024, 12, 30)},
			{ID: "b", Start: day(2025, 1, 1), End: day(2025, 12, 31)}}, day(2026, 1, 1), 1},
		{"a term within another adds nothing", []Term{
			{ID: "a", Start: day(2024, 1, 1), End: day(2025, 12, 31)},
			{ID: "b", Start: day(2025, 1, 1), End: day(2025, 12, 31)}}, day(2026, 1, 1), 1},
		{"an inverted term is ignored", []Term{{ID: "a", Start: day(2026, 1, 1), End: day(2025, 1, 1)}}, day(2027, 1, 1), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := consecutive(tc.terms, tc.asOf); got != tc.want {
				t.Fatalf("consecutive = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestTermEnd(t *testing.T) {
	tests := []struct {
		name  string
		start time.Time
		years int
		want  time.Time
	}{
		{"calendar year", day(2026, 1, 1), 1, day(2026, 12, 31)},
		{"two years", day(2025, 1, 1), 2, day(2026, 12, 31)},
		{"mid-year", day(2025, 7, 1), 1, day(2026, 6, 30)},
		{"a time of day is dropped", time.Date(2026, 1, 1, 15, 0, 0, 0, time.UTC), 1, day(2026, 12, 31)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := TermEnd(tc.start, tc.years); !got.Equal(tc.want) {
				t.Fatalf("TermEnd = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-01-01", day(2026, 1, 1), true},
		{"2026-12-31T23:00:00-02:00", day(2027, 1, 1), true},
		{"2026-13-01", time.Time{}, false},
		{"01/02/2026", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := ParseDate(tc.in)
			if ok != tc.ok || !got.Equal(tc.want) {
				t.Fatalf("ParseDate(%q) = %s, %v; want %s, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}
