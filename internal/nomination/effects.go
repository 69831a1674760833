package nomination

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/igf/nomina/internal/workflow"
)

// subject describes n to the workflow engine, with the tally of the
// current review round when n is at a review stage.
func (s *Service) subject(ctx context.Context, n *Nomination, def *workflow.Definition, _ string) (workflow.Subject, workflow.Env, error) {
	call, err := s.Store.GetCall(ctx, n.CallSlug)
	if err != nil {
		return workflow.Subject{}, workflow.Env{}, fmt.Errorf("call of nomination %s: %w", n.ID, err)
	}
	att := map[string]int{}
	for _, a := range n.Attachments {
		att[a.Kind]++
	}
	subj := workflow.Subject{
		State:        n.State,
		Fields:       n.Fields,
		Attachments:  att,
		Endorsements: n.ConfirmedEndorsements(),
		Consent:      n.Consent,
		Round:        n.Round,
		EnteredAt:    n.EnteredAt,
	}
	if s.Terms != nil && def.Terms.MaxConsecutive > 0 {
		terms, err := s.Terms.ConsecutiveTerms(ctx, def.Body, n.Nominee.Email, call.TermStart)
		if err != nil {
			return subj, workflow.Env{}, err
		}
		subj.ConsecutiveTerms = terms
	}
	if st, ok := def.State(n.State); ok && st.Review != nil {
		t, err := s.tally(ctx, n, def, st.Review)
		if err != nil {
			return subj, workflow.Env{}, err
		}
		subj.Tally = t
	}
	if subj.Nominator, subj.Nominee, err = s.personFacts(ctx, def, factsQuery{call: call, ownerID: n.OwnerID,
		ownerEmail: n.Nominator.Email, nomineeEmail: n.Nominee.Email, self: n.SelfNominated, nomination: n.ID}); err != nil {
		return subj, workflow.Env{}, err
	}
	env := workflow.Env{Now: s.now(), Call: call.ruleCall(def)}
	return subj, env, nil
}

// eligibleReviewers returns the members of n's current review panel who
// may vote: never the nominee, not the submitter (when excluded), not
// conflicted.
func (s *Service) eligibleReviewers(ctx context.Context, n *Nomination, def *workflow.Definition, r *workflow.Review) ([]Member, error) {
	panel := currentPanel(def, n)
	if panel == "" || s.Directory == nil {
		return nil, nil
	}
	members, err := s.Directory.PanelMembers(ctx, panel)
	if err != nil {
		return nil, err
	}
	org, _ := n.Fields["organization"].(string)
	out := members[:0:0]
	for _, m := range members {
		if isNominee(Actor{UserID: m.UserID, Email: m.Email}, n) {
			continue
		}
		if slices.Contains(r.Exclude, workflow.ExcludeSubmitter) && m.UserID == n.OwnerID {
			continue
		}
		if slices.Contains(r.Exclude, workflow.ExcludeConflicts) {
			if _, c := n.ConflictOf(m.UserID); c {
				continue
			}
			if org != "" && m.Organization != "" && strings.EqualFold(strings.TrimSpace(org), strings.TrimSpace(m.Organization)) {
				continue
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// tally counts the current round's votes of eligible reviewers.
func (s *Service) tally(ctx context.Context, n *Nomination, def *workflow.Definition, r *workflow.Review) (workflow.Tally, error) {
	eligible, err := s.eligibleReviewers(ctx, n, def, r)
	if err != nil {
		return workflow.Tally{}, err
	}
	ok := map[string]bool{}
	for _, m := range eligible {
		ok[m.UserID] = true
	}
	c := countVotes(n.CurrentVotes(n.State), func(v Vote) bool { return ok[v.Reviewer] })
	return workflow.Tally{Approve: c.Approve, Reject: c.Reject, RequestChanges: c.RequestChanges, Recuse: c.Recuse,
		Eligible: len(eligible), ScoreSum: c.ScoreSum, Scored: c.Scored}, nil
}

// derive enqueues the mail an event causes. Job ids are derived from the
// event, the template and the recipient, so deriving twice (a writer and a
// repairing reader) enqueues once.
func (s *Service) derive(ctx context.Context, n *Nomination, ev Event) error {
	if s.Outbox == nil {
		return nil
	}
	def, err := s.definition(n)
	if err != nil {
		return err
	}
	type note struct {
		audience, template string
	}
	var notes []note
	// Links that carry a secret are kept sealed: the mail worker signs
	// them when it sends the message.
	sealed := map[string]SealedLink{}
	// The call is read once for all the messages and the membership.
	var call *Call
	getCall := func() (Call, error) {
		if call == nil {
			c, err := s.Store.GetCall(ctx, n.CallSlug)
			if err != nil {
				return Call{}, err
			}
			call = &c
		}
		return *call, nil
	}
	switch ev.Type {
	case EvCreated:
		var d createdData
		if err := jsonUnmarshal(ev.Data, &d); err != nil {
			return err
		}
		if err := s.armTimers(ctx, n, ev.Seq, d.Timers); err != nil {
			return err
		}
		if !n.SelfNominated {
			sealed["consent"] = SealedLink{Path: ConsentPagePath, Claims: LinkClaims{Kind: "consent", NominationID: n.ID, Expires: ev.At.Add(s.LinkTTL).Unix()}}
			notes = append(notes, note{workflow.AudienceNominee, "nominee_consent"})
		}
	case EvEndorsementRequested:
		var en Endorsement
		if err := jsonUnmarshal(ev.Data, &en); err != nil {
			return err
		}
		sealed["endorse"] = SealedLink{Path: EndorsePagePath, Claims: LinkClaims{Kind: "endorse", NominationID: n.ID, Ref: en.ID, Expires: ev.At.Add(s.LinkTTL).Unix()}}
		c, err := getCall()
		if err != nil {
			return err
		}
		return s.enqueueFor(ctx, n, def, c, EventID(n.ID, ev.Seq), &ev, "endorsement_request", workflow.AudienceEndorser, Member{UserID: "endorser-" + en.ID, Name: en.Name, Email: en.Email, Language: en.Language}, sealed)
	case EvAction, EvOverride, EvVote, EvConflict:
		d, ok := transitionOf(ev)
		if !ok || (ev.Type != EvAction && ev.Type != EvOverride && ev.To == "") {
			break // a vote or declaration that decided nothing
		}
		if a, ok := def.Action(d.Action); ok {
			for _, nt := range a.Notify {
				notes = append(notes, note{nt.Audience, nt.Template})
			}
		}
		if ev.To != ev.From {
			if st, ok := def.State(ev.To); ok {
				for _, nt := range st.OnEnter {
					notes = append(notes, note{nt.Audience, nt.Template})
				}
			}
		}
		for _, nt := range d.Notify {
			notes = append(notes, note{nt.Audience, nt.Template})
		}
		if err := s.armTimers(ctx, n, ev.Seq, d.Timers); err != nil {
			return err
		}
		if d.CreatesMember && s.Members != nil {
			c, err := getCall()
			if err != nil {
				return err
			}
			if err := s.Members.AppointFromNomination(ctx, n, def.Body, def.Terms.Years, c.TermStart); err != nil {
				return fmt.Errorf("membership for %s: %w", n.ID, err)
			}
		}
	}
	for _, nt := range notes {
		to, err := s.audience(ctx, n, def, nt.audience)
		if err != nil {
			return err
		}
		for _, m := range to {
			c, err := getCall()
			if err != nil {
				return err
			}
			if err := s.enqueueFor(ctx, n, def, c, EventID(n.ID, ev.Seq), &ev, nt.template, nt.audience, m, sealed); err != nil {
				return err
			}
		}
	}
	return nil
}

// Pages the sealed links of nomination mail lead to (NOMINA_BASE_URL +
// path + token): the nominee's consent and an endorser's answer.
const (
	ConsentPagePath = "/consent/"
	EndorsePagePath = "/endorse/"
)

// PageLinks returns the links of a message about the nomination id to a
// recipient in audience, as paths of the pages where that recipient
// follows it: "nomination" and "review" lead reviewers to their review
// page, the secretariat to its page of the nomination, and everyone else
// to the owner's page of it (which asks whoever is not its owner to sign
// in as the owner).
func PageLinks(id, audience string) map[string]string {
	p := url.PathEscape(id)
	page := "/nominations/" + p
	switch audience {
	case workflow.AudiencePanel, workflow.AudiencePendingReviewers:
		page = "/review/" + p
	case workflow.AudienceSecretariat:
		page = "/secretariat/nominations/" + p
	}
	return map[string]string{"nomination": page, "review": page}
}

// enqueueFor enqueues one message about n, in call, caused by source (an
// event or a timer), with the page links for its audience and the sealed
// links given; ev, when given, supplies the action's comment and reason.
func (s *Service) enqueueFor(ctx context.Context, n *Nomination, def *workflow.Definition, call Call, source string, ev *Event, template, audience string, to Member, sealed map[string]SealedLink) error {
	key := to.UserID
	if key == "" {
		key = strings.ToLower(to.Email)
	}
	job := MailJob{
		ID:              source + "/" + template + "/" + key,
		Template:        template,
		To:              to.Email,
		Name:            to.Name,
		NominationID:    n.ID,
		CallSlug:        n.CallSlug,
		Links:           PageLinks(n.ID, audience),
		NominationState: n.State,
		NomineeName:     n.Nominee.Name,
		CallTitle:       call.Title,
		CallClosesAt:    call.ClosesAt,
		Audience:        audience,
		RecipientID:     to.UserID,
		Language:        to.Language,
		CreatedAt:       s.now(),
	}
	if len(sealed) > 0 {
		job.Sealed = sealed
	}
	if ev != nil {
		job.CreatedAt = ev.At
	}
	// Reviewers see only what the workflow shows reviewers; endorsers and
	// nominees see no answers at all.
	switch audience {
	case workflow.AudienceCandidate, workflow.AudienceNominator, workflow.AudienceSecretariat:
		job.Fields = n.Fields
	case workflow.AudiencePanel, workflow.AudiencePendingReviewers:
		job.Fields = map[string]any{}
		for k, v := range n.Fields {
			if f, ok := def.Field(k); ok && f.ReviewerVisible {
				job.Fields[k] = v
			}
		}
	}
	if ev != nil {
		if d, ok := transitionOf(*ev); ok {
			job.Comment, job.Reason = d.Comment, d.Reason
		}
	}
	if err := s.Outbox.Enqueue(ctx, job); err != nil {
		return fmt.Errorf("enqueue %s: %w", job.ID, err)
	}
	return nil
}

// audience resolves who a notification goes to, now.
func (s *Service) audience(ctx context.Context, n *Nomination, def *workflow.Definition, audience string) ([]Member, error) {
	switch audience {
	case workflow.AudienceCandidate:
		if n.SelfNominated {
			return []Member{{UserID: n.OwnerID, Name: n.Nominee.Name, Email: n.Nominee.Email, Language: s.userLanguage(ctx, n.OwnerID)}}, nil
		}
		return []Member{{Name: n.Nominee.Name, Email: n.Nominee.Email, Language: s.addressLanguage(ctx, n.Nominee)}}, nil
	case workflow.AudienceNominee:
		if n.SelfNominated {
			return nil, nil
		}
		return []Member{{Name: n.Nominee.Name, Email: n.Nominee.Email, Language: s.addressLanguage(ctx, n.Nominee)}}, nil
	case workflow.AudienceNominator:
		return []Member{{UserID: n.OwnerID, Name: n.Nominator.Name, Email: n.Nominator.Email, Language: s.userLanguage(ctx, n.OwnerID)}}, nil
	case workflow.AudiencePanel, workflow.AudiencePendingReviewers:
		st, ok := def.State(n.State)
		if !ok || st.Review == nil {
			return nil, nil
		}
		eligible, err := s.eligibleReviewers(ctx, n, def, st.Review)
		if err != nil {
			return nil, err
		}
		if audience == workflow.AudiencePendingReviewers {
			voted := map[string]bool{}
			for _, v := range n.CurrentVotes(n.State) {
				voted[v.Reviewer] = true
			}
			eligible = slices.DeleteFunc(eligible, func(m Member) bool { return voted[m.UserID] })
		}
		return eligible, nil
	case workflow.AudienceSecretariat:
		if s.Directory == nil {
			return nil, nil
		}
		return s.Directory.Staff(ctx)
	case workflow.AudienceEndorser:
		var out []Member
		for _, e := range n.Endorsements {
			out = append(out, Member{UserID: "endorser-" + e.ID, Name: e.Name, Email: e.Email, Language: e.Language})
		}
		return out, nil
	}
	return nil, nil
}

// StillAddressed reports, when a message is about to be sent, whether its
// recipient still belongs to the audience it was meant for: a reviewer who
// has since declared a conflict, left the panel or (for a reminder) voted,
// or a review stage already left, is no longer asked. Other audiences are
// always still addressed.
func (s *Service) StillAddressed(ctx context.Context, job MailJob) (bool, error) {
	if job.Audience != workflow.AudiencePanel && job.Audience != workflow.AudiencePendingReviewers || job.RecipientID == "" {
		return true, nil
	}
	n, err := s.load(ctx, job.NominationID)
	if ErrorCode(err) == ENOTFOUND {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if n.State != job.NominationState {
		return false, nil
	}
	def, err := s.definition(n)
	if err != nil {
		return false, err
	}
	to, err := s.audience(ctx, n, def, job.Audience)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(to, func(m Member) bool { return m.UserID == job.RecipientID }), nil
}

// userLanguage is the preferred language of account id, "" when it has
// none or cannot be read (the message is then written in English).
func (s *Service) userLanguage(ctx context.Context, id string) string {
	if s.Directory == nil || id == "" {
		return ""
	}
	m, err := s.Directory.User(ctx, id)
	if err != nil {
		if ErrorCode(err) != ENOTFOUND {
			s.Logger.WarnContext(ctx, "language of a recipient", "user", id, "err", err)
		}
		return ""
	}
	return m.Language
}

// addressLanguage is the language to write to p in: the preference of the
// account of p's address when there is one, else the language p was
// nominated in.
func (s *Service) addressLanguage(ctx context.Context, p Person) string {
	if ab, ok := s.Directory.(AddressBook); ok {
		if m, err := ab.UserByEmail(ctx, p.Email); err == nil && m.Language != "" {
			return m.Language
		}
	}
	return p.Language
}
