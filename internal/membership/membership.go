// Package membership owns the bodies nominations feed (the MAG, the
// Leadership Panel): their members, the members' terms, the term limits the
// workflow files set, eligibility (consecutive terms), the yearly rotation
// plan, the import of past members from CSV and the roster. It declares the
// Store it needs; mongostore implements it.
//
// A person is one member per body, keyed by an id derived from body and
// email. Every change of a member is an entry of the member's ledger, and
// inserting the next entry is the commit point: on the embedded store only
// unique inserts are atomic (DESIGN §3). The member with its terms is kept
// as a projection of the ledger, caught up by whoever finds it behind.
//
// Dates are calendar days: a term runs from Start to End, both days
// included, each held as midnight UTC. A MAG term of 2026 is 2026-01-01 to
// 2026-12-31.
package membership

import (
	"context"
	"slices"
	"time"

	"github.com/igf/nomina/internal/workflow"
)

// Seat kinds: how a member sits on a body.
const (
	// SeatStakeholder is a seat held for a stakeholder group (the MAG's
	// and the Leadership Panel's appointed members).
	SeatStakeholder = "stakeholder_group"
	// SeatChair is the chair of the body (the MAG Chair).
	SeatChair = "chair"
	// SeatExOfficio is a seat held by office (the Tech Envoy, host
	// countries on the Leadership Panel).
	SeatExOfficio = "ex_officio"
	// SeatObserver is a non-voting seat (intergovernmental organisations
	// at the MAG).
	SeatObserver = "observer"
)

// SeatKinds lists the seat kinds in the order reports show them.
var SeatKinds = []string{SeatStakeholder, SeatChair, SeatExOfficio, SeatObserver}

// Term sources: where a term came from.
const (
	// SourceNominationPrefix starts the source of a term an appointment
	// created: "nomination:<nomination id>".
	SourceNominationPrefix = "nomination:"
	// SourceSecretariat marks a term the secretariat recorded or renewed.
	SourceSecretariat = "secretariat"
	// SourceImport marks a term imported from a CSV file of past members.
	SourceImport = "import"
)

// Body is a membership body and the term rules its workflow file sets.
type Body struct {
	// ID is the body's key as workflow files name it: "mag", "lp".
	ID string
	// Title is the title of the workflow that feeds it, for reports.
	Title string
	// Workflows lists the ids of the workflows feeding the body.
	Workflows []string
	Terms     workflow.TermRules
	// Groups, Regions and Genders are the choices of the workflow's
	// stakeholder_group, region and gender fields; nil when the form has
	// no such field (any value is then accepted).
	Groups, Regions, Genders []string
}

// Member is one person's membership of one body: who they are, the seat
// they hold now and every term they served or serve. A person (keyed by
// email) has at most one Member per body.
type Member struct {
	ID   string
	Body string
	// Email is the person's key, in lower case.
	Email        string
	Name         string
	Gender       string
	Nationality  string
	Region       string
	Organization string
	// SeatKind and StakeholderGroup are those of the latest term (of the
	// profile while there is none).
	SeatKind         string
	StakeholderGroup string
	// ProfileAsOf is the start of the term whose appointment last wrote
	// the profile: an older appointment, replayed or imported late, does
	// not overwrite a newer profile.
	ProfileAsOf time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
	CreatedBy   string
	// Terms are the member's terms in start order.
	Terms []Term
	// Seq is the number of the last ledger entry folded in.
	Seq int
}

// Term is one period of membership, Start to End inclusive.
type Term struct {
	ID       string
	MemberID string
	Body     string
	Email    string
	Start    time.Time
	End      time.Time
	// Source is "nomination:<id>", "secretariat" or "import".
	Source string
	// RenewalOf is the id of the term this one renews, if any.
	RenewalOf string
	// SeatKind and StakeholderGroup are the seat held during the term.
	SeatKind         string
	StakeholderGroup string
	CreatedAt        time.Time
	CreatedBy        string
	// EndedAt, EndedBy and EndReason record a term the secretariat ended
	// before its planned end (End then holds the new last day).
	EndedAt   time.Time
	EndedBy   string
	EndReason string
}

// NominationID returns the nomination that created the term, or "".
func (t Term) NominationID() string {
	if len(t.Source) > len(SourceNominationPrefix) && t.Source[:len(SourceNominationPrefix)] == SourceNominationPrefix {
		return t.Source[len(SourceNominationPrefix):]
	}
	return ""
}

// ActiveOn reports whether the term covers day d.
func (t Term) ActiveOn(d time.Time) bool {
	d = Day(d)
	return !d.Before(t.Start) && !d.After(t.End)
}

// ActiveTerm returns the member's term covering day d, and whether there
// is one.
func (m Member) ActiveTerm(d time.Time) (Term, bool) {
	for _, t := range m.Terms {
		if t.ActiveOn(d) {
			return t, true
		}
	}
	return Term{}, false
}

// term returns the member's term with id.
func (m Member) term(id string) (Term, bool) {
	for _, t := range m.Terms {
		if t.ID == id {
			return t, true
		}
	}
	return Term{}, false
}

// Change is one committed change of a member, an entry of the member's
// ledger: Seq numbers them from 1 without gaps, and inserting seq n+1 is
// the commit point of every change (DESIGN §3). A change may set the
// profile, add a term and end a term; the Member is the fold of its
// changes (Fold).
type Change struct {
	MemberID string
	Seq      int
	At       time.Time
	// Actor is the user id, or "nomination:<id>" for an appointment.
	Actor string
	// Type says what happened: ChangeAppointed, ChangeRecorded, ...
	Type string
	Body string
	// Profile, when set, is the member's profile as of AsOf; an older
	// profile than the member's is not applied.
	Profile *ProfileChange
	// Term, when set, is a term added.
	Term *Term
	// Ending, when set, ends a term early.
	Ending *Ending
}

// Change types.
const (
	ChangeAppointed = "appointed"    // an appointment from a nomination
	ChangeRecorded  = "recorded"     // the secretariat recorded the member
	ChangeTermAdded = "term_added"   // the secretariat added a term
	ChangeRenewed   = "term_renewed" // the secretariat renewed a term
	ChangeTermEnded = "term_ended"   // the secretariat ended a term early
	ChangeImported  = "imported"     // a row of an import file
)

// ProfileChange is a profile and the day it holds from: the start of the
// term whose appointment gave it.
type ProfileChange struct {
	Profile
	AsOf time.Time
}

// Ending ends term TermID on End (the last day served).
type Ending struct {
	TermID string
	End    time.Time
	Reason string
}

// Fold applies change c to m, which must hold the changes before c.Seq:
// the profile (unless older than the member's), the term added (kept in
// start order), the ending; the member's seat is that of its latest term.
func Fold(m *Member, c Change) {
	if m.Seq == 0 {
		m.ID, m.Body, m.CreatedAt, m.CreatedBy = c.MemberID, c.Body, c.At, c.Actor
	}
	if p := c.Profile; p != nil && (m.Seq == 0 || !p.AsOf.Before(m.ProfileAsOf)) {
		m.Email, m.Name, m.Gender, m.Nationality, m.Region, m.Organization = p.Email, p.Name, p.Gender, p.Nationality, p.Region, p.Organization
		m.SeatKind, m.StakeholderGroup, m.ProfileAsOf = p.SeatKind, p.StakeholderGroup, p.AsOf
	}
	if c.Term != nil {
		m.Terms = append(m.Terms, *c.Term)
		slices.SortStableFunc(m.Terms, func(a, b Term) int { return a.Start.Compare(b.Start) })
	}
	if e := c.Ending; e != nil {
		for i := range m.Terms {
			if m.Terms[i].ID == e.TermID {
				m.Terms[i].End, m.Terms[i].EndedAt, m.Terms[i].EndedBy, m.Terms[i].EndReason = e.End, c.At, c.Actor, e.Reason
			}
		}
	}
	if n := len(m.Terms); n > 0 {
		m.SeatKind, m.StakeholderGroup = m.Terms[n-1].SeatKind, m.Terms[n-1].StakeholderGroup
	}
	m.Seq, m.UpdatedAt = c.Seq, c.At
}

// MemberFilter selects members. Empty fields do not filter.
type MemberFilter struct {
	Body  string
	Limit int
}

// Store keeps the members' ledgers and their projections. Implementations
// return *nomination.Error codes: ENOTFOUND for a missing record, ECONFLICT
// for a taken ledger entry, EUNAVAILABLE when the store does not answer.
type Store interface {
	// AppendChange inserts c under the unique key (member, seq): the
	// commit point of every change. ECONFLICT means another writer
	// committed that seq first.
	AppendChange(ctx context.Context, c Change) error
	// Change returns one ledger entry; ENOTFOUND when it does not exist
	// (yet).
	Change(ctx context.Context, memberID string, seq int) (Change, error)
	// PutMember writes the projection (the member with its terms, as of
	// m.Seq) unless a newer one is stored.
	PutMember(ctx context.Context, m Member) error
	// GetMember returns the stored projection, possibly behind its
	// ledger (the Service catches it up); ENOTFOUND when none.
	GetMember(ctx context.Context, id string) (Member, error)
	// ListMembers returns the projections f selects, ordered by id.
	ListMembers(ctx context.Context, f MemberFilter) ([]Member, error)
}

// Day returns the calendar day of t (in UTC) as midnight UTC.
func Day(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// DateLayout is how dates are written: 2026-01-01.
const DateLayout = "2006-01-02"

// ParseDate reads a day written as 2026-01-01, or an RFC 3339 time (whose
// UTC day is taken). It returns the day at midnight UTC and false when s is
// neither.
func ParseDate(s string) (time.Time, bool) {
	if t, err := time.Parse(DateLayout, s); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return Day(t), true
	}
	return time.Time{}, false
}

// TermEnd returns the last day of a term of years years starting on start:
// the day before the same date years later (2026-01-01 → 2026-12-31).
func TermEnd(start time.Time, years int) time.Time {
	return Day(start).AddDate(years, 0, -1)
}

// nextDay and prevDay step one calendar day.
func nextDay(d time.Time) time.Time { return d.AddDate(0, 0, 1) }
func prevDay(d time.Time) time.Time { return d.AddDate(0, 0, -1) }
