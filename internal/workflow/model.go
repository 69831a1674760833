// Package workflow owns Nomina's workflow definitions: the typed nomination
// form, the states a nomination moves through, who may act in each, the
// guards and vote rules (CEL expressions) that decide, and the timers and
// notifications each step causes.
//
// Definitions are read from YAML files (see workflows/README.md), validated
// strictly at load with file:line diagnostics, and evaluated by a pure engine:
// nothing in this package reads a clock, and only the loader functions in
// load.go touch the file system. Every answer of the engine is computed from
// its inputs (the definition, the nomination as a Subject, the Actor and the
// Env holding the current time), so the same inputs always give the same
// outcome.
package workflow

import (
	"strconv"
	"strings"
	"time"
)

// Field types of the nomination form.
const (
	TypeChoice   = "choice"   // one of Choices
	TypeText     = "text"     // one line of text
	TypeLongText = "longtext" // paragraphs of text
	TypeEmail    = "email"    // an email address
	TypeCountry  = "country"  // an ISO 3166-1 alpha-2 code, such as "KE"
	TypeDate     = "date"     // a calendar date, YYYY-MM-DD
	TypeFile     = "file"     // an uploaded attachment, counted in Subject.Attachments
	TypeBool     = "bool"     // a yes/no answer
)

// Roles a workflow action may name. The actor's roles come from its account;
// RoleOwner is granted to the actor who owns the nomination; RoleSystem is
// held only by the engine itself (vote decisions and escalation timers).
const (
	RoleOwner       = "owner"
	RoleCandidate   = "candidate"
	RoleReviewer    = "reviewer"
	RoleSecretariat = "secretariat"
	RoleAdmin       = "admin"
	RoleSystem      = "system"
)

// Audiences a notification may address.
const (
	AudienceCandidate        = "candidate"         // the person nominated
	AudienceNominee          = "nominee"           // the person nominated by someone else (consent)
	AudienceNominator        = "nominator"         // the account that owns the nomination
	AudiencePanel            = "panel"             // every eligible member of the reviewing panel
	AudiencePendingReviewers = "pending_reviewers" // eligible panel members who have not voted yet
	AudienceSecretariat      = "secretariat"
	AudienceEndorser         = "endorser"
)

// Vote options of a review.
const (
	VoteApprove        = "approve"
	VoteReject         = "reject"
	VoteRequestChanges = "request_changes"
	VoteRecuse         = "recuse"
)

// Review exclusions: who may not vote on a nomination.
const (
	ExcludeSubmitter = "submitter" // the account that owns the nomination
	ExcludeConflicts = "conflicts" // reviewers who declared a conflict of interest
)

// Timer kinds.
const (
	TimerReminder   = "reminder"   // notifies, repeating every Every until the state is left
	TimerEscalation = "escalation" // fires an action (and may notify) once
)

// Inputs an action may require.
const (
	InputReason  = "reason"
	InputComment = "comment"
)

// Definition is one validated workflow: a version of the process a call's
// nominations follow. It is immutable once loaded and safe for concurrent
// use.
type Definition struct {
	ID          string
	Version     int
	Title       string
	Description string
	// Body is the membership body the workflow feeds: one of Bodies.
	Body string
	// Hash is the SHA-256 (hex) of the file the definition was parsed from;
	// with ID and Version it pins the exact rules a nomination started with.
	Hash string
	// File is the name the definition was parsed under, for messages.
	File string
	// Source holds the file's bytes, so a store can archive the exact
	// definition a nomination started with.
	Source []byte

	Terms   TermRules
	Fields  []*Field
	Roles   []string
	Panels  []string
	Initial string
	// States maps a state's name to the state; StateOrder lists the names in
	// file order.
	States     map[string]*State
	StateOrder []string
	Actions    []*Action
	// Starting holds the rules on who may start a nomination in a call and
	// how many each nominator may have.
	Starting StartRules
	// Languages are the languages the workflow's texts are written in
	// (the file's languages key; every language Nomina speaks when it
	// has none): a text missing one of them is a warning.
	Languages []string

	// texts holds every text of the file in its languages; localized the
	// definition's copy in each language (see In).
	texts     translations
	localized map[string]*Definition

	fieldIndex  map[string]*Field
	actionIndex map[string]*Action
	env         *exprEnv
	// refs holds every variable any rule of the definition names, so a
	// caller gathers only the facts the rules use (Uses).
	refs map[string]bool
}

// Bodies are the membership bodies Nomina knows: the MAG and the
// Leadership Panel, which workflows feed, and the Working Group on
// Internet Governance (WGIG), whose alumni are a roster imported like the
// MAG's past members. Rules name them in person facts, such as
// nominee.terms.wgig.
var Bodies = []string{"mag", "lp", "wgig"}

// StartRules decide whether an account may start a nomination in a call:
// every guard must hold (the nomination does not exist yet, so the rules
// see the nominator, the nominee, the call and the time, and no answers),
// and the nominator may hold at most Quota nominations in the call at once
// (0: no limit; a call may set a lower one). Withdrawn nominations do not
// count.
type StartRules struct {
	Guards []*Guard
	Quota  int
	// QuotaMessage is shown to a nominator who has reached the quota.
	QuotaMessage string
	Line         int
}

// Uses reports whether any rule of the definition names the variable
// name, such as "nominator.nominations", or, for a name ending in ".", a
// variable starting so ("nominee.").
func (d *Definition) Uses(name string) bool {
	if !strings.HasSuffix(name, ".") {
		return d.refs[name]
	}
	for r := range d.refs {
		if strings.HasPrefix(r, name) {
			return true
		}
	}
	return false
}

// TermRules are the membership terms the workflow's body grants.
type TermRules struct {
	// Years is the length of one term.
	Years int
	// MaxConsecutive is the number of consecutive terms a member may serve;
	// 0 means no limit.
	MaxConsecutive int
}

// Field is one question of the nomination form.
type Field struct {
	Name  string
	Type  string
	Label string
	Help  string
	// Required fields must be answered before submission (CheckFields with
	// complete=true); a required bool must be true, a required file must
	// have at least one attachment.
	Required bool
	// MinLen and MaxLen bound text lengths in characters; MaxLen is always
	// set (a default applies per type).
	MinLen, MaxLen int
	// Choices lists the allowed values of a choice field; ChoiceLabels maps
	// a value to its display label when the file gives one.
	Choices      []string
	ChoiceLabels map[string]string
	// Accept lists the MIME types a file field takes, such as application/pdf;
	// MaxBytes bounds one file's size and MaxFiles their number.
	Accept   []string
	MaxBytes int64
	MaxFiles int
	// ReviewerVisible says whether panel reviewers see the answer.
	ReviewerVisible bool
	// Line is where the field is declared.
	Line int
}

// State is one state of the workflow.
type State struct {
	Name string
	// Label is the state's name as people read it, such as the heading
	// of a review stage's columns in a download; "" when the file gives
	// none (see DisplayName).
	Label       string
	Description string
	// Final states end the nomination: no action leaves them.
	Final bool
	// Editable states let the owner edit the form and its attachments.
	Editable bool
	// CreatesMember asks for a membership to be created on entry.
	CreatesMember bool
	OnEnter       []Notify
	Review        *Review
	Timers        []*Timer
	Line          int
}

// Notify asks for a templated message to an audience.
type Notify struct {
	Audience string
	Template string
	Line     int
}

// Review is a panel vote held while the nomination is in a state.
type Review struct {
	// Panel names the reviewing panel; PanelFromField instead names a choice
	// field whose value is the panel's name (for example stakeholder_group).
	Panel          string
	PanelFromField string
	// Options are the vote decisions reviewers may cast.
	Options []string
	// Score, when set, is the range of the score reviewers give.
	Score *ScoreRange
	// Exclude lists who may not vote: ExcludeSubmitter, ExcludeConflicts.
	Exclude []string
	// PassIf, FailIf and ChangesIf are CEL rules over the tally, tried in
	// that order after each vote by Decide.
	PassIf, FailIf, ChangesIf string
	// OnPass, OnFail and OnRequestChanges name the actions the engine fires
	// when the matching rule holds.
	OnPass, OnFail, OnRequestChanges string
	// Due is how long after entering the state the review is due.
	Due time.Duration
	// AllowChange lets a reviewer change their vote while the review is open.
	AllowChange bool
	Line        int

	passIf, failIf, changesIf *expr
}

// ScoreRange bounds the score of a vote. When Required, every approve or
// reject vote carries a score; recusals never do.
type ScoreRange struct {
	Min, Max int
	Required bool
}

// Timer is a reminder or an escalation armed when its state is entered and
// cancelled when the state is left.
type Timer struct {
	Name string
	Kind string
	// At is a CEL expression giving the timestamp the timer is due, for
	// example `review_due - days(3)` or `call.closes_at`.
	At string
	// Every repeats a reminder until the state is left (0: once).
	Every    time.Duration
	Audience string
	Template string
	// Action is fired by the engine when an escalation is due.
	Action string
	Line   int

	at *expr
}

// Guard is one condition of an action, with the message shown when it fails.
type Guard struct {
	Rule    string
	Message string
	Line    int
	// key is where the guard's message is among the definition's texts.
	key string

	expr *expr
}

// Action moves a nomination from one of From to To.
type Action struct {
	Name        string
	Label       string
	Description string
	From        []string
	To          string
	Roles       []string
	Guards      []*Guard
	// Inputs lists what the actor must give: InputReason, InputComment.
	Inputs []string
	// Notify lists messages sent when the action is taken.
	Notify []Notify
	Line   int
}

// Field returns the form field with the given name, and whether it exists.
func (d *Definition) Field(name string) (*Field, bool) {
	f, ok := d.fieldIndex[name]
	return f, ok
}

// Action returns the action with the given name, and whether it exists.
func (d *Definition) Action(name string) (*Action, bool) {
	a, ok := d.actionIndex[name]
	return a, ok
}

// State returns the state with the given name, and whether it exists.
func (d *Definition) State(name string) (*State, bool) {
	s, ok := d.States[name]
	return s, ok
}

// Timer returns the timer called name in state, and whether it exists.
func (d *Definition) Timer(state, name string) (*Timer, bool) {
	st, ok := d.States[state]
	if !ok {
		return nil, false
	}
	for _, t := range st.Timers {
		if t.Name == name {
			return t, true
		}
	}
	return nil, false
}

// ReviewPanel returns the panel that reviews a nomination in state, given
// its form values: the review's fixed panel, or the panel named like the
// value of its panel_from_field. ok is false when the state holds no review
// or the field has no value naming a declared panel.
func (d *Definition) ReviewPanel(state string, fields map[string]any) (panel string, ok bool) {
	st, found := d.States[state]
	if !found || st.Review == nil {
		return "", false
	}
	r := st.Review
	if r.Panel != "" {
		return r.Panel, true
	}
	v, isString := fields[r.PanelFromField].(string)
	if !isString {
		return "", false
	}
	for _, p := range d.Panels {
		if p == v {
			return p, true
		}
	}
	return "", false
}

// Key returns "id@version", the name a nomination records with the hash.
func (d *Definition) Key() string {
	return d.ID + "@" + strconv.Itoa(d.Version)
}
