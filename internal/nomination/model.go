package nomination

import (
	"encoding/json"
	"time"

	"github.com/igf/nomina/internal/workflow"
)

// Actor is the person (or the system) behind a change.
type Actor struct {
	UserID       string
	Email        string
	Name         string
	Roles        []string
	Panels       []string
	Organization string
	// EmailConfirmed says the account has shown it receives mail at
	// Email; until it has, Nomina mails nobody else on its behalf.
	EmailConfirmed bool
	// Address is the client's network address, for the limits kept per
	// address; empty when there is none (a command run from the shell).
	Address string
}

// SystemActor stands for changes the engine makes on its own (a decided
// vote, a timer).
var SystemActor = Actor{UserID: "system", Name: "Nomina"}

// HasRole reports whether a holds role; an admin holds every role the
// secretariat holds.
func (a Actor) HasRole(role string) bool {
	for _, r := range a.Roles {
		if r == role || (r == "admin" && role == "secretariat") {
			return true
		}
	}
	return false
}

// IsStaff reports whether a is secretariat or admin.
func (a Actor) IsStaff() bool { return a.HasRole("secretariat") }

// OnPanel reports whether a sits on panel.
func (a Actor) OnPanel(panel string) bool {
	for _, p := range a.Panels {
		if p == panel {
			return true
		}
	}
	return false
}

// Call is one open call for nominations, run by one workflow.
type Call struct {
	Slug            string
	Title           string
	Workflow        string
	WorkflowVersion int
	OpensAt         time.Time
	ClosesAt        time.Time
	TermStart       time.Time
	Seats           int
	// Targets are the balance targets of the shortlist, as JSON validated
	// by the configured TargetsValidator.
	Targets json.RawMessage
	// RequiredEndorsements is how many confirmed endorsements the call
	// asks of a nomination (0: none); workflow rules see it as
	// call.required_endorsements.
	RequiredEndorsements int
	// NominatorQuota lowers the workflow's limit on the nominations one
	// nominator may hold in the call (0: the workflow's).
	NominatorQuota int
	CreatedAt      time.Time
	UpdatedAt      time.Time
	CreatedBy      string
	// Version counts the call's committed revisions, from 1.
	Version int
}

// ruleCall is the call as workflow rules see it, with the quota def and
// the call together set.
func (c Call) ruleCall(def *workflow.Definition) workflow.Call {
	return workflow.Call{OpensAt: c.OpensAt, ClosesAt: c.ClosesAt, TermStart: c.TermStart, Seats: c.Seats,
		RequiredEndorsements: c.RequiredEndorsements, NominatorQuota: def.Quota(c.NominatorQuota)}
}

// IsOpen reports whether nominations may be submitted at now.
func (c Call) IsOpen(now time.Time) bool { return !now.Before(c.OpensAt) && now.Before(c.ClosesAt) }

// Person is someone named on a nomination.
type Person struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	// Language is the language of the page (or API request) from which
	// someone without an account was nominated: their mail is written in
	// it. Empty for the nominator.
	Language string `json:"language,omitempty"`
}

// Attachment is a file stored with a nomination.
type Attachment struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"` // the form field it fills
	Filename    string    `json:"filename"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	ContentType string    `json:"content_type"`
	At          time.Time `json:"at,omitzero"`
}

// Endorsement is a request for support and, once confirmed, the statement.
type Endorsement struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Email        string `json:"email"`
	Organization string `json:"organization"`
	// Language is the language of the page from which the endorsement was
	// asked for: the endorser's mail is written in it.
	Language    string    `json:"language,omitempty"`
	Status      string    `json:"status"` // requested, confirmed, declined
	Statement   string    `json:"statement,omitempty"`
	RequestedAt time.Time `json:"requested_at"`
	ConfirmedAt time.Time `json:"confirmed_at,omitzero"`
}

// Vote is one reviewer's vote in one round of a review stage.
type Vote struct {
	Reviewer string    `json:"reviewer"`
	Stage    string    `json:"stage"`
	Panel    string    `json:"panel,omitempty"`
	Round    int       `json:"round"`
	Decision string    `json:"decision"`
	Score    *float64  `json:"score,omitempty"`
	Comment  string    `json:"comment,omitempty"`
	At       time.Time `json:"at,omitzero"`
	Seq      int       `json:"seq,omitempty"`
}

// Conflict is a reviewer's declared conflict of interest.
type Conflict struct {
	Reviewer string    `json:"reviewer"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at,omitzero"`
}

// WorkflowRef pins the workflow definition a nomination started with.
type WorkflowRef struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	Hash    string `json:"hash"`
}

// Nomination is the projection of a nomination's events: its current state.
// Seq is the number of the last event folded in; it doubles as the version
// clients send back in If-Match.
type Nomination struct {
	ID            string
	CallSlug      string
	Workflow      WorkflowRef
	State         string
	Seq           int
	OwnerID       string
	Nominator     Person
	Nominee       Person
	SelfNominated bool
	Consent       string // "", not_required, pending, accepted, declined
	Fields        map[string]any
	Attachments   []Attachment
	Endorsements  []Endorsement
	Votes         []Vote
	Conflicts     []Conflict
	Round         int
	// Visited lists the states the nomination has been in.
	Visited []string
	// Panel reviews the current round; Panels lists every panel that has
	// reviewed the nomination, recorded when each round opened.
	Panel  string
	Panels []string
	// DerivedSeq is the last event whose side effects (mail, timers,
	// membership) are known to be done; readers finish the rest.
	DerivedSeq int
	// MeanScore is the mean score of the latest review round that took
	// scores (0 when none did).
	MeanScore float64
	// ReviewPanels lists the panels of the review stages it is at or went
	// through: the reviewers who may see it.
	ReviewPanels []string
	// Stage is the review stage under way (the state's name) and StageDue
	// its due time.
	EnteredAt time.Time
	// EnteredSeq is the event that entered the current state: timers armed
	// by an earlier entry are void.
	EnteredSeq  int
	StageDue    time.Time
	SubmittedAt time.Time
	LastComment string
	LastReason  string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// LastHash is the hash of the event at Seq.
	LastHash string
}

// ConfirmedEndorsements counts the confirmed endorsements, each mailbox
// once (see MailboxKey): one endorser counts once however often asked.
func (n *Nomination) ConfirmedEndorsements() int {
	seen := map[string]bool{}
	for _, e := range n.Endorsements {
		if e.Status == "confirmed" {
			seen[MailboxKey(e.Email)] = true
		}
	}
	return len(seen)
}

// Event is one committed change of a nomination. Events are never changed
// or deleted; each Hash covers the previous event's hash, so the history is
// tamper-evident.
type Event struct {
	NominationID string
	Seq          int
	At           time.Time
	Actor        string
	Type         string
	From         string
	To           string
	// Data is the event's payload as canonical JSON.
	Data     json.RawMessage
	PrevHash string
	Hash     string
	// HashVersion names the canonical encoding Hash was computed with (see
	// HashEvent); 0 is the legacy encoding of events stored before
	// versions were recorded.
	HashVersion int
}

// Event types.
const (
	EvCreated              = "created"
	EvFieldsUpdated        = "fields_updated"
	EvAction               = "action"
	EvAttachmentAdded      = "attachment_added"
	EvEndorsementRequested = "endorsement_requested"
	EvEndorsementConfirmed = "endorsement_confirmed"
	EvEndorsementDeclined  = "endorsement_declined"
	EvConsent              = "consent"
	EvVote                 = "vote"
	EvConflict             = "conflict_declared"
	EvOverride             = "override"
)

// TimerSpec is a timer a state arms: a reminder or an escalation due at an
// absolute time.
type TimerSpec struct {
	Name     string        `json:"name"`
	Kind     string        `json:"kind"`
	State    string        `json:"state"`
	Due      time.Time     `json:"due"`
	Every    time.Duration `json:"every,omitempty"`
	Audience string        `json:"audience,omitempty"`
	Template string        `json:"template,omitempty"`
	Action   string        `json:"action,omitempty"`
}

// Timer is an armed timer of a nomination. Its ID is derived from the event
// that armed it, its name and due time, so arming twice stores it once.
type Timer struct {
	ID           string
	NominationID string
	ArmedSeq     int
	Spec         TimerSpec
	Status       string // pending, done, void
}

// NotifySpec asks for a templated message to an audience.
type NotifySpec struct {
	Audience string `json:"audience"`
	Template string `json:"template"`
}
