package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/workflow"
)

func (s *Server) nominationRoutes() {
	const v1 = "/api/v1"
	s.Handle(http.MethodPost, v1+"/calls", Roles("secretariat"), s.createCall)
	s.Handle(http.MethodGet, v1+"/calls", Public, s.listCalls)
	s.Handle(http.MethodGet, v1+"/calls/:slug", Public, s.getCall)
	s.Handle(http.MethodPatch, v1+"/calls/:slug", Roles("secretariat"), s.updateCall)
	s.Handle(http.MethodPost, v1+"/calls/:slug/nominations", Authenticated, s.createNomination)
	s.Handle(http.MethodGet, v1+"/nominations", Authenticated, s.listNominations)
	s.Handle(http.MethodGet, v1+"/nominations/:id", Authenticated, s.getNomination)
	s.Handle(http.MethodPatch, v1+"/nominations/:id", Authenticated, s.patchNomination)
	s.Handle(http.MethodPost, v1+"/nominations/:id/attachments", Authenticated, s.uploadAttachment)
	s.Handle(http.MethodGet, v1+"/nominations/:id/attachments/:aid", Authenticated, s.downloadAttachment)
	s.Handle(http.MethodPost, v1+"/nominations/:id/actions/:action", Authenticated, s.act)
	s.Handle(http.MethodPost, v1+"/nominations/:id/votes", Roles("reviewer"), s.vote)
	s.Handle(http.MethodPost, v1+"/nominations/:id/conflicts", Roles("reviewer"), s.declareConflict)
	s.Handle(http.MethodPost, v1+"/nominations/:id/override", Roles("secretariat"), s.override)
	s.Handle(http.MethodGet, v1+"/nominations/:id/history", Authenticated, s.history)
	s.Handle(http.MethodPost, v1+"/nominations/:id/endorsements", Authenticated, s.requestEndorsement)
	s.Handle(http.MethodGet, v1+"/endorsements/:token", Public, s.openEndorsement)
	s.Handle(http.MethodPost, v1+"/endorsements/:token", Public, s.confirmEndorsement)
	s.Handle(http.MethodPost, v1+"/endorsements/:token/decline", Public, s.declineEndorsement)
	s.Handle(http.MethodGet, v1+"/consent/:token", Public, s.openConsent)
	s.Handle(http.MethodPost, v1+"/consent/:token", Public, s.answerConsent)
}

// actorOf describes the caller to the domain.
func actorOf(c *gin.Context) nomination.Actor {
	caller := CallerOf(c)
	if caller == nil {
		return nomination.Actor{}
	}
	// ClientIP believes forwarding headers only from trusted proxies, so a
	// client cannot choose the address its limits are counted under.
	return nomination.Actor{UserID: caller.UserID, Email: caller.Email, Name: caller.Name, Roles: caller.Roles,
		Panels: caller.Panels, Organization: caller.Organization, EmailConfirmed: caller.EmailConfirmed, Address: c.ClientIP()}
}

type callRequest struct {
	Slug      string          `json:"slug"`
	Title     *string         `json:"title"`
	Workflow  string          `json:"workflow"`
	OpensAt   *time.Time      `json:"opens_at"`
	ClosesAt  *time.Time      `json:"closes_at"`
	TermStart *time.Time      `json:"term_start"`
	Seats     *int            `json:"seats"`
	Targets   json.RawMessage `json:"targets"`
	// Settings that tighten the call's workflow.
	RequiredEndorsements *int `json:"required_endorsements"`
	NominatorQuota       *int `json:"nominator_quota"`
}

type callResponse struct {
	Slug      string          `json:"slug"`
	Title     string          `json:"title"`
	Workflow  string          `json:"workflow"`
	OpensAt   time.Time       `json:"opens_at"`
	ClosesAt  time.Time       `json:"closes_at"`
	TermStart *time.Time      `json:"term_start,omitempty"`
	Seats     int             `json:"seats"`
	Targets   json.RawMessage `json:"targets,omitempty"`
	Open      bool            `json:"open"`
	// RequiredEndorsements is what the call asks (0: none); NominatorQuota
	// is the call's own quota (0: the workflow's) and EffectiveQuota the
	// one that applies (0: none).
	RequiredEndorsements int `json:"required_endorsements"`
	NominatorQuota       int `json:"nominator_quota"`
	EffectiveQuota       int `json:"effective_quota"`
}

func (s *Server) toCallResponse(c nomination.Call, now time.Time) callResponse {
	r := callResponse{Slug: c.Slug, Title: c.Title, Workflow: c.Workflow, OpensAt: c.OpensAt, ClosesAt: c.ClosesAt,
		Seats: c.Seats, Targets: c.Targets, Open: c.IsOpen(now),
		RequiredEndorsements: c.RequiredEndorsements, NominatorQuota: c.NominatorQuota, EffectiveQuota: c.NominatorQuota}
	if s.cfg.Workflows != nil {
		if def, ok := s.cfg.Workflows.Latest(c.Workflow); ok {
			r.EffectiveQuota = def.Quota(c.NominatorQuota)
		}
	}
	if !c.TermStart.IsZero() {
		t := c.TermStart
		r.TermStart = &t
	}
	return r
}

func (r callRequest) toInput() nomination.CallInput {
	return nomination.CallInput{Slug: r.Slug, Title: r.Title, Workflow: r.Workflow, OpensAt: r.OpensAt, ClosesAt: r.ClosesAt,
		TermStart: r.TermStart, Seats: r.Seats, Targets: r.Targets,
		RequiredEndorsements: r.RequiredEndorsements, NominatorQuota: r.NominatorQuota}
}

func (s *Server) createCall(c *gin.Context) {
	var req callRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	call, err := s.cfg.Nominations.CreateCall(c.Request.Context(), actorOf(c), req.toInput())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/calls/"+call.Slug)
	c.JSON(http.StatusCreated, s.toCallResponse(call, s.cfg.Nominations.Now()))
}

func (s *Server) updateCall(c *gin.Context) {
	var req callRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if req.Slug != "" && req.Slug != c.Param("slug") {
		s.fail(c, nomination.Invalid(nomination.Problem("slug", "SlugFixed", "the slug of a call cannot change")))
		return
	}
	call, err := s.cfg.Nominations.UpdateCall(c.Request.Context(), actorOf(c), c.Param("slug"), req.toInput())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, s.toCallResponse(call, s.cfg.Nominations.Now()))
}

func optionalActor(c *gin.Context) *nomination.Actor {
	if CallerOf(c) == nil {
		return nil
	}
	a := actorOf(c)
	return &a
}

func (s *Server) getCall(c *gin.Context) {
	call, err := s.cfg.Nominations.GetCall(c.Request.Context(), optionalActor(c), c.Param("slug"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, s.toCallResponse(call, s.cfg.Nominations.Now()))
}

func (s *Server) listCalls(c *gin.Context) {
	calls, err := s.cfg.Nominations.ListCalls(c.Request.Context(), optionalActor(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]callResponse, 0, len(calls))
	for _, call := range calls {
		out = append(out, s.toCallResponse(call, s.cfg.Nominations.Now()))
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

type personBody struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// personResponse is a person as a nomination shows them: a reviewer's
// view leaves the nominee's address out rather than showing it empty.
type personResponse struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
}

type createNominationRequest struct {
	Nominee *personBody    `json:"nominee"`
	Fields  map[string]any `json:"fields"`
}

type actionResponse struct {
	Name    string   `json:"name"`
	Allowed bool     `json:"allowed"`
	Reasons []string `json:"reasons,omitempty"`
	Inputs  []string `json:"inputs,omitempty"`
}

type voteResponse struct {
	Reviewer string    `json:"reviewer"`
	Stage    string    `json:"stage"`
	Round    int       `json:"round"`
	Decision string    `json:"decision"`
	Score    *float64  `json:"score,omitempty"`
	Comment  string    `json:"comment,omitempty"`
	At       time.Time `json:"at"`
}

type nominationResponse struct {
	ID            string                   `json:"id"`
	Call          string                   `json:"call"`
	Workflow      nomination.WorkflowRef   `json:"workflow"`
	State         string                   `json:"state"`
	Version       int                      `json:"version"`
	Nominee       personResponse           `json:"nominee"`
	Nominator     *personResponse          `json:"nominator,omitempty"`
	SelfNominated bool                     `json:"self_nominated"`
	Consent       string                   `json:"consent"`
	Fields        map[string]any           `json:"fields"`
	Attachments   []nomination.Attachment  `json:"attachments"`
	Endorsements  []nomination.Endorsement `json:"endorsements,omitempty"`
	Round         int                      `json:"round"`
	Panel         string                   `json:"panel,omitempty"`
	StageDue      *time.Time               `json:"stage_due,omitempty"`
	SubmittedAt   *time.Time               `json:"submitted_at,omitempty"`
	LastComment   string                   `json:"last_comment,omitempty"`
	LastReason    string                   `json:"last_reason,omitempty"`
	Votes         []voteResponse           `json:"votes,omitempty"`
	Conflicts     []nomination.Conflict    `json:"conflicts,omitempty"`
	Actions       []actionResponse         `json:"actions"`
	CreatedAt     time.Time                `json:"created_at"`
	UpdatedAt     time.Time                `json:"updated_at"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toNominationResponse(v *nomination.View) nominationResponse {
	n := v.Nomination
	r := nominationResponse{
		ID: n.ID, Call: n.CallSlug, Workflow: n.Workflow, State: n.State, Version: n.Seq,
		Nominee: personResponse{Name: n.Nominee.Name, Email: n.Nominee.Email}, SelfNominated: n.SelfNominated, Consent: n.Consent,
		Fields: n.Fields, Attachments: n.Attachments, Round: n.Round, Panel: v.Panel,
		StageDue: timePtr(n.StageDue), SubmittedAt: timePtr(n.SubmittedAt), LastComment: n.LastComment, LastReason: n.LastReason,
		Actions: []actionResponse{}, CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt,
	}
	if r.Fields == nil {
		r.Fields = map[string]any{}
	}
	if r.Attachments == nil {
		r.Attachments = []nomination.Attachment{}
	}
	if v.Role != "reviewer" {
		nm := personResponse{Name: n.Nominator.Name, Email: n.Nominator.Email}
		r.Nominator = &nm
		r.Endorsements = n.Endorsements
	}
	if v.ShowVotes {
		for _, vt := range n.Votes {
			r.Votes = append(r.Votes, voteResponse{vt.Reviewer, vt.Stage, vt.Round, vt.Decision, vt.Score, vt.Comment, vt.At})
		}
		r.Conflicts = n.Conflicts
	}
	for _, a := range v.Actions {
		r.Actions = append(r.Actions, actionFrom(a))
	}
	return r
}

func actionFrom(a workflow.ActionStatus) actionResponse {
	return actionResponse{Name: a.Name, Allowed: a.Allowed, Reasons: a.Reasons, Inputs: a.Inputs}
}

func (s *Server) writeNomination(c *gin.Context, status int, v *nomination.View) {
	c.Header("ETag", strconv.Quote(strconv.Itoa(v.Nomination.Seq)))
	c.JSON(status, toNominationResponse(v))
}

func (s *Server) createNomination(c *gin.Context) {
	var req createNominationRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	in := nomination.NominationInput{Fields: req.Fields}
	if req.Nominee != nil {
		in.Nominee = &nomination.Person{Name: req.Nominee.Name, Email: req.Nominee.Email}
	}
	v, err := s.cfg.Nominations.Create(c.Request.Context(), actorOf(c), c.Param("slug"), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/nominations/"+v.Nomination.ID)
	s.writeNomination(c, http.StatusCreated, v)
}

func (s *Server) getNomination(c *gin.Context) {
	v, err := s.cfg.Nominations.Get(c.Request.Context(), actorOf(c), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.writeNomination(c, http.StatusOK, v)
}

type patchNominationRequest struct {
	Fields map[string]any `json:"fields"`
}

// ifMatch reads the If-Match version: 0 when absent.
func ifMatch(c *gin.Context) (int, error) {
	h := strings.TrimSpace(c.GetHeader("If-Match"))
	switch h {
	case "":
		return 0, nil
	case "*":
		return nomination.AnyVersion, nil
	}
	h = strings.TrimPrefix(h, "W/")
	v, err := strconv.Atoi(strings.Trim(h, `"`))
	if err != nil || v < 1 {
		return 0, nomination.Fail(nomination.EBADREQUEST, "IfMatchVersion", "If-Match must be the version (ETag) you read").
			With(nomination.Problem("If-Match", "AVersion", "a version such as \"3\""))
	}
	return v, nil
}

func (s *Server) patchNomination(c *gin.Context) {
	version, err := ifMatch(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var req patchNominationRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if req.Fields == nil {
		s.fail(c, nomination.Fail(nomination.EBADREQUEST, "NothingToChange", "nothing to change").With(nomination.Problem("fields", "RequiredShort", "required")))
		return
	}
	v, err := s.cfg.Nominations.UpdateFields(c.Request.Context(), actorOf(c), c.Param("id"), version, req.Fields)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.writeNomination(c, http.StatusOK, v)
}

type actionRequest struct {
	Comment string `json:"comment"`
	Reason  string `json:"reason"`
}

// decodeOptionalJSON decodes a body when one is sent.
func decodeOptionalJSON(c *gin.Context, dst any) error {
	if c.Request.ContentLength == 0 && c.GetHeader("Content-Type") == "" {
		return nil
	}
	return decodeJSON(c, dst)
}

func (s *Server) act(c *gin.Context) {
	var req actionRequest
	if err := decodeOptionalJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.cfg.Nominations.Act(c.Request.Context(), actorOf(c), c.Param("id"), c.Param("action"),
		nomination.ActionInput{Comment: req.Comment, Reason: req.Reason})
	if err != nil {
		s.fail(c, err)
		return
	}
	s.writeNomination(c, http.StatusOK, v)
}

type listResponse struct {
	Items      []nominationResponse `json:"items"`
	NextCursor string               `json:"next_cursor,omitempty"`
}

func (s *Server) listNominations(c *gin.Context) {
	q := nomination.ListQuery{Call: c.Query("call"), State: c.Query("state"), Panel: c.Query("panel"), Query: c.Query("q"),
		Cursor: c.Query("cursor"), Sort: c.Query("sort"), Fields: fieldFilters(c)}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil {
			s.fail(c, nomination.Fail(nomination.EBADREQUEST, "LimitNumber", "limit must be a number").With(nomination.Problem("limit", "Number1To100", "a number from 1 to 100")))
			return
		}
		if n == 0 {
			n = -1 // an explicit 0 is out of range, not the default
		}
		q.Limit = n
	}
	page, err := s.cfg.Nominations.List(c.Request.Context(), actorOf(c), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := listResponse{Items: []nominationResponse{}, NextCursor: page.Next}
	for _, v := range page.Items {
		out.Items = append(out.Items, toNominationResponse(v))
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) uploadAttachment(c *gin.Context) {
	ctype, params, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || ctype != "multipart/form-data" || params["boundary"] == "" {
		s.fail(c, nomination.Fail(nomination.EUNSUPPORTED, "SendMultipart", "send the file as multipart/form-data with fields kind and file"))
		return
	}
	mr := multipart.NewReader(c.Request.Body, params["boundary"])
	kind := ""
	for {
		part, err := mr.NextPart()
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				s.fail(c, nomination.Fail(nomination.ETOOLARGE, "UploadTooLarge", "the upload is larger than the limit"))
				return
			}
			s.fail(c, nomination.Fail(nomination.EBADREQUEST, "NoFilePart", "the multipart body has no file part").
				With(nomination.Problem("file", "RequiredShort", "required")))
			return
		}
		switch part.FormName() {
		case "kind":
			b, err := io.ReadAll(io.LimitReader(part, 65))
			if err != nil || len(b) > 64 {
				s.fail(c, nomination.Invalid(nomination.Problem("kind", "FileFieldName", "the name of a file field")))
				return
			}
			kind = strings.TrimSpace(string(b))
		case "file":
			if kind == "" {
				s.fail(c, nomination.Fail(nomination.EBADREQUEST, "KindBeforeFile", "send the kind part before the file part").
					With(nomination.Problem("kind", "RequiredBeforeFile", "required before file")))
				return
			}
			att, err := s.cfg.Nominations.AddAttachment(c.Request.Context(), actorOf(c), c.Param("id"),
				nomination.Upload{Kind: kind, Filename: part.FileName(), Body: part})
			if err != nil {
				s.fail(c, err)
				return
			}
			c.JSON(http.StatusCreated, att)
			return
		default:
			_ = part.Close()
		}
	}
}

func (s *Server) downloadAttachment(c *gin.Context) {
	rc, att, err := s.cfg.Nominations.OpenAttachment(c.Request.Context(), actorOf(c), c.Param("id"), c.Param("aid"))
	if err != nil {
		s.fail(c, err)
		return
	}
	defer rc.Close()
	c.Header("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": att.Filename}))
	c.Header("X-Content-Type-Options", "nosniff")
	c.DataFromReader(http.StatusOK, att.Size, att.ContentType, rc, nil)
}

type voteRequest struct {
	Decision string   `json:"decision"`
	Score    *float64 `json:"score"`
	Comment  string   `json:"comment"`
}

func (s *Server) vote(c *gin.Context) {
	var req voteRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.cfg.Nominations.CastVote(c.Request.Context(), actorOf(c), c.Param("id"),
		nomination.VoteInput{Decision: req.Decision, Score: req.Score, Comment: req.Comment})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, voteResponse{v.Reviewer, v.Stage, v.Round, v.Decision, v.Score, v.Comment, v.At})
}

type conflictRequest struct {
	Reason string `json:"reason"`
}

type overrideRequest struct {
	Action string `json:"action"`
	Reason string `json:"reason"`
}

func (s *Server) declareConflict(c *gin.Context) {
	var req conflictRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.cfg.Nominations.DeclareConflict(c.Request.Context(), actorOf(c), c.Param("id"), req.Reason); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusCreated)
}

func (s *Server) override(c *gin.Context) {
	var req overrideRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.cfg.Nominations.Override(c.Request.Context(), actorOf(c), c.Param("id"), req.Action, req.Reason)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.writeNomination(c, http.StatusOK, v)
}

type eventResponse struct {
	Seq   int             `json:"seq"`
	At    time.Time       `json:"at"`
	Actor string          `json:"actor"`
	Type  string          `json:"type"`
	From  string          `json:"from,omitempty"`
	To    string          `json:"to,omitempty"`
	Data  json.RawMessage `json:"data"`
	// Redacted says the event's content is not for this caller.
	Redacted bool   `json:"redacted,omitempty"`
	Prev     string `json:"prev_hash"`
	Hash     string `json:"hash"`
	// HashVersion names the encoding the hash covers (0: legacy).
	HashVersion int `json:"hash_version"`
}

// verificationResponse says whether a stored history verifies and, when it
// does not, from which event.
type verificationResponse struct {
	Verified    bool   `json:"verified"`
	Events      int    `json:"events"`
	FirstBadSeq int    `json:"first_bad_seq,omitempty"`
	Problem     string `json:"problem,omitempty"`
}

type historyResponse struct {
	Items []eventResponse `json:"items"`
	// Verification is given to the secretariat only.
	Verification *verificationResponse `json:"verification,omitempty"`
}

func (s *Server) history(c *gin.Context) {
	evs, v, err := s.cfg.Nominations.VerifiedHistory(c.Request.Context(), actorOf(c), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	out := historyResponse{Items: make([]eventResponse, 0, len(evs))}
	for _, e := range evs {
		out.Items = append(out.Items, eventResponse{Seq: e.Seq, At: e.At, Actor: e.Actor, Type: e.Type, From: e.From, To: e.To,
			Data: e.Data, Redacted: e.Data == nil, Prev: e.PrevHash, Hash: e.Hash, HashVersion: e.HashVersion})
	}
	if v != nil {
		out.Verification = &verificationResponse{Verified: v.OK(), Events: v.Events, FirstBadSeq: v.FirstBad, Problem: v.Problem}
	}
	c.JSON(http.StatusOK, out)
}

type endorsementRequest struct {
	Name         string `json:"name"`
	Email        string `json:"email"`
	Organization string `json:"organization"`
}

func (s *Server) requestEndorsement(c *gin.Context) {
	var req endorsementRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	en, err := s.cfg.Nominations.RequestEndorsement(c.Request.Context(), actorOf(c), c.Param("id"),
		nomination.EndorsementInput{Name: req.Name, Email: req.Email, Organization: req.Organization})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, en)
}

func (s *Server) openEndorsement(c *gin.Context) {
	l, err := s.cfg.Nominations.OpenEndorsement(c.Request.Context(), c.Param("token"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"nominee": l.NomineeName, "call": l.CallTitle, "endorser": l.Endorsement.Name, "status": l.Endorsement.Status})
}

type statementRequest struct {
	Statement string `json:"statement"`
}

func (s *Server) confirmEndorsement(c *gin.Context) {
	var req statementRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	en, err := s.cfg.Nominations.ConfirmEndorsement(c.Request.Context(), c.Param("token"), req.Statement)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": en.Status})
}

// declineEndorsement records that the person asked does not endorse the
// nomination, as the endorse page's "decline" button does. It takes no
// body (an empty JSON object is accepted).
func (s *Server) declineEndorsement(c *gin.Context) {
	if c.Request.ContentLength > 0 {
		var req struct{}
		if err := decodeJSON(c, &req); err != nil {
			s.fail(c, err)
			return
		}
	}
	en, err := s.cfg.Nominations.DeclineEndorsement(c.Request.Context(), c.Param("token"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": en.Status})
}

func (s *Server) openConsent(c *gin.Context) {
	l, err := s.cfg.Nominations.OpenConsent(c.Request.Context(), c.Param("token"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"nominee": l.NomineeName, "nominator": l.NominatorName, "call": l.CallTitle, "consent": l.Consent})
}

type consentRequest struct {
	Decision string `json:"decision"`
}

func (s *Server) answerConsent(c *gin.Context) {
	var req consentRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	d, err := s.cfg.Nominations.AnswerConsent(c.Request.Context(), c.Param("token"), req.Decision)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"consent": d})
}
