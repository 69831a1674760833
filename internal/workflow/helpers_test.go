package workflow

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shippedDir holds the workflows Nomina ships.
const shippedDir = "../../workflows"

// shippedIDs are the workflows in shippedDir.
var shippedIDs = []string{"leadership-panel", "mag", "mag-alumni", "mag-chair"}

// mustLoadShipped loads the shipped workflows, failing on any diagnostic:
// the shipped files must be free of warnings too.
func mustLoadShipped(tb testing.TB) *Registry {
	tb.Helper()
	reg, diags, err := LoadDir(shippedDir)
	for _, d := range diags {
		tb.Errorf("shipped workflows: %s", d)
	}
	if err != nil {
		tb.Fatalf("LoadDir(%s): %v", shippedDir, err)
	}
	return reg
}

// mustShipped returns the latest shipped workflow id.
func mustShipped(tb testing.TB, id string) *Definition {
	tb.Helper()
	d, ok := mustLoadShipped(tb).Latest(id)
	if !ok {
		tb.Fatalf("no shipped workflow %q", id)
	}
	return d
}

// mustShippedTemplates returns the names of the shipped templates.
func mustShippedTemplates(tb testing.TB) TemplateSet {
	tb.Helper()
	set, diags, err := LoadTemplates(filepath.Join(shippedDir, TemplatesDir))
	if err != nil || HasErrors(diags) {
		tb.Fatalf("LoadTemplates: %v %v", err, diags)
	}
	return set
}

// mustParse parses src, failing on any error diagnostic.
func mustParse(tb testing.TB, src string) *Definition {
	tb.Helper()
	d, diags := Parse("test.yaml", []byte(src), testTemplates)
	if d == nil || HasErrors(diags) {
		tb.Fatalf("Parse: %v", diags)
	}
	return d
}

// testTemplates are the template names the inline test workflows use.
var testTemplates = NewTemplateSet("new_submission", "review_request", "review_reminder", "review_overdue", "changes_requested")

// baseYAML is a small valid workflow the format tests edit one rule at a
// time. It must parse without any diagnostic.
const baseYAML = `id: demo
version: 1
title: Demo
body: mag
terms:
  years: 1
fields:
  - name: stakeholder_group
    type: choice
    required: true
    choices: [government, civil_society]
  - name: motivation
    type: longtext
    max_len: 500
  - name: cv
    type: file
    accept: [application/pdf]
roles: [owner, secretariat]
panels: [government, civil_society]
initial: draft
states:
  draft:
    editable: true
  submitted:
    on_enter:
      - {notify: secretariat, template: new_submission}
  panel_review:
    review:
      panel_from_field: stakeholder_group
      options: [approve, reject, recuse]
      due: 14d
      pass_if: tally.approve >= 2 && tally.approve > tally.reject
      fail_if: tally.pending == 0 && !(tally.approve >= 2 && tally.approve > tally.reject)
      on_pass: recommend
      on_fail: decline
    timers:
      - name: remind
        kind: reminder
        at: review_due - days(3)
        notify: pending_reviewers
        template: review_reminder
  accepted:
    final: true
  declined:
    final: true
actions:
  - name: submit
    from: draft
    to: submitted
    roles: [owner]
    guards:
      - rule: now <= call.closes_at
        message: The call has closed.
  - name: admit
    from: submitted
    to: panel_review
    roles: [secretariat]
  - name: recommend
    from: panel_review
    to: accepted
    roles: [system]
  - name: decline
    from: panel_review
    to: declined
    roles: [system]
`

// edit returns baseYAML with old replaced by new exactly once, failing
// the test when old does not occur.
func edit(tb testing.TB, old, new string) string {
	tb.Helper()
	if !strings.Contains(baseYAML, old) {
		tb.Fatalf("baseYAML has no %q", old)
	}
	return strings.Replace(baseYAML, old, new, 1)
}

// markerLine returns the 1-based line of src holding "#!", or 0.
func markerLine(src string) int {
	for i, line := range strings.Split(src, "\n") {
		if strings.Contains(line, "#!") {
			return i + 1
		}
	}
	return 0
}

// Times used by the evaluation tests: the call is open from opens to
// closes; now is in between.
var (
	opens  = time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	closes = time.Date(2026, 3, 31, 23, 59, 0, 0, time.UTC)
	now    = time.Date(2026, 2, 10, 9, 30, 0, 0, time.UTC)
	call   = Call{OpensAt: opens, ClosesAt: closes, TermStart: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
	envNow = Env{Now: now, Call: call}
)

// completeMAG returns a MAG subject in state whose form is complete and
// which has everything admission needs.
func completeMAG(state string) Subject {
	return Subject{
		State:     state,
		EnteredAt: now.Add(-time.Hour),
		Fields: map[string]any{
			"stakeholder_group": "civil_society",
			"region":            "african",
			"economic_group":    "developing",
			"gender":            "female",
			"nationality":       "KE",
			"organization":      "Kenya ICT Action Network",
			"motivation":        strings.Repeat("I would bring a civil society perspective. ", 6),
			"declaration":       true,
		},
		Attachments:  map[string]int{"cv": 1},
		Endorsements: 1,
		Consent:      "not_required",
		// A current MAG member of civil society nominating a former
		// colleague of the same group: what the alumni and Chair calls ask.
		Nominator: PersonFacts{Roles: []string{RoleCandidate}, StakeholderGroup: "civil_society",
			Bodies: map[string]BodyFacts{"mag": {Terms: 2, Member: true, Group: "civil_society"}}},
		Nominee: PersonFacts{StakeholderGroup: "civil_society",
			Bodies: map[string]BodyFacts{"mag": {Terms: 1, Group: "civil_society"}}},
	}
}

// completeLP is completeMAG for the Leadership Panel's form.
func completeLP(state string) Subject {
	s := completeMAG(state)
	s.Fields["position"] = "Minister of ICT"
	s.Fields["nominating_group"] = "civil_society"
	return s
}

var (
	owner       = Actor{ID: "u-owner", Roles: []string{RoleCandidate}, Owner: true}
	stranger    = Actor{ID: "u-other", Roles: []string{RoleCandidate}}
	secretariat = Actor{ID: "u-sec", Roles: []string{RoleSecretariat}}
	admin       = Actor{ID: "u-admin", Roles: []string{RoleAdmin}}
	reviewer    = Actor{ID: "u-rev", Roles: []string{RoleReviewer}, Panels: []string{"civil_society"}}
)

// plainProblems returns ps with Field and Message only, to compare with
// expected English messages.
func plainProblems(ps []FieldProblem) []FieldProblem {
	if ps == nil {
		return nil
	}
	out := make([]FieldProblem, len(ps))
	for i, p := range ps {
		out[i] = FieldProblem{Field: p.Field, Message: p.Message}
		if p.Text.English != p.Message || p.Text.ID == "" {
			out[i].Message = "(no catalog text) " + p.Message
		}
	}
	return out
}

// untranslated leaves out the warnings about missing translations: the
// inline test workflows are written in English only.
func untranslated(diags []Diagnostic) []Diagnostic {
	var out []Diagnostic
	for _, d := range diags {
		if d.Severity == SeverityWarning && strings.Contains(d.Message, "has no translation in") {
			continue
		}
		out = append(out, d)
	}
	return out
}
