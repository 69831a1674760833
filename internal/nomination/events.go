package nomination

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Payloads of the event types, as stored in Event.Data.
type (
	createdData struct {
		Call          string         `json:"call"`
		Workflow      WorkflowRef    `json:"workflow"`
		Owner         string         `json:"owner"`
		Nominator     Person         `json:"nominator"`
		Nominee       Person         `json:"nominee"`
		SelfNominated bool           `json:"self_nominated"`
		Consent       string         `json:"consent"`
		Fields        map[string]any `json:"fields"`
		Timers        []TimerSpec    `json:"timers,omitempty"`
	}
	fieldsData struct {
		Set    map[string]any `json:"set,omitempty"`
		Remove []string       `json:"remove,omitempty"`
	}
	actionData struct {
		Action  string    `json:"action"`
		Comment string    `json:"comment,omitempty"`
		Reason  string    `json:"reason,omitempty"`
		Round   int       `json:"round,omitempty"`
		Due     time.Time `json:"due,omitzero"`
		// Tally is the count a decision was taken on, for decided votes.
		Tally map[string]any `json:"tally,omitempty"`
		// Timers are armed on entering the new state; CreatesMember asks
		// for the membership the state grants.
		Timers        []TimerSpec `json:"timers,omitempty"`
		CreatesMember bool        `json:"creates_member,omitempty"`
		// Timer names the escalation that fired the action, and Notify the
		// messages it sends besides the action's own.
		Timer  string       `json:"timer,omitempty"`
		Notify []NotifySpec `json:"notify,omitempty"`
		// Panel is the panel reviewing the round the transition opens.
		Panel string `json:"panel,omitempty"`
	}
	// voteData is a vote and, when it settled the stage, the decision it
	// made: one event, so a decision is never lost or made twice.
	voteData struct {
		Vote
		Outcome *actionData `json:"outcome,omitempty"`
	}
	// conflictData is a declared conflict and, when excluding the reviewer
	// settled the stage, the decision.
	conflictData struct {
		Conflict
		Outcome *actionData `json:"outcome,omitempty"`
	}
	endorsementConfirmedData struct {
		ID        string `json:"id"`
		Statement string `json:"statement"`
	}
	consentData struct {
		Decision string `json:"decision"`
	}
)

// Replay folds events into a fresh projection.
func Replay(id string, events []Event) (*Nomination, error) {
	n := &Nomination{ID: id}
	for _, e := range events {
		if err := Apply(n, e); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// Apply folds one event into n. Events must come in seq order; an event
// out of order is refused.
func Apply(n *Nomination, e Event) error {
	if e.Seq != n.Seq+1 {
		return fmt.Errorf("apply event %d to projection at %d", e.Seq, n.Seq)
	}
	switch e.Type {
	case EvCreated:
		var d createdData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return fmt.Errorf("event %d: %w", e.Seq, err)
		}
		n.CallSlug, n.Workflow, n.OwnerID = d.Call, d.Workflow, d.Owner
		n.Nominator, n.Nominee, n.SelfNominated, n.Consent = d.Nominator, d.Nominee, d.SelfNominated, d.Consent
		n.Fields = d.Fields
		if n.Fields == nil {
			n.Fields = map[string]any{}
		}
		n.CreatedAt = e.At
		n.EnteredAt = e.At
		n.EnteredSeq = e.Seq
		n.State = e.To
		n.Visited = []string{e.To}
	case EvFieldsUpdated:
		var d fieldsData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return fmt.Errorf("event %d: %w", e.Seq, err)
		}
		if n.Fields == nil {
			n.Fields = map[string]any{}
		}
		for k, v := range d.Set {
			n.Fields[k] = v
		}
		for _, k := range d.Remove {
			delete(n.Fields, k)
		}
	case EvAction, EvOverride:
		var d actionData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return fmt.Errorf("event %d: %w", e.Seq, err)
		}
		applyTransition(n, e, d)
	case EvAttachmentAdded:
		var a Attachment
		if err := json.Unmarshal(e.Data, &a); err != nil {
			return fmt.Errorf("event %d: %w", e.Seq, err)
		}
		a.At = e.At
		// A new file for a field replaces the earlier one.
		kept := n.Attachments[:0:0]
		for _, x := range n.Attachments {
			if x.Kind != a.Kind {
				kept = append(kept, x)
			}
		}
		n.Attachments = append(kept, a)
	case EvEndorsementRequested:
		var en Endorsement
		if err := json.Unmarshal(e.Data, &en); err != nil {
			return fmt.Errorf("event %d: %w", e.Seq, err)
		}
		n.Endorsements = append(n.Endorsements, en)
	case EvEndorsementConfirmed:
		var d endorsementConfirmedData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return fmt.Errorf("event %d: %w", e.Seq, err)
		}
		for i := range n.Endorsements {
			if n.Endorsements[i].ID == d.ID {
				n.Endorsements[i].Status = "confirmed"
				n.Endorsements[i].Statement = d.Statement
				n.Endorsements[i].ConfirmedAt = e.At
			}
		}
	case EvEndorsementDeclined:
		var d endorsementConfirmedData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return fmt.Errorf("event %d: %w", e.Seq, err)
		}
		for i := range n.Endorsements {
			if n.Endorsements[i].ID == d.ID {
				n.Endorsements[i].Status = "declined"
			}
		}
	case EvConsent:
		var d consentData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return fmt.Errorf("event %d: %w", e.Seq, err)
		}
		n.Consent = d.Decision
	case EvVote:
		var d voteData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return fmt.Errorf("event %d: %w", e.Seq, err)
		}
		v := d.Vote
		v.Seq = e.Seq
		v.At = e.At
		n.Votes = append(n.Votes, v)
		if d.Outcome != nil {
			applyTransition(n, e, *d.Outcome)
		}
	case EvConflict:
		var d conflictData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return fmt.Errorf("event %d: %w", e.Seq, err)
		}
		c := d.Conflict
		c.At = e.At
		n.Conflicts = append(n.Conflicts, c)
		if d.Outcome != nil {
			applyTransition(n, e, *d.Outcome)
		}
	default:
		return fmt.Errorf("event %d: unknown type %q", e.Seq, e.Type)
	}
	n.Seq = e.Seq
	n.UpdatedAt = e.At
	n.LastHash = e.Hash
	return nil
}

// applyTransition moves n to e.To as the transition d describes.
func applyTransition(n *Nomination, e Event, d actionData) {
	if e.To != "" && e.To != n.State {
		n.EnteredAt = e.At
		n.EnteredSeq = e.Seq
	}
	if e.To != "" {
		n.State = e.To
		if !slices.Contains(n.Visited, e.To) {
			n.Visited = append(n.Visited, e.To)
		}
	}
	if d.Round > 0 {
		n.Round = d.Round
		n.Panel = d.Panel
		if d.Panel != "" && !slices.Contains(n.Panels, d.Panel) {
			n.Panels = append(n.Panels, d.Panel)
		}
	}
	n.StageDue = d.Due
	if d.Action == "submit" && n.SubmittedAt.IsZero() {
		n.SubmittedAt = e.At
	}
	n.LastComment, n.LastReason = d.Comment, d.Reason
}

// transitionOf returns the transition an event carries, if any.
func transitionOf(e Event) (actionData, bool) {
	switch e.Type {
	case EvAction, EvOverride:
		var d actionData
		return d, json.Unmarshal(e.Data, &d) == nil
	case EvVote:
		var d voteData
		if json.Unmarshal(e.Data, &d) == nil && d.Outcome != nil {
			return *d.Outcome, true
		}
	case EvConflict:
		var d conflictData
		if json.Unmarshal(e.Data, &d) == nil && d.Outcome != nil {
			return *d.Outcome, true
		}
	}
	return actionData{}, false
}

// EventID is the store key of event seq of a nomination: the unique _id
// whose insert commits the change.
func EventID(nominationID string, seq int) string {
	return fmt.Sprintf("%s/%08d", nominationID, seq)
}

// ParseEventID splits an EventID.
func ParseEventID(id string) (string, int, bool) {
	i := strings.LastIndexByte(id, '/')
	if i < 0 {
		return "", 0, false
	}
	seq, err := strconv.Atoi(id[i+1:])
	return id[:i], seq, err == nil
}

// CurrentVotes returns the votes of the current round of stage, the last
// vote of each reviewer counting.
func (n *Nomination) CurrentVotes(stage string) []Vote { return n.RoundVotes(stage, n.Round) }

// RoundVotes returns the votes of one round of stage, the last vote of each
// reviewer counting.
func (n *Nomination) RoundVotes(stage string, round int) []Vote {
	last := map[string]int{}
	var out []Vote
	for _, v := range n.Votes {
		if v.Stage != stage || v.Round != round {
			continue
		}
		if i, ok := last[v.Reviewer]; ok {
			out[i] = v
			continue
		}
		last[v.Reviewer] = len(out)
		out = append(out, v)
	}
	return out
}

// ConflictOf returns the reviewer's declared conflict, if any.
func (n *Nomination) ConflictOf(reviewer string) (Conflict, bool) {
	for _, c := range n.Conflicts {
		if c.Reviewer == reviewer {
			return c, true
		}
	}
	return Conflict{}, false
}
