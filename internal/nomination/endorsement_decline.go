package nomination

import "context"

// DeclineEndorsement records that the person asked for an endorsement
// does not give it. The link stays answered: a declined request cannot be
// confirmed afterwards, nor a confirmed one declined. Errors: ENOTFOUND
// for a bad link, ECONFLICT when answered already or the nomination ended.
func (s *Service) DeclineEndorsement(ctx context.Context, token string) (Endorsement, error) {
	c, err := s.Links.Verify(token, "endorse", s.now())
	if err != nil {
		return Endorsement{}, err
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
			if e.Status != "requested" {
				return Event{}, Fail(ECONFLICT, "EndorsementAnswered", "this endorsement request was answered already")
			}
			out = e
			return Event{Actor: "endorser:" + e.ID, Type: EvEndorsementDeclined, Data: mustJSON(endorsementConfirmedData{ID: e.ID})}, nil
		}
		return Event{}, Fail(ENOTFOUND, "LinkNotValid", "this link is not valid or has expired")
	})
	if err != nil {
		return Endorsement{}, err
	}
	out.Status = "declined"
	return out, nil
}
