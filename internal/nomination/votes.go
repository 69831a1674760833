package nomination

import (
	"context"
	"slices"
	"strings"

	"github.com/igf/nomina/internal/workflow"
)

// VoteInput is a reviewer's vote.
type VoteInput struct {
	Decision string
	Score    *float64
	Comment  string
}

// CastVote records a reviewer's vote on the current round of the review
// stage the nomination is at, then lets the stage's rules decide. Exactly
// one decision is committed however many votes land together: the unique
// event seq settles every race. Errors: ENOTFOUND (not visible),
// EFORBIDDEN (not on the panel, excluded or conflicted), ECONFLICT (no
// review open, or already voted where changes are not allowed), EINVALID.
func (s *Service) CastVote(ctx context.Context, actor Actor, id string, in VoteInput) (Vote, error) {
	if len(in.Comment) > 4000 || !cleanText(in.Comment) {
		return Vote{}, Invalid(Problem("comment", "Length4000", "at most 4000 characters"))
	}
	var vote Vote
	_, ev, err := s.commit(ctx, id, func(n *Nomination) (Event, error) {
		if _, err := s.access(ctx, actor, n); err != nil {
			return Event{}, err
		}
		def, err := s.definition(n)
		if err != nil {
			return Event{}, err
		}
		st, _ := def.State(n.State)
		if st == nil || st.Review == nil {
			return Event{}, Fail(ECONFLICT, "NoReviewOpenHere", "no review is open on this nomination")
		}
		r := st.Review
		panel := currentPanel(def, n)
		if panel == "" || !actor.OnPanel(panel) || !actor.HasRole("reviewer") {
			return Event{}, Fail(EFORBIDDEN, "NotOnPanel", "you are not on the panel reviewing this nomination")
		}
		if slices.Contains(r.Exclude, workflow.ExcludeSubmitter) && actor.UserID == n.OwnerID {
			return Event{}, Fail(EFORBIDDEN, "NoVoteOwn", "you may not vote on your own nomination")
		}
		if isNominee(actor, n) {
			return Event{}, Fail(EFORBIDDEN, "NoVoteSelf", "you may not vote on a nomination of yourself")
		}
		if s.conflicted(actor, n) {
			return Event{}, Fail(EFORBIDDEN, "YouAreConflicted", "you have a conflict of interest with this nomination")
		}
		if err := checkVote(r, in); err != nil {
			return Event{}, err
		}
		for _, v := range n.CurrentVotes(n.State) {
			if v.Reviewer == actor.UserID && !r.AllowChange {
				return Event{}, Fail(ECONFLICT, "VotedAlready", "you have voted in this round already")
			}
		}
		vote = Vote{Reviewer: actor.UserID, Stage: n.State, Panel: panel, Round: n.Round, Decision: in.Decision, Score: in.Score, Comment: strings.TrimSpace(in.Comment)}
		// The vote and the decision it brings, if any, commit together.
		trial := *n
		trial.Votes = append(slices.Clone(n.Votes), vote)
		dec, to, err := s.decision(ctx, &trial, def)
		if err != nil {
			return Event{}, err
		}
		ev := Event{Actor: actor.UserID, Type: EvVote, Data: mustJSON(voteData{Vote: vote, Outcome: dec})}
		if dec != nil {
			ev.From, ev.To = n.State, to
		}
		return ev, nil
	})
	if err != nil {
		return Vote{}, err
	}
	vote.Seq, vote.At = ev.Seq, ev.At
	return vote, nil
}

// currentPanel is the panel reviewing n's current round: the one recorded
// when the round opened, or, for a round opened before panels were
// recorded, the one the workflow names for its answers.
func currentPanel(def *workflow.Definition, n *Nomination) string {
	if n.Panel != "" {
		return n.Panel
	}
	p, _ := def.ReviewPanel(n.State, n.Fields)
	return p
}

func checkVote(r *workflow.Review, in VoteInput) error {
	if !slices.Contains(r.Options, in.Decision) {
		return Invalid(Problem("decision", "OneOf", "one of {{.Options}}", "Options", strings.Join(r.Options, ", ")))
	}
	if in.Decision == workflow.VoteRequestChanges && strings.TrimSpace(in.Comment) == "" {
		return Invalid(Problem("comment", "SayWhatShouldChange", "say what should change"))
	}
	if in.Score != nil {
		if r.Score == nil {
			return Invalid(Problem("score", "NoScoreHere", "this review takes no score"))
		}
		if in.Decision == workflow.VoteRecuse {
			return Invalid(Problem("score", "NoScoreRecusal", "a recusal carries no score"))
		}
		if *in.Score < float64(r.Score.Min) || *in.Score > float64(r.Score.Max) || *in.Score != float64(int(*in.Score)) {
			return Invalid(Problem("score", "ScoreWholeInRange", "a whole number within the review's range"))
		}
	} else if r.Score != nil && r.Score.Required && (in.Decision == workflow.VoteApprove || in.Decision == workflow.VoteReject) {
		return Invalid(Problem("score", "RequiredShort", "required"))
	}
	return nil
}

// decision applies the review's rules to n's current tally: the
// transition they call for, with the state it leads to, or nil while the
// review is undecided.
func (s *Service) decision(ctx context.Context, n *Nomination, def *workflow.Definition) (*actionData, string, error) {
	st, _ := def.State(n.State)
	if st == nil || st.Review == nil {
		return nil, "", nil
	}
	subj, env, err := s.subject(ctx, n, def, "")
	if err != nil {
		return nil, "", err
	}
	out, err := def.Decide(subj, env)
	if err != nil || out == nil {
		return nil, "", err
	}
	t := subj.Tally
	tally := map[string]any{"approve": t.Approve, "reject": t.Reject, "request_changes": t.RequestChanges,
		"recuse": t.Recuse, "eligible": t.Eligible, "round": n.Round, "decided_by": SystemActor.UserID}
	comment := ""
	if out.Action == st.Review.OnRequestChanges {
		// The candidate sees what the reviewers asked for.
		var asks []string
		for _, v := range n.CurrentVotes(n.State) {
			if v.Decision == workflow.VoteRequestChanges && v.Comment != "" {
				asks = append(asks, v.Comment)
			}
		}
		comment = strings.Join(asks, "\n\n")
	}
	d := s.transitionData(n, def, out.Action, out.From, out.To, comment, "", tally, env.Now, out.Effects)
	return &d, out.To, nil
}

// DeclareConflict records a reviewer's conflict of interest on a
// nomination: they can no longer vote or see its votes, and the quorum is
// counted without them. Errors: ENOTFOUND, EFORBIDDEN (not a reviewer of
// it), ECONFLICT (declared already), EINVALID (no reason).
func (s *Service) DeclareConflict(ctx context.Context, actor Actor, id, reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" || len([]rune(reason)) > 2000 || !cleanText(reason) {
		return Invalid(Problem("reason", "Length1To2000", "1 to 2000 characters"))
	}
	_, _, err := s.commit(ctx, id, func(n *Nomination) (Event, error) {
		role, err := s.access(ctx, actor, n)
		if err != nil {
			return Event{}, err
		}
		if role != "reviewer" {
			return Event{}, Fail(EFORBIDDEN, "ReviewersDeclareConflicts", "only reviewers of this nomination declare conflicts")
		}
		if _, ok := n.ConflictOf(actor.UserID); ok {
			return Event{}, Fail(ECONFLICT, "ConflictDeclaredAlready", "you declared a conflict already")
		}
		def, err := s.definition(n)
		if err != nil {
			return Event{}, err
		}
		c := Conflict{Reviewer: actor.UserID, Reason: reason}
		// Fewer eligible reviewers may settle the stage: that decision
		// commits with the declaration.
		trial := *n
		trial.Conflicts = append(slices.Clone(n.Conflicts), c)
		dec, to, err := s.decision(ctx, &trial, def)
		if err != nil {
			return Event{}, err
		}
		ev := Event{Actor: actor.UserID, Type: EvConflict, Data: mustJSON(conflictData{Conflict: c, Outcome: dec})}
		if dec != nil {
			ev.From, ev.To = n.State, to
		}
		return ev, nil
	})
	return err
}

// Override moves a nomination out of a stuck stage by the secretariat, with
// a required reason, recorded as an override. Errors: EFORBIDDEN, ENOTFOUND
// (nomination or action), ECONFLICT (the action does not leave this
// state), EINVALID (no reason).
func (s *Service) Override(ctx context.Context, actor Actor, id, action, reason string) (*View, error) {
	if !actor.IsStaff() {
		return nil, Fail(EFORBIDDEN, "SecretariatOverrides", "only the secretariat overrides a stage")
	}
	reason = strings.TrimSpace(reason)
	if reason == "" || len([]rune(reason)) > 2000 || !cleanText(reason) {
		return nil, Invalid(Problem("reason", "OverrideReasonRequired", "required: say why the stage is overridden"))
	}
	var def *workflow.Definition
	n, _, err := s.commit(ctx, id, func(n *Nomination) (Event, error) {
		d, err := s.definition(n)
		if err != nil {
			return Event{}, err
		}
		def = d
		a, ok := d.Action(action)
		if !ok {
			return Event{}, Fail(ENOTFOUND, "NoActionInWorkflow", "no action \"{{.Action}}\" in this workflow", "Action", action)
		}
		if !slices.Contains(a.From, n.State) {
			return Event{}, Fail(ECONFLICT, "ActionNotFromState", "{{.Action}} does not leave state \"{{.State}}\"", "Action", action, "State", n.State)
		}
		subj, env, err := s.subject(ctx, n, d, "")
		if err != nil {
			return Event{}, err
		}
		return s.transition(n, d, actor.UserID, EvOverride, action, n.State, a.To, "", reason, nil, env.Now, d.Enter(subj, a.To, env).Effects), nil
	})
	if err != nil {
		return nil, err
	}
	return s.view(ctx, actor, n, def)
}
