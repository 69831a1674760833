package membership

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/workflow"
)

// Plan is the rotation of a body into a year: who of the body as it stands
// at the end of the previous year continues, whose term ends and who must
// leave because they reached the consecutive-term limit; who joins; and the
// composition of the continuing members (and of the body in the new year,
// as far as it is recorded).
type Plan struct {
	Body  string
	Year  int
	Terms workflow.TermRules
	// From is the first day of Year; the body "at the end of the previous
	// year" is everyone holding a term on the day before.
	From time.Time
	// Continuing hold a term on From and held one the day before: a
	// multi-year term running on, or a renewal already recorded.
	Continuing []PlanEntry
	// Ending held a term the day before From, hold none on From, and may
	// serve again: renominate or renew them, or let them go.
	Ending []PlanEntry
	// LimitReached are the Ending members who served the maximum number of
	// consecutive terms: they rotate out.
	LimitReached []PlanEntry
	// Joining hold a term on From but none the day before: new members, or
	// members returning after a gap.
	Joining []PlanEntry
	// Composition counts the Continuing members; Next counts Continuing
	// and Joining: the body on From as recorded so far.
	Composition Composition
	Next        Composition
}

// PlanEntry is one member in a plan, with the term that places them there.
type PlanEntry struct {
	MemberID         string
	Name             string
	Email            string
	SeatKind         string
	StakeholderGroup string
	Region           string
	Gender           string
	Organization     string
	TermID           string
	TermStart        time.Time
	TermEnd          time.Time
	// ConsecutiveTerms counts the run of terms through TermEnd.
	ConsecutiveTerms int
	// FinalTerm is set when the term is the last the limit allows in a
	// row: the member cannot be renewed after it.
	FinalTerm bool
}

// Composition counts members by seat kind, stakeholder group, region and
// gender. Every value the body's form offers is listed, held or not, in
// form order; values outside it (imported data, "" for none given) follow.
type Composition struct {
	Total            int
	SeatKind         []Count
	StakeholderGroup []Count
	Region           []Count
	Gender           []Count
}

// Count is how many members hold one value.
type Count struct {
	Value string
	Count int
}

// RotationPlan returns the plan of body for year. Errors: EFORBIDDEN unless
// staff, ENOTFOUND for an unknown body, EINVALID for a year out of range.
func (s *Service) RotationPlan(ctx context.Context, actor nomination.Actor, body string, year int) (Plan, error) {
	if err := requireStaff(actor); err != nil {
		return Plan{}, err
	}
	b, err := s.body(body)
	if err != nil {
		return Plan{}, err
	}
	if year < 1990 || year > 2200 {
		return Plan{}, nomination.Invalid(nomination.Problem("year", "AYear", "a year such as 2027"))
	}
	ms, err := s.members(ctx, MemberQuery{Body: b.ID})
	if err != nil {
		return Plan{}, err
	}
	return plan(b, ms, year), nil
}

// plan computes the rotation of members (each with all its terms) into
// year under b's rules.
func plan(b Body, members []Member, year int) Plan {
	from := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
	eve := prevDay(from)
	p := Plan{Body: b.ID, Year: year, Terms: b.Terms, From: from,
		Continuing: []PlanEntry{}, Ending: []PlanEntry{}, LimitReached: []PlanEntry{}, Joining: []PlanEntry{}}
	limit := b.Terms.MaxConsecutive
	for _, m := range members {
		before, wasIn := m.ActiveTerm(eve)
		now, isIn := m.ActiveTerm(from)
		switch {
		case wasIn && isIn:
			e := entry(m, now)
			e.ConsecutiveTerms = consecutive(m.Terms, nextDay(now.End))
			e.FinalTerm = limit > 0 && now.SeatKind == SeatStakeholder && e.ConsecutiveTerms >= limit
			p.Continuing = append(p.Continuing, e)
		case wasIn:
			e := entry(m, before)
			e.ConsecutiveTerms = consecutive(m.Terms, from)
			e.FinalTerm = limit > 0 && before.SeatKind == SeatStakeholder && e.ConsecutiveTerms >= limit
			if e.FinalTerm {
				p.LimitReached = append(p.LimitReached, e)
			} else {
				p.Ending = append(p.Ending, e)
			}
		case isIn:
			e := entry(m, now)
			e.ConsecutiveTerms = consecutive(m.Terms, nextDay(now.End))
			e.FinalTerm = limit > 0 && now.SeatKind == SeatStakeholder && e.ConsecutiveTerms >= limit
			p.Joining = append(p.Joining, e)
		}
	}
	for _, list := range [][]PlanEntry{p.Continuing, p.Ending, p.LimitReached, p.Joining} {
		slices.SortFunc(list, func(a, b PlanEntry) int {
			if c := strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)); c != 0 {
				return c
			}
			return strings.Compare(a.MemberID, b.MemberID)
		})
	}
	p.Composition = compose(b, p.Continuing)
	p.Next = compose(b, append(slices.Clip(p.Continuing), p.Joining...))
	return p
}

// entry describes member m placed by term t; the seat is the term's.
func entry(m Member, t Term) PlanEntry {
	return PlanEntry{MemberID: m.ID, Name: m.Name, Email: m.Email, SeatKind: t.SeatKind, StakeholderGroup: t.StakeholderGroup,
		Region: m.Region, Gender: m.Gender, Organization: m.Organization, TermID: t.ID, TermStart: t.Start, TermEnd: t.End}
}

// compose counts entries for body b.
func compose(b Body, entries []PlanEntry) Composition {
	c := Composition{Total: len(entries)}
	c.SeatKind = tally(SeatKinds, entries, func(e PlanEntry) string { return e.SeatKind })
	c.StakeholderGroup = tally(b.Groups, entries, func(e PlanEntry) string { return e.StakeholderGroup })
	c.Region = tally(b.Regions, entries, func(e PlanEntry) string { return e.Region })
	c.Gender = tally(b.Genders, entries, func(e PlanEntry) string { return e.Gender })
	return c
}

// tally counts value(e) over entries: every choice first, in order, then
// values outside the choices in order of appearance.
func tally(choices []string, entries []PlanEntry, value func(PlanEntry) string) []Count {
	out := make([]Count, 0, len(choices))
	for _, c := range choices {
		out = append(out, Count{Value: c})
	}
	for _, e := range entries {
		v := value(e)
		i := slices.IndexFunc(out, func(c Count) bool { return c.Value == v })
		if i < 0 {
			out = append(out, Count{Value: v})
			i = len(out) - 1
		}
		out[i].Count++
	}
	return out
}
