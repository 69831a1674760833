// Package membership owns the bodies nominations feed (the MAG, the
// Leadership Panel): their members, the members' terms, the term limits the
// workflow files set, eligibility (consecutive terms), the yearly rotation
// plan, the import of past members from CSV and the roster. It declares the
// Store it needs; mongostore implements it.
//
// Dates are calendar days: a term runs from Start to End, both days
// included, each held as midnight UTC. A MAG term of 2026 is 2026-01-01 to
// 2026-12-31.
package membership

import (
	"context"
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
	// SeatKind and StakeholderGroup are those of the latest term.
	SeatKind         string
	StakeholderGroup string
	// ProfileAsOf is the start of the term whose appointment last wrote
	// the profile: an older appointment, replayed, does not overwrite a
	// newer profile.
	ProfileAsOf time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
	CreatedBy   string
	// Terms are the member's terms by start date; filled by the Service,
	// not stored with the member.
	Terms []Term
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

// MemberFilter selects members. Empty strings and nil lists do not
// filter; an empty, non-nil list matches nothing.
type MemberFilter struct {
	Body   string
	IDs    []string
	Emails []string
	Limit  int
}

// TermFilter selects terms. Empty strings, zero times and nil lists do not
// filter; an empty, non-nil list matches nothing.
type TermFilter struct {
	Body      string
	Emails    []string
	MemberIDs []string
	// ActiveOn selects the terms covering that day.
	ActiveOn time.Time
	// EndsFrom selects the terms ending on or after that day.
	EndsFrom time.Time
}

// Store keeps members and terms. Implementations return
// *nomination.Error codes: ENOTFOUND for a missing record, ECONFLICT for a
// taken key (a member id; a term id, or a second term of one member
// starting on the same day), EUNAVAILABLE when the store does not answer.
type Store interface {
	// CreateMember inserts m; ECONFLICT when its id is taken. The insert is
	// the commit point: a member id is derived from body and email, so two
	// writers racing for one person create one member.
	CreateMember(ctx context.Context, m Member) error
	// GetMember returns one member without terms; ENOTFOUND when none.
	GetMember(ctx context.Context, id string) (Member, error)
	// PutMember rewrites a member's profile by id; ENOTFOUND when none.
	PutMember(ctx context.Context, m Member) error
	// ListMembers returns members matching f, ordered by id, without terms.
	ListMembers(ctx context.Context, f MemberFilter) ([]Member, error)

	// CreateTerm inserts t; ECONFLICT when its id is taken or the member
	// has a term starting the same day. The insert is the commit point.
	CreateTerm(ctx context.Context, t Term) error
	// GetTerm returns one term; ENOTFOUND when none.
	GetTerm(ctx context.Context, id string) (Term, error)
	// PutTerm rewrites a term by id; ENOTFOUND when none.
	PutTerm(ctx context.Context, t Term) error
	// ListTerms returns terms matching f, ordered by start then id.
	ListTerms(ctx context.Context, f TermFilter) ([]Term, error)
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
