package nomination

import (
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/igf/nomina/internal/oneline"
	"github.com/igf/nomina/internal/phrase"
	"github.com/igf/nomina/internal/workflow"
)

// NominationInput is what a candidate sends to open a nomination. A nil
// Nominee is a self-nomination.
type NominationInput struct {
	Nominee *Person
	Fields  map[string]any
}

// View is a nomination as one caller may see it, with the actions that
// caller may take now.
type View struct {
	Nomination *Nomination
	Actions    []workflow.ActionStatus
	// Panel is the reviewing panel of the current stage, if any.
	Panel string
	// ShowVotes says whether the caller may see the votes.
	ShowVotes bool
	// Role is how the caller relates to it: owner, reviewer, secretariat.
	Role string
	// Conflicted says a reviewer may not vote on it nor see its votes: a
	// declared conflict (OwnConflict), the nominee, or the candidate's
	// organisation.
	Conflicted  bool
	OwnConflict *Conflict
	// VotesAfterOwn says the other reviewers' votes of the round under
	// way are hidden from this reviewer until they have voted in it.
	VotesAfterOwn bool
}

// ErrUnconfirmed refuses (EFORBIDDEN) what would mail someone else on
// behalf of an account whose address is not confirmed. It is returned as
// is, so callers may tell it apart with errors.Is and say why in their own
// words.
var ErrUnconfirmed = Fail(EFORBIDDEN, "Unconfirmed", "confirm your email address first: Nomina mails other people on your behalf only after you have followed the confirmation link it sent to your address (you can ask for a new link)")

// MayMailOthers returns ErrUnconfirmed when Nomina may not mail other
// people (a nominee, an endorser) on actor's behalf yet, and nil when it
// may: the rule Create and RequestEndorsement apply, for a page that says
// so before the form is filled in.
func MayMailOthers(actor Actor) error {
	if !actor.EmailConfirmed {
		return ErrUnconfirmed
	}
	return nil
}

// Create opens a draft nomination in an open call. Errors: ENOTFOUND for a
// call the caller cannot see, ECONFLICT when the call is not open,
// EBADREQUEST for a key that is no field of the form, EINVALID with the
// fields named, EFORBIDDEN for a nomination of someone else by an account
// whose address is not confirmed, ETOOMANY over a limit.
func (s *Service) Create(ctx context.Context, actor Actor, slug string, in NominationInput) (*View, error) {
	call, err := s.GetCall(ctx, &actor, slug)
	if err != nil {
		return nil, err
	}
	if !call.IsOpen(s.now()) {
		return nil, Fail(ECONFLICT, "CallNotOpen", "the call \"{{.Call}}\" is not open for nominations", "Call", slug)
	}
	def, ok := s.Workflows.Latest(call.Workflow)
	if !ok {
		return nil, Errorf(EINTERNAL, "workflow %s is not loaded", call.Workflow)
	}
	if e := unknownFields(def, in.Fields); e != nil {
		return nil, e
	}
	if problems := s.checkFields(def, in.Fields, false); problems != nil {
		return nil, problems
	}
	nominator := Person{Name: actor.Name, Email: actor.Email}
	nominee, self, consent := nominator, true, "not_required"
	if in.Nominee != nil {
		p, err := cleanPerson(*in.Nominee, "nominee")
		if err != nil {
			return nil, err
		}
		if !sameMailbox(p.Email, actor.Email) {
			if p.Language == "" {
				p.Language = ReaderLanguage(ctx)
			}
			nominee, self, consent = p, false, "pending"
		}
	}
	limits := []limit{
		s.writeLimit(actor),
		{key: "nominations:account:" + actor.UserID, rate: s.Limits.NominationsPerAccount, what: "nominations started"},
		{key: addressKey("nominations", actor), rate: s.Limits.NominationsPerAddress, what: "nominations started from your network address"},
	}
	if !self {
		// Nominating someone else mails them: the account must have shown
		// that it is who its address says, and the mail is bounded.
		if err := MayMailOthers(actor); err != nil {
			return nil, err
		}
		limits = append(limits,
			limit{key: "consent:account:" + actor.UserID, rate: s.Limits.ConsentRequestsPerAccount, what: "nominations of other people"},
			limit{key: addressKey("consent", actor), rate: s.Limits.ConsentRequestsPerAddress, what: "nominations of other people from your network address"},
			limit{key: "mail:to:" + MailboxKey(nominee.Email), rate: s.Limits.MailsPerRecipient, what: "messages to this nominee's address"},
		)
	}
	fields := normaliseFields(in.Fields)
	if fields == nil {
		fields = map[string]any{}
	}
	deriveGroups(def, fields)
	env := workflow.Env{Now: s.now(), Call: call.ruleCall(def)}
	// Who may start a nomination in this call: the workflow's start
	// rules, over the nominator and the nominee.
	if len(def.Starting.Guards) > 0 {
		nominatorFacts, nomineeFacts, err := s.personFacts(ctx, def, factsQuery{call: call, ownerID: actor.UserID,
			ownerEmail: actor.Email, ownerRoles: append([]string{}, actor.Roles...), nomineeEmail: nominee.Email, self: self})
		if err != nil {
			return nil, err
		}
		subj := workflow.Subject{State: def.Initial, Fields: fields, Consent: consent, Nominator: nominatorFacts, Nominee: nomineeFacts}
		if failed := def.CheckStart(subj, env); len(failed) > 0 {
			return nil, startRefused(failed)
		}
	}
	if err := s.take(ctx, limits...); err != nil {
		return nil, err
	}
	id, err := s.newID("n")
	if err != nil {
		return nil, err
	}
	// Under a quota, the nomination first takes one of its nominator's
	// places in the call; the insert of the place is what two racing
	// nominations cannot both win.
	slot := ""
	if quota := def.Quota(call.NominatorQuota); quota > 0 {
		if slot, err = s.takeSlot(ctx, slug, actor.UserID, id, quota, def.QuotaText()); err != nil {
			return nil, err
		}
	}
	data := createdData{
		Call: slug, Workflow: WorkflowRef{ID: def.ID, Version: def.Version, Hash: def.Hash},
		Owner: actor.UserID, Nominator: nominator, Nominee: nominee, SelfNominated: self, Consent: consent,
		Fields: fields,
	}
	start := def.Start(workflow.Subject{Fields: data.Fields, Consent: consent}, workflow.Actor{ID: actor.UserID, Roles: actor.Roles, Owner: true}, env)
	data.Timers, _ = timerEffects(start.Effects)
	n, err := s.create(ctx, Event{NominationID: id, Actor: actor.UserID, Type: EvCreated, To: def.Initial, Data: mustJSON(data)})
	if err != nil {
		if slot != "" {
			if ferr := s.Store.FreeSlot(context.WithoutCancel(ctx), slot); ferr != nil {
				s.Logger.Warn("free the quota place of a nomination not created; it is freed when next needed", "slot", slot, "err", ferr)
			}
		}
		return nil, err
	}
	return s.view(ctx, actor, n, def)
}

// Get returns the nomination as actor may see it. Errors: ENOTFOUND when it
// does not exist or actor may not read it.
func (s *Service) Get(ctx context.Context, actor Actor, id string) (*View, error) {
	n, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	def, err := s.definition(n)
	if err != nil {
		return nil, err
	}
	if _, err := s.access(ctx, actor, n); err != nil {
		return nil, err
	}
	return s.view(ctx, actor, n, def)
}

// AnyVersion is the version of an If-Match of "*": the change applies to
// whatever version is current.
const AnyVersion = -1

// UpdateFields changes form values of an editable nomination. version is
// the If-Match the client sent: the version it read, AnyVersion, or 0 when
// it sent none. A nil value removes the answer. A request that changes
// nothing commits nothing and returns the nomination as it is. Errors:
// ENOTFOUND, EPRECONDREQ without If-Match, EPRECONDITION for a stale
// version, ECONFLICT when not editable now, EFORBIDDEN for a non-owner,
// EBADREQUEST for a key that is no field of the form (removal or not),
// EINVALID with the fields named, ETOOMANY over the account's write limit.
func (s *Service) UpdateFields(ctx context.Context, actor Actor, id string, version int, fields map[string]any) (*View, error) {
	var def *workflow.Definition
	limited := false
	n, _, err := s.commit(ctx, id, func(n *Nomination) (Event, error) {
		if _, err := s.access(ctx, actor, n); err != nil {
			return Event{}, err
		}
		if n.OwnerID != actor.UserID {
			return Event{}, Fail(EFORBIDDEN, "OwnerEdits", "only the nomination's owner edits it")
		}
		if version == 0 {
			return Event{}, Fail(EPRECONDREQ, "IfMatchRequired", "send If-Match with the version you read (the ETag), or * to change whatever is current").
				With(Problem("If-Match", "RequiredShort", "required"))
		}
		if version != AnyVersion && version != n.Seq {
			return Event{}, Fail(EPRECONDITION, "VersionChanged", "the nomination changed since you read it (version {{.Version}}, now {{.Now}})", "Version", version, "Now", n.Seq)
		}
		d, err := s.definition(n)
		if err != nil {
			return Event{}, err
		}
		def = d
		st, _ := d.State(n.State)
		if st == nil || !st.Editable {
			return Event{}, Fail(ECONFLICT, "NotEditableInState", "the nomination cannot be edited in state \"{{.State}}\"", "State", n.State)
		}
		// Every key must be a field of the form, a removal too: nothing
		// else is ever recorded.
		if e := unknownFields(d, fields); e != nil {
			return Event{}, e
		}
		merged := map[string]any{}
		for k, v := range n.Fields {
			merged[k] = v
		}
		var fd fieldsData
		for k, v := range fields {
			old, had := n.Fields[k]
			if v == nil {
				if had {
					delete(merged, k)
					fd.Remove = append(fd.Remove, k)
				}
				continue
			}
			merged[k] = v
			if had && sameValue(old, normaliseValue(v)) {
				continue
			}
			if fd.Set == nil {
				fd.Set = map[string]any{}
			}
			fd.Set[k] = v
		}
		if problems := s.checkFields(d, merged, false); problems != nil {
			return Event{}, problems
		}
		if fd.Set == nil && fd.Remove == nil {
			return Event{}, errNoChange
		}
		fd.Set = normaliseFields(fd.Set)
		if fd.Set != nil {
			// Groups that follow the nationality are derived when neither
			// answered before nor set now.
			probe := map[string]any{"nationality": merged["nationality"]}
			for _, g := range derivedGroups {
				_, had := n.Fields[g.field]
				_, setting := fd.Set[g.field]
				if had || setting {
					probe[g.field] = true // not to be derived
				}
			}
			deriveGroups(d, probe)
			for _, g := range derivedGroups {
				if v, ok := probe[g.field].(string); ok {
					fd.Set[g.field] = v
				}
			}
		}
		if !limited {
			if err := s.take(ctx, s.writeLimit(actor)); err != nil {
				return Event{}, err
			}
			limited = true
		}
		slices.Sort(fd.Remove)
		return Event{Actor: actor.UserID, Type: EvFieldsUpdated, Data: mustJSON(fd)}, nil
	})
	if err != nil && err != errNoChange {
		return nil, err
	}
	return s.view(ctx, actor, n, def)
}

// unknownFields refuses, with EBADREQUEST naming each, the keys of values
// that are no field of the form.
func unknownFields(def *workflow.Definition, values map[string]any) *Error {
	var fields []FieldError
	for k := range values {
		if _, ok := def.Field(k); !ok {
			fields = append(fields, Problem("fields."+k, "NotAFieldShort", "not a field of this form"))
		}
	}
	if len(fields) == 0 {
		return nil
	}
	slices.SortFunc(fields, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
	if len(fields) > 20 {
		fields = fields[:20]
	}
	return Fail(EBADREQUEST, "UnknownAnswers", "the request names answers this form does not have").With(fields...)
}

// sameValue reports whether two form answers are equal as JSON: a value
// read back from the store and one just sent compare alike.
func sameValue(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// ActionInput carries what an action may require.
type ActionInput struct {
	Comment string
	Reason  string
}

// Act takes a workflow action. Errors: ENOTFOUND (no such nomination or
// action, or not visible), EFORBIDDEN (role not allowed), ECONFLICT (not
// available in this state), EINVALID (a guard failed or an input is
// missing; the guards' messages are in Fields).
func (s *Service) Act(ctx context.Context, actor Actor, id, action string, in ActionInput) (*View, error) {
	if len(in.Comment) > 4000 || len(in.Reason) > 4000 || !cleanText(in.Comment) || !cleanText(in.Reason) {
		return nil, Invalid(Problem("comment", "CommentLimit", "at most 4000 characters, no control characters"))
	}
	var def *workflow.Definition
	n, _, err := s.commit(ctx, id, func(n *Nomination) (Event, error) {
		if _, err := s.access(ctx, actor, n); err != nil {
			return Event{}, err
		}
		d, err := s.definition(n)
		if err != nil {
			return Event{}, err
		}
		def = d
		subj, env, err := s.subject(ctx, n, d, "")
		if err != nil {
			return Event{}, err
		}
		out, err := d.Fire(subj, wfActor(actor, n), action, workflow.Input{Reason: in.Reason, Comment: in.Comment}, env)
		if err != nil {
			return Event{}, actionError(err)
		}
		// Completing the form is part of submitting: the workflow's
		// required fields are checked here, with the fields named.
		if action == "submit" {
			if problems := s.checkComplete(d, n); problems != nil {
				return Event{}, problems
			}
		}
		return s.transition(n, d, actor.UserID, EvAction, out.Action, out.From, out.To, in.Comment, in.Reason, nil, env.Now, out.Effects), nil
	})
	if err != nil {
		return nil, err
	}
	return s.view(ctx, actor, n, def)
}

// transition builds the event moving n to state to, opening a new review
// round when to holds a review.
func (s *Service) transition(n *Nomination, def *workflow.Definition, actor, typ, action, from, to, comment, reason string, tally map[string]any, now time.Time, effects []workflow.Effect) Event {
	d := s.transitionData(n, def, action, from, to, comment, reason, tally, now, effects)
	return Event{Actor: actor, Type: typ, From: from, To: to, Data: mustJSON(d)}
}

// transitionData describes a move of n from one state to another: the new
// round and its panel and due time when to holds a review, the timers to
// arm and whether a membership follows.
func (s *Service) transitionData(n *Nomination, def *workflow.Definition, action, from, to, comment, reason string, tally map[string]any, now time.Time, effects []workflow.Effect) actionData {
	d := actionData{Action: action, Comment: comment, Reason: reason, Tally: tally}
	d.Timers, d.CreatesMember = timerEffects(effects)
	if st, ok := def.State(to); ok && st.Review != nil && to != from {
		d.Round = n.Round + 1
		d.Panel, _ = def.ReviewPanel(to, n.Fields)
		if st.Review.Due > 0 {
			d.Due = now.Add(st.Review.Due).UTC().Truncate(time.Millisecond)
		}
	}
	return d
}

// wfActor describes actor to the workflow engine.
func wfActor(a Actor, n *Nomination) workflow.Actor {
	return workflow.Actor{ID: a.UserID, Roles: a.Roles, Panels: a.Panels, Owner: a.UserID != "" && a.UserID == n.OwnerID}
}

// actionError maps the engine's refusal to the domain's codes.
func actionError(err error) error {
	ae, ok := err.(*workflow.ActionError)
	if !ok {
		return err
	}
	msg := strings.Join(ae.Messages, "; ")
	switch ae.Kind {
	case workflow.ErrUnknownAction:
		return Fail(ENOTFOUND, "NoActionInWorkflow", "no action \"{{.Action}}\" in this workflow", "Action", ae.Action)
	case workflow.ErrNotAllowed:
		return Fail(EFORBIDDEN, "RoleMayNot", "your role may not {{.Action}} this nomination", "Action", ae.Action)
	case workflow.ErrNotAvailable:
		return Fail(ECONFLICT, "ActionNotNow", "{{.Action}} is not possible in the nomination's current state", "Action", ae.Action)
	default:
		e := &Error{Code: EINVALID, Message: msg}
		switch {
		case len(ae.Texts) == 1:
			e.Text = ae.Texts[0]
		case msg == "":
			e = Fail(EINVALID, "ConditionsNotMet", "the action's conditions are not met")
		default:
			e.Text = phrase.Join("; ", ae.Texts...)
		}
		for _, f := range ae.Fields {
			e.Fields = append(e.Fields, ProblemText("fields."+f.Field, f.Text))
		}
		if len(ae.Fields) == 0 {
			for i, m := range ae.Messages {
				field := "action"
				switch {
				case ae.Kind == workflow.ErrInputRequired && strings.Contains(m, "comment"):
					field = "comment"
				case ae.Kind == workflow.ErrInputRequired:
					field = "reason"
				case ae.Kind == workflow.ErrInvalidVote:
					field = "decision"
				}
				t := phrase.Plain(m)
				if i < len(ae.Texts) {
					t = ae.Texts[i]
				}
				e.Fields = append(e.Fields, ProblemText(field, t))
			}
		}
		return e
	}
}

// checkFields validates values against the form.
func (s *Service) checkFields(def *workflow.Definition, values map[string]any, complete bool) *Error {
	var fields []FieldError
	for k := range values {
		f, ok := def.Field(k)
		if !ok {
			fields = append(fields, Problem("fields."+k, "NotAFieldShort", "not a field of this form"))
		} else if f.Type == workflow.TypeFile {
			fields = append(fields, Problem("fields."+k, "UploadAsAttachment", "upload the file as an attachment"))
		}
	}
	if len(fields) == 0 {
		for _, p := range def.CheckFields(values, complete) {
			fields = append(fields, ProblemText("fields."+p.Field, p.Text))
		}
	}
	if len(fields) == 0 {
		fields = append(fields, checkGroups(values)...)
	}
	if len(fields) == 0 {
		return nil
	}
	slices.SortFunc(fields, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
	return Invalidf("AnswersNotAcceptable", "some answers are not acceptable", fields...)
}

// checkComplete checks what submission needs: every required answer and
// every required file.
func (s *Service) checkComplete(def *workflow.Definition, n *Nomination) *Error {
	var fields []FieldError
	if e := s.checkFields(def, n.Fields, true); e != nil {
		fields = append(fields, e.Fields...)
	}
	for _, f := range def.Fields {
		if f.Type == workflow.TypeFile && f.Required && countAttachments(n, f.Name) == 0 {
			fields = append(fields, Problem("fields."+f.Name, "RequiredUploadFile", "required: upload the file"))
		}
	}
	if len(fields) == 0 {
		return nil
	}
	return Invalidf("NotComplete", "the nomination is not complete", fields...)
}

func countAttachments(n *Nomination, kind string) int {
	c := 0
	for _, a := range n.Attachments {
		if a.Kind == kind {
			c++
		}
	}
	return c
}

// normaliseFields trims text answers.
func normaliseFields(in map[string]any) map[string]any {
	if in == nil {
		return nil
	}
	out := make(map[string]any, len(in))
	for k, v := range in {
		out[k] = normaliseValue(v)
	}
	return out
}

// normaliseValue trims a text answer.
func normaliseValue(v any) any {
	if str, ok := v.(string); ok {
		return strings.TrimSpace(str)
	}
	return v
}

// singleLine checks a one-line text (a name, an organisation, a title)
// with the shared one-line rule and returns it trimmed and NFC-normalised,
// or EINVALID naming field.
func singleLine(field, s string, min, max int) (string, error) {
	out, msg := oneline.Clean(s, min, max)
	if msg.English != "" {
		return "", Invalid(ProblemText(field, msg))
	}
	return out, nil
}

// cleanPerson validates a name and address given for someone; field
// prefixes the names of the fields in errors ("nominee" gives
// "nominee.name"; "" gives "name").
func cleanPerson(p Person, field string) (Person, error) {
	prefix := field
	if prefix != "" {
		prefix += "."
	}
	name, err := singleLine(prefix+"name", p.Name, 1, 200)
	if err != nil {
		return p, err
	}
	p.Name = name
	p.Email = strings.TrimSpace(p.Email)
	if !phrase.Supported(p.Language) {
		p.Language = ""
	}
	if !plainEmail(p.Email) {
		return p, Invalid(Problem(prefix+"email", "PlainEmail", "a plain email address, such as ana@example.org"))
	}
	return p, nil
}

// plainEmail reports whether e is a plain email address.
func plainEmail(e string) bool {
	if len(e) > 254 || strings.ContainsAny(e, "\r\n\x00 <>,;\"") {
		return false
	}
	a, err := mail.ParseAddress(e)
	return err == nil && a.Address == e && strings.Contains(e[strings.IndexByte(e, '@')+1:], ".")
}

// timerEffects picks from an outcome's effects the timers to arm and
// whether a membership is to be created.
func timerEffects(effects []workflow.Effect) ([]TimerSpec, bool) {
	var timers []TimerSpec
	member := false
	for _, e := range effects {
		switch {
		case e.Kind == workflow.EffectSetTimer && e.Timer != nil:
			t := e.Timer
			timers = append(timers, TimerSpec{Name: t.Name, Kind: t.Kind, State: t.State, Due: t.Due.UTC().Truncate(time.Millisecond),
				Every: t.Every, Audience: t.Audience, Template: t.Template, Action: t.Action})
		case e.Kind == workflow.EffectCreateMember:
			member = true
		}
	}
	return timers, member
}

// fieldText renders a form answer as text.
func fieldText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}
