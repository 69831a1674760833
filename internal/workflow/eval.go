package workflow

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/igf/nomina/internal/phrase"
)

// Actor is who asks to act on a nomination.
type Actor struct {
	ID string
	// Roles are the account's roles: candidate, reviewer, secretariat,
	// admin. "admin" holds every permission "secretariat" has; "system" is
	// ignored (only the engine acts as the system).
	Roles []string
	// Panels are the review panels the actor sits on.
	Panels []string
	// Owner is set when the actor owns (created) the nomination; it grants
	// the workflow role "owner".
	Owner bool
}

// SystemActor is the actor ID recorded for what the engine does by itself:
// vote decisions and escalations.
const SystemActor = "system"

// Tally counts the votes of the current review round.
type Tally struct {
	Approve, Reject, RequestChanges, Recuse int
	// Eligible is the number of panel members who may vote: the panel minus
	// excluded and conflicted members.
	Eligible int
	// ScoreSum adds the scores given; Scored counts the votes with a score.
	ScoreSum float64
	Scored   int
}

// Votes returns the number of votes cast, recusals included.
func (t Tally) Votes() int { return t.Approve + t.Reject + t.RequestChanges + t.Recuse }

// Pending returns how many eligible members have not voted yet.
func (t Tally) Pending() int { return max(0, t.Eligible-t.Votes()) }

// ScoreAvg returns the mean score, or 0 when no vote carries one.
func (t Tally) ScoreAvg() float64 {
	if t.Scored <= 0 {
		return 0
	}
	return t.ScoreSum / float64(t.Scored)
}

// Subject is what the engine knows of a nomination.
type Subject struct {
	// State is the current state; EnteredAt when it was entered.
	State     string
	EnteredAt time.Time
	// Fields are the form's answers; Attachments counts files per file field.
	Fields      map[string]any
	Attachments map[string]int
	// Endorsements counts confirmed endorsements.
	Endorsements int
	// Consent is the nominee's answer to a third-party nomination: "",
	// "accepted", "declined" or "not_required" (a self-nomination).
	Consent string
	// ConsecutiveTerms counts the terms the candidate has served in a row
	// up to this call, in the workflow's body.
	ConsecutiveTerms int
	// Round counts the times the nomination has been sent back for changes.
	Round int
	// Tally holds the votes of the current review.
	Tally Tally
	// Nominator and Nominee are the person facts; the caller gathers them
	// only when the definition's rules use them (Uses("nominator."),
	// Uses("nominee.")).
	Nominator, Nominee PersonFacts
}

// PersonFacts is what the rules know of a person: the nominator (the
// account that starts or owns the nomination) or the nominee.
type PersonFacts struct {
	// Roles are the account's roles (the nominator's only).
	Roles []string
	// StakeholderGroup is the stakeholder group of the person's latest
	// term on any body ("" when they never served).
	StakeholderGroup string
	// Nominations counts the nominator's other nominations in the call,
	// withdrawn ones left out.
	Nominations int
	// Self says the nominee is the nominator (a self-nomination).
	Self bool
	// Bodies holds the person's record on each body, by body id.
	Bodies map[string]BodyFacts
}

// BodyFacts is a person's record on one body: the terms they served or
// serve (started before the day asked about), whether one of them covers
// that day, and the stakeholder group of the latest.
type BodyFacts struct {
	Terms  int
	Member bool
	Group  string
}

// Call is the part of a call the rules see.
type Call struct {
	OpensAt, ClosesAt, TermStart time.Time
	// Seats is the number of seats the call fills.
	Seats int
	// RequiredEndorsements is how many confirmed endorsements the call
	// asks for (0: none).
	RequiredEndorsements int
	// NominatorQuota is the number of nominations one nominator may hold
	// in the call: the workflow's quota, or the call's when lower (0: no
	// limit).
	NominatorQuota int
}

// Env is the world around an evaluation: the time now and the call.
type Env struct {
	Now  time.Time
	Call Call
}

// Input is what an actor gives with an action.
type Input struct {
	Reason, Comment string
}

// maxInputLen bounds a reason or comment, in characters.
const maxInputLen = 5000

// ActionStatus says whether an actor may take an action now.
type ActionStatus struct {
	Name  string
	Label string
	// Allowed is false when a guard fails; Reasons holds the failed guards'
	// messages, and Why the same in every language the workflow gives.
	Allowed bool
	Reasons []string
	Why     []phrase.Text `json:"-"`
	// Inputs lists what the action requires (reason, comment).
	Inputs []string
}

// Effect kinds.
const (
	EffectNotify       = "notify"
	EffectSetTimer     = "set_timer"
	EffectCancelTimers = "cancel_timers"
	EffectOpenReview   = "open_review"
	EffectCreateMember = "create_member"
)

// Effect is one consequence of an outcome, to be carried out by the caller.
type Effect struct {
	Kind string
	// Audience and Template are set for notify.
	Audience, Template string
	// Panel and Due are set for open_review.
	Panel string
	Due   time.Time
	// Timer is set for set_timer.
	Timer *TimerSpec
}

// TimerSpec is a timer to arm; the caller fires it with FireTimer when due.
type TimerSpec struct {
	Name, Kind string
	// State is the state the timer belongs to; it is void once left.
	State string
	Due   time.Time
	Every time.Duration
	// Audience and Template say whom to notify; Action what an escalation fires.
	Audience, Template, Action string
}

// Outcome is the result of an action, a vote decision or a timer.
type Outcome struct {
	// Action is the action taken; "create" for Start, "" for a reminder.
	Action string
	From   string
	To     string
	// Actor is the acting actor's ID, or SystemActor.
	Actor string
	// Decision is "pass", "fail" or "request_changes" for a vote decision.
	Decision string
	// Timer names the timer that caused the outcome, if any.
	Timer   string
	Effects []Effect
}

// ErrorKind classifies an ActionError. It is itself an error, so callers
// can test errors.Is(err, workflow.ErrGuardFailed).
type ErrorKind int

// Kinds of ActionError, with the HTTP status each maps to at the edge.
const (
	ErrUnknownAction ErrorKind = iota + 1 // no such action (404)
	ErrNotAllowed                         // the actor's roles may not take it (403)
	ErrNotAvailable                       // not possible from the current state (409)
	ErrGuardFailed                        // a guard failed (422)
	ErrInputRequired                      // a required input is missing or too long (422)
	ErrInvalidVote                        // a vote the review does not take (422)
)

var kindNames = map[ErrorKind]string{
	ErrUnknownAction: "unknown action",
	ErrNotAllowed:    "not allowed",
	ErrNotAvailable:  "not available",
	ErrGuardFailed:   "guard failed",
	ErrInputRequired: "input required",
	ErrInvalidVote:   "invalid vote",
}

// Error returns the kind's name, such as "guard failed".
func (k ErrorKind) Error() string { return kindNames[k] }

// ActionError says why an action, decision or vote was refused.
type ActionError struct {
	Kind   ErrorKind
	Action string
	// Messages are fit to show the actor: the failed guards' messages, or
	// what is missing. Texts says each of them in any language.
	Messages []string
	Texts    []phrase.Text
	// Fields lists the form's problems when a failed guard depends on the
	// form being complete.
	Fields []FieldProblem
}

// Error returns the action, the kind and the messages in one line.
func (e *ActionError) Error() string {
	msg := e.Kind.Error()
	if e.Action != "" {
		msg = fmt.Sprintf("%s: %s", e.Action, msg)
	}
	if len(e.Messages) > 0 {
		msg += ": " + strings.Join(e.Messages, "; ")
	}
	return msg
}

// Is makes errors.Is(err, ErrGuardFailed) and the like work.
func (e *ActionError) Is(target error) bool {
	k, ok := target.(ErrorKind)
	return ok && k == e.Kind
}

func actionError(kind ErrorKind, action string, t phrase.Text) *ActionError {
	return &ActionError{Kind: kind, Action: action, Messages: []string{t.English}, Texts: []phrase.Text{t}}
}

// roleSet is the set of workflow roles an actor holds.
type roleSet struct {
	owner, candidate, reviewer, secretariat bool
}

func rolesOf(a Actor) roleSet {
	rs := roleSet{owner: a.Owner}
	for _, r := range a.Roles {
		switch r {
		case RoleCandidate:
			rs.candidate = true
		case RoleReviewer:
			rs.reviewer = true
		case RoleSecretariat, RoleAdmin:
			rs.secretariat = true
		}
	}
	return rs
}

func (rs roleSet) has(role string) bool {
	switch role {
	case RoleOwner:
		return rs.owner
	case RoleCandidate:
		return rs.candidate
	case RoleReviewer:
		return rs.reviewer
	case RoleSecretariat:
		return rs.secretariat
	}
	return false
}

// mayAct reports whether the actor holds one of the action's roles. A
// reviewer counts only when sitting on the panel of the current review.
func (d *Definition) mayAct(act *Action, a Actor, s *Subject) bool {
	rs := rolesOf(a)
	for _, r := range act.Roles {
		switch r {
		case RoleSystem:
			continue
		case RoleAdmin:
			if contains(a.Roles, RoleAdmin) {
				return true
			}
		case RoleReviewer:
			if !rs.reviewer {
				continue
			}
			panel, ok := d.ReviewPanel(s.State, s.Fields)
			if !ok || contains(a.Panels, panel) {
				return true
			}
		default:
			if rs.has(r) {
				return true
			}
		}
	}
	return false
}

// Available returns the actions the actor could take from the subject's
// state, in file order: those whose roles include the actor's. Each is
// Allowed unless a guard fails, in which case Reasons holds the failed
// guards' messages. Actions only the system takes are never listed.
func (d *Definition) Available(s Subject, a Actor, env Env) []ActionStatus {
	act := newActivation(d, &s, &env)
	var out []ActionStatus
	for _, ac := range d.Actions {
		if !contains(ac.From, s.State) || !d.mayAct(ac, a, &s) {
			continue
		}
		st := ActionStatus{Name: ac.Name, Label: ac.Label, Allowed: true, Inputs: ac.Inputs}
		for _, g := range d.failedGuards(ac, act) {
			st.Reasons = append(st.Reasons, g.Message)
			st.Why = append(st.Why, d.GuardText(g))
		}
		st.Allowed = len(st.Reasons) == 0
		out = append(out, st)
	}
	return out
}

// failedGuards returns the guards of ac that do not hold. A guard that
// cannot be evaluated (say, a division by zero) does not hold.
func (d *Definition) failedGuards(ac *Action, act *activation) []*Guard {
	var failed []*Guard
	for _, g := range ac.Guards {
		if ok, err := g.expr.evalBool(act); err != nil || !ok {
			failed = append(failed, g)
		}
	}
	return failed
}

// GuardText returns the message of guard g of d in every language the
// file writes it in.
func (d *Definition) GuardText(g *Guard) phrase.Text {
	if t := d.texts[g.key]; len(t) > 0 {
		return phrase.Text{English: g.Message, Texts: maps.Clone(t)}
	}
	return phrase.Plain(g.Message)
}

// Fire takes an action on behalf of an actor and returns its outcome: the
// new state and the effects to carry out. It changes nothing itself. Errors
// are *ActionError: ErrUnknownAction when the definition has no such
// action, ErrNotAllowed when the actor's roles may not take it,
// ErrNotAvailable when it does not leave the current state,
// ErrInputRequired when a required reason or comment is missing (or a text
// is too long), ErrGuardFailed with the failed guards' messages.
func (d *Definition) Fire(s Subject, a Actor, action string, in Input, env Env) (*Outcome, error) {
	ac, ok := d.actionIndex[action]
	if !ok {
		return nil, actionError(ErrUnknownAction, action, phrase.New("NoSuchAction", "there is no action \"{{.Action}}\"", "Action", action))
	}
	if !d.mayAct(ac, a, &s) {
		return nil, actionError(ErrNotAllowed, action, phrase.New("ActionNotAllowed", "you may not take the action \"{{.Action}}\" on this nomination", "Action", actionTitle(ac)))
	}
	if !contains(ac.From, s.State) {
		return nil, actionError(ErrNotAvailable, action, phrase.New("ActionNotInState", "the action \"{{.Action}}\" is not possible while the nomination is in state \"{{.State}}\"", "Action", actionTitle(ac), "State", s.State))
	}
	if texts := checkInputs(ac, in); len(texts) > 0 {
		e := &ActionError{Kind: ErrInputRequired, Action: action, Texts: texts}
		for _, t := range texts {
			e.Messages = append(e.Messages, t.English)
		}
		return nil, e
	}
	return d.take(s, ac, a.ID, env)
}

// actionTitle names an action for people: its label, else its name.
func actionTitle(ac *Action) string {
	if ac.Label != "" {
		return ac.Label
	}
	return ac.Name
}

func checkInputs(ac *Action, in Input) []phrase.Text {
	var out []phrase.Text
	for _, name := range []string{InputReason, InputComment} {
		v := in.Reason
		if name == InputComment {
			v = in.Comment
		}
		if contains(ac.Inputs, name) && strings.TrimSpace(v) == "" {
			if name == InputComment {
				out = append(out, phrase.New("CommentRequired", "comment is required"))
			} else {
				out = append(out, phrase.New("ReasonRequired", "reason is required"))
			}
		}
		if len(v) > maxInputLen*4 || len([]rune(v)) > maxInputLen {
			if name == InputComment {
				out = append(out, phrase.New("CommentTooLong", "comment must be at most {{.Max}} characters", "Max", maxInputLen))
			} else {
				out = append(out, phrase.New("ReasonTooLong", "reason must be at most {{.Max}} characters", "Max", maxInputLen))
			}
		}
	}
	return out
}

// take checks the action's guards and computes its outcome.
func (d *Definition) take(s Subject, ac *Action, by string, env Env) (*Outcome, error) {
	act := newActivation(d, &s, &env)
	if failed := d.failedGuards(ac, act); len(failed) > 0 {
		e := &ActionError{Kind: ErrGuardFailed, Action: ac.Name}
		for _, g := range failed {
			e.Messages = append(e.Messages, g.Message)
			e.Texts = append(e.Texts, d.GuardText(g))
		}
		for _, g := range ac.Guards {
			if g.expr.refs["complete"] {
				e.Fields = d.Incomplete(s)
				break
			}
		}
		return nil, e
	}
	out := &Outcome{Action: ac.Name, From: s.State, To: ac.To, Actor: by}
	for _, n := range ac.Notify {
		out.Effects = append(out.Effects, Effect{Kind: EffectNotify, Audience: n.Audience, Template: n.Template})
	}
	if from, ok := d.States[s.State]; ok && len(from.Timers) > 0 {
		out.Effects = append(out.Effects, Effect{Kind: EffectCancelTimers})
	}
	d.enter(out, s, env)
	return out, nil
}

// enter appends the effects of entering out.To at env.Now: its
// notifications, its review, its timers and its membership.
func (d *Definition) enter(out *Outcome, s Subject, env Env) {
	st := d.States[out.To]
	for _, n := range st.OnEnter {
		out.Effects = append(out.Effects, Effect{Kind: EffectNotify, Audience: n.Audience, Template: n.Template})
	}
	if st.Review != nil {
		panel, _ := d.ReviewPanel(st.Name, s.Fields)
		out.Effects = append(out.Effects, Effect{Kind: EffectOpenReview, Panel: panel, Due: env.Now.Add(st.Review.Due)})
	}
	if len(st.Timers) > 0 {
		entered := s
		entered.State, entered.EnteredAt, entered.Tally = st.Name, env.Now, Tally{}
		act := newActivation(d, &entered, &env)
		for _, t := range st.Timers {
			due, err := t.at.evalTime(act)
			if err != nil || due.IsZero() {
				// A time that cannot be computed (for example from a call
				// without dates) arms nothing rather than firing at once.
				continue
			}
			if t.Kind == TimerReminder && due.Before(env.Now) {
				if t.Every <= 0 {
					continue // a one-off reminder whose moment has passed
				}
				due = nextAfter(due, t.Every, env.Now)
			}
			out.Effects = append(out.Effects, Effect{Kind: EffectSetTimer, Timer: &TimerSpec{
				Name: t.Name, Kind: t.Kind, State: st.Name, Due: due, Every: t.Every,
				Audience: t.Audience, Template: t.Template, Action: t.Action,
			}})
		}
	}
	if st.CreatesMember {
		out.Effects = append(out.Effects, Effect{Kind: EffectCreateMember})
	}
}

// nextAfter returns the first due + k*every (k ≥ 1) not before now.
func nextAfter(due time.Time, every time.Duration, now time.Time) time.Time {
	if every <= 0 {
		return due
	}
	if !due.Before(now) {
		return due.Add(every)
	}
	k := now.Sub(due)/every + 1
	return due.Add(k * every)
}

// CheckStart applies the start rules to a nomination about to be created
// (s holds the person facts and, usually, no answers): it returns the
// messages of the start guards that do not hold, none when the nominator
// may start it. A guard that cannot be evaluated does not hold. The quota
// is the caller's to enforce (see StartRules and Quota).
func (d *Definition) CheckStart(s Subject, env Env) []phrase.Text {
	act := newActivation(d, &s, &env)
	var failed []phrase.Text
	for _, g := range d.Starting.Guards {
		if ok, err := g.expr.evalBool(act); err != nil || !ok {
			failed = append(failed, d.GuardText(g))
		}
	}
	return failed
}

// Quota returns the number of nominations one nominator may hold in a
// call whose own quota is callQuota (0: the call sets none): the lower of
// the workflow's and the call's, 0 when neither limits.
func (d *Definition) Quota(callQuota int) int {
	switch {
	case d.Starting.Quota == 0:
		return max(callQuota, 0)
	case callQuota > 0 && callQuota < d.Starting.Quota:
		return callQuota
	}
	return d.Starting.Quota
}

// Start returns the outcome of creating a nomination in the initial state:
// the initial state's notifications, review and timers. s.State is ignored.
func (d *Definition) Start(s Subject, a Actor, env Env) *Outcome {
	out := &Outcome{Action: "create", To: d.Initial, Actor: a.ID}
	s.State = d.Initial
	d.enter(out, s, env)
	return out
}

// Decide applies the review rules of the subject's state to its tally,
// after a vote: pass_if, then fail_if, then changes_if. The first that holds
// fires its action as the system and the outcome is returned (Decision set
// to "pass", "fail" or "request_changes"); (nil, nil) means the review is
// still undecided. Errors: *ActionError ErrNotAvailable when the state
// holds no review, ErrGuardFailed when the fired action's guards fail; a
// plain error when a rule cannot be evaluated.
func (d *Definition) Decide(s Subject, env Env) (*Outcome, error) {
	st, ok := d.States[s.State]
	if !ok || st.Review == nil {
		return nil, actionError(ErrNotAvailable, "", phrase.New("NoReviewOpen", "no review is open while the nomination is {{.State}}", "State", s.State))
	}
	r := st.Review
	act := newActivation(d, &s, &env)
	for _, rule := range []struct {
		x        *expr
		name     string
		action   string
		decision string
	}{
		{r.passIf, "pass_if", r.OnPass, "pass"},
		{r.failIf, "fail_if", r.OnFail, "fail"},
		{r.changesIf, "changes_if", r.OnRequestChanges, "request_changes"},
	} {
		if rule.x == nil {
			continue
		}
		holds, err := rule.x.evalBool(act)
		if err != nil {
			return nil, fmt.Errorf("workflow %s: state %s: %s: %w", d.Key(), s.State, rule.name, err)
		}
		if !holds {
			continue
		}
		out, err := d.take(s, d.actionIndex[rule.action], SystemActor, env)
		if err != nil {
			return nil, err
		}
		out.Decision = rule.decision
		return out, nil
	}
	return nil, nil
}

// FireTimer returns the outcome of a timer of the subject's state falling
// due at due: a reminder notifies and, when it repeats, re-arms itself for
// its next time after env.Now; an escalation notifies and fires its action
// as the system. Errors: *ActionError ErrNotAvailable when the subject's
// state has no such timer (the state was left: the timer is void), or the
// errors of the fired action.
func (d *Definition) FireTimer(s Subject, name string, due time.Time, env Env) (*Outcome, error) {
	t, ok := d.Timer(s.State, name)
	if !ok {
		return nil, actionError(ErrNotAvailable, "", phrase.New("NoSuchTimer", "state \"{{.State}}\" has no timer \"{{.Timer}}\"", "State", s.State, "Timer", name))
	}
	var notify []Effect
	if t.Audience != "" {
		notify = []Effect{{Kind: EffectNotify, Audience: t.Audience, Template: t.Template}}
	}
	if t.Kind == TimerReminder {
		out := &Outcome{From: s.State, To: s.State, Actor: SystemActor, Timer: name, Effects: notify}
		if t.Every > 0 {
			out.Effects = append(out.Effects, Effect{Kind: EffectSetTimer, Timer: &TimerSpec{
				Name: t.Name, Kind: t.Kind, State: s.State, Due: nextAfter(due, t.Every, env.Now), Every: t.Every,
				Audience: t.Audience, Template: t.Template,
			}})
		}
		return out, nil
	}
	out, err := d.take(s, d.actionIndex[t.Action], SystemActor, env)
	if err != nil {
		return nil, err
	}
	out.Timer = name
	out.Effects = append(notify, out.Effects...)
	return out, nil
}

// CheckVote reports whether a vote fits the review of state: a decision
// among its options, with a score in range when the review takes one (and
// required, if so set, on approve and reject), and none on a recusal.
// Errors are *ActionError: ErrNotAvailable when the state holds no review,
// ErrInvalidVote otherwise.
func (d *Definition) CheckVote(state, decision string, score *int) error {
	st, ok := d.States[state]
	if !ok || st.Review == nil {
		return actionError(ErrNotAvailable, "", phrase.New("NoReviewOpen", "no review is open while the nomination is {{.State}}", "State", state))
	}
	r := st.Review
	if !contains(r.Options, decision) {
		return actionError(ErrInvalidVote, "", phrase.New("DecisionMustBe", "decision must be {{.Options}}", "Options", quoteList(r.Options)))
	}
	switch {
	case score == nil:
		if r.Score != nil && r.Score.Required && (decision == VoteApprove || decision == VoteReject) {
			return actionError(ErrInvalidVote, "", phrase.New("ScoreRequired", "a score from {{.Min}} to {{.Max}} is required", "Min", r.Score.Min, "Max", r.Score.Max))
		}
	case r.Score == nil:
		return actionError(ErrInvalidVote, "", phrase.New("NoScoreHere", "this review takes no score"))
	case decision == VoteRecuse:
		return actionError(ErrInvalidVote, "", phrase.New("NoScoreRecusal", "a recusal carries no score"))
	case *score < r.Score.Min || *score > r.Score.Max:
		return actionError(ErrInvalidVote, "", phrase.New("ScoreRange", "score must be from {{.Min}} to {{.Max}}", "Min", r.Score.Min, "Max", r.Score.Max))
	}
	return nil
}
