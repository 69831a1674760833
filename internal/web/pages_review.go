package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/workflow"
)

// endorsementRows shows the endorsement requests and their answers.
func (rq *request) endorsementRows(n *nomination.Nomination) SummaryList {
	L := rq.L
	list := SummaryList{L: L}
	for _, e := range n.Endorsements {
		key := e.Name
		if e.Organization != "" {
			key = L.T("EndorserWithOrg", "Name", e.Name, "Organization", e.Organization)
		}
		row := SummaryRow{ID: "endorsement-" + e.ID, Key: key, Value: []string{e.Email}}
		switch e.Status {
		case "confirmed":
			row.Value = append(row.Value, L.T("EndorsementConfirmed", "Date", rq.day(e.ConfirmedAt)))
			if e.Statement != "" {
				row.Value = append(row.Value, L.T("Quoted", "Text", e.Statement))
			}
		case "declined":
			row.Value = append(row.Value, L.T("EndorsementDeclined"))
		default:
			row.Value = append(row.Value, L.T("EndorsementWaiting", "Date", rq.day(e.RequestedAt)))
		}
		list.Rows = append(list.Rows, row)
	}
	return list
}

func (h *Handler) endorsements(rq *request) {
	o, ok := h.own(rq)
	if !ok {
		return
	}
	L := rq.L
	var name, email, org string
	fe := newFormErrors(L)
	status := http.StatusOK
	if rq.r.Method == http.MethodPost {
		if !rq.parseForm() {
			return
		}
		name, email, org = rq.form("name"), rq.form("email"), rq.form("organization")
		// Without a confirmed address the domain refuses whatever the
		// answers; that is the problem to show.
		mayAsk := nomination.MayMailOthers(rq.actor()) == nil
		if mayAsk && name == "" {
			fe.add("name", L.T("RequiredEndorserName"))
		}
		if mayAsk && email == "" {
			fe.add("email", L.T("RequiredEmail"))
		}
		if rq.switched {
			fe = newFormErrors(L)
		}
		if !fe.any() && !rq.switched {
			en, err := h.cfg.Nominations.RequestEndorsement(rq.ctx, rq.actor(), o.n.ID, nomination.EndorsementInput{Name: name, Email: email, Organization: org})
			if err == nil {
				rq.redirect(o.base + "/endorsements?asked=" + url.QueryEscape(en.ID))
				return
			}
			if errors.Is(err, nomination.ErrUnconfirmed) {
				fe.items = append(fe.items, ErrorItem{Href: "#nm-confirm-title", Text: L.T("UnconfirmedEndorse")})
				status = http.StatusForbidden
			} else if !fe.addDomain(err,
				field{"name", "name", L.T("LabelEndorserName"), "RequiredEndorserName"},
				field{"email", "email", L.T("LabelEmail"), "RequiredEmail"},
				field{"organization", "organization", L.T("LabelOrganization"), ""}) {
				rq.failWith(err)
				return
			}
		}
	}
	d := struct {
		Page
		Caption, Action, BackHref, Poll string
		CanAsk, Unconfirmed             bool
		List                            SummaryList
		Name, Email, Organization       Input
		Submit                          Button
	}{Page: rq.page(L.T("EndorsementsTitle")), Caption: rq.caption(o), Action: o.base + "/endorsements", BackHref: o.base, CanAsk: !o.final()}
	d.Back = &Link{Href: o.base, Text: L.T("Back")}
	if err := nomination.MayMailOthers(rq.actor()); err != nil && d.CanAsk {
		// Asking mails the endorser: the page says why it cannot yet,
		// instead of a form that would be refused.
		d.CanAsk, d.Unconfirmed = false, true
		d.AddressNotice = rq.addressNotice("ConfirmWhyEndorse")
	}
	d.SwitchForm = d.CanAsk
	d.Errors = fe.summary()
	d.List = rq.endorsementRows(o.n)
	for _, e := range o.n.Endorsements {
		if e.Status == "requested" {
			d.HTMX, d.Poll = true, o.base+"/endorsements"
		}
		if asked := rq.r.URL.Query().Get("asked"); asked == e.ID && rq.r.Method == http.MethodGet {
			d.Banner = &Banner{Title: L.T("BannerSuccess"), Heading: L.T("EndorsementAsked", "Name", e.Name, "Email", e.Email), Success: true}
		}
	}
	d.Name = Input{L: L, ID: "name", Name: "name", Label: L.T("LabelEndorserName"), Value: name, Error: fe.get("name"), Autocomplete: "off", NoSpellcheck: true}
	d.Email = Input{L: L, ID: "email", Name: "email", Type: "email", Label: L.T("LabelEmail"), Value: email, Error: fe.get("email"), Autocomplete: "off", NoSpellcheck: true}
	d.Organization = Input{L: L, ID: "organization", Name: "organization", Label: L.T("LabelOrganization"), Value: org, Error: fe.get("organization"), Optional: true, Autocomplete: "off"}
	d.Submit = Button{Text: L.T("EndorsementsAskButton")}
	if fe.any() && status == http.StatusOK {
		status = http.StatusUnprocessableEntity
	}
	rq.render(status, "endorsements", d)
}

type checkSection struct {
	Heading string
	List    SummaryList
}

// answerText writes an answer for reading.
func (rq *request) answerText(f *workflow.Field, v any) string {
	L := rq.L
	s := formText(v)
	switch f.Type {
	case workflow.TypeBool:
		if s == "true" {
			return L.T("BoolYes")
		}
		return L.T("BoolNo")
	case workflow.TypeChoice:
		if s != "" {
			return L.TOr("Choice_"+f.Name+"_"+s, choiceLabel(f, s))
		}
	case workflow.TypeCountry:
		if s != "" {
			return countryName(L.Tag, s)
		}
	}
	if s == "" {
		return L.T("NotAnswered")
	}
	return s
}

func (h *Handler) check(rq *request) {
	o, ok := h.own(rq)
	if !ok {
		return
	}
	h.renderCheck(rq, o, http.StatusOK, nil)
}

// renderCheck shows every answer, with Change links while the nomination
// can be changed, and the submit button when submitting is possible (else
// why not, in words).
func (h *Handler) renderCheck(rq *request, o *owned, status int, fe *formErrors) {
	L := rq.L
	n := o.n
	edit := o.editable()
	change := func(href string) string {
		if edit {
			return href
		}
		return ""
	}
	d := struct {
		Page
		Caption, Heading, Action string
		Sections                 []checkSection
		CanSubmit                bool
		Blockers                 []string
		Submit                   Button
	}{Page: rq.page(L.T("CheckTitle")), Caption: rq.caption(o), Heading: L.T("CheckHeading"), Action: o.base + "/submit"}
	if !edit {
		d.Title, d.Heading = L.T("AnswersTitle"), L.T("AnswersTitle")
	}
	d.Back = &Link{Href: o.base, Text: L.T("Back")}
	d.Errors = fe.summary()
	who := SummaryList{L: L, Rows: []SummaryRow{
		{ID: "answer-nominee", Key: L.T("CheckNominee"), Value: []string{n.Nominee.Name, n.Nominee.Email}},
	}}
	if !n.SelfNominated {
		who.Rows = append(who.Rows, SummaryRow{ID: "answer-consent", Key: L.T("CheckConsent"), Value: []string{rq.L.T(map[string]string{
			"accepted": "ConsentAccepted", "declined": "ConsentDeclined"}[n.Consent] + "")}})
		if who.Rows[1].Value[0] == "" {
			who.Rows[1].Value[0] = L.T("ConsentWaiting")
		}
	}
	d.Sections = append(d.Sections, checkSection{Heading: L.T("CheckWhoHeading"), List: who})
	answers := SummaryList{L: L}
	for _, f := range o.def.Fields {
		if f.Type == workflow.TypeFile {
			continue
		}
		answers.Rows = append(answers.Rows, SummaryRow{ID: "answer-" + f.Name, Key: f.Label, Value: strings.Split(rq.answerText(f, n.Fields[f.Name]), "\n"),
			Href: change(o.base + "/details#" + f.Name), Change: f.Label})
	}
	d.Sections = append(d.Sections, checkSection{Heading: L.T("TaskDetails"), List: answers})
	docs := SummaryList{L: L}
	for _, f := range fileFields(o.def) {
		row := SummaryRow{ID: "answer-" + f.Name, Key: f.Label, Value: []string{L.T("NotUploaded")}, Href: change(o.base + "/cv"), Change: f.Label}
		for _, a := range n.Attachments {
			if a.Kind == f.Name {
				row.Value = []string{a.Filename, L.T("FileSize", "Size", megabytes(a.Size))}
			}
		}
		docs.Rows = append(docs.Rows, row)
	}
	if len(docs.Rows) > 0 {
		d.Sections = append(d.Sections, checkSection{Heading: L.T("CheckDocumentsHeading"), List: docs})
	}
	ends := rq.endorsementRows(n)
	if len(ends.Rows) == 0 {
		ends.Rows = []SummaryRow{{ID: "answer-endorsements", Key: L.T("TaskEndorsements"), Value: []string{L.T("EndorsementsNone")}}}
	}
	if !o.final() {
		ends.Rows[0].Href, ends.Rows[0].Change = o.base+"/endorsements", L.T("TaskEndorsements")
	}
	d.Sections = append(d.Sections, checkSection{Heading: L.T("TaskEndorsements"), List: ends})
	if a, ok := o.action("submit"); ok {
		d.CanSubmit = a.Allowed
		if !a.Allowed {
			for _, p := range detailsProblems(o.def, n) {
				if f, ok := o.def.Field(p.Field); ok {
					d.Blockers = append(d.Blockers, L.T("FieldProblem", "Label", f.Label, "Message", say(L, p.Text)))
				}
			}
			for _, f := range fileFields(o.def) {
				if f.Required && countKind(n, f.Name) == 0 {
					d.Blockers = append(d.Blockers, L.T(requiredMessage(f), "Label", f.Label))
				}
			}
			d.Blockers = append(d.Blockers, sayAll(L, a.Why)...)
		}
	}
	d.Submit = Button{Text: L.T("CheckSubmitButton")}
	rq.render(status, "check", d)
}

func (h *Handler) submit(rq *request) {
	o, ok := h.own(rq)
	if !ok {
		return
	}
	if !rq.parseForm() {
		return
	}
	L := rq.L
	_, err := h.cfg.Nominations.Act(rq.ctx, rq.actor(), o.n.ID, "submit", nomination.ActionInput{})
	if err == nil {
		rq.redirect(o.base + "/submitted")
		return
	}
	var de *nomination.Error
	if nomination.ErrorCode(err) != nomination.EINVALID {
		rq.failWith(err)
		return
	}
	de, _ = err.(*nomination.Error)
	fe := newFormErrors(L)
	if de != nil {
		for _, f := range de.Fields {
			name := strings.TrimPrefix(f.Field, "fields.")
			if wf, ok := o.def.Field(name); ok {
				href := o.base + "/details#" + name
				if wf.Type == workflow.TypeFile {
					href = o.base + "/cv"
				}
				fe.items = append(fe.items, ErrorItem{Href: href, Text: (&formErrors{L: L}).sentence(field{label: wf.Label, required: requiredMessage(wf)}, f)})
				continue
			}
			fe.items = append(fe.items, ErrorItem{Text: sayField(L, f)})
		}
		if len(fe.items) == 0 {
			fe.items = append(fe.items, ErrorItem{Text: sayError(L, de)})
		}
	}
	// Show the nomination as it is now, with what stopped it.
	if o2, ok := h.own(rq); ok {
		h.renderCheck(rq, o2, http.StatusUnprocessableEntity, fe)
	}
}

func (h *Handler) submitted(rq *request) {
	o, ok := h.own(rq)
	if !ok {
		return
	}
	if o.editable() {
		rq.redirect(o.base)
		return
	}
	L := rq.L
	d := struct {
		Page
		Panel      Panel
		Emailed    string
		Next       []string
		StatusHref string
	}{Page: rq.page(L.T("SubmittedTitle")), StatusHref: o.base}
	d.Panel = Panel{Title: L.T("SubmittedTitle"), Body: L.T("SubmittedReference"), Reference: o.n.ID}
	d.Emailed = L.T("SubmittedEmailed", "Email", rq.user.Email)
	d.Next = h.whatNext(rq, o)
	rq.render(http.StatusOK, "submitted", d)
}

func (h *Handler) withdraw(rq *request) {
	o, ok := h.own(rq)
	if !ok {
		return
	}
	L := rq.L
	if _, ok := o.action("withdraw"); !ok {
		rq.failWith(nomination.Errorf(nomination.ECONFLICT, "%s", L.T("WithdrawNotPossible")))
		return
	}
	if rq.r.Method == http.MethodPost {
		if !rq.parseForm() {
			return
		}
		if _, err := h.cfg.Nominations.Act(rq.ctx, rq.actor(), o.n.ID, "withdraw", nomination.ActionInput{}); err != nil {
			rq.failWith(err)
			return
		}
		rq.redirect(o.base + "?done=withdrawn")
		return
	}
	d := struct {
		Page
		Caption, Action, CancelHref string
		Submit                      Button
	}{Page: rq.page(L.T("WithdrawTitle")), Caption: rq.caption(o), Action: o.base + "/withdraw", CancelHref: o.base}
	d.Back = &Link{Href: o.base, Text: L.T("Back")}
	d.Submit = Button{Text: L.T("WithdrawButton"), Warning: true}
	rq.render(http.StatusOK, "withdraw", d)
}
