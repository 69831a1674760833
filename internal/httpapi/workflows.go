package httpapi

import (
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/igf/nomina/internal/locale"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/workflow"
)

func (s *Server) workflowRoutes() {
	s.Handle(http.MethodGet, "/api/v1/workflows", Public, s.listWorkflows)
	s.Handle(http.MethodGet, "/api/v1/workflows/:id", Public, s.getWorkflow)
	s.Handle(http.MethodGet, "/api/v1/workflows/:id/graph", Public, s.workflowGraph)
}

type fieldResponse struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Label    string   `json:"label,omitempty"`
	Help     string   `json:"help,omitempty"`
	Required bool     `json:"required"`
	MinLen   int      `json:"min_len,omitempty"`
	MaxLen   int      `json:"max_len,omitempty"`
	Choices  []string `json:"choices,omitempty"`
	Accept   []string `json:"accept,omitempty"`
	MaxBytes int64    `json:"max_bytes,omitempty"`
}

type stateResponse struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Final       bool   `json:"final,omitempty"`
	Editable    bool   `json:"editable,omitempty"`
	Review      bool   `json:"review,omitempty"`
	ReviewDue   string `json:"review_due,omitempty"`
	// ReviewRules are the facts of the state's review: who votes, what
	// they may decide, the score scale, when it is due and who is
	// excluded.
	ReviewRules *reviewRulesResponse `json:"review_rules,omitempty"`
}

type reviewRulesResponse struct {
	Panel          string         `json:"panel,omitempty"`
	PanelFromField string         `json:"panel_from_field,omitempty"`
	Options        []string       `json:"options"`
	Score          *scoreResponse `json:"score,omitempty"`
	// DueSeconds is how long after the state is entered the review is
	// due (0: no due date).
	DueSeconds int64    `json:"due_seconds"`
	Exclude    []string `json:"exclude"`
	// CommentRequired lists the decisions that need a comment.
	CommentRequired []string `json:"comment_required"`
	AllowChange     bool     `json:"allow_change"`
}

type scoreResponse struct {
	Min      int  `json:"min"`
	Max      int  `json:"max"`
	Required bool `json:"required"`
}

type workflowActionResponse struct {
	Name   string   `json:"name"`
	Label  string   `json:"label,omitempty"`
	From   []string `json:"from"`
	To     string   `json:"to"`
	Roles  []string `json:"roles"`
	Inputs []string `json:"inputs,omitempty"`
}

type workflowResponse struct {
	ID          string                   `json:"id"`
	Version     int                      `json:"version"`
	Title       string                   `json:"title"`
	Description string                   `json:"description,omitempty"`
	Body        string                   `json:"body"`
	Hash        string                   `json:"hash"`
	TermYears   int                      `json:"term_years,omitempty"`
	MaxTerms    int                      `json:"max_consecutive_terms,omitempty"`
	Initial     string                   `json:"initial"`
	Fields      []fieldResponse          `json:"fields,omitempty"`
	States      []stateResponse          `json:"states,omitempty"`
	Actions     []workflowActionResponse `json:"actions,omitempty"`
	Panels      []string                 `json:"panels,omitempty"`
	// Start says who may start a nomination: the start rules' messages
	// and the nominator quota.
	Start *startResponse `json:"start,omitempty"`
}

type startResponse struct {
	Rules        []string `json:"rules,omitempty"`
	Quota        int      `json:"quota,omitempty"`
	QuotaMessage string   `json:"quota_message,omitempty"`
}

func toWorkflowResponse(d *workflow.Definition, full bool) workflowResponse {
	r := workflowResponse{ID: d.ID, Version: d.Version, Title: d.Title, Description: d.Description, Body: d.Body, Hash: d.Hash,
		TermYears: d.Terms.Years, MaxTerms: d.Terms.MaxConsecutive, Initial: d.Initial}
	if !full {
		return r
	}
	r.Panels = d.Panels
	for _, f := range d.Fields {
		r.Fields = append(r.Fields, fieldResponse{f.Name, f.Type, f.Label, f.Help, f.Required, f.MinLen, f.MaxLen, f.Choices, f.Accept, f.MaxBytes})
	}
	for _, name := range d.StateOrder {
		st := d.States[name]
		sr := stateResponse{Name: name, Description: st.Description, Final: st.Final, Editable: st.Editable, Review: st.Review != nil}
		if rv := st.Review; rv != nil {
			if rv.Due > 0 {
				sr.ReviewDue = rv.Due.Round(time.Hour).String()
			}
			rr := &reviewRulesResponse{Panel: rv.Panel, PanelFromField: rv.PanelFromField, Options: append([]string{}, rv.Options...),
				DueSeconds: int64(rv.Due / time.Second), Exclude: append([]string{}, rv.Exclude...), CommentRequired: []string{}, AllowChange: rv.AllowChange}
			if rv.Score != nil {
				rr.Score = &scoreResponse{Min: rv.Score.Min, Max: rv.Score.Max, Required: rv.Score.Required}
			}
			if slices.Contains(rv.Options, workflow.VoteRequestChanges) {
				rr.CommentRequired = append(rr.CommentRequired, workflow.VoteRequestChanges)
			}
			sr.ReviewRules = rr
		}
		r.States = append(r.States, sr)
	}
	for _, a := range d.Actions {
		r.Actions = append(r.Actions, workflowActionResponse{a.Name, a.Label, a.From, a.To, a.Roles, a.Inputs})
	}
	if st := d.Starting; len(st.Guards) > 0 || st.Quota > 0 {
		r.Start = &startResponse{Quota: st.Quota, QuotaMessage: st.QuotaMessage}
		for _, g := range st.Guards {
			r.Start.Rules = append(r.Start.Rules, g.Message)
		}
	}
	return r
}

func (s *Server) listWorkflows(c *gin.Context) {
	out := []workflowResponse{}
	lang := textLanguage(c)
	if s.cfg.Workflows != nil {
		for _, d := range s.cfg.Workflows.All() {
			out = append(out, toWorkflowResponse(d.In(lang), false))
		}
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

func (s *Server) workflow(c *gin.Context) (*workflow.Definition, bool) {
	if s.cfg.Workflows != nil {
		if d, ok := s.cfg.Workflows.Latest(c.Param("id")); ok {
			return d, true
		}
	}
	s.fail(c, nomination.Fail(nomination.ENOTFOUND, "NoSuchWorkflow", "no such workflow"))
	return nil, false
}

func (s *Server) getWorkflow(c *gin.Context) {
	if d, ok := s.workflow(c); ok {
		c.JSON(http.StatusOK, toWorkflowResponse(d.In(textLanguage(c)), true))
	}
}

func (s *Server) workflowGraph(c *gin.Context) {
	d, ok := s.workflow(c)
	if !ok {
		return
	}
	format := c.DefaultQuery("format", "mermaid")
	if format != "mermaid" && format != "dot" {
		s.fail(c, nomination.Fail(nomination.EBADREQUEST, "UnknownGraphFormat", "unknown graph format").
			With(nomination.Problem("format", "MermaidOrDot", "mermaid or dot")))
		return
	}
	g, err := d.Graph(format)
	if err != nil {
		s.fail(c, err)
		return
	}
	ctype := "text/vnd.mermaid; charset=utf-8"
	if format == "dot" {
		ctype = "text/vnd.graphviz; charset=utf-8"
	}
	c.Data(http.StatusOK, ctype, []byte(g))
}

// textLanguage is the language a workflow's texts are given in: the one
// Accept-Language asks for, when the workflow is written in it (English
// stands in for any text it lacks), said in Content-Language.
func textLanguage(c *gin.Context) string {
	lang := locale.Match(c.GetHeader("Accept-Language"))
	c.Header("Content-Language", lang)
	c.Writer.Header().Add("Vary", "Accept-Language")
	return lang
}
