package web

import (
	"net/http"

	"github.com/igf/nomina/internal/nomination"
)

// linkRoutes are the pages of mailed links, for people without an
// account: a GET shows, only the button's POST acts.
func (h *Handler) linkRoutes() {
	h.handle("GET /endorse/{token}", h.endorse)
	h.handle("POST /endorse/{token}", h.endorse)
	h.handle("GET /consent/{token}", h.consent)
	h.handle("POST /consent/{token}", h.consent)
}

// linkNotFound answers a link that is forged, unknown or expired.
func (rq *request) linkNotFound() {
	rq.fail(http.StatusNotFound, "LinkInvalidTitle", "LinkInvalidBody")
}

// linkAnswered answers a POST on a link that was answered already.
func (rq *request) linkAnswered() {
	rq.fail(http.StatusGone, "LinkAnsweredTitle", "LinkAnsweredBody")
}

// linkEnded answers a link to a nomination that has ended (withdrawn or
// decided) before it was answered: nothing is left to do.
func (rq *request) linkEnded() {
	rq.fail(http.StatusGone, "LinkEndedTitle", "LinkEndedBody")
}

func (h *Handler) endorse(rq *request) {
	L := rq.L
	token := rq.r.PathValue("token")
	link, err := h.cfg.Nominations.OpenEndorsement(rq.ctx, token)
	if err != nil {
		if nomination.ErrorCode(err) == nomination.ENOTFOUND {
			rq.linkNotFound()
			return
		}
		rq.failWith(err)
		return
	}
	if link.Ended && link.Endorsement.Status == "requested" {
		rq.linkEnded()
		return
	}
	var statement string
	fe := newFormErrors(L)
	if rq.r.Method == http.MethodPost {
		if !rq.parseForm() {
			return
		}
		if _, declining := rq.r.PostForm["decline"]; declining && !rq.switched {
			_, err = h.cfg.Nominations.DeclineEndorsement(rq.ctx, token)
		} else {
			statement = rq.form("statement")
			if rq.switched {
				goto show
			}
			if statement == "" {
				fe.add("statement", L.T("RequiredStatement"))
			} else {
				_, err = h.cfg.Nominations.ConfirmEndorsement(rq.ctx, token, statement)
			}
		}
		switch {
		case fe.any():
		case err == nil:
			rq.redirect(rq.r.URL.Path)
			return
		case nomination.ErrorCode(err) == nomination.ECONFLICT:
			// Answered meanwhile, or the nomination ended meanwhile.
			if l, err := h.cfg.Nominations.OpenEndorsement(rq.ctx, token); err == nil && l.Ended && l.Endorsement.Status == "requested" {
				rq.linkEnded()
				return
			}
			rq.linkAnswered()
			return
		case nomination.ErrorCode(err) == nomination.ENOTFOUND:
			rq.linkNotFound()
			return
		case !fe.addDomain(err, field{"statement", "statement", L.T("LabelStatement"), "RequiredStatement"}):
			rq.failWith(err)
			return
		}
	}
show:
	e := link.Endorsement
	d := struct {
		Page
		CallTitle, Heading, Action string
		Intro                      []string
		Open                       bool
		Statement                  Textarea
		Confirm, Decline           Button
	}{Page: rq.page(L.T("EndorseTitle")), CallTitle: link.CallTitle, Action: rq.r.URL.Path}
	d.SwitchForm = e.Status == "requested"
	d.Errors = fe.summary()
	switch e.Status {
	case "confirmed":
		d.Heading = L.T("EndorseDoneHeading")
		d.Intro = []string{L.T("EndorseDoneBody", "Nominee", link.NomineeName)}
	case "declined":
		d.Heading = L.T("EndorseDeclinedHeading")
		d.Intro = []string{L.T("EndorseDeclinedBody", "Nominee", link.NomineeName)}
	default:
		d.Open = true
		d.Heading = L.T("EndorseHeading", "Nominee", link.NomineeName)
		d.Intro = []string{
			L.T("EndorseIntro", "Endorser", e.Name, "Nominator", link.NominatorName, "Nominee", link.NomineeName, "Call", link.CallTitle),
			L.T("EndorseNoAccount"),
		}
	}
	d.Statement = Textarea{L: L, ID: "statement", Name: "statement", Label: L.T("LabelStatement"), Hint: L.T("HintStatement"), Value: statement,
		Error: fe.get("statement"), Rows: 6, MaxLen: 2000, CountMessage: countMessage(L, statement, 2000)}
	d.Confirm = Button{Text: L.T("EndorseConfirmButton")}
	d.Decline = Button{Text: L.T("EndorseDeclineButton"), Name: "decline", Value: "decline", Secondary: true}
	status := http.StatusOK
	if fe.any() {
		status = http.StatusUnprocessableEntity
	}
	rq.render(status, "endorse", d)
}

func (h *Handler) consent(rq *request) {
	L := rq.L
	token := rq.r.PathValue("token")
	link, err := h.cfg.Nominations.OpenConsent(rq.ctx, token)
	if err != nil {
		if nomination.ErrorCode(err) == nomination.ENOTFOUND {
			rq.linkNotFound()
			return
		}
		rq.failWith(err)
		return
	}
	if link.Ended && link.Consent == "pending" {
		rq.linkEnded()
		return
	}
	fe := newFormErrors(L)
	if rq.r.Method == http.MethodPost {
		if !rq.parseForm() {
			return
		}
		decision := rq.form("decision")
		for _, d := range []string{"accept", "decline"} {
			if _, ok := rq.r.PostForm[d]; ok && decision == "" {
				decision = d
			}
		}
		_, err := h.cfg.Nominations.AnswerConsent(rq.ctx, token, decision)
		switch nomination.ErrorCode(err) {
		case "":
			rq.redirect(rq.r.URL.Path)
			return
		case nomination.ECONFLICT:
			if l, err := h.cfg.Nominations.OpenConsent(rq.ctx, token); err == nil && l.Ended && l.Consent == "pending" {
				rq.linkEnded()
				return
			}
			rq.linkAnswered()
			return
		case nomination.ENOTFOUND:
			rq.linkNotFound()
			return
		case nomination.EINVALID:
			fe.items = append(fe.items, ErrorItem{Href: "#decision", Text: L.T("RequiredDecision")})
		default:
			rq.failWith(err)
			return
		}
	}
	d := struct {
		Page
		CallTitle, Heading, Action string
		Intro                      []string
		Open                       bool
		Accept, Decline            Button
	}{Page: rq.page(L.T("ConsentTitle")), CallTitle: link.CallTitle, Action: rq.r.URL.Path}
	d.Errors = fe.summary()
	switch link.Consent {
	case "accepted":
		d.Heading = L.T("ConsentAcceptedHeading")
		d.Intro = []string{L.T("ConsentAcceptedBody", "Nominator", link.NominatorName)}
	case "declined":
		d.Heading = L.T("ConsentDeclinedHeading")
		d.Intro = []string{L.T("ConsentDeclinedBody", "Nominator", link.NominatorName)}
	default:
		d.Open = true
		d.Heading = L.T("ConsentHeading", "Nominee", link.NomineeName)
		d.Intro = []string{
			L.T("ConsentIntro", "Nominator", link.NominatorName, "Call", link.CallTitle),
			L.T("ConsentExplain"),
		}
	}
	d.Accept = Button{Text: L.T("ConsentAcceptButton"), Name: "decision", Value: "accept"}
	d.Decline = Button{Text: L.T("ConsentDeclineButton"), Name: "decision", Value: "decline", Secondary: true}
	status := http.StatusOK
	if fe.any() {
		status = http.StatusUnprocessableEntity
	}
	rq.render(status, "consent", d)
}
