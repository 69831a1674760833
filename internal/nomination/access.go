package nomination

import (
	"context"
	"slices"
	"strings"

	"github.com/igf/nomina/internal/workflow"
)

// access decides whether actor may read n and in which capacity: the
// owner, the secretariat, or a reviewer on the panel of a stage the
// nomination is (or was) at. Anyone else gets ENOTFOUND, so ids reveal
// nothing.
func (s *Service) access(ctx context.Context, actor Actor, n *Nomination) (string, error) {
	switch {
	case actor.UserID != "" && actor.UserID == n.OwnerID:
		return "owner", nil
	case actor.IsStaff():
		return "secretariat", nil
	case actor.HasRole("reviewer"):
		def, err := s.definition(n)
		if err != nil {
			return "", err
		}
		for _, p := range reviewedPanels(def, n) {
			if actor.OnPanel(p) {
				return "reviewer", nil
			}
		}
	}
	return "", Fail(ENOTFOUND, "NoSuchNomination", "no such nomination")
}

// reviewedPanels lists the panels that review n now or reviewed it before,
// as recorded when each round opened (so a changed answer cannot move a
// nomination's past to another panel).
func reviewedPanels(def *workflow.Definition, n *Nomination) []string {
	out := slices.Clone(n.Panels)
	if p := currentPanel(def, n); p != "" && !slices.Contains(out, p) {
		if st, ok := def.State(n.State); ok && st.Review != nil {
			out = append(out, p)
		}
	}
	return out
}

// view builds what actor sees of n, with the actions actor may take now.
func (s *Service) view(ctx context.Context, actor Actor, n *Nomination, def *workflow.Definition) (*View, error) {
	return s.viewOf(ctx, actor, n, def, true)
}

// viewOf builds what actor sees of n; the actions, which cost store reads
// (the call, the panel), only when asked for.
func (s *Service) viewOf(ctx context.Context, actor Actor, n *Nomination, def *workflow.Definition, withActions bool) (*View, error) {
	role, err := s.access(ctx, actor, n)
	if err != nil {
		return nil, err
	}
	if def == nil {
		if def, err = s.definition(n); err != nil {
			return nil, err
		}
	}
	v := &View{Nomination: n, Role: role, ShowVotes: role != "owner"}
	if st, ok := def.State(n.State); ok && st.Review != nil {
		v.Panel = currentPanel(def, n)
	}
	if role == "reviewer" {
		cp := *n
		cp.Fields = map[string]any{}
		for k, val := range n.Fields {
			if f, ok := def.Field(k); ok && f.ReviewerVisible {
				cp.Fields[k] = val
			}
		}
		cp.Attachments = slices.DeleteFunc(slices.Clone(n.Attachments), func(a Attachment) bool {
			f, ok := def.Field(a.Kind)
			return !ok || !f.ReviewerVisible
		})
		if c, ok := n.ConflictOf(actor.UserID); ok {
			v.OwnConflict = &c
		}
		if s.conflicted(actor, n) {
			// What the votes said stays hidden, the reviewers' requests too.
			v.ShowVotes, v.Conflicted = false, true
			cp.LastComment = ""
		}
		// A reviewer sees the votes of their own panels only, and the
		// others' votes of the round under way after their own.
		v.VotesAfterOwn = blindRound(actor, n, def)
		cp.Votes = slices.DeleteFunc(slices.Clone(n.Votes), func(x Vote) bool {
			return !voteVisible(actor, x.Panel) || (v.VotesAfterOwn && x.Reviewer != actor.UserID && x.Stage == n.State && x.Round == n.Round)
		})
		cp.Nominator = Person{}
		cp.Nominee = Person{Name: n.Nominee.Name}
		v.Nomination = &cp
	}
	if !v.ShowVotes {
		cp := *v.Nomination
		cp.Votes = nil
		cp.Conflicts = nil
		v.Nomination = &cp
	}
	if !withActions {
		return v, nil
	}
	subj, env, err := s.subject(ctx, n, def, "")
	if err != nil {
		return nil, err
	}
	for _, st := range def.Available(subj, wfActor(actor, n), env) {
		if a, ok := def.Action(st.Name); ok && slices.Contains(a.Roles, workflow.RoleSystem) && !slices.ContainsFunc(a.Roles, func(r string) bool { return r != workflow.RoleSystem }) {
			continue
		}
		v.Actions = append(v.Actions, st)
	}
	return v, nil
}

// voteVisible reports whether a reviewer sees a vote cast on panel: the
// votes of their own panels only (a vote recorded without its panel, from
// before panels were recorded, is shown). The nomination and its history
// apply the same rule.
func voteVisible(actor Actor, panel string) bool {
	return panel == "" || actor.OnPanel(panel)
}

// blindRound reports whether a review round is under way on n in which
// reviewer actor has not voted yet: until they have, the others' votes of
// that round are hidden from them, so each vote is the reviewer's own
// judgement (as HotCRP and OpenReview show reviews after your own).
func blindRound(actor Actor, n *Nomination, def *workflow.Definition) bool {
	st, ok := def.State(n.State)
	if !ok || st.Review == nil {
		return false
	}
	return !slices.ContainsFunc(n.CurrentVotes(n.State), func(x Vote) bool { return x.Reviewer == actor.UserID })
}

// isNominee reports whether actor is the person n nominates: by account
// for a self-nomination, by address (see MailboxKey) for anyone's.
func isNominee(actor Actor, n *Nomination) bool {
	return (n.SelfNominated && actor.UserID != "" && actor.UserID == n.OwnerID) || sameMailbox(actor.Email, n.Nominee.Email)
}

// conflicted reports whether reviewer actor is the nominee, has a declared
// conflict on n, or works for the same organisation as the candidate.
func (s *Service) conflicted(actor Actor, n *Nomination) bool {
	if isNominee(actor, n) {
		return true
	}
	if _, ok := n.ConflictOf(actor.UserID); ok {
		return true
	}
	org, _ := n.Fields["organization"].(string)
	return org != "" && actor.Organization != "" && strings.EqualFold(strings.TrimSpace(org), strings.TrimSpace(actor.Organization))
}

// voteHiddenFrom reports whether a reviewer may not see the content of
// vote event e: one cast on another panel (or one that cannot be read).
func voteHiddenFrom(actor Actor, e Event) bool {
	var d voteData
	if err := jsonUnmarshal(e.Data, &d); err != nil {
		return true
	}
	return !voteVisible(actor, d.Panel)
}

// openRoundVote reports whether vote event e is another reviewer's vote in
// the round under way on n.
func openRoundVote(actor Actor, n *Nomination, e Event) bool {
	var d voteData
	if err := jsonUnmarshal(e.Data, &d); err != nil {
		return true
	}
	return d.Reviewer != actor.UserID && d.Stage == n.State && d.Round == n.Round
}
