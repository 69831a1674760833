package nomination

import (
	"context"
	"strings"
)

// EndorsementInput names someone asked to support a nomination.
type EndorsementInput struct {
	Name         string
	Email        string
	Organization string
	// Language is the language the endorser is written to in; empty: the
	// language of the request (ReaderLanguage).
	Language string
}

// MaxEndorsements bounds the endorsement requests of one nomination.
const MaxEndorsements = 20

// RequestEndorsement asks a person for support: the request is recorded
// and the endorser mailed a signed link. The endorser may not be the
// candidate, the nominee or the nominator, and is asked once per
// nomination (addresses compared by MailboxKey). Errors: ENOTFOUND,
// EFORBIDDEN (not the owner, or an account whose address is not
// confirmed), ECONFLICT (a final state, or the person was asked already),
// EINVALID (a bad or excluded endorser), ETOOMANY over a limit.
func (s *Service) RequestEndorsement(ctx context.Context, actor Actor, id string, in EndorsementInput) (Endorsement, error) {
	if in.Language == "" {
		in.Language = ReaderLanguage(ctx)
	}
	p, err := cleanPerson(Person{Name: in.Name, Email: in.Email, Language: in.Language}, "")
	if err != nil {
		return Endorsement{}, err
	}
	in.Language = p.Language
	org, err := singleLine("organization", in.Organization, 0, 200)
	if err != nil {
		return Endorsement{}, err
	}
	eid, err := s.newID("e")
	if err != nil {
		return Endorsement{}, err
	}
	en := Endorsement{ID: eid, Name: p.Name, Email: p.Email, Organization: org, Status: "requested", Language: in.Language}
	limited := false
	_, ev, err := s.commit(ctx, id, func(n *Nomination) (Event, error) {
		if _, err := s.access(ctx, actor, n); err != nil {
			return Event{}, err
		}
		if n.OwnerID != actor.UserID {
			return Event{}, Fail(EFORBIDDEN, "OwnerAsksEndorsements", "only the nomination's owner asks for endorsements")
		}
		if err := MayMailOthers(actor); err != nil {
			return Event{}, err
		}
		def, err := s.definition(n)
		if err != nil {
			return Event{}, err
		}
		if st, ok := def.State(n.State); !ok || st.Final {
			return Event{}, Fail(ECONFLICT, "NominationEnded", "the nomination has ended")
		}
		// Support comes from someone else: not the candidate, not who
		// nominated them, whatever spelling of their address is used.
		for _, own := range []string{n.Nominee.Email, n.Nominator.Email, actor.Email} {
			if sameMailbox(own, en.Email) {
				return Event{}, Invalid(Problem("email", "EndorserIsParty", "the candidate, the nominee or the nominator cannot endorse the nomination"))
			}
		}
		if len(n.Endorsements) >= MaxEndorsements {
			return Event{}, Fail(ECONFLICT, "TooManyEndorsements", "at most {{.Max}} endorsements may be requested", "Max", MaxEndorsements)
		}
		for _, x := range n.Endorsements {
			if sameMailbox(x.Email, en.Email) {
				return Event{}, Fail(ECONFLICT, "AskedAlready", "this person was asked already").With(Problem("email", "AskedAlreadyShort", "asked already"))
			}
		}
		if !limited {
			if err := s.take(ctx,
				s.writeLimit(actor),
				limit{key: "endorse:account:" + actor.UserID, rate: s.Limits.EndorsementRequestsPerAccount, what: "endorsement requests"},
				limit{key: addressKey("endorse", actor), rate: s.Limits.EndorsementRequestsPerAddress, what: "endorsement requests from your network address"},
				limit{key: "mail:to:" + MailboxKey(en.Email), rate: s.Limits.MailsPerRecipient, what: "messages to this endorser's address"},
			); err != nil {
				return Event{}, err
			}
			limited = true
		}
		en.RequestedAt = s.now()
		return Event{Actor: actor.UserID, Type: EvEndorsementRequested, Data: mustJSON(en)}, nil
	})
	if err != nil {
		return Endorsement{}, err
	}
	en.RequestedAt = ev.At
	return en, nil
}

// EndorsementLink is what an endorser sees on opening the mailed link.
type EndorsementLink struct {
	// NominatorName is who asks for the endorsement.
	NominatorName string
	NomineeName   string
	CallTitle     string
	Endorsement   Endorsement
	// Ended says the nomination has ended (withdrawn, decided): the
	// request can no longer be answered.
	Ended bool
}

// OpenEndorsement returns what the endorsement link refers to. Errors:
// ENOTFOUND for a bad, expired or unknown link.
func (s *Service) OpenEndorsement(ctx context.Context, token string) (EndorsementLink, error) {
	c, err := s.Links.Verify(token, "endorse", s.now())
	if err != nil {
		return EndorsementLink{}, err
	}
	n, err := s.load(ctx, c.NominationID)
	if err != nil {
		return EndorsementLink{}, Fail(ENOTFOUND, "LinkNotValid", "this link is not valid or has expired")
	}
	for _, e := range n.Endorsements {
		if e.ID == c.Ref {
			call, _ := s.Store.GetCall(ctx, n.CallSlug)
			return EndorsementLink{NominatorName: n.Nominator.Name, NomineeName: n.Nominee.Name, CallTitle: call.Title, Endorsement: e,
				Ended: s.ended(n)}, nil
		}
	}
	return EndorsementLink{}, Fail(ENOTFOUND, "LinkNotValid", "this link is not valid or has expired")
}

// ConfirmEndorsement records the endorser's statement. Errors: ENOTFOUND
// for a bad link, ECONFLICT when already confirmed or the nomination ended,
// EINVALID for a bad statement.
func (s *Service) ConfirmEndorsement(ctx context.Context, token, statement string) (Endorsement, error) {
	c, err := s.Links.Verify(token, "endorse", s.now())
	if err != nil {
		return Endorsement{}, err
	}
	statement = strings.TrimSpace(statement)
	if statement == "" || len([]rune(statement)) > 2000 || !cleanText(statement) {
		return Endorsement{}, Invalid(Problem("statement", "Length1To2000", "1 to 2000 characters"))
	}
	var out Endorsement
	_, _, err = s.commit(ctx, c.NominationID, func(n *Nomination) (Event, error) {
		def, err := s.definition(n)
		if err != nil {
			return Event{}, err
		}
		if st, ok := def.State(n.State); !ok || st.Final {
			return Event{}, Fail(ECONFLICT, "NominationEnded", "the nomination has ended")
		}
		for _, e := range n.Endorsements {
			if e.ID != c.Ref {
				continue
			}
			if e.Status == "confirmed" {
				return Event{}, Fail(ECONFLICT, "EndorsementConfirmedAlready", "this endorsement was confirmed already")
			}
			if e.Status == "declined" {
				return Event{}, Fail(ECONFLICT, "EndorsementDeclinedAlready", "this endorsement request was declined")
			}
			out = e
			return Event{Actor: "endorser:" + e.ID, Type: EvEndorsementConfirmed, Data: mustJSON(endorsementConfirmedData{ID: e.ID, Statement: statement})}, nil
		}
		return Event{}, Fail(ENOTFOUND, "LinkNotValid", "this link is not valid or has expired")
	})
	if err != nil {
		return Endorsement{}, err
	}
	out.Status, out.Statement = "confirmed", statement
	return out, nil
}

// ConsentLink is what a nominee sees on opening the mailed link.
type ConsentLink struct {
	NomineeName   string
	NominatorName string
	CallTitle     string
	Consent       string
	// Ended says the nomination has ended (withdrawn, decided): it can
	// no longer be accepted or declined.
	Ended bool
}

// OpenConsent returns what the consent link refers to. Errors: ENOTFOUND.
func (s *Service) OpenConsent(ctx context.Context, token string) (ConsentLink, error) {
	c, err := s.Links.Verify(token, "consent", s.now())
	if err != nil {
		return ConsentLink{}, err
	}
	n, err := s.load(ctx, c.NominationID)
	if err != nil {
		return ConsentLink{}, Fail(ENOTFOUND, "LinkNotValid", "this link is not valid or has expired")
	}
	call, _ := s.Store.GetCall(ctx, n.CallSlug)
	return ConsentLink{NomineeName: n.Nominee.Name, NominatorName: n.Nominator.Name, CallTitle: call.Title, Consent: n.Consent,
		Ended: s.ended(n)}, nil
}

// ended reports whether n is in a final state of its workflow (or one the
// loaded workflow does not know).
func (s *Service) ended(n *Nomination) bool {
	def, err := s.definition(n)
	if err != nil {
		return true
	}
	st, ok := def.State(n.State)
	return !ok || st.Final
}

// AnswerConsent records the nominee's accept or decline. Errors: ENOTFOUND
// for a bad link, ECONFLICT when answered already or the nomination ended
// (withdrawn, decided), EINVALID for another decision.
func (s *Service) AnswerConsent(ctx context.Context, token, decision string) (string, error) {
	c, err := s.Links.Verify(token, "consent", s.now())
	if err != nil {
		return "", err
	}
	var d string
	switch decision {
	case "accept":
		d = "accepted"
	case "decline":
		d = "declined"
	default:
		return "", Invalid(Problem("decision", "AcceptOrDecline", "accept or decline"))
	}
	_, _, err = s.commit(ctx, c.NominationID, func(n *Nomination) (Event, error) {
		def, err := s.definition(n)
		if err != nil {
			return Event{}, err
		}
		if st, ok := def.State(n.State); !ok || st.Final {
			return Event{}, Fail(ECONFLICT, "ConsentNominationEnded", "the nomination has ended: it can no longer be accepted or declined")
		}
		if n.Consent != "pending" {
			return Event{}, Fail(ECONFLICT, "ConsentAnswered", "the nomination was answered already ({{.Consent}})", "Consent", n.Consent)
		}
		return Event{Actor: "nominee", Type: EvConsent, Data: mustJSON(consentData{Decision: d})}, nil
	})
	if err != nil {
		return "", err
	}
	return d, nil
}
