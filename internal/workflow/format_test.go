package workflow

import (
	"strings"
	"testing"
)

func TestBaseYAMLIsClean(t *testing.T) {
	d, diags := Parse("test.yaml", []byte(baseYAML), testTemplates)
	if d == nil || len(untranslated(diags)) != 0 {
		t.Fatalf("baseYAML: definition %v, diagnostics %v", d != nil, diags)
	}
}

// TestFormatRules checks each rule of the workflow format: an edit of the
// base workflow that breaks the rule must be reported at the right line
// with a message naming the problem; errors must stop the definition from
// loading, warnings must not.
func TestFormatRules(t *testing.T) {
	type rule struct {
		name string
		src  string
		line int // 0: the line marked "#!"
		warn bool
		want string
	}
	e := func(old, new string) string { return edit(t, old, new) }
	rules := []rule{
		// Top level.
		{name: "unknown top-level key", src: e("body: mag\n", "body: mag\ncolour: blue #!\n"), want: `unknown key "colour" in the workflow`},
		{name: "misspelt key names the fix", src: e("initial: draft", "intial: draft #!"), want: `did you mean "initial"`},
		{name: "missing required key", src: e("title: Demo\n", ""), line: 1, want: `the workflow needs "title"`},
		{name: "version not a number", src: e("version: 1", "version: one #!"), want: "version must be a whole number, found text"},
		{name: "version zero", src: e("version: 1", "version: 0 #!"), want: "version must be between 1 and"},
		{name: "invalid id", src: e("id: demo", "id: Demo Flow #!"), want: `id "Demo Flow" is not valid`},
		{name: "unknown body", src: e("body: mag", "body: igf #!"), want: `unknown body "igf"`},
		{name: "title must be text", src: e("title: Demo", "title: 2026 #!"), want: "put it in quotes"},
		{name: "terms years zero", src: e("  years: 1", "  years: 0 #!"), want: "terms.years must be between 1 and 10"},
		{name: "terms unknown key", src: e("  years: 1", "  years: 1\n  seats: 40 #!"), want: `unknown key "seats" in terms`},

		// Fields.
		{name: "field unknown type", src: e("    type: longtext", "    type: essay #!"), want: `unknown type "essay"`},
		{name: "field type suggestion", src: e("    type: longtext", "    type: longtxt #!"), want: `did you mean "longtext"`},
		{name: "field declared twice", src: e("  - name: motivation", "  - name: stakeholder_group #!"), want: `field "stakeholder_group" is declared twice`},
		{name: "field name not valid", src: e("  - name: motivation", "  - name: Motivation #!"), want: `field name "Motivation" is not a valid name`},
		{name: "field name reserved", src: e("  - name: motivation", "  - name: in #!"), want: "reserved word"},
		{name: "choice without choices", src: e("    choices: [government, civil_society]\n", ""), line: 8, want: "is a choice field and needs choices"},
		{name: "choices on text", src: e("    max_len: 500", "    max_len: 500\n    choices: [a, b] #!"), want: "choices applies only to choice fields"},
		{name: "choice listed twice", src: e("choices: [government, civil_society]", "choices: [government, government] #!"), want: `lists choice "government" twice`},
		{name: "min_len over max_len", src: e("    max_len: 500", "    max_len: 500\n    min_len: 600 #!"), want: "min_len 600 is more than max_len 500"},
		{name: "max_len over cap", src: e("    max_len: 500", "    max_len: 900000 #!"), want: "max_len must be between 1 and 50000"},
		{name: "file without accept", src: e("    accept: [application/pdf]\n", ""), line: 15, want: "needs accept"},
		{name: "accept not a MIME type", src: e("accept: [application/pdf]", "accept: [pdf] #!"), want: `"pdf" is not a MIME type`},
		{name: "max_bytes on text", src: e("    max_len: 500", "    max_len: 500\n    max_bytes: 10 #!"), want: "max_bytes applies only to file fields"},
		{name: "field unknown key", src: e("    max_len: 500", "    max_len: 500\n    mandatory: true #!"), want: `unknown key "mandatory" in a field`},
		{name: "required not a bool", src: e("    required: true", "    required: yes please #!"), want: "required must be true or false"},

		// Roles and panels.
		{name: "unknown role", src: e("roles: [owner, secretariat]", "roles: [owner, secretariat, chair] #!"), want: `unknown role "chair"`},
		{name: "role listed twice", src: e("roles: [owner, secretariat]", "roles: [owner, secretariat, owner] #!"), want: `role "owner" is listed twice`},
		{name: "panel listed twice", src: e("panels: [government, civil_society]", "panels: [government, civil_society, government] #!"), want: `panel "government" is listed twice`},
		{name: "unused role warns", src: e("roles: [owner, secretariat]", "roles: [owner, secretariat, reviewer] #!"), warn: true, want: `role "reviewer" is declared but no action names it`},
		{name: "unused panel warns", src: e("panels: [government, civil_society]", "panels: [government, civil_society, spare] #!"), warn: true, want: `panel "spare" is declared but no review uses it`},

		// States.
		{name: "unknown initial state", src: e("initial: draft", "initial: draf #!"), want: `initial state "draf" is not declared under states (did you mean "draft"?)`},
		{name: "initial state final", src: e("  draft:\n    editable: true", "  draft:\n    final: true"), line: 20, want: `initial state "draft" is final`},
		{name: "state unknown key", src: e("    editable: true", "    editable: true\n    colour: red #!"), want: `unknown key "colour" in state "draft"`},
		{name: "state name not valid", src: e("  accepted:\n", "  Accepted: #!\n"), want: `state name "Accepted" is not valid`},
		{name: "final and editable", src: e("  accepted:\n    final: true", "  accepted:\n    final: true\n    editable: true #!"), want: "is final and cannot be editable"},
		{name: "unreachable state", src: e("  declined:\n", "  limbo: #!\n    description: nothing leads here\n  declined:\n"), want: `state "limbo" is unreachable`},
		{name: "no path to a final state", src: e("  declined:\n", "  stuck: #!\n    description: no way out\n  declined:\n") + "  - name: park\n    from: submitted\n    to: stuck\n    roles: [secretariat]\n", want: `state "stuck" has no path to a final state`},
		{name: "no final state at all", src: strings.Replace(strings.Replace(e("  accepted:\n    final: true", "  accepted: {}"), "  declined:\n    final: true", "  declined: {}", 1), "  draft:", "  draft: #!", 1), want: "no state is final"},

		// Notifications.
		{name: "unknown audience", src: e("{notify: secretariat, template: new_submission}", "{notify: secretary, template: new_submission} #!"), want: `unknown audience "secretary"`},
		{name: "unknown template", src: e("{notify: secretariat, template: new_submission}", "{notify: secretariat, template: new_submision} #!"), want: `unknown template "new_submision" in state "submitted" on_enter: no new_submision.txt in the templates directory (did you mean "new_submission"?)`},
		{name: "panel audience without review", src: e("{notify: secretariat, template: new_submission}", "{notify: panel, template: new_submission} #!"), want: `notifies "panel", but state "submitted" holds no review`},
		{name: "notification without template", src: e("{notify: secretariat, template: new_submission}", "{notify: secretariat} #!"), want: `needs "template"`},
		{name: "action notifies panel of a state without review", src: e("    to: submitted\n", "    to: submitted\n    notify:\n      - {notify: panel, template: review_request} #!\n"), want: `action "submit" notifies "panel", but its target state "submitted" holds no review`},

		// Reviews.
		{name: "review unknown panel", src: e("      panel_from_field: stakeholder_group", "      panel: experts #!"), want: `unknown panel "experts"`},
		{name: "review both panel kinds", src: e("      panel_from_field: stakeholder_group", "      panel_from_field: stakeholder_group #!\n      panel: government"), want: "names both panel and panel_from_field"},
		{name: "review panel field unknown", src: e("      panel_from_field: stakeholder_group", "      panel_from_field: stakeholder #!"), want: `unknown field "stakeholder" in state "panel_review" review (did you mean "stakeholder_group"?)`},
		{name: "review panel field not a choice", src: e("      panel_from_field: stakeholder_group", "      panel_from_field: motivation #!"), want: "must be a choice field, not longtext"},
		{name: "review field choice without panel", src: e("panels: [government, civil_society]", "panels: [government]") + "", line: 0, want: `not declared under panels: "civil_society"`},
		{name: "review unknown option", src: e("options: [approve, reject, recuse]", "options: [approve, reject, abstain] #!"), want: `unknown vote option "abstain"`},
		{name: "review request_changes without action", src: e("options: [approve, reject, recuse]", "options: [approve, reject, recuse, request_changes]"), line: 0, want: "offers request_changes but names no on_request_changes action"},
		{name: "review on_fail without fail_if", src: e("      fail_if: tally.pending == 0 && !(tally.approve >= 2 && tally.approve > tally.reject)\n", ""), line: 0, want: "has on_fail but no fail_if rule"},
		{name: "review unknown outcome action", src: e("      on_pass: recommend", "      on_pass: recomend #!"), want: `unknown action "recomend" in state "panel_review" review on_pass (did you mean "recommend"?)`},
		{name: "review outcome not from the state", src: e("      on_pass: recommend", "      on_pass: admit #!"), want: `fires action "admit", which does not leave state "panel_review"`},
		{name: "review outcome without system role", src: e("    to: accepted\n    roles: [system]", "    to: accepted\n    roles: [secretariat]"), line: 0, want: `fires action "recommend", whose roles do not include system`},
		{name: "review score range inverted", src: e("      due: 14d", "      due: 14d\n      score: {min: 5, max: 1} #!"), want: "score max 1 must be more than min 5"},
		{name: "review score without approve or reject", src: e("options: [approve, reject, recuse]", "options: [recuse]\n      score: {min: 1, max: 5} #!"), want: "has a score but neither approve nor reject"},
		{name: "review unknown exclusion", src: e("      due: 14d", "      due: 14d\n      exclude: [friends] #!"), want: `unknown exclusion "friends"`},
		{name: "review due without unit", src: e("      due: 14d", "      due: 14 #!"), want: "needs a unit, such as 72h or 14d"},
		{name: "review due malformed", src: e("      due: 14d", "      due: two weeks #!"), want: `invalid duration "two weeks"`},
		{name: "review on a final state", src: e("  accepted:\n    final: true", "  accepted:\n    final: true\n    review: #!\n      panel: government"), want: "is final and cannot hold a review"},
		{name: "review missing pass_if", src: e("      pass_if: tally.approve >= 2 && tally.approve > tally.reject\n", ""), line: 0, want: `needs "pass_if"`},
		{name: "review rules overlap warns", src: e("      fail_if: tally.pending == 0 && !(tally.approve >= 2 && tally.approve > tally.reject)", "      fail_if: tally.reject >= 1 #!"), warn: true, want: "pass_if and fail_if both hold for eligible=3 approve=2 reject=1"},
		{name: "review that never passes warns", src: e("      pass_if: tally.approve >= 2 && tally.approve > tally.reject", "      pass_if: tally.approve > tally.eligible"), warn: true, line: 0, want: "pass_if holds for no tally"},

		// Timers.
		{name: "timer on a final state", src: e("  accepted:\n    final: true", "  accepted:\n    final: true\n    timers: #!\n      - {name: t, kind: reminder, at: now, notify: secretariat, template: new_submission}"), want: "is final and cannot have timers"},
		{name: "timer unknown kind", src: e("        kind: reminder", "        kind: alarm #!"), want: `unknown timer kind "alarm"`},
		{name: "timer at not a timestamp", src: e("        at: review_due - days(3)", "        at: days(3) #!"), want: "expression gives duration, but timestamp is needed here"},
		{name: "timer review_due without review", src: e("    on_enter:\n      - {notify: secretariat, template: new_submission}", "    timers:\n      - name: t\n        kind: escalation\n        at: review_due #!\n        action: admit\n"), want: `uses review_due, but state "submitted" holds no review`},
		{name: "reminder without template", src: e("        notify: pending_reviewers\n        template: review_reminder\n", ""), line: 0, want: "is a reminder and needs notify and template"},
		{name: "reminder repeating too often", src: e("        at: review_due - days(3)", "        at: review_due - days(3)\n        every: 10m #!"), want: "repeats more often than hourly"},
		{name: "reminder firing an action", src: e("        at: review_due - days(3)", "        at: review_due - days(3)\n        action: decline #!"), want: "is a reminder and cannot fire an action"},
		{name: "escalation without action", src: e("        kind: reminder", "        kind: escalation"), line: 0, want: "is an escalation and needs an action"},
		{name: "escalation repeating", src: e("        kind: reminder\n        at: review_due - days(3)", "        kind: escalation\n        action: decline\n        at: review_due\n        every: 1d #!"), want: "only reminders repeat"},
		{name: "timer declared twice", src: e("        template: review_reminder\n", "        template: review_reminder\n      - name: remind #!\n        kind: reminder\n        at: review_due\n        notify: secretariat\n        template: review_overdue\n"), want: `timer "remind" is declared twice`},

		// Actions.
		{name: "action declared twice", src: e("  - name: admit", "  - name: submit #!"), want: `action "submit" is declared twice`},
		{name: "action unknown from state", src: e("    from: submitted", "    from: submited #!"), want: `unknown state "submited" in action "admit" from (did you mean "submitted"?)`},
		{name: "action unknown to state", src: e("    to: panel_review", "    to: panel_reveiw #!"), want: `unknown state "panel_reveiw" in action "admit" to (did you mean "panel_review"?)`},
		{name: "action leaves a final state", src: e("    from: submitted", "    from: [submitted, accepted] #!"), want: `action "admit" leaves final state "accepted"`},
		{name: "action role undeclared", src: e("    roles: [owner]", "    roles: [owner, reviewer] #!"), want: `names role "reviewer", which is not declared under roles`},
		{name: "action unknown role", src: e("    roles: [owner]", "    roles: [ownr] #!"), want: `unknown role "ownr" in action "submit"`},
		{name: "action unknown input", src: e("    roles: [owner]", "    roles: [owner]\n    inputs: [excuse] #!"), want: `unknown input "excuse"`},
		{name: "action without roles key", src: e("  - name: submit\n    from: draft\n    to: submitted\n    roles: [owner]\n", "  - name: submit #!\n    from: draft\n    to: submitted\n"), want: `an action needs "roles"`},
		{name: "action from no state", src: e("    from: submitted", "    from: [] #!"), want: "names no state to leave from"},
		{name: "system action never fired warns", src: baseYAML + "  - name: tidy #!\n    from: submitted\n    to: declined\n    roles: [system]\n", warn: true, want: `action "tidy" can only be taken by the system, but no review or timer fires it`},

		// Guards and CEL.
		{name: "guard without message", src: e("        message: The call has closed.\n", ""), line: 0, want: `guard needs "message"`},
		{name: "guard syntax error", src: e("      - rule: now <= call.closes_at", "      - rule: now <= = call.closes_at #!"), want: "guard 1: Syntax error"},
		{name: "guard unknown variable", src: e("      - rule: now <= call.closes_at", "      - rule: now <= call.closes #!"), want: `unknown name "call.closes" (did you mean "call.closes_at"?)`},
		{name: "guard unknown field", src: e("      - rule: now <= call.closes_at", "      - rule: fields.motivaton != '' #!"), want: `unknown name "fields.motivaton" (did you mean "fields.motivation"?)`},
		{name: "guard file field is an attachment", src: e("      - rule: now <= call.closes_at", "      - rule: attachments.cv >= 1 && fields.cv != '' #!"), want: `unknown name "fields.cv"`},
		{name: "guard not a bool", src: e("      - rule: now <= call.closes_at", "      - rule: endorsements + 1 #!"), want: "expression gives int, but bool is needed here"},
		{name: "guard type error", src: e("      - rule: now <= call.closes_at", "      - rule: endorsements == 'many' #!"), want: "operator == cannot be applied to int and string"},
		{name: "guard error column", src: e("      - rule: now <= call.closes_at", "      - rule: now <= call.closes_at && foo #!"), want: `unknown name "foo"`},
		{name: "guard with a macro", src: e("      - rule: now <= call.closes_at", "      - rule: '[1, 2].exists(x, x > endorsements)' #!"), want: "exists"},
		{name: "guard with an extension function", src: e("      - rule: now <= call.closes_at", "      - rule: fields.motivation.lowerAscii() == '' #!"), want: "lowerAscii"},
		{name: "guard too costly", src: e("      - rule: now <= call.closes_at", "      - rule: fields.motivation.contains(fields.motivation + fields.motivation) #!"), want: "expression is too costly"},
		{name: "guard too long", src: e("      - rule: now <= call.closes_at", "      - rule: "+strings.Repeat("endorsements > 0 && ", 60)+"true #!"), want: "expression is 1204 characters long, more than the 1000 allowed"},
		{name: "guard repeated warns", src: e("        message: The call has closed.\n", "        message: The call has closed.\n      - rule: now <=  call.closes_at #!\n        message: Again.\n"), warn: true, want: "guard 2 repeats the rule of guard 1"},
		{name: "pass_if type error", src: e("      pass_if: tally.approve >= 2 && tally.approve > tally.reject", "      pass_if: tally.approve #!"), want: "pass_if: expression gives int, but bool is needed here"},
		{name: "block scalar rule error line", src: e("      - rule: now <= call.closes_at", "      - rule: |\n          now <= call.closes_at &&\n          bogus"), line: 54, want: `unknown name "bogus"`},

		// YAML itself.
		{name: "duplicate key", src: e("title: Demo\n", "title: Demo\ntitle: Again #!\n"), want: `duplicate key`},
		{name: "anchor", src: e("roles: [owner, secretariat]", "roles: &r [owner, secretariat] #!"), want: "anchors (&r) are not allowed"},
		{name: "alias", src: e("panels: [government, civil_society]", "panels: *p #!"), want: "alias"},
		{name: "tag", src: e("title: Demo", "title: !!str Demo #!"), want: "tags (!!str) are not allowed"},
		{name: "merge key", src: e("  draft:\n    editable: true", "  draft:\n    <<: {editable: true} #!"), want: "merge keys (<<) are not allowed"},
		{name: "two documents", src: baseYAML + "---\nid: other #!\n", want: "more than one YAML document"},
		{name: "syntax error", src: e("roles: [owner, secretariat]", "roles: [owner, secretariat"), line: 19, want: "YAML syntax"},
		{name: "tab indentation", src: e("  years: 1", "\tyears: 1 #!"), want: "YAML syntax"},
		{name: "not UTF-8", src: e("title: Demo", "title: D\xffmo #!"), want: "not valid UTF-8"},
		{name: "empty file", src: "\n\n", line: 1, want: "file is empty"},
		{name: "not a mapping", src: "- just\n- a list\n", line: 1, want: "the workflow must be a mapping"},
		{name: "flow nesting too deep", src: e("title: Demo", "title: Demo\nextra: "+strings.Repeat("[", 40)+strings.Repeat("]", 40)+" #!"), want: "nested more than 32 levels deep"},
		{name: "block nesting too deep", src: e("title: Demo", "title: Demo\nextra:\n"+strings.Repeat("- ", 60)+"x #!"), want: "nested too deeply"},
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			line := r.line
			if line == 0 {
				line = markerLine(r.src)
			}
			d, diags := Parse("test.yaml", []byte(r.src), testTemplates)
			if r.warn {
				if d == nil {
					t.Fatalf("a warning stopped the definition from loading: %v", diags)
				}
			} else if d != nil {
				t.Fatalf("definition loaded despite the broken rule; diagnostics: %v", diags)
			}
			sev := SeverityError
			if r.warn {
				sev = SeverityWarning
			}
			for _, dg := range diags {
				if dg.Severity == sev && strings.Contains(dg.Message, r.want) && (line == 0 || dg.Line == line) {
					if dg.File != "test.yaml" {
						t.Errorf("diagnostic names file %q, want test.yaml", dg.File)
					}
					return
				}
			}
			t.Errorf("no %s at line %d containing %q; got:\n%s", sev, line, r.want, diagLines(diags))
		})
	}
}

func diagLines(diags []Diagnostic) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString("  " + d.String() + "\n")
	}
	return b.String()
}

func TestCELErrorColumn(t *testing.T) {
	src := edit(t, "      - rule: now <= call.closes_at", "      - rule: now <= call.closes_at && foo")
	_, diags := Parse("test.yaml", []byte(src), testTemplates)
	line := strings.Split(src, "\n")
	for _, d := range diags {
		if strings.Contains(d.Message, `"foo"`) {
			// The column must point at foo in the file.
			text := line[d.Line-1]
			if d.Col < 1 || d.Col > len(text) || !strings.HasPrefix(text[d.Col-1:], "foo") {
				t.Fatalf("diagnostic %s points at %q, want foo", d, text[min(max(d.Col-1, 0), len(text)):])
			}
			return
		}
	}
	t.Fatalf("no diagnostic for foo: %v", diags)
}

func TestDiagnosticString(t *testing.T) {
	tests := []struct {
		name string
		d    Diagnostic
		want string
	}{
		{"full", Diagnostic{File: "workflows/mag.yaml", Line: 12, Col: 5, Severity: SeverityError, Message: "bad"}, "workflows/mag.yaml:12:5: error: bad"},
		{"no column", Diagnostic{File: "a.yaml", Line: 3, Severity: SeverityWarning, Message: "meh"}, "a.yaml:3: warning: meh"},
		{"no line", Diagnostic{File: "dir", Severity: SeverityError, Message: "empty"}, "dir: error: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}
