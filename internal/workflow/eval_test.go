package workflow

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestAvailable(t *testing.T) {
	mag := mustShipped(t, "mag")
	incomplete := completeMAG("draft")
	delete(incomplete.Fields, "motivation")
	tests := []struct {
		name    string
		subject Subject
		actor   Actor
		env     Env
		want    []ActionStatus
	}{
		{
			name: "owner in draft may submit and withdraw", subject: completeMAG("draft"), actor: owner, env: envNow,
			want: []ActionStatus{{Name: "submit", Label: "Submit the nomination", Allowed: true}, {Name: "withdraw", Label: "Withdraw the nomination", Allowed: true}},
		},
		{
			name: "submit refused after the call closes", subject: completeMAG("draft"), actor: owner, env: Env{Now: closes.Add(time.Minute), Call: call},
			want: []ActionStatus{
				{Name: "submit", Label: "Submit the nomination", Reasons: []string{"The call has closed; nominations can no longer be submitted."}},
				{Name: "withdraw", Label: "Withdraw the nomination", Allowed: true},
			},
		},
		{
			name: "submit refused on an incomplete form", subject: incomplete, actor: owner, env: envNow,
			want: []ActionStatus{
				{Name: "submit", Label: "Submit the nomination", Reasons: []string{"Answer every required question and upload the CV before submitting."}},
				{Name: "withdraw", Label: "Withdraw the nomination", Allowed: true},
			},
		},
		{
			name: "a stranger may do nothing", subject: completeMAG("draft"), actor: stranger, env: envNow,
		},
		{
			name: "secretariat screening", subject: completeMAG("submitted"), actor: secretariat, env: envNow,
			want: []ActionStatus{
				{Name: "admit", Label: "Admit to panel review", Allowed: true},
				{Name: "reject", Label: "Reject as ineligible", Allowed: true, Inputs: []string{"reason"}},
			},
		},
		{
			name: "admin acts as the secretariat", subject: completeMAG("submitted"), actor: admin, env: envNow,
			want: []ActionStatus{
				{Name: "admit", Label: "Admit to panel review", Allowed: true},
				{Name: "reject", Label: "Reject as ineligible", Allowed: true, Inputs: []string{"reason"}},
			},
		},
		{
			name: "term limit blocks admission", subject: func() Subject { s := completeMAG("submitted"); s.ConsecutiveTerms = 3; return s }(), actor: secretariat, env: envNow,
			want: []ActionStatus{
				{Name: "admit", Label: "Admit to panel review", Reasons: []string{"The candidate has already served the maximum number of consecutive MAG terms; reject the nomination, giving this as the reason."}},
				{Name: "reject", Label: "Reject as ineligible", Allowed: true, Inputs: []string{"reason"}},
			},
		},
		{
			name: "two terms served is fine", subject: func() Subject { s := completeMAG("submitted"); s.ConsecutiveTerms = 2; return s }(), actor: secretariat, env: envNow,
			want: []ActionStatus{
				{Name: "admit", Label: "Admit to panel review", Allowed: true},
				{Name: "reject", Label: "Reject as ineligible", Allowed: true, Inputs: []string{"reason"}},
			},
		},
		{
			name: "every failed guard is reported", subject: func() Subject {
				s := completeMAG("submitted")
				s.Consent, s.Endorsements, s.Attachments = "", 0, nil
				return s
			}(), actor: secretariat, env: Env{Now: now, Call: Call{OpensAt: opens, ClosesAt: closes, RequiredEndorsements: 1}},
			want: []ActionStatus{
				{Name: "admit", Label: "Admit to panel review", Reasons: []string{
					"The nomination is incomplete; reject it, giving what is missing as the reason.",
					"The nominee has not accepted the nomination.",
					"This call asks for endorsements, and the nomination has fewer confirmed endorsements than the call requires.",
				}},
				{Name: "reject", Label: "Reject as ineligible", Allowed: true, Inputs: []string{"reason"}},
			},
		},
		{
			// The IGF's calls do not require endorsements: screening counts
			// them but admits a nomination without any.
			name: "no endorsement needed unless the call asks", subject: func() Subject {
				s := completeMAG("submitted")
				s.Endorsements = 0
				return s
			}(), actor: secretariat, env: envNow,
			want: []ActionStatus{
				{Name: "admit", Label: "Admit to panel review", Allowed: true},
				{Name: "reject", Label: "Reject as ineligible", Allowed: true, Inputs: []string{"reason"}},
			},
		},
		{
			name: "engine-only actions are never listed", subject: completeMAG("panel_review"), actor: secretariat, env: envNow,
			want: []ActionStatus{{Name: "close_review", Label: "Close the panel review", Allowed: true, Inputs: []string{"comment"}}},
		},
		{
			name: "final states offer nothing", subject: completeMAG("appointed"), actor: secretariat, env: envNow,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mag.Available(tt.subject, tt.actor, tt.env)
			for i := range got {
				for j, w := range got[i].Why {
					if w.English != got[i].Reasons[j] || len(w.Texts) == 0 {
						t.Errorf("Why[%d] = %+v, reason %q", j, w, got[i].Reasons[j])
					}
				}
				got[i].Why = nil
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Available =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestFireErrors(t *testing.T) {
	mag := mustShipped(t, "mag")
	tests := []struct {
		name    string
		subject Subject
		actor   Actor
		action  string
		in      Input
		env     Env
		kind    ErrorKind
		msg     string
	}{
		{"unknown action", completeMAG("draft"), owner, "teleport", Input{}, envNow, ErrUnknownAction, `there is no action "teleport"`},
		{"role not allowed", completeMAG("submitted"), owner, "admit", Input{}, envNow, ErrNotAllowed, `you may not take the action "Admit to panel review" on this nomination`},
		{"candidate cannot fire engine actions", completeMAG("panel_review"), owner, "recommend", Input{}, envNow, ErrNotAllowed, `you may not take the action "recommend"`},
		{"not from this state", completeMAG("draft"), secretariat, "admit", Input{}, envNow, ErrNotAvailable, `the action "Admit to panel review" is not possible while the nomination is in state "draft"`},
		{"withdraw after a decision", completeMAG("rejected"), owner, "withdraw", Input{}, envNow, ErrNotAvailable, `is not possible while the nomination is in state "rejected"`},
		{"reject needs a reason", completeMAG("submitted"), secretariat, "reject", Input{}, envNow, ErrInputRequired, "reason is required"},
		{"a blank reason is no reason", completeMAG("submitted"), secretariat, "reject", Input{Reason: "   "}, envNow, ErrInputRequired, "reason is required"},
		{"a reason too long", completeMAG("submitted"), secretariat, "reject", Input{Reason: strings.Repeat("x", 5001)}, envNow, ErrInputRequired, "reason must be at most 5000 characters"},
		{"submit after the call closed", completeMAG("draft"), owner, "submit", Input{}, Env{Now: closes.Add(time.Second), Call: call}, ErrGuardFailed, "The call has closed"},
		{"submit before the call opened", completeMAG("draft"), owner, "submit", Input{}, Env{Now: opens.Add(-time.Second), Call: call}, ErrGuardFailed, "The call is not open yet."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := mag.Fire(tt.subject, tt.actor, tt.action, tt.in, tt.env)
			if out != nil {
				t.Errorf("Fire returned an outcome with error")
			}
			var ae *ActionError
			if !errors.As(err, &ae) {
				t.Fatalf("Fire error = %v, want *ActionError", err)
			}
			if ae.Kind != tt.kind || !errors.Is(err, tt.kind) {
				t.Errorf("kind = %v, want %v", ae.Kind, tt.kind)
			}
			if !strings.Contains(strings.Join(ae.Messages, "\n"), tt.msg) {
				t.Errorf("messages = %q, want one containing %q", ae.Messages, tt.msg)
			}
		})
	}
}

func TestFireIncompleteListsFields(t *testing.T) {
	mag := mustShipped(t, "mag")
	s := completeMAG("draft")
	delete(s.Fields, "nationality")
	s.Attachments = nil
	_, err := mag.Fire(s, owner, "submit", Input{}, envNow)
	var ae *ActionError
	if !errors.As(err, &ae) || ae.Kind != ErrGuardFailed {
		t.Fatalf("Fire = %v, want guard failure", err)
	}
	want := []FieldProblem{{Field: "nationality", Message: "is required"}, {Field: "cv", Message: "is required: upload a file"}}
	if !reflect.DeepEqual(plainProblems(ae.Fields), want) {
		t.Errorf("Fields = %v, want %v", ae.Fields, want)
	}
}

func TestFireOutcomes(t *testing.T) {
	mag := mustShipped(t, "mag")
	reviewDue := now.Add(14 * 24 * time.Hour)
	tests := []struct {
		name    string
		subject Subject
		actor   Actor
		action  string
		in      Input
		want    Outcome
	}{
		{
			name: "submit", subject: completeMAG("draft"), actor: owner, action: "submit",
			want: Outcome{Action: "submit", From: "draft", To: "submitted", Actor: "u-owner", Effects: []Effect{
				{Kind: EffectCancelTimers},
				{Kind: EffectNotify, Audience: AudienceNominator, Template: "nomination_submitted"},
				{Kind: EffectNotify, Audience: AudienceSecretariat, Template: "new_submission"},
			}},
		},
		{
			name: "admit opens the stakeholder group's review with its timers", subject: completeMAG("submitted"), actor: secretariat, action: "admit",
			want: Outcome{Action: "admit", From: "submitted", To: "panel_review", Actor: "u-sec", Effects: []Effect{
				{Kind: EffectNotify, Audience: AudienceNominator, Template: "nomination_admitted"},
				{Kind: EffectNotify, Audience: AudiencePanel, Template: "review_request"},
				{Kind: EffectOpenReview, Panel: "civil_society", Due: reviewDue},
				{Kind: EffectSetTimer, Timer: &TimerSpec{Name: "remind_reviewers", Kind: TimerReminder, State: "panel_review", Due: reviewDue.Add(-72 * time.Hour), Every: 24 * time.Hour, Audience: AudiencePendingReviewers, Template: "review_reminder"}},
				{Kind: EffectSetTimer, Timer: &TimerSpec{Name: "overdue", Kind: TimerEscalation, State: "panel_review", Due: reviewDue, Audience: AudienceSecretariat, Template: "review_overdue", Action: "close_review"}},
			}},
		},
		{
			name: "withdraw during review cancels its timers", subject: completeMAG("panel_review"), actor: owner, action: "withdraw",
			want: Outcome{Action: "withdraw", From: "panel_review", To: "withdrawn", Actor: "u-owner", Effects: []Effect{
				{Kind: EffectCancelTimers},
				{Kind: EffectNotify, Audience: AudienceSecretariat, Template: "nomination_withdrawn"},
			}},
		},
		{
			name: "reject with a reason", subject: completeMAG("submitted"), actor: secretariat, action: "reject", in: Input{Reason: "Served three consecutive terms."},
			want: Outcome{Action: "reject", From: "submitted", To: "rejected", Actor: "u-sec", Effects: []Effect{
				{Kind: EffectNotify, Audience: AudienceCandidate, Template: "nomination_rejected"},
				{Kind: EffectNotify, Audience: AudienceNominator, Template: "nomination_rejected"},
			}},
		},
		{
			name: "appointment creates a membership", subject: completeMAG("shortlisted"), actor: admin, action: "appoint",
			want: Outcome{Action: "appoint", From: "shortlisted", To: "appointed", Actor: "u-admin", Effects: []Effect{
				{Kind: EffectNotify, Audience: AudienceCandidate, Template: "nomination_appointed"},
				{Kind: EffectNotify, Audience: AudienceNominator, Template: "nomination_appointed"},
				{Kind: EffectCreateMember},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mag.Fire(tt.subject, tt.actor, tt.action, tt.in, envNow)
			if err != nil {
				t.Fatalf("Fire: %v", err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("Fire =\n%s\nwant\n%s", outcomeString(got), outcomeString(&tt.want))
			}
		})
	}
}

func outcomeString(o *Outcome) string {
	var b strings.Builder
	b.WriteString(o.Action + " " + o.From + "->" + o.To + " by " + o.Actor + " " + o.Decision + " " + o.Timer + "\n")
	for _, e := range o.Effects {
		b.WriteString("  " + e.Kind + " " + e.Audience + " " + e.Template + " " + e.Panel + " " + e.Due.String())
		if e.Timer != nil {
			b.WriteString(" timer " + e.Timer.Name + " " + e.Timer.Due.String() + " every " + e.Timer.Every.String() + " " + e.Timer.Action)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestDecide(t *testing.T) {
	mag := mustShipped(t, "mag")
	lp := mustShipped(t, "leadership-panel")
	tally := func(eligible, approve, reject, changes, recuse int) Tally {
		return Tally{Eligible: eligible, Approve: approve, Reject: reject, RequestChanges: changes, Recuse: recuse}
	}
	scored := func(eligible, votes, recuse int, sum float64) Tally {
		return Tally{Eligible: eligible, Approve: votes, Recuse: recuse, Scored: votes, ScoreSum: sum}
	}
	tests := []struct {
		name     string
		def      *Definition
		subject  Subject
		tally    Tally
		action   string // "" when undecided
		to       string
		decision string
	}{
		{name: "MAG: one approval is not enough yet", def: mag, tally: tally(3, 1, 0, 0, 0)},
		{name: "MAG: two approvals of three pass once the third cannot change it", def: mag, tally: tally(3, 2, 0, 0, 0), action: "recommend", to: "secretariat_review", decision: "pass"},
		{name: "MAG: two approvals of five wait for the rest", def: mag, tally: tally(5, 2, 0, 0, 0)},
		{name: "MAG: two approvals against one rejection pass", def: mag, tally: tally(3, 2, 1, 0, 0), action: "recommend", to: "secretariat_review", decision: "pass"},
		{name: "MAG: recusals are not counted", def: mag, tally: tally(4, 2, 1, 0, 1), action: "recommend", to: "secretariat_review", decision: "pass"},
		{name: "MAG: two against two fail", def: mag, tally: tally(4, 2, 2, 0, 0), action: "not_recommend", to: "not_selected", decision: "fail"},
		{name: "MAG: one approval and recusals fail", def: mag, tally: tally(3, 1, 0, 0, 2), action: "not_recommend", to: "not_selected", decision: "fail"},
		{name: "MAG: two rejections of three fail early", def: mag, tally: tally(3, 0, 2, 0, 0), action: "not_recommend", to: "not_selected", decision: "fail"},
		{name: "MAG: a request for changes sends it back", def: mag, tally: tally(3, 1, 0, 1, 0), action: "return_for_changes", to: "draft", decision: "request_changes"},
		{name: "MAG: no votes yet", def: mag, tally: tally(3, 0, 0, 0, 0)},
		{name: "LP: below quorum", def: lp, tally: scored(5, 2, 0, 10)},
		{name: "LP: quorum but votes pending", def: lp, tally: scored(5, 3, 0, 15)},
		{name: "LP: quorum, all voted, good mean passes", def: lp, tally: scored(4, 3, 1, 10), action: "recommend", to: "secretariat_review", decision: "pass"},
		{name: "LP: quorum, all voted, low mean fails", def: lp, tally: scored(3, 3, 0, 8), action: "not_recommend", to: "not_selected", decision: "fail"},
		{name: "LP: recusals leave no quorum", def: lp, tally: scored(4, 2, 2, 10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := completeMAG("panel_review")
			if tt.def == lp {
				s = completeLP("panel_review")
			}
			s.Tally = tt.tally
			out, err := tt.def.Decide(s, envNow)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if tt.action == "" {
				if out != nil {
					t.Fatalf("Decide = %s, want undecided", outcomeString(out))
				}
				return
			}
			if out == nil {
				t.Fatalf("Decide undecided, want %s", tt.action)
			}
			if out.Action != tt.action || out.To != tt.to || out.Decision != tt.decision || out.Actor != SystemActor {
				t.Errorf("Decide = %s, want %s to %s (%s) by the system", outcomeString(out), tt.action, tt.to, tt.decision)
			}
		})
	}
}

func TestDecideOutsideReview(t *testing.T) {
	mag := mustShipped(t, "mag")
	_, err := mag.Decide(completeMAG("submitted"), envNow)
	if !errors.Is(err, ErrNotAvailable) {
		t.Fatalf("Decide in submitted = %v, want ErrNotAvailable", err)
	}
}

func TestFireTimer(t *testing.T) {
	mag := mustShipped(t, "mag")
	due := now
	t.Run("reminder notifies and re-arms", func(t *testing.T) {
		out, err := mag.FireTimer(completeMAG("panel_review"), "remind_reviewers", due, Env{Now: due.Add(time.Minute), Call: call})
		if err != nil {
			t.Fatal(err)
		}
		want := Outcome{From: "panel_review", To: "panel_review", Actor: SystemActor, Timer: "remind_reviewers", Effects: []Effect{
			{Kind: EffectNotify, Audience: AudiencePendingReviewers, Template: "review_reminder"},
			{Kind: EffectSetTimer, Timer: &TimerSpec{Name: "remind_reviewers", Kind: TimerReminder, State: "panel_review", Due: due.Add(24 * time.Hour), Every: 24 * time.Hour, Audience: AudiencePendingReviewers, Template: "review_reminder"}},
		}}
		if !reflect.DeepEqual(*out, want) {
			t.Errorf("FireTimer =\n%s\nwant\n%s", outcomeString(out), outcomeString(&want))
		}
	})
	t.Run("a late reminder re-arms after now", func(t *testing.T) {
		late := due.Add(50 * time.Hour)
		out, err := mag.FireTimer(completeMAG("panel_review"), "remind_reviewers", due, Env{Now: late, Call: call})
		if err != nil {
			t.Fatal(err)
		}
		next := out.Effects[len(out.Effects)-1].Timer.Due
		if want := due.Add(72 * time.Hour); !next.Equal(want) {
			t.Errorf("next reminder at %v, want %v", next, want)
		}
	})
	t.Run("escalation moves the nomination", func(t *testing.T) {
		out, err := mag.FireTimer(completeMAG("panel_review"), "overdue", due, envNow)
		if err != nil {
			t.Fatal(err)
		}
		want := Outcome{Action: "close_review", From: "panel_review", To: "secretariat_review", Actor: SystemActor, Timer: "overdue", Effects: []Effect{
			{Kind: EffectNotify, Audience: AudienceSecretariat, Template: "review_overdue"},
			{Kind: EffectCancelTimers},
			{Kind: EffectNotify, Audience: AudienceSecretariat, Template: "secretariat_review_request"},
		}}
		if !reflect.DeepEqual(*out, want) {
			t.Errorf("FireTimer =\n%s\nwant\n%s", outcomeString(out), outcomeString(&want))
		}
	})
	t.Run("a timer of a state left is void", func(t *testing.T) {
		_, err := mag.FireTimer(completeMAG("secretariat_review"), "overdue", due, envNow)
		if !errors.Is(err, ErrNotAvailable) {
			t.Errorf("FireTimer = %v, want ErrNotAvailable", err)
		}
	})
}

func TestStart(t *testing.T) {
	mag := mustShipped(t, "mag")
	tests := []struct {
		name string
		env  Env
		want []Effect
	}{
		{
			name: "reminder three days before the call closes",
			env:  envNow,
			want: []Effect{{Kind: EffectSetTimer, Timer: &TimerSpec{Name: "closing_soon", Kind: TimerReminder, State: "draft", Due: closes.Add(-72 * time.Hour), Audience: AudienceNominator, Template: "draft_reminder"}}},
		},
		{
			name: "no reminder when its moment has passed",
			env:  Env{Now: closes.Add(-time.Hour), Call: call},
		},
		{
			name: "no reminder without call dates",
			env:  Env{Now: now},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := mag.Start(Subject{}, owner, tt.env)
			want := Outcome{Action: "create", To: "draft", Actor: "u-owner", Effects: tt.want}
			if !reflect.DeepEqual(*out, want) {
				t.Errorf("Start =\n%s\nwant\n%s", outcomeString(out), outcomeString(&want))
			}
		})
	}
}

func TestCheckVote(t *testing.T) {
	mag := mustShipped(t, "mag")
	lp := mustShipped(t, "leadership-panel")
	score := func(n int) *int { return &n }
	tests := []struct {
		name     string
		def      *Definition
		state    string
		decision string
		score    *int
		kind     ErrorKind // 0: valid
	}{
		{"MAG approve", mag, "panel_review", VoteApprove, nil, 0},
		{"MAG request changes", mag, "panel_review", VoteRequestChanges, nil, 0},
		{"MAG takes no score", mag, "panel_review", VoteApprove, score(3), ErrInvalidVote},
		{"MAG unknown decision", mag, "panel_review", "abstain", nil, ErrInvalidVote},
		{"no review open", mag, "submitted", VoteApprove, nil, ErrNotAvailable},
		{"LP scored approve", lp, "panel_review", VoteApprove, score(4), 0},
		{"LP score required", lp, "panel_review", VoteReject, nil, ErrInvalidVote},
		{"LP score out of range", lp, "panel_review", VoteApprove, score(6), ErrInvalidVote},
		{"LP score too low", lp, "panel_review", VoteApprove, score(0), ErrInvalidVote},
		{"LP recusal without score", lp, "panel_review", VoteRecuse, nil, 0},
		{"LP recusal with score", lp, "panel_review", VoteRecuse, score(3), ErrInvalidVote},
		{"LP offers no request for changes", lp, "panel_review", VoteRequestChanges, nil, ErrInvalidVote},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.def.CheckVote(tt.state, tt.decision, tt.score)
			if tt.kind == 0 {
				if err != nil {
					t.Errorf("CheckVote = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("CheckVote = %v, want %v", err, tt.kind)
			}
		})
	}
}

func TestReviewPanel(t *testing.T) {
	mag := mustShipped(t, "mag")
	lp := mustShipped(t, "leadership-panel")
	tests := []struct {
		name   string
		def    *Definition
		state  string
		fields map[string]any
		panel  string
		ok     bool
	}{
		{"MAG panel follows the stakeholder group", mag, "panel_review", map[string]any{"stakeholder_group": "technical_community"}, "technical_community", true},
		{"MAG without a group", mag, "panel_review", map[string]any{}, "", false},
		{"MAG with a group that is no panel", mag, "panel_review", map[string]any{"stakeholder_group": "at_large"}, "", false},
		{"MAG state without review", mag, "draft", map[string]any{"stakeholder_group": "government"}, "", false},
		{"LP fixed committee", lp, "panel_review", map[string]any{"stakeholder_group": "at_large"}, "lp_committee", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			panel, ok := tt.def.ReviewPanel(tt.state, tt.fields)
			if panel != tt.panel || ok != tt.ok {
				t.Errorf("ReviewPanel = %q, %v; want %q, %v", panel, ok, tt.panel, tt.ok)
			}
		})
	}
}

// TestReviewerRole checks that an action open to reviewers is open only to
// those on the panel of the current review.
func TestReviewerRole(t *testing.T) {
	src := edit(t, "roles: [owner, secretariat]", "roles: [owner, secretariat, reviewer]") +
		"  - name: flag\n    from: panel_review\n    to: declined\n    roles: [reviewer]\n"
	d := mustParse(t, src)
	s := Subject{State: "panel_review", Fields: map[string]any{"stakeholder_group": "civil_society"}}
	tests := []struct {
		name  string
		actor Actor
		ok    bool
	}{
		{"reviewer on the panel", reviewer, true},
		{"reviewer on another panel", Actor{ID: "u-2", Roles: []string{RoleReviewer}, Panels: []string{"government"}}, false},
		{"panel member without the reviewer role", Actor{ID: "u-3", Panels: []string{"civil_society"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.Fire(s, tt.actor, "flag", Input{}, envNow)
			if tt.ok && err != nil {
				t.Errorf("Fire = %v, want success", err)
			}
			if !tt.ok && !errors.Is(err, ErrNotAllowed) {
				t.Errorf("Fire = %v, want ErrNotAllowed", err)
			}
		})
	}
}

// TestGuardEvaluationErrors checks that a guard failing at run time (a
// division by zero, an out-of-range time) counts as not holding, never as
// holding, and never panics.
func TestGuardEvaluationErrors(t *testing.T) {
	tests := []struct {
		name string
		rule string
	}{
		{"division by zero", "endorsements / (round - round) > 0"},
		{"timestamp overflow", "call.closes_at - days(3650) - days(3650) < now"},
		{"days out of range", "now + days(endorsements * 100000) > now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := edit(t, "      - rule: now <= call.closes_at", "      - rule: "+tt.rule)
			d := mustParse(t, src)
			s := Subject{State: "draft", Endorsements: 1}
			got := d.Available(s, owner, Env{Now: now})
			if len(got) != 1 || got[0].Allowed || got[0].Reasons[0] != "The call has closed." {
				t.Fatalf("Available = %+v, want submit refused with the guard's message", got)
			}
		})
	}
}

func TestTallyHelpers(t *testing.T) {
	tests := []struct {
		name    string
		t       Tally
		votes   int
		pending int
		avg     float64
	}{
		{"empty", Tally{}, 0, 0, 0},
		{"some votes", Tally{Eligible: 5, Approve: 2, Reject: 1, Recuse: 1}, 4, 1, 0},
		{"more votes than members", Tally{Eligible: 1, Approve: 2}, 2, 0, 0},
		{"scores", Tally{Eligible: 3, Approve: 3, Scored: 3, ScoreSum: 10}, 3, 0, 10.0 / 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v := tt.t.Votes(); v != tt.votes {
				t.Errorf("Votes = %d, want %d", v, tt.votes)
			}
			if p := tt.t.Pending(); p != tt.pending {
				t.Errorf("Pending = %d, want %d", p, tt.pending)
			}
			if a := tt.t.ScoreAvg(); a != tt.avg {
				t.Errorf("ScoreAvg = %g, want %g", a, tt.avg)
			}
		})
	}
}

// TestVariables checks every variable rules can read against a subject
// with known values: each rule below must hold.
func TestVariables(t *testing.T) {
	s := Subject{
		State:     "draft",
		EnteredAt: now.Add(-48 * time.Hour),
		Fields: map[string]any{
			"stakeholder_group": "civil_society",
			"motivation":        "Because.",
		},
		Attachments:      map[string]int{"cv": 2},
		Endorsements:     4,
		Consent:          "accepted",
		ConsecutiveTerms: 2,
		Round:            1,
		Tally:            Tally{Approve: 3, Reject: 2, RequestChanges: 1, Recuse: 1, Eligible: 9, ScoreSum: 12, Scored: 4},
	}
	rules := []string{
		`now == timestamp("2026-02-10T09:30:00Z")`,
		`entered_at == now - days(2)`,
		`review_due == entered_at`,
		`call.opens_at == timestamp("2026-01-15T00:00:00Z")`,
		`call.closes_at > call.opens_at && call.closes_at - call.opens_at > days(70)`,
		`call.term_start == timestamp("2027-01-01T00:00:00Z")`,
		`!complete`,
		`endorsements == 4`,
		`consent == "accepted"`,
		`consecutive_terms == 2`,
		`round == 1`,
		`state == "draft"`,
		`terms.years == 1 && terms.max_consecutive == 0`,
		`tally.approve == 3 && tally.reject == 2 && tally.request_changes == 1 && tally.recuse == 1`,
		`tally.eligible == 9 && tally.votes == 7 && tally.pending == 2`,
		`tally.scored == 4 && tally.score_sum == 12.0 && tally.score_avg == 3.0`,
		`fields.stakeholder_group == "civil_society" && fields.motivation.startsWith("Because")`,
		`attachments.cv == 2`,
		`hours(36) == days(1) + duration("12h")`,
	}
	for _, rule := range rules {
		t.Run(rule, func(t *testing.T) {
			d := mustParse(t, edit(t, "      - rule: now <= call.closes_at", "      - rule: '"+rule+"'"))
			got := d.Available(s, owner, envNow)
			if len(got) != 1 || !got[0].Allowed {
				t.Errorf("rule does not hold: %+v", got)
			}
			// The negation must fail, so the rule is really evaluated.
			neg := mustParse(t, edit(t, "      - rule: now <= call.closes_at", "      - rule: '!("+rule+")'"))
			if got := neg.Available(s, owner, envNow); len(got) != 1 || got[0].Allowed {
				t.Errorf("negated rule holds: %+v", got)
			}
		})
	}
}

// TestEnter checks the effects of moving a nomination by override.
func TestEnter(t *testing.T) {
	mag := mustShipped(t, "mag")
	out := mag.Enter(completeMAG("secretariat_review"), "not_selected", envNow)
	want := Outcome{Action: "override", From: "secretariat_review", To: "not_selected", Actor: SystemActor, Effects: []Effect{
		{Kind: EffectNotify, Audience: AudienceCandidate, Template: "nomination_not_selected"},
		{Kind: EffectNotify, Audience: AudienceNominator, Template: "nomination_not_selected"},
	}}
	if !reflect.DeepEqual(*out, want) {
		t.Errorf("Enter =\n%s\nwant\n%s", outcomeString(out), outcomeString(&want))
	}
}

func TestActionErrorString(t *testing.T) {
	tests := []struct {
		err  *ActionError
		want string
	}{
		{&ActionError{Kind: ErrGuardFailed, Action: "submit", Messages: []string{"a", "b"}}, "submit: guard failed: a; b"},
		{&ActionError{Kind: ErrNotAvailable}, "not available"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestConcurrentEvaluation evaluates one definition from many goroutines;
// run with -race it proves a loaded definition is safe to share.
func TestConcurrentEvaluation(t *testing.T) {
	mag := mustShipped(t, "mag")
	done := make(chan error)
	for i := 0; i < 8; i++ {
		go func() {
			var err error
			for j := 0; j < 50 && err == nil; j++ {
				mag.Available(completeMAG("submitted"), secretariat, envNow)
				_, err = mag.Fire(completeMAG("draft"), owner, "submit", Input{}, envNow)
			}
			done <- err
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
