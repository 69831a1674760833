package membership

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/workflow"
)

// Config gathers the Service's dependencies.
type Config struct {
	Store Store
	// Workflows gives the bodies and their term rules (BodiesFrom).
	Workflows *workflow.Registry
	Now       func() time.Time
	Logger    *slog.Logger
}

// Service keeps members and terms. Every creation commits with the insert of
// an id derived from what it records (a member from body and email, a term
// from its nomination or from its member and start), so a retried request
// or a replayed event creates nothing twice, even on a store whose
// conditional updates are not atomic.
type Service struct {
	store  Store
	bodies []Body
	now    func() time.Time
	log    *slog.Logger
}

var (
	_ nomination.Terms   = (*Service)(nil)
	_ nomination.Members = (*Service)(nil)
)

// New returns a Service over cfg.Store for the bodies the workflows feed.
// It returns the error of BodiesFrom when two workflows disagree on a
// body's term rules.
func New(cfg Config) (*Service, error) {
	bodies, err := BodiesFrom(cfg.Workflows)
	if err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{store: cfg.Store, bodies: bodies, now: cfg.Now, log: cfg.Logger}, nil
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// MemberID returns the id of the member email is (or would be) on body:
// derived from both, so that whoever records the person first creates the
// member and everyone else finds it.
func MemberID(body, email string) string {
	sum := sha256.Sum256([]byte(body + "\x00" + strings.ToLower(strings.TrimSpace(email))))
	return body + "-" + idEncoding.EncodeToString(sum[:10])
}

// NominationTermID returns the id of the term an appointment from
// nomination creates: one nomination grants at most one term.
func NominationTermID(nominationID string) string { return "nom-" + nominationID }

// datedTermID is the id of a term recorded by the secretariat or imported:
// a member has at most one term starting on a given day.
func datedTermID(memberID string, start time.Time) string {
	return memberID + "-" + start.Format("20060102")
}

func requireStaff(actor nomination.Actor) error {
	if !actor.IsStaff() {
		return nomination.Errorf(nomination.EFORBIDDEN, "only the secretariat manages members")
	}
	return nil
}

func isCode(err error, code string) bool { return nomination.ErrorCode(err) == code }

// GetMember returns a member with all its terms. Errors: EFORBIDDEN unless
// staff, ENOTFOUND.
func (s *Service) GetMember(ctx context.Context, actor nomination.Actor, id string) (Member, error) {
	if err := requireStaff(actor); err != nil {
		return Member{}, err
	}
	m, err := s.store.GetMember(ctx, id)
	if err != nil {
		if isCode(err, nomination.ENOTFOUND) {
			return Member{}, nomination.Errorf(nomination.ENOTFOUND, "no member %q", id)
		}
		return Member{}, err
	}
	m.Terms, err = s.store.ListTerms(ctx, TermFilter{MemberIDs: []string{id}})
	return m, err
}

// MemberQuery selects members: of one body (all when empty) and, when
// ActiveOn is set, only those holding a term that day.
type MemberQuery struct {
	Body     string
	ActiveOn time.Time
}

// MaxMembers bounds one listing.
const MaxMembers = 5000

// ListMembers returns the members q selects, each with all its terms,
// ordered by name then id. Errors: EFORBIDDEN unless staff, ENOTFOUND for a
// body no workflow feeds.
func (s *Service) ListMembers(ctx context.Context, actor nomination.Actor, q MemberQuery) ([]Member, error) {
	if err := requireStaff(actor); err != nil {
		return nil, err
	}
	if q.Body != "" {
		if _, err := s.body(q.Body); err != nil {
			return nil, err
		}
	}
	return s.members(ctx, q)
}

func (s *Service) members(ctx context.Context, q MemberQuery) ([]Member, error) {
	var ids []string
	if !q.ActiveOn.IsZero() {
		active, err := s.store.ListTerms(ctx, TermFilter{Body: q.Body, ActiveOn: Day(q.ActiveOn)})
		if err != nil {
			return nil, err
		}
		if len(active) == 0 {
			return []Member{}, nil
		}
		ids = termMembers(active)
	}
	return s.load(ctx, q.Body, ids)
}

// termMembers returns the member ids of terms, each once.
func termMembers(terms []Term) []string {
	ids := []string{}
	for _, t := range terms {
		if !slices.Contains(ids, t.MemberID) {
			ids = append(ids, t.MemberID)
		}
	}
	return ids
}

// load returns the members of body (any body when "") with all their
// terms, ordered by name then id: those listed in ids, or all when ids is
// nil.
func (s *Service) load(ctx context.Context, body string, ids []string) ([]Member, error) {
	ms, err := s.store.ListMembers(ctx, MemberFilter{Body: body, IDs: ids, Limit: MaxMembers})
	if err != nil {
		return nil, err
	}
	terms, err := s.store.ListTerms(ctx, TermFilter{Body: body, MemberIDs: ids})
	if err != nil {
		return nil, err
	}
	byMember := map[string][]Term{}
	for _, t := range terms {
		byMember[t.MemberID] = append(byMember[t.MemberID], t)
	}
	for i := range ms {
		ms[i].Terms = byMember[ms[i].ID]
	}
	slices.SortFunc(ms, func(a, b Member) int {
		if c := strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return ms, nil
}

// MemberInput is what the secretariat sends to record a member directly
// (an ex officio member, the chair, a member appointed outside a call): the
// person, the seat, and the first term. End zero gives a term of the body's
// length.
type MemberInput struct {
	Body string
	Profile
	Start, End time.Time
}

// RecordMember records a member and its first term. Errors: EFORBIDDEN
// unless staff; ENOTFOUND for an unknown body; EINVALID naming every bad
// field; ECONFLICT when the person is a member of the body already (add a
// term to that member instead).
func (s *Service) RecordMember(ctx context.Context, actor nomination.Actor, in MemberInput) (Member, error) {
	if err := requireStaff(actor); err != nil {
		return Member{}, err
	}
	b, err := s.body(in.Body)
	if err != nil {
		return Member{}, nomination.Invalid("body", fmt.Sprintf("no body %q: one of %s", in.Body, strings.Join(s.bodyIDs(), ", ")))
	}
	p := in.Profile.normalize()
	start, end := Day(in.Start), in.End
	if in.Start.IsZero() {
		start = time.Time{}
	}
	if end.IsZero() && !start.IsZero() {
		end = TermEnd(start, b.Terms.Years)
	}
	if !end.IsZero() {
		end = Day(end)
	}
	fe := append(p.check(b), checkPeriod(start, end, "start", "end")...)
	if len(fe) > 0 {
		return Member{}, &nomination.Error{Code: nomination.EINVALID, Message: "the member is invalid", Fields: fe}
	}
	now := s.clock()
	m := newMember(b.ID, p, start, now, actor.UserID)
	if err := s.store.CreateMember(ctx, m); err != nil {
		if isCode(err, nomination.ECONFLICT) {
			return Member{}, &nomination.Error{Code: nomination.ECONFLICT,
				Message: fmt.Sprintf("%s is a member of %s already (%s): add a term to that member", p.Email, b.ID, m.ID)}
		}
		return Member{}, err
	}
	t := Term{ID: datedTermID(m.ID, start), MemberID: m.ID, Body: b.ID, Email: p.Email, Start: start, End: end,
		Source: SourceSecretariat, SeatKind: p.SeatKind, StakeholderGroup: p.StakeholderGroup, CreatedAt: now, CreatedBy: actor.UserID}
	if err := s.store.CreateTerm(ctx, t); err != nil && !isCode(err, nomination.ECONFLICT) {
		return Member{}, err
	}
	return s.GetMember(ctx, actor, m.ID)
}

func newMember(body string, p Profile, asOf, now time.Time, by string) Member {
	return Member{ID: MemberID(body, p.Email), Body: body, Email: p.Email, Name: p.Name, Gender: p.Gender,
		Nationality: p.Nationality, Region: p.Region, Organization: p.Organization, SeatKind: p.SeatKind,
		StakeholderGroup: p.StakeholderGroup, ProfileAsOf: asOf, CreatedAt: now, UpdatedAt: now, CreatedBy: by}
}

// ensureMember creates m or, when the person is a member already, brings
// the stored profile up to m's when m's is as recent or more (ProfileAsOf),
// so a replayed old appointment leaves a newer profile alone.
func (s *Service) ensureMember(ctx context.Context, m Member) (Member, error) {
	err := s.store.CreateMember(ctx, m)
	if err == nil {
		return m, nil
	}
	if !isCode(err, nomination.ECONFLICT) {
		return Member{}, err
	}
	old, err := s.store.GetMember(ctx, m.ID)
	if err != nil {
		return Member{}, err
	}
	if m.ProfileAsOf.Before(old.ProfileAsOf) || sameProfile(old, m) {
		return old, nil
	}
	m.CreatedAt, m.CreatedBy = old.CreatedAt, old.CreatedBy
	if err := s.store.PutMember(ctx, m); err != nil {
		return Member{}, err
	}
	return m, nil
}

func sameProfile(a, b Member) bool {
	return a.Name == b.Name && a.Gender == b.Gender && a.Nationality == b.Nationality && a.Region == b.Region &&
		a.Organization == b.Organization && a.SeatKind == b.SeatKind && a.StakeholderGroup == b.StakeholderGroup &&
		a.ProfileAsOf.Equal(b.ProfileAsOf)
}

// AppointInput is an appointment the nomination workflow recorded: the
// nominee, the body and the term the call grants. Years zero takes the
// body's term length.
type AppointInput struct {
	NominationID string
	Body         string
	Email        string
	Name         string
	// Fields are the nomination's form answers; stakeholder_group,
	// region, gender, nationality and organization are taken from them.
	Fields    map[string]any
	TermStart time.Time
	Years     int
}

// Appoint records the membership an appointment grants: the member
// (created, or its profile brought up to date) and a term from TermStart of
// Years years, source "nomination:<id>". It is idempotent: the term's id is
// derived from the nomination, so a retried or replayed appointment returns
// the term created the first time. When the person already holds a term
// starting that day (recorded by the secretariat), that term is returned.
// Errors: EINVALID without a nomination id, email, term start or term
// length; ENOTFOUND for a body no workflow feeds; store errors.
func (s *Service) Appoint(ctx context.Context, in AppointInput) (Term, error) {
	b, err := s.body(in.Body)
	if err != nil {
		return Term{}, err
	}
	years := in.Years
	if years <= 0 {
		years = b.Terms.Years
	}
	p := Profile{Email: in.Email, Name: in.Name, SeatKind: SeatStakeholder,
		StakeholderGroup: stringField(in.Fields, "stakeholder_group"), Region: stringField(in.Fields, "region"),
		Gender: stringField(in.Fields, "gender"), Nationality: stringField(in.Fields, "nationality"),
		Organization: stringField(in.Fields, "organization")}.normalize()
	switch {
	case in.NominationID == "":
		return Term{}, nomination.Invalid("nomination_id", "required")
	case p.Email == "":
		return Term{}, nomination.Invalid("email", "the nominee has no email address")
	case in.TermStart.IsZero():
		return Term{}, nomination.Invalid("term_start", "the call sets no term start: set it before recording appointments")
	case years <= 0:
		return Term{}, nomination.Invalid("years", "the body's workflow sets no term length")
	}
	start := Day(in.TermStart)
	source := SourceNominationPrefix + in.NominationID
	now := s.clock()
	m, err := s.ensureMember(ctx, newMember(b.ID, p, start, now, source))
	if err != nil {
		return Term{}, fmt.Errorf("member for nomination %s: %w", in.NominationID, err)
	}
	t := Term{ID: NominationTermID(in.NominationID), MemberID: m.ID, Body: b.ID, Email: p.Email, Start: start,
		End: TermEnd(start, years), Source: source, SeatKind: SeatStakeholder, StakeholderGroup: p.StakeholderGroup,
		CreatedAt: now, CreatedBy: source}
	existing, err := s.store.ListTerms(ctx, TermFilter{MemberIDs: []string{m.ID}})
	if err != nil {
		return Term{}, err
	}
	if prev, ok := endingBefore(existing, start); ok {
		t.RenewalOf = prev.ID
	}
	err = s.store.CreateTerm(ctx, t)
	if err == nil {
		return t, nil
	}
	if !isCode(err, nomination.ECONFLICT) {
		return Term{}, fmt.Errorf("term for nomination %s: %w", in.NominationID, err)
	}
	// Created before (a retry), or the person holds a term starting that
	// day already.
	if got, gerr := s.store.GetTerm(ctx, t.ID); gerr == nil {
		return got, nil
	}
	same, lerr := s.store.ListTerms(ctx, TermFilter{MemberIDs: []string{m.ID}})
	if lerr != nil {
		return Term{}, lerr
	}
	for _, o := range same {
		if o.Start.Equal(start) {
			s.log.Warn("appointment finds a term recorded otherwise", "nomination", in.NominationID, "term", o.ID)
			return o, nil
		}
	}
	return Term{}, fmt.Errorf("term for nomination %s: %w", in.NominationID, err)
}

// AppointFromNomination records the membership nomination n's appointment
// grants on body: Appoint with the nominee, the form's answers, termStart
// and years. It satisfies nomination.Members; see Appoint for the errors.
func (s *Service) AppointFromNomination(ctx context.Context, n *nomination.Nomination, body string, years int, termStart time.Time) error {
	_, err := s.Appoint(ctx, AppointInput{NominationID: n.ID, Body: body, Email: n.Nominee.Email, Name: n.Nominee.Name,
		Fields: n.Fields, TermStart: termStart, Years: years})
	return err
}

// endingBefore returns the term of terms ending the day before start.
func endingBefore(terms []Term, start time.Time) (Term, bool) {
	for _, t := range terms {
		if t.End.Equal(prevDay(start)) {
			return t, true
		}
	}
	return Term{}, false
}

// TermInput is a term the secretariat adds to a member. End zero gives a
// term of the body's length; an empty seat keeps the member's current one.
type TermInput struct {
	Start, End       time.Time
	SeatKind         string
	StakeholderGroup string
}

// CreateTerm adds a term to a member, source "secretariat". Errors:
// EFORBIDDEN unless staff; ENOTFOUND for the member; EINVALID for bad
// dates or seat, or when a stakeholder seat would exceed the body's
// consecutive-term limit; ECONFLICT when the term overlaps another of the
// member's.
func (s *Service) CreateTerm(ctx context.Context, actor nomination.Actor, memberID string, in TermInput) (Term, error) {
	if err := requireStaff(actor); err != nil {
		return Term{}, err
	}
	m, err := s.GetMember(ctx, actor, memberID)
	if err != nil {
		return Term{}, err
	}
	b, err := s.body(m.Body)
	if err != nil {
		return Term{}, err
	}
	p := Profile{Email: m.Email, Name: m.Name, SeatKind: in.SeatKind, StakeholderGroup: in.StakeholderGroup}
	if in.SeatKind == "" {
		p.SeatKind = m.SeatKind
		if in.StakeholderGroup == "" {
			p.StakeholderGroup = m.StakeholderGroup
		}
	}
	p = p.normalize()
	var start, end time.Time
	if !in.Start.IsZero() {
		start = Day(in.Start)
		end = TermEnd(start, b.Terms.Years)
	}
	if !in.End.IsZero() {
		end = Day(in.End)
	}
	var fe []nomination.FieldError
	for _, f := range p.check(b) {
		if f.Field == "seat_kind" || f.Field == "stakeholder_group" {
			fe = append(fe, f)
		}
	}
	fe = append(fe, checkPeriod(start, end, "start", "end")...)
	if len(fe) > 0 {
		return Term{}, &nomination.Error{Code: nomination.EINVALID, Message: "the term is invalid", Fields: fe}
	}
	t := Term{ID: datedTermID(m.ID, start), MemberID: m.ID, Body: m.Body, Email: m.Email, Start: start, End: end,
		Source: SourceSecretariat, SeatKind: p.SeatKind, StakeholderGroup: p.StakeholderGroup,
		CreatedAt: s.clock(), CreatedBy: actor.UserID}
	if prev, ok := endingBefore(m.Terms, start); ok {
		t.RenewalOf = prev.ID
	}
	if err := s.admit(b, m.Terms, t); err != nil {
		return Term{}, err
	}
	if err := s.store.CreateTerm(ctx, t); err != nil {
		if isCode(err, nomination.ECONFLICT) {
			return Term{}, nomination.Errorf(nomination.ECONFLICT, "the member has a term starting on %s", start.Format(DateLayout))
		}
		return Term{}, err
	}
	return t, s.takeSeat(ctx, m, t)
}

// admit checks a new term t against the member's terms: it must overlap
// none (ECONFLICT) and, on a stakeholder seat, stay within the body's limit
// of consecutive terms (EINVALID). Chairs, ex officio members and observers
// sit by office and are not limited.
func (s *Service) admit(b Body, terms []Term, t Term) error {
	for _, o := range terms {
		if !o.End.Before(t.Start) && !o.Start.After(t.End) {
			return nomination.Errorf(nomination.ECONFLICT, "the term %s to %s overlaps term %s (%s to %s)",
				t.Start.Format(DateLayout), t.End.Format(DateLayout), o.ID, o.Start.Format(DateLayout), o.End.Format(DateLayout))
		}
	}
	if t.SeatKind != SeatStakeholder || b.Terms.MaxConsecutive == 0 {
		return nil
	}
	if n := consecutive(terms, t.Start); n >= b.Terms.MaxConsecutive {
		return &nomination.Error{Code: nomination.EINVALID, Message: "the term limit is reached",
			Fields: []nomination.FieldError{{Field: "start", Message: fmt.Sprintf(
				"the member has served %d consecutive terms up to %s; %s allows at most %d in a row",
				n, t.Start.Format(DateLayout), b.ID, b.Terms.MaxConsecutive)}}}
	}
	return nil
}

// takeSeat makes t's seat the member's current one when t is the member's
// latest term.
func (s *Service) takeSeat(ctx context.Context, m Member, t Term) error {
	if t.Start.Before(m.ProfileAsOf) || (m.SeatKind == t.SeatKind && m.StakeholderGroup == t.StakeholderGroup) {
		return nil
	}
	m.SeatKind, m.StakeholderGroup, m.ProfileAsOf, m.UpdatedAt = t.SeatKind, t.StakeholderGroup, t.Start, s.clock()
	m.Terms = nil
	return s.store.PutMember(ctx, m)
}

// EndInput ends a term early: End is the new last day.
type EndInput struct {
	End    time.Time
	Reason string
}

// EndTerm ends a term before its planned end (a resignation, a seat that
// fell vacant). Errors: EFORBIDDEN unless staff; ENOTFOUND; EINVALID when
// the reason is missing or the day is before the start or after the
// current end. Ending a term again with the same day changes nothing.
func (s *Service) EndTerm(ctx context.Context, actor nomination.Actor, termID string, in EndInput) (Term, error) {
	if err := requireStaff(actor); err != nil {
		return Term{}, err
	}
	t, err := s.term(ctx, termID)
	if err != nil {
		return Term{}, err
	}
	reason := strings.TrimSpace(in.Reason)
	var fe []nomination.FieldError
	end := Day(in.End)
	switch {
	case in.End.IsZero():
		fe = append(fe, nomination.FieldError{Field: "end", Message: "required: the last day served, such as 2026-06-30"})
	case end.Before(t.Start):
		fe = append(fe, nomination.FieldError{Field: "end", Message: "must not be before the term's start " + t.Start.Format(DateLayout)})
	case end.After(t.End):
		fe = append(fe, nomination.FieldError{Field: "end", Message: "a term can only be ended early: its end is " + t.End.Format(DateLayout)})
	}
	if reason == "" || len([]rune(reason)) > 500 || !oneLine(reason) {
		fe = append(fe, nomination.FieldError{Field: "reason", Message: "required: 1 to 500 characters on one line"})
	}
	if len(fe) > 0 {
		return Term{}, &nomination.Error{Code: nomination.EINVALID, Message: "the term cannot be ended so", Fields: fe}
	}
	if end.Equal(t.End) && !t.EndedAt.IsZero() {
		return t, nil
	}
	// A rewrite by id: ending is the secretariat correcting a date, and
	// the last correction wins; nothing is counted off it.
	t.End, t.EndedAt, t.EndedBy, t.EndReason = end, s.clock(), actor.UserID, reason
	if err := s.store.PutTerm(ctx, t); err != nil {
		return Term{}, err
	}
	return t, nil
}

// RenewTerm adds to a term's member the next term of the body's length,
// starting the day after it ends, on the same seat. It is idempotent: the
// renewal's id is derived from the member and its start, so renewing twice
// returns the first renewal with created false. Errors: EFORBIDDEN unless
// staff; ENOTFOUND; EINVALID when a stakeholder seat would exceed the
// consecutive-term limit; ECONFLICT when another term overlaps the renewal.
func (s *Service) RenewTerm(ctx context.Context, actor nomination.Actor, termID string) (t Term, created bool, err error) {
	if err := requireStaff(actor); err != nil {
		return Term{}, false, err
	}
	prev, err := s.term(ctx, termID)
	if err != nil {
		return Term{}, false, err
	}
	m, err := s.GetMember(ctx, actor, prev.MemberID)
	if err != nil {
		return Term{}, false, err
	}
	b, err := s.body(m.Body)
	if err != nil {
		return Term{}, false, err
	}
	start := nextDay(prev.End)
	t = Term{ID: datedTermID(m.ID, start), MemberID: m.ID, Body: m.Body, Email: m.Email, Start: start,
		End: TermEnd(start, b.Terms.Years), Source: SourceSecretariat, RenewalOf: prev.ID, SeatKind: prev.SeatKind,
		StakeholderGroup: prev.StakeholderGroup, CreatedAt: s.clock(), CreatedBy: actor.UserID}
	for _, o := range m.Terms {
		if o.RenewalOf == prev.ID && o.Start.Equal(start) {
			return o, false, nil
		}
	}
	if err := s.admit(b, m.Terms, t); err != nil {
		return Term{}, false, err
	}
	if err := s.store.CreateTerm(ctx, t); err != nil {
		if !isCode(err, nomination.ECONFLICT) {
			return Term{}, false, err
		}
		if got, gerr := s.store.GetTerm(ctx, t.ID); gerr == nil && got.RenewalOf == prev.ID {
			return got, false, nil
		}
		return Term{}, false, nomination.Errorf(nomination.ECONFLICT, "the member has a term starting on %s", start.Format(DateLayout))
	}
	return t, true, s.takeSeat(ctx, m, t)
}

func (s *Service) term(ctx context.Context, id string) (Term, error) {
	t, err := s.store.GetTerm(ctx, id)
	if err != nil {
		var de *nomination.Error
		if errors.As(err, &de) && de.Code == nomination.ENOTFOUND {
			return Term{}, nomination.Errorf(nomination.ENOTFOUND, "no term %q", id)
		}
		return Term{}, err
	}
	return t, nil
}
