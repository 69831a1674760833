package membership

import (
	"context"
	"slices"
	"strings"
	"time"
)

// ConsecutiveTerms returns how many terms the person with email has served
// on body back to back up to asOf: the count consecutive gives over the
// person's terms. It satisfies nomination.Terms, so workflow guards see it
// as consecutive_terms. An unknown person has 0. It reads the member by its
// derived id: two lookups, whatever the number of members. Errors: the
// store's.
func (s *Service) ConsecutiveTerms(ctx context.Context, body, email string, asOf time.Time) (int, error) {
	if strings.TrimSpace(email) == "" || body == "" {
		return 0, nil
	}
	m, err := s.load(ctx, MemberID(body, email))
	if err != nil {
		return 0, err
	}
	return consecutive(m.Terms, asOf), nil
}

// consecutive counts the run of back-to-back terms that reaches asOf:
//
//   - only terms starting before asOf's day count (a term starting that day
//     or later is the one being decided on, or a later one);
//   - the run ends with the term ending last; it reaches asOf when that
//     term ends on the day before asOf or later (it is served up to asOf,
//     or still running) — otherwise the count is 0;
//   - going back, a term joins the run when it ends no earlier than the
//     day before the run's first day: a gap of even one day breaks the run.
//
// So with calendar-year MAG terms, 2024, 2025 and 2026 give 3 at
// 2027-01-01; 2023, 2024 and 2026 give 1 (2025 was a gap); 2024 and 2025
// give 0 at 2027-01-01 (2026 was a gap). A term the secretariat ended early
// ends the run where it stopped. A term lying within the run (overlapping
// data) adds nothing.
func consecutive(terms []Term, asOf time.Time) int {
	day := Day(asOf)
	var ts []Term
	for _, t := range terms {
		if t.Start.Before(day) && !t.End.Before(t.Start) {
			ts = append(ts, t)
		}
	}
	if len(ts) == 0 {
		return 0
	}
	// Latest end first; among equal ends the earliest start, so the run
	// is anchored on the longest of them.
	slices.SortFunc(ts, func(a, b Term) int {
		if c := b.End.Compare(a.End); c != 0 {
			return c
		}
		return a.Start.Compare(b.Start)
	})
	last := ts[0]
	if last.End.Before(prevDay(day)) {
		return 0
	}
	count, first := 1, last.Start
	for _, t := range ts[1:] {
		if !t.Start.Before(first) {
			continue // within the run already counted
		}
		if t.End.Before(prevDay(first)) {
			break // a gap: earlier terms are another run
		}
		count++
		first = t.Start
	}
	return count
}
