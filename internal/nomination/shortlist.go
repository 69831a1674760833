package nomination

import (
	"context"
	"iter"
	"slices"
	"time"

	"github.com/igf/nomina/internal/workflow"
)

// ExportColumn is a variable column of an export: a form field or a review
// stage. Header is its heading in English (the field's label, the stage's
// label, else their name); Texts the heading in each language the
// workflow writes it in (English included), nil when it writes none.
type ExportColumn struct {
	Key    string
	Header string
	Texts  map[string]string
}

// StageTally is the vote count of one review stage's latest round.
type StageTally struct {
	Approve, Reject, RequestChanges, Recuse, Scored int
	ScoreSum, MeanScore                             float64
}

// ExportAttachment is a file of a nomination, linked by URL.
type ExportAttachment struct {
	Kind, Filename, URL string
}

// ExportRow is one nomination as a shortlist shows it.
type ExportRow struct {
	ID, Call, State, NomineeName, NomineeEmail, Organization string
	Fields                                                   map[string]string
	SubmittedAt                                              time.Time
	Stages                                                   map[string]StageTally
	Endorsements                                             int
	Attachments                                              []ExportAttachment
}

// ExportTable is a call's nominations ready to be written out; Rows is
// streamed from the store, so a table of any size is held one row at a
// time.
type ExportTable struct {
	Call   Call
	Fields []ExportColumn
	Stages []ExportColumn
	Rows   iter.Seq2[ExportRow, error]
}

// ShortlistQuery selects a call's nominations for an export or a balance.
type ShortlistQuery struct {
	States      []string
	FieldEquals map[string]string
	Query       string
}

func (s *Service) staffCall(ctx context.Context, actor Actor, slug string) (Call, *workflow.Definition, error) {
	if !actor.IsStaff() {
		return Call{}, nil, Fail(EFORBIDDEN, "SecretariatExports", "only the secretariat exports shortlists")
	}
	call, err := s.Store.GetCall(ctx, slug)
	if err != nil {
		return Call{}, nil, err
	}
	def, ok := s.Workflows.Get(call.Workflow, call.WorkflowVersion, "")
	if !ok {
		if def, ok = s.Workflows.Latest(call.Workflow); !ok {
			return Call{}, nil, Errorf(EINTERNAL, "workflow %s is not loaded", call.Workflow)
		}
	}
	return call, def, nil
}

func (q ShortlistQuery) filter(slug string) ListFilter {
	return ListFilter{Call: slug, States: q.States, FieldEquals: q.FieldEquals, Query: q.Query}
}

// Export returns the call's nominations as an export table: one row per
// nomination with every form answer, state, submission time, the tally
// and mean score per review stage, endorsements and attachment links.
// Errors: EFORBIDDEN unless staff, ENOTFOUND.
func (s *Service) Export(ctx context.Context, actor Actor, slug string, q ShortlistQuery) (ExportTable, error) {
	call, def, err := s.staffCall(ctx, actor, slug)
	if err != nil {
		return ExportTable{}, err
	}
	t := ExportTable{Call: call}
	for _, f := range def.Fields {
		if f.Type == workflow.TypeFile {
			continue
		}
		label := f.Label
		if label == "" {
			label = f.Name
		}
		t.Fields = append(t.Fields, ExportColumn{Key: f.Name, Header: label, Texts: def.Texts("fields." + f.Name + ".label")})
	}
	for _, name := range def.StateOrder {
		st := def.States[name]
		if st.Review == nil {
			continue
		}
		label := st.Label
		if label == "" {
			label = name
		}
		t.Stages = append(t.Stages, ExportColumn{Key: name, Header: label, Texts: def.Texts("states." + name + ".label")})
	}
	t.Rows = func(yield func(ExportRow, error) bool) {
		for n, err := range s.Store.ScanNominations(ctx, q.filter(slug)) {
			if err != nil {
				yield(ExportRow{}, err)
				return
			}
			if !yield(s.exportRow(n, t.Stages), nil) {
				return
			}
		}
	}
	return t, nil
}

func (s *Service) exportRow(n *Nomination, stages []ExportColumn) ExportRow {
	r := ExportRow{ID: n.ID, Call: n.CallSlug, State: n.State, NomineeName: n.Nominee.Name, NomineeEmail: n.Nominee.Email,
		SubmittedAt: n.SubmittedAt, Endorsements: n.ConfirmedEndorsements(), Fields: map[string]string{}, Stages: map[string]StageTally{}}
	for k, v := range n.Fields {
		r.Fields[k] = fieldText(v)
	}
	r.Organization = r.Fields["organization"]
	for _, st := range stages {
		r.Stages[st.Key] = stageTally(n, st.Key, lastRound(n, st.Key))
	}
	for _, a := range n.Attachments {
		r.Attachments = append(r.Attachments, ExportAttachment{Kind: a.Kind, Filename: a.Filename,
			URL: s.BaseURL + "/api/v1/nominations/" + n.ID + "/attachments/" + a.ID})
	}
	return r
}

// lastRound is the latest round in which stage took votes.
func lastRound(n *Nomination, stage string) int {
	r := 0
	for _, v := range n.Votes {
		if v.Stage == stage && v.Round > r {
			r = v.Round
		}
	}
	return r
}

// stageTally counts the votes of one round of a stage, each reviewer's
// last vote counting.
func stageTally(n *Nomination, stage string, round int) StageTally {
	return countVotes(n.RoundVotes(stage, round), nil)
}

// countVotes counts votes by decision and averages their scores; keep,
// when set, says which votes count.
func countVotes(votes []Vote, keep func(Vote) bool) StageTally {
	var t StageTally
	for _, v := range votes {
		if keep != nil && !keep(v) {
			continue
		}
		switch v.Decision {
		case workflow.VoteApprove:
			t.Approve++
		case workflow.VoteReject:
			t.Reject++
		case workflow.VoteRequestChanges:
			t.RequestChanges++
		case workflow.VoteRecuse:
			t.Recuse++
		}
		if v.Score != nil {
			t.Scored++
			t.ScoreSum += *v.Score
		}
	}
	if t.Scored > 0 {
		t.MeanScore = t.ScoreSum / float64(t.Scored)
	}
	return t
}

// Candidate is one nomination as the balance report and the suggested
// shortlist see it: its mean score and its choice answers.
type Candidate struct {
	ID     string
	Name   string
	State  string
	Score  float64
	Fields map[string]string
}

// Candidates returns the call's nominations in the given states for a
// balance report, with the call. Errors: EFORBIDDEN unless staff,
// ENOTFOUND.
func (s *Service) Candidates(ctx context.Context, actor Actor, slug string, q ShortlistQuery) (Call, []Candidate, error) {
	call, def, err := s.staffCall(ctx, actor, slug)
	if err != nil {
		return Call{}, nil, err
	}
	var choice []string
	for _, f := range def.Fields {
		if f.Type == workflow.TypeChoice || f.Type == workflow.TypeCountry || f.Type == workflow.TypeBool {
			choice = append(choice, f.Name)
		}
	}
	var out []Candidate
	for n, err := range s.Store.ScanNominations(ctx, q.filter(slug)) {
		if err != nil {
			return Call{}, nil, err
		}
		c := Candidate{ID: n.ID, Name: n.Nominee.Name, State: n.State, Score: n.MeanScore, Fields: map[string]string{}}
		for k, v := range n.Fields {
			if slices.Contains(choice, k) {
				c.Fields[k] = fieldText(v)
			}
		}
		out = append(out, c)
	}
	return call, out, nil
}

// StateCounts counts a call's nominations by state, for the secretariat.
func (s *Service) StateCounts(ctx context.Context, actor Actor, slug string) (map[string]int, error) {
	if _, _, err := s.staffCall(ctx, actor, slug); err != nil {
		return nil, err
	}
	return s.Store.CountStates(ctx, slug)
}
