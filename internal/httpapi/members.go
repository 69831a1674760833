package httpapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/igf/nomina/internal/membership"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/phrase"
)

// memberRoutes registers the membership routes. Every one is for the
// secretariat: members' records hold personal data (email, gender,
// nationality), so even the roster is not shown to other users.
func (s *Server) memberRoutes() {
	const v1 = "/api/v1"
	staff := Roles("secretariat")
	s.Handle(http.MethodGet, v1+"/members", staff, s.needMembers, s.listMembers)
	s.Handle(http.MethodPost, v1+"/members", staff, s.needMembers, s.recordMember)
	s.Handle(http.MethodPost, v1+"/members/import", staff, s.needMembers, s.importMembers)
	s.Handle(http.MethodGet, v1+"/members/:id", staff, s.needMembers, s.getMember)
	s.Handle(http.MethodPost, v1+"/members/:id/terms", staff, s.needMembers, s.createTerm)
	s.Handle(http.MethodPost, v1+"/terms/:id/end", staff, s.needMembers, s.endTerm)
	s.Handle(http.MethodPost, v1+"/terms/:id/renew", staff, s.needMembers, s.renewTerm)
	s.Handle(http.MethodGet, v1+"/bodies/:body/rotation", staff, s.needMembers, s.rotationPlan)
	s.Handle(http.MethodGet, v1+"/bodies/:body/roster", staff, s.needMembers, s.roster)
}

// needMembers answers 503 when the service runs without membership.
func (s *Server) needMembers(c *gin.Context) {
	if s.cfg.Members == nil {
		s.problem(c, http.StatusServiceUnavailable, "Service Unavailable", "membership is not enabled on this service", nil)
		c.Abort()
		return
	}
	c.Next()
}

// dateParam reads an optional date ("2026-01-01") from the query or a
// body field; the zero time when absent.
func dateParam(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	d, ok := membership.ParseDate(v)
	if !ok {
		return time.Time{}, nomination.Invalid(nomination.Problem(field, "ADate", "a date such as 2026-01-01"))
	}
	return d, nil
}

type termResponse struct {
	ID               string     `json:"id"`
	MemberID         string     `json:"member_id"`
	Body             string     `json:"body"`
	Start            string     `json:"start"`
	End              string     `json:"end"`
	Source           string     `json:"source"`
	NominationID     string     `json:"nomination_id,omitempty"`
	RenewalOf        string     `json:"renewal_of,omitempty"`
	SeatKind         string     `json:"seat_kind"`
	StakeholderGroup string     `json:"stakeholder_group,omitempty"`
	EndedAt          *time.Time `json:"ended_at,omitempty"`
	EndReason        string     `json:"end_reason,omitempty"`
	CreatedAt        time.Time  `json:"created_at"`
}

func toTermResponse(t membership.Term) termResponse {
	return termResponse{ID: t.ID, MemberID: t.MemberID, Body: t.Body, Start: t.Start.Format(membership.DateLayout),
		End: t.End.Format(membership.DateLayout), Source: t.Source, NominationID: t.NominationID(), RenewalOf: t.RenewalOf,
		SeatKind: t.SeatKind, StakeholderGroup: t.StakeholderGroup, EndedAt: timePtr(t.EndedAt), EndReason: t.EndReason,
		CreatedAt: t.CreatedAt}
}

type memberResponse struct {
	ID               string         `json:"id"`
	Body             string         `json:"body"`
	Email            string         `json:"email"`
	Name             string         `json:"name"`
	SeatKind         string         `json:"seat_kind"`
	StakeholderGroup string         `json:"stakeholder_group,omitempty"`
	Region           string         `json:"region,omitempty"`
	Gender           string         `json:"gender,omitempty"`
	Nationality      string         `json:"nationality,omitempty"`
	Organization     string         `json:"organization,omitempty"`
	Terms            []termResponse `json:"terms"`
	CreatedAt        time.Time      `json:"created_at"`
	UpdatedAt        time.Time      `json:"updated_at"`
}

func toMemberResponse(m membership.Member) memberResponse {
	r := memberResponse{ID: m.ID, Body: m.Body, Email: m.Email, Name: m.Name, SeatKind: m.SeatKind,
		StakeholderGroup: m.StakeholderGroup, Region: m.Region, Gender: m.Gender, Nationality: m.Nationality,
		Organization: m.Organization, Terms: make([]termResponse, 0, len(m.Terms)), CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
	for _, t := range m.Terms {
		r.Terms = append(r.Terms, toTermResponse(t))
	}
	return r
}

func (s *Server) listMembers(c *gin.Context) {
	on, err := dateParam("active_on", c.Query("active_on"))
	if err != nil {
		s.fail(c, err)
		return
	}
	ms, err := s.cfg.Members.ListMembers(c.Request.Context(), actorOf(c), membership.MemberQuery{Body: c.Query("body"), ActiveOn: on})
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]memberResponse, 0, len(ms))
	for _, m := range ms {
		out = append(out, toMemberResponse(m))
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

func (s *Server) getMember(c *gin.Context) {
	m, err := s.cfg.Members.GetMember(c.Request.Context(), actorOf(c), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toMemberResponse(m))
}

type memberRequest struct {
	Body             string `json:"body"`
	Email            string `json:"email"`
	Name             string `json:"name"`
	SeatKind         string `json:"seat_kind"`
	StakeholderGroup string `json:"stakeholder_group"`
	Region           string `json:"region"`
	Gender           string `json:"gender"`
	Nationality      string `json:"nationality"`
	Organization     string `json:"organization"`
	Start            string `json:"start"`
	End              string `json:"end"`
}

func (s *Server) recordMember(c *gin.Context) {
	var req memberRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	start, end, err := dateRange(req.Start, req.End)
	if err != nil {
		s.fail(c, err)
		return
	}
	m, err := s.cfg.Members.RecordMember(c.Request.Context(), actorOf(c), membership.MemberInput{
		Body: req.Body, Start: start, End: end,
		Profile: membership.Profile{Email: req.Email, Name: req.Name, SeatKind: req.SeatKind, StakeholderGroup: req.StakeholderGroup,
			Region: req.Region, Gender: req.Gender, Nationality: req.Nationality, Organization: req.Organization},
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/members/"+m.ID)
	c.JSON(http.StatusCreated, toMemberResponse(m))
}

type termRequest struct {
	Start            string `json:"start"`
	End              string `json:"end"`
	SeatKind         string `json:"seat_kind"`
	StakeholderGroup string `json:"stakeholder_group"`
}

func (s *Server) createTerm(c *gin.Context) {
	var req termRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	start, end, err := dateRange(req.Start, req.End)
	if err != nil {
		s.fail(c, err)
		return
	}
	t, err := s.cfg.Members.CreateTerm(c.Request.Context(), actorOf(c), c.Param("id"),
		membership.TermInput{Start: start, End: end, SeatKind: req.SeatKind, StakeholderGroup: req.StakeholderGroup})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, toTermResponse(t))
}

type endTermRequest struct {
	End    string `json:"end"`
	Reason string `json:"reason"`
}

func (s *Server) endTerm(c *gin.Context) {
	var req endTermRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	end, err := dateParam("end", req.End)
	if err != nil {
		s.fail(c, err)
		return
	}
	t, err := s.cfg.Members.EndTerm(c.Request.Context(), actorOf(c), c.Param("id"), membership.EndInput{End: end, Reason: req.Reason})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toTermResponse(t))
}

func (s *Server) renewTerm(c *gin.Context) {
	var req struct{}
	if err := decodeOptionalJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	t, created, err := s.cfg.Members.RenewTerm(c.Request.Context(), actorOf(c), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	status := http.StatusOK // renewed before: the same renewal
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, toTermResponse(t))
}

type importProblem struct {
	Line     int                     `json:"line"`
	Email    string                  `json:"email,omitempty"`
	Problems []nomination.FieldError `json:"problems"`
}

type importResponse struct {
	DryRun   bool            `json:"dry_run"`
	Mode     string          `json:"mode"`
	Rows     int             `json:"rows"`
	Good     int             `json:"good"`
	Bad      int             `json:"bad"`
	Existing int             `json:"existing"`
	Stored   int             `json:"stored"`
	Errors   []importProblem `json:"errors"`
}

func (s *Server) importMembers(c *gin.Context) {
	if ct, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || ct != "text/csv" {
		s.fail(c, nomination.Fail(nomination.EUNSUPPORTED, "SendCSV", "send the file as text/csv"))
		return
	}
	dryRun := false
	if v := c.Query("dry_run"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			s.fail(c, nomination.Fail(nomination.EBADREQUEST, "DryRunBool", "dry_run must be true or false").
				With(nomination.Problem("dry_run", "TrueOrFalse", "true or false")))
			return
		}
		dryRun = b
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.fail(c, nomination.Fail(nomination.ETOOLARGE, "FileSplit", "the file is larger than {{.Limit}} bytes: split it", "Limit", strconv.FormatInt(mbe.Limit, 10)))
			return
		}
		s.fail(c, nomination.Fail(nomination.EBADREQUEST, "BodyUnreadable", "the request body could not be read"))
		return
	}
	if !utf8.Valid(body) {
		s.fail(c, nomination.Invalid(nomination.Problem("file", "FileNotUTF8", "the file must be UTF-8 text")))
		return
	}
	rep, err := s.cfg.Members.Import(c.Request.Context(), actorOf(c), bytes.NewReader(body),
		membership.ImportOptions{DryRun: dryRun, Mode: c.Query("mode"), Body: c.Query("body")})
	if err != nil {
		s.fail(c, err)
		return
	}
	out := importResponse{DryRun: rep.DryRun, Mode: rep.Mode, Rows: rep.Rows, Good: rep.Good, Bad: rep.Bad,
		Existing: rep.Existing, Stored: rep.Stored, Errors: make([]importProblem, 0, len(rep.Errors))}
	for _, e := range rep.Errors {
		out.Errors = append(out.Errors, importProblem{Line: e.Line, Email: e.Email, Problems: e.Problems})
	}
	c.JSON(http.StatusOK, out)
}

type countResponse struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

type compositionResponse struct {
	Total            int             `json:"total"`
	SeatKind         []countResponse `json:"seat_kind"`
	StakeholderGroup []countResponse `json:"stakeholder_group"`
	Region           []countResponse `json:"region"`
	Gender           []countResponse `json:"gender"`
}

func toCounts(cs []membership.Count) []countResponse {
	out := make([]countResponse, len(cs))
	for i, c := range cs {
		out[i] = countResponse(c)
	}
	return out
}

func toComposition(c membership.Composition) compositionResponse {
	return compositionResponse{Total: c.Total, SeatKind: toCounts(c.SeatKind), StakeholderGroup: toCounts(c.StakeholderGroup),
		Region: toCounts(c.Region), Gender: toCounts(c.Gender)}
}

type planEntryResponse struct {
	MemberID         string `json:"member_id"`
	Name             string `json:"name"`
	Email            string `json:"email"`
	SeatKind         string `json:"seat_kind"`
	StakeholderGroup string `json:"stakeholder_group,omitempty"`
	Region           string `json:"region,omitempty"`
	Gender           string `json:"gender,omitempty"`
	Organization     string `json:"organization,omitempty"`
	TermID           string `json:"term_id"`
	TermStart        string `json:"term_start"`
	TermEnd          string `json:"term_end"`
	ConsecutiveTerms int    `json:"consecutive_terms"`
	FinalTerm        bool   `json:"final_term"`
}

func toPlanEntries(es []membership.PlanEntry) []planEntryResponse {
	out := make([]planEntryResponse, len(es))
	for i, e := range es {
		out[i] = planEntryResponse{MemberID: e.MemberID, Name: e.Name, Email: e.Email, SeatKind: e.SeatKind,
			StakeholderGroup: e.StakeholderGroup, Region: e.Region, Gender: e.Gender, Organization: e.Organization,
			TermID: e.TermID, TermStart: e.TermStart.Format(membership.DateLayout), TermEnd: e.TermEnd.Format(membership.DateLayout),
			ConsecutiveTerms: e.ConsecutiveTerms, FinalTerm: e.FinalTerm}
	}
	return out
}

type planResponse struct {
	Body  string `json:"body"`
	Year  int    `json:"year"`
	Terms struct {
		Years          int `json:"years"`
		MaxConsecutive int `json:"max_consecutive"`
	} `json:"terms"`
	From          string              `json:"from"`
	Continuing    []planEntryResponse `json:"continuing"`
	Ending        []planEntryResponse `json:"ending"`
	LimitReached  []planEntryResponse `json:"limit_reached"`
	Joining       []planEntryResponse `json:"joining"`
	Composition   compositionResponse `json:"composition"`
	Next          compositionResponse `json:"next"`
	WithShortlist *shortlistBalance   `json:"with_shortlist,omitempty"`
}

// shortlistBalance is the body as it would be: the members on the first
// day of the year (continuing and joining) and a call's shortlist, judged
// against the call's balance targets as one selection.
type shortlistBalance struct {
	Call        string `json:"call"`
	Shortlisted int    `json:"shortlisted"`
	Report      any    `json:"report"`
}

func (s *Server) rotationPlan(c *gin.Context) {
	year, err := strconv.Atoi(c.Query("year"))
	if err != nil {
		s.fail(c, nomination.Invalid(nomination.Problem("year", "YearRequired", "required: the year the terms start, such as 2027")))
		return
	}
	ctx, actor := c.Request.Context(), actorOf(c)
	p, err := s.cfg.Members.RotationPlan(ctx, actor, c.Param("body"), year)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := planResponse{Body: p.Body, Year: p.Year, From: p.From.Format(membership.DateLayout),
		Continuing: toPlanEntries(p.Continuing), Ending: toPlanEntries(p.Ending), LimitReached: toPlanEntries(p.LimitReached),
		Joining: toPlanEntries(p.Joining), Composition: toComposition(p.Composition), Next: toComposition(p.Next)}
	out.Terms.Years, out.Terms.MaxConsecutive = p.Terms.Years, p.Terms.MaxConsecutive
	if slug := c.Query("call"); slug != "" {
		b, err := s.shortlistBalance(ctx, actor, p, slug)
		if err != nil {
			s.fail(c, err)
			return
		}
		out.WithShortlist = b
	}
	c.JSON(http.StatusOK, out)
}

// shortlistBalance combines the plan's members on its first day with the
// shortlisted nominations of call slug and reports their balance against
// the call's targets, judged as the whole body (no seat count: percentages
// are of the selection). The call must feed the plan's body (EINVALID
// otherwise).
func (s *Server) shortlistBalance(ctx context.Context, actor nomination.Actor, p membership.Plan, slug string) (*shortlistBalance, error) {
	if s.cfg.Nominations == nil || s.cfg.Shortlists == nil {
		return nil, nomination.Fail(nomination.EUNAVAILABLE, "NoShortlists", "shortlists are not enabled on this service")
	}
	call, shortlist, err := s.cfg.Nominations.Candidates(ctx, actor, slug, nomination.ShortlistQuery{States: []string{"shortlisted"}})
	if err != nil {
		return nil, err
	}
	if def, ok := s.cfg.Nominations.Workflows.Get(call.Workflow, call.WorkflowVersion, ""); !ok || def.Body != p.Body {
		return nil, nomination.Invalid(nomination.Problem("call", "CallNotBody", "the call does not feed body {{.Body}}", "Body", p.Body))
	}
	items := make([]nomination.Candidate, 0, len(p.Continuing)+len(p.Joining)+len(shortlist))
	for _, list := range [][]membership.PlanEntry{p.Continuing, p.Joining} {
		for _, e := range list {
			items = append(items, nomination.Candidate{ID: e.MemberID, Name: e.Name, Fields: map[string]string{
				"stakeholder_group": e.StakeholderGroup, "region": e.Region, "gender": e.Gender}})
		}
	}
	items = append(items, shortlist...)
	rep, err := s.cfg.Shortlists.Balance(call.Targets, 0, items)
	if err != nil {
		return nil, err
	}
	return &shortlistBalance{Call: slug, Shortlisted: len(shortlist), Report: rep}, nil
}

func (s *Server) roster(c *gin.Context) {
	format := strings.ToLower(c.DefaultQuery("format", "json"))
	switch format {
	case "json", "csv", "xlsx":
	default:
		s.fail(c, nomination.Invalid(nomination.Problem("format", "FormatOneOf", "must be csv, xlsx or json")))
		return
	}
	on, err := dateParam("active_on", c.Query("active_on"))
	if err != nil {
		s.fail(c, err)
		return
	}
	var say func(phrase.Text) string
	var lang string
	if format != "json" {
		if say, lang, err = s.headerSay(c); err != nil {
			s.fail(c, err)
			return
		}
	}
	if on.IsZero() {
		on = membership.Day(time.Now())
	}
	body := c.Param("body")
	entries, err := s.cfg.Members.Roster(c.Request.Context(), actorOf(c), body, on)
	if err != nil {
		s.fail(c, err)
		return
	}
	name := body + "-roster-" + on.Format(membership.DateLayout) + "." + format
	disposition := mime.FormatMediaType("attachment", map[string]string{"filename": name})
	if format == "json" {
		c.Header("Content-Disposition", disposition)
		c.JSON(http.StatusOK, toRosterResponse(body, on, entries))
		return
	}
	if s.cfg.Shortlists == nil {
		s.fail(c, nomination.Fail(nomination.EUNAVAILABLE, "NoSpreadsheets", "spreadsheet formats are not enabled on this service; ask for format=json"))
		return
	}
	ctype, err := s.cfg.Shortlists.ContentType(format)
	if err != nil {
		s.fail(c, err)
		return
	}
	rows := func(yield func([]string, error) bool) {
		for _, e := range entries {
			if !yield(e.Cells(), nil) {
				return
			}
		}
	}
	header, sheet := membership.RosterKeys, membership.RosterSheet.English
	if say != nil {
		header = make([]string, len(membership.RosterColumns))
		for i, t := range membership.RosterColumns {
			header[i] = say(t)
		}
		sheet = say(membership.RosterSheet)
	}
	var buf bytes.Buffer // a roster is small; an error can still be answered
	if err := s.cfg.Shortlists.WriteTable(c.Request.Context(), &buf, format, sheet, header, rows); err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Content-Disposition", disposition)
	headerLanguage(c, lang)
	c.Data(http.StatusOK, ctype, buf.Bytes())
}

type rosterEntryResponse struct {
	MemberID         string `json:"member_id"`
	Name             string `json:"name"`
	Email            string `json:"email"`
	SeatKind         string `json:"seat_kind"`
	StakeholderGroup string `json:"stakeholder_group"`
	Region           string `json:"region"`
	Gender           string `json:"gender"`
	Nationality      string `json:"nationality"`
	Organization     string `json:"organization"`
	TermID           string `json:"term_id"`
	TermStart        string `json:"term_start"`
	TermEnd          string `json:"term_end"`
	ConsecutiveTerms int    `json:"consecutive_terms"`
	Source           string `json:"source"`
}

type rosterResponse struct {
	Body     string                `json:"body"`
	ActiveOn string                `json:"active_on"`
	Members  []rosterEntryResponse `json:"members"`
}

// toRosterResponse is the JSON roster; JSON is data, so values are given
// as they are.
func toRosterResponse(body string, on time.Time, entries []membership.RosterEntry) rosterResponse {
	out := rosterResponse{Body: body, ActiveOn: on.Format(membership.DateLayout), Members: make([]rosterEntryResponse, 0, len(entries))}
	for _, e := range entries {
		out.Members = append(out.Members, rosterEntryResponse{MemberID: e.MemberID, Name: e.Name, Email: e.Email,
			SeatKind: e.SeatKind, StakeholderGroup: e.StakeholderGroup, Region: e.Region, Gender: e.Gender,
			Nationality: e.Nationality, Organization: e.Organization, TermID: e.TermID,
			TermStart: e.TermStart.Format(membership.DateLayout), TermEnd: e.TermEnd.Format(membership.DateLayout),
			ConsecutiveTerms: e.ConsecutiveTerms, Source: e.Source})
	}
	return out
}

// dateRange reads the start and end dates of a request.
func dateRange(start, end string) (time.Time, time.Time, error) {
	s, err := dateParam("start", start)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	e, err := dateParam("end", end)
	return s, e, err
}
