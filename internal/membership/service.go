package membership

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/oneline"
	"github.com/igf/nomina/internal/workflow"
)

// Config gathers the Service's dependencies.
type Config struct {
	Store Store
	// Workflows gives the bodies and their term rules (BodiesFrom).
	Workflows *workflow.Registry
	Now       func() time.Time
	Logger    *slog.Logger
	// MaxAttempts bounds the retries of a commit that lost a race.
	MaxAttempts int
}

// Service keeps members and their terms. Each member has a ledger of
// changes; every change commits by inserting the ledger's next entry, and is
// decided on the member as it stands, so two writers racing on one person
// cannot both pass an overlap or term-limit check, and a retried
// appointment finds the term it created. The member's projection is
// rewritten after each commit and caught up by any reader that finds it
// behind. A person's member id is derived from body and email, so reading
// a person's terms (the eligibility guard) takes two lookups by id.
type Service struct {
	store       Store
	bodies      []Body
	now         func() time.Time
	log         *slog.Logger
	maxAttempts int
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
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 20
	}
	return &Service{store: cfg.Store, bodies: bodies, now: cfg.Now, log: cfg.Logger, maxAttempts: cfg.MaxAttempts}, nil
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

// TermID returns the id of a member's term starting on start: a member has
// at most one term starting on a given day, whatever recorded it. An
// appointment's term id is thus derived from the nomination (its nominee,
// body and the call's term start).
func TermID(memberID string, start time.Time) string {
	return memberID + "-" + Day(start).Format("20060102")
}

// memberOfTerm returns the member id a term id starts with.
func memberOfTerm(termID string) (string, bool) {
	i := strings.LastIndexByte(termID, '-')
	if i <= 0 || len(termID)-i != 9 {
		return "", false
	}
	if _, err := time.Parse("20060102", termID[i+1:]); err != nil {
		return "", false
	}
	return termID[:i], true
}

func requireStaff(actor nomination.Actor) error {
	if !actor.IsStaff() {
		return nomination.Fail(nomination.EFORBIDDEN, "SecretariatManagesMembers", "only the secretariat manages members")
	}
	return nil
}

func isCode(err error, code string) bool { return nomination.ErrorCode(err) == code }

// load returns member id as its ledger has it (the zero Member with Seq 0
// when there is none), catching the stored projection up.
func (s *Service) load(ctx context.Context, id string) (Member, error) {
	m, err := s.store.GetMember(ctx, id)
	switch {
	case err == nil:
	case isCode(err, nomination.ENOTFOUND):
		m = Member{ID: id}
	default:
		return Member{}, err
	}
	return s.catchUp(ctx, m)
}

// catchUp folds in the ledger entries after m.Seq and, when there were
// any, rewrites the projection (a writer stopped between its commit and
// its projection, or a slower writer put an older one back).
func (s *Service) catchUp(ctx context.Context, m Member) (Member, error) {
	behind := m.Seq
	for {
		c, err := s.store.Change(ctx, m.ID, m.Seq+1)
		if isCode(err, nomination.ENOTFOUND) {
			break
		}
		if err != nil {
			return Member{}, err
		}
		Fold(&m, c)
	}
	if m.Seq > behind {
		if err := s.store.PutMember(ctx, m); err != nil {
			s.log.Warn("catch up member projection", "member", m.ID, "err", err)
		}
	}
	return m, nil
}

// decision is what a change decides on the member as it stands: the
// change to commit, or nil to commit nothing (the change is there
// already).
type decision func(m Member) (*Change, error)

// commit decides a change on member id and commits it as the ledger's next
// entry; when another writer took that entry first it reloads and decides
// again, at most maxAttempts times (then ECONFLICT). It returns the member
// after the change and the change committed (nil when nothing was).
func (s *Service) commit(ctx context.Context, id, actor string, decide decision) (Member, *Change, error) {
	for range s.maxAttempts {
		m, err := s.load(ctx, id)
		if err != nil {
			return Member{}, nil, err
		}
		c, err := decide(m)
		if err != nil || c == nil {
			return m, nil, err
		}
		c.MemberID, c.Seq, c.At, c.Actor = id, m.Seq+1, s.clock(), actor
		err = s.store.AppendChange(ctx, *c)
		if isCode(err, nomination.ECONFLICT) {
			continue
		}
		if err != nil {
			return Member{}, nil, err
		}
		Fold(&m, *c)
		if err := s.store.PutMember(ctx, m); err != nil {
			// Committed: readers catch the projection up.
			s.log.Warn("write member projection", "member", id, "err", err)
		}
		return m, c, nil
	}
	return Member{}, nil, nomination.Fail(nomination.ECONFLICT, "MemberKeptChanging", "the member is being changed by someone else: try again")
}

// GetMember returns a member with all its terms. Errors: EFORBIDDEN unless
// staff, ENOTFOUND.
func (s *Service) GetMember(ctx context.Context, actor nomination.Actor, id string) (Member, error) {
	if err := requireStaff(actor); err != nil {
		return Member{}, err
	}
	m, err := s.load(ctx, id)
	if err != nil {
		return Member{}, err
	}
	if m.Seq == 0 {
		return Member{}, nomination.Fail(nomination.ENOTFOUND, "NoSuchMember", "no member \"{{.Member}}\"", "Member", id)
	}
	return m, nil
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
	ms, err := s.store.ListMembers(ctx, MemberFilter{Body: q.Body, Limit: MaxMembers})
	if err != nil {
		return nil, err
	}
	out := ms[:0]
	for _, m := range ms {
		if m, err = s.catchUp(ctx, m); err != nil {
			return nil, err
		}
		if _, ok := m.ActiveTerm(q.ActiveOn); q.ActiveOn.IsZero() || ok {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b Member) int {
		if c := strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
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

// RecordMember records a member and its first term, source "secretariat".
// Errors: EFORBIDDEN unless staff; EINVALID naming every bad field (an
// unknown body included); ECONFLICT when the person is a member of the body
// already (add a term to that member instead).
func (s *Service) RecordMember(ctx context.Context, actor nomination.Actor, in MemberInput) (Member, error) {
	if err := requireStaff(actor); err != nil {
		return Member{}, err
	}
	b, err := s.body(in.Body)
	if err != nil {
		return Member{}, nomination.Invalid(nomination.Problem("body", "BodyOneOf", "no body \"{{.Body}}\": one of {{.Bodies}}", "Body", in.Body, "Bodies", strings.Join(s.bodyIDs(), ", ")))
	}
	p := in.Profile.normalize()
	var start, end time.Time
	if !in.Start.IsZero() {
		start = Day(in.Start)
		end = TermEnd(start, b.Terms.Years)
	}
	if !in.End.IsZero() {
		end = Day(in.End)
	}
	fe := append(p.check(b), checkPeriod(start, end, "start", "end")...)
	if len(fe) > 0 {
		return Member{}, nomination.Invalidf("MemberInvalid", "the member is invalid", fe...)
	}
	id := MemberID(b.ID, p.Email)
	m, _, err := s.commit(ctx, id, actor.UserID, func(m Member) (*Change, error) {
		if m.Seq > 0 {
			return nil, nomination.Fail(nomination.ECONFLICT, "MemberExists", "{{.Email}} is a member of {{.Body}} already ({{.Member}}): add a term to that member", "Email", p.Email, "Body", b.ID, "Member", id)
		}
		t := Term{ID: TermID(id, start), MemberID: id, Body: b.ID, Email: p.Email, Start: start, End: end,
			Source: SourceSecretariat, SeatKind: p.SeatKind, StakeholderGroup: p.StakeholderGroup, CreatedAt: s.clock(), CreatedBy: actor.UserID}
		return &Change{Type: ChangeRecorded, Body: b.ID, Profile: &ProfileChange{Profile: p, AsOf: start}, Term: &t}, nil
	})
	return m, err
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
// (created, or its profile brought up to date unless the member's is newer)
// and a term from TermStart of Years years on a stakeholder group seat,
// source "nomination:<id>", linked as the renewal of a term ending the day
// before. It is idempotent: when the member holds the nomination's term, or
// any term starting that day (the secretariat recorded it), that term is
// returned and nothing is added, so a retried or replayed appointment
// creates one term. Term limits are not checked: the appointment is a
// fact; screening applies the limit. Errors: EINVALID without a nomination
// id, email, term start or term length; ENOTFOUND for a body no workflow
// feeds; store errors.
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
		return Term{}, nomination.Invalid(nomination.Problem("nomination_id", "RequiredShort", "required"))
	case p.Email == "":
		return Term{}, nomination.Invalid(nomination.Problem("email", "NomineeNoEmail", "the nominee has no email address"))
	case in.TermStart.IsZero():
		return Term{}, nomination.Invalid(nomination.Problem("term_start", "CallNoTermStart", "the call sets no term start: set it before recording appointments"))
	case years <= 0:
		return Term{}, nomination.Invalid(nomination.Problem("years", "NoTermLength", "the body's workflow sets no term length"))
	}
	start := Day(in.TermStart)
	source := SourceNominationPrefix + in.NominationID
	id := MemberID(b.ID, p.Email)
	var got Term
	_, c, err := s.commit(ctx, id, source, func(m Member) (*Change, error) {
		for _, t := range m.Terms {
			if t.Source == source || t.Start.Equal(start) {
				got = t
				return nil, nil
			}
		}
		t := Term{ID: TermID(id, start), MemberID: id, Body: b.ID, Email: p.Email, Start: start, End: TermEnd(start, years),
			Source: source, SeatKind: SeatStakeholder, StakeholderGroup: p.StakeholderGroup, CreatedAt: s.clock(), CreatedBy: source}
		if prev, ok := endingBefore(m.Terms, start); ok {
			t.RenewalOf = prev.ID
		}
		return &Change{Type: ChangeAppointed, Body: b.ID, Profile: &ProfileChange{Profile: p, AsOf: start}, Term: &t}, nil
	})
	if err != nil {
		return Term{}, fmt.Errorf("membership from nomination %s: %w", in.NominationID, err)
	}
	if c != nil {
		return *c.Term, nil
	}
	if got.Source != source {
		s.log.Info("appointment finds a term recorded otherwise", "nomination", in.NominationID, "term", got.ID, "source", got.Source)
	}
	return got, nil
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

// CreateTerm adds a term to a member, source "secretariat", linked as the
// renewal of a term ending the day before. Errors: EFORBIDDEN unless staff;
// ENOTFOUND for the member; EINVALID for bad dates or seat, or when a
// stakeholder seat would exceed the body's consecutive-term limit;
// ECONFLICT when the term overlaps another of the member's.
func (s *Service) CreateTerm(ctx context.Context, actor nomination.Actor, memberID string, in TermInput) (Term, error) {
	if err := requireStaff(actor); err != nil {
		return Term{}, err
	}
	_, c, err := s.commit(ctx, memberID, actor.UserID, func(m Member) (*Change, error) {
		if m.Seq == 0 {
			return nil, nomination.Fail(nomination.ENOTFOUND, "NoSuchMember", "no member \"{{.Member}}\"", "Member", memberID)
		}
		b, err := s.body(m.Body)
		if err != nil {
			return nil, err
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
			return nil, nomination.Invalidf("TermInvalid", "the term is invalid", fe...)
		}
		t := Term{ID: TermID(m.ID, start), MemberID: m.ID, Body: m.Body, Email: m.Email, Start: start, End: end,
			Source: SourceSecretariat, SeatKind: p.SeatKind, StakeholderGroup: p.StakeholderGroup, CreatedAt: s.clock(), CreatedBy: actor.UserID}
		if prev, ok := endingBefore(m.Terms, start); ok {
			t.RenewalOf = prev.ID
		}
		if err := admit(b, m.Terms, t); err != nil {
			return nil, err
		}
		return &Change{Type: ChangeTermAdded, Body: m.Body, Term: &t}, nil
	})
	if err != nil {
		return Term{}, err
	}
	return *c.Term, nil
}

// admit checks a new term t against the member's terms: it must overlap
// none (ECONFLICT) and, on a stakeholder seat, stay within the body's limit
// of consecutive terms (EINVALID). Chairs, ex officio members and observers
// sit by office and are not limited.
func admit(b Body, terms []Term, t Term) error {
	for _, o := range terms {
		if !o.End.Before(t.Start) && !o.Start.After(t.End) {
			return nomination.Fail(nomination.ECONFLICT, "TermOverlaps", "the term {{.Start}} to {{.End}} overlaps term {{.Term}} ({{.TermStart}} to {{.TermEnd}})",
				"Start", t.Start.Format(DateLayout), "End", t.End.Format(DateLayout), "Term", o.ID, "TermStart", o.Start.Format(DateLayout), "TermEnd", o.End.Format(DateLayout))
		}
	}
	if t.SeatKind != SeatStakeholder || b.Terms.MaxConsecutive == 0 {
		return nil
	}
	if n := consecutive(terms, t.Start); n >= b.Terms.MaxConsecutive {
		return nomination.Invalidf("TermLimitReached", "the term limit is reached",
			nomination.Problem("start", "ServedConsecutive", "the member has served {{.Terms}} consecutive terms up to {{.Date}}; {{.Body}} allows at most {{.Max}} in a row",
				"Terms", n, "Date", t.Start.Format(DateLayout), "Body", b.ID, "Max", b.Terms.MaxConsecutive))
	}
	return nil
}

// EndInput ends a term early: End is the new last day.
type EndInput struct {
	End    time.Time
	Reason string
}

// EndTerm ends a term before its planned end (a resignation, a seat that
// fell vacant). Errors: EFORBIDDEN unless staff; ENOTFOUND; EINVALID when
// the reason is missing or the day is before the start or after the
// current end. Ending a term again on the same day changes nothing.
func (s *Service) EndTerm(ctx context.Context, actor nomination.Actor, termID string, in EndInput) (Term, error) {
	if err := requireStaff(actor); err != nil {
		return Term{}, err
	}
	reason := strings.TrimSpace(in.Reason)
	end := Day(in.End)
	var fe []nomination.FieldError
	if in.End.IsZero() {
		fe = append(fe, nomination.Problem("end", "LastDayRequired", "required: the last day served, such as 2026-06-30"))
	}
	if _, msg := oneline.Clean(reason, 1, 500); msg.English != "" {
		fe = append(fe, nomination.ProblemText("reason", msg))
	}
	memberID, ok := memberOfTerm(termID)
	if !ok {
		return Term{}, nomination.Fail(nomination.ENOTFOUND, "NoSuchTerm", "no term \"{{.Term}}\"", "Term", termID)
	}
	m, _, err := s.commit(ctx, memberID, actor.UserID, func(m Member) (*Change, error) {
		t, ok := m.term(termID)
		if !ok {
			return nil, nomination.Fail(nomination.ENOTFOUND, "NoSuchTerm", "no term \"{{.Term}}\"", "Term", termID)
		}
		problems := slices.Clone(fe)
		switch {
		case in.End.IsZero():
		case end.Before(t.Start):
			problems = append(problems, nomination.Problem("end", "EndBeforeTermStart", "must not be before the term's start {{.Date}}", "Date", t.Start.Format(DateLayout)))
		case end.After(t.End):
			problems = append(problems, nomination.Problem("end", "EndOnlyEarly", "a term can only be ended early: its end is {{.Date}}", "Date", t.End.Format(DateLayout)))
		}
		if len(problems) > 0 {
			return nil, nomination.Invalidf("TermEndInvalid", "the term cannot be ended so", problems...)
		}
		if end.Equal(t.End) && !t.EndedAt.IsZero() {
			return nil, nil
		}
		return &Change{Type: ChangeTermEnded, Body: m.Body, Ending: &Ending{TermID: termID, End: end, Reason: reason}}, nil
	})
	if err != nil {
		return Term{}, err
	}
	t, _ := m.term(termID)
	return t, nil
}

// RenewTerm adds to a term's member the next term of the body's length,
// starting the day after the term ends, on the same seat. It is
// idempotent: when the term was renewed already, that renewal is returned
// with created false. Errors: EFORBIDDEN unless staff; ENOTFOUND; EINVALID
// when a stakeholder seat would exceed the consecutive-term limit;
// ECONFLICT when another term overlaps the renewal.
func (s *Service) RenewTerm(ctx context.Context, actor nomination.Actor, termID string) (t Term, created bool, err error) {
	if err := requireStaff(actor); err != nil {
		return Term{}, false, err
	}
	memberID, ok := memberOfTerm(termID)
	if !ok {
		return Term{}, false, nomination.Fail(nomination.ENOTFOUND, "NoSuchTerm", "no term \"{{.Term}}\"", "Term", termID)
	}
	var found Term
	_, c, err := s.commit(ctx, memberID, actor.UserID, func(m Member) (*Change, error) {
		prev, ok := m.term(termID)
		if !ok {
			return nil, nomination.Fail(nomination.ENOTFOUND, "NoSuchTerm", "no term \"{{.Term}}\"", "Term", termID)
		}
		for _, o := range m.Terms {
			if o.RenewalOf == prev.ID {
				found = o
				return nil, nil
			}
		}
		b, err := s.body(m.Body)
		if err != nil {
			return nil, err
		}
		start := nextDay(prev.End)
		t := Term{ID: TermID(m.ID, start), MemberID: m.ID, Body: m.Body, Email: m.Email, Start: start,
			End: TermEnd(start, b.Terms.Years), Source: SourceSecretariat, RenewalOf: prev.ID, SeatKind: prev.SeatKind,
			StakeholderGroup: prev.StakeholderGroup, CreatedAt: s.clock(), CreatedBy: actor.UserID}
		if err := admit(b, m.Terms, t); err != nil {
			return nil, err
		}
		return &Change{Type: ChangeRenewed, Body: m.Body, Term: &t}, nil
	})
	if err != nil {
		return Term{}, false, err
	}
	if c == nil {
		return found, false, nil
	}
	return *c.Term, true, nil
}
