package membership

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/phrase"
)

// RosterEntry is one member of a body on a day, with the term they serve.
type RosterEntry struct {
	MemberID         string
	Name             string
	Email            string
	SeatKind         string
	StakeholderGroup string
	Region           string
	Gender           string
	Nationality      string
	Organization     string
	TermID           string
	TermStart        time.Time
	TermEnd          time.Time
	Source           string
	// ConsecutiveTerms counts the run of terms through the current one.
	ConsecutiveTerms int
}

// RosterColumns are the column headings of a roster file, said in the
// reader's language, in the order RosterEntry.Cells gives the values.
var RosterColumns = []phrase.Text{
	phrase.New("RosterColMemberID", "Member ID"),
	phrase.New("RosterColName", "Name"),
	phrase.New("RosterColEmail", "Email"),
	phrase.New("RosterColSeat", "Seat"),
	phrase.New("RosterColStakeholderGroup", "Stakeholder group"),
	phrase.New("RosterColRegion", "Region"),
	phrase.New("RosterColGender", "Gender"),
	phrase.New("RosterColNationality", "Nationality"),
	phrase.New("RosterColOrganisation", "Organisation"),
	phrase.New("RosterColTermStart", "Term start"),
	phrase.New("RosterColTermEnd", "Term end"),
	phrase.New("RosterColConsecutive", "Consecutive terms"),
	phrase.New("RosterColSource", "Source"),
}

// RosterSheet names the worksheet of a roster file, said in the reader's
// language.
var RosterSheet = phrase.New("RosterSheet", "Roster")

// RosterKeys are the stable machine keys of RosterColumns, in the same
// order and the same in every language: the field names of the JSON roster.
var RosterKeys = []string{"member_id", "name", "email", "seat_kind", "stakeholder_group", "region", "gender",
	"nationality", "organization", "term_start", "term_end", "consecutive_terms", "source"}

// Cells returns the entry's values as text, in RosterColumns order; dates
// as 2026-01-01.
func (e RosterEntry) Cells() []string {
	return []string{e.MemberID, e.Name, e.Email, e.SeatKind, e.StakeholderGroup, e.Region, e.Gender, e.Nationality,
		e.Organization, e.TermStart.Format(DateLayout), e.TermEnd.Format(DateLayout), strconv.Itoa(e.ConsecutiveTerms), e.Source}
}

// Roster returns the members of body serving on day on, ordered by seat
// kind (SeatKinds order), stakeholder group, then name. Errors: EFORBIDDEN
// unless staff, ENOTFOUND for an unknown body.
func (s *Service) Roster(ctx context.Context, actor nomination.Actor, body string, on time.Time) ([]RosterEntry, error) {
	if err := requireStaff(actor); err != nil {
		return nil, err
	}
	b, err := s.body(body)
	if err != nil {
		return nil, err
	}
	on = Day(on)
	ms, err := s.members(ctx, MemberQuery{Body: b.ID, ActiveOn: on})
	if err != nil {
		return nil, err
	}
	out := make([]RosterEntry, 0, len(ms))
	for _, m := range ms {
		t, ok := m.ActiveTerm(on)
		if !ok {
			continue
		}
		out = append(out, RosterEntry{MemberID: m.ID, Name: m.Name, Email: m.Email, SeatKind: t.SeatKind,
			StakeholderGroup: t.StakeholderGroup, Region: m.Region, Gender: m.Gender, Nationality: m.Nationality,
			Organization: m.Organization, TermID: t.ID, TermStart: t.Start, TermEnd: t.End, Source: t.Source,
			ConsecutiveTerms: consecutive(m.Terms, nextDay(t.End))})
	}
	rank := func(kind string) int {
		if i := slices.Index(SeatKinds, kind); i >= 0 {
			return i
		}
		return len(SeatKinds)
	}
	slices.SortStableFunc(out, func(a, b RosterEntry) int {
		if c := rank(a.SeatKind) - rank(b.SeatKind); c != 0 {
			return c
		}
		if c := strings.Compare(a.StakeholderGroup, b.StakeholderGroup); c != 0 {
			return c
		}
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	return out, nil
}
