package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/igf/nomina/internal/clientclose"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/workflow"
)

func (h *Handler) nominationRoutes() {
	h.private("GET /nominations", h.myNominations)
	h.private("GET /nominations/{id}", h.nominationPage)
	h.private("GET /nominations/{id}/details", h.details)
	h.private("POST /nominations/{id}/details", h.details)
	h.private("GET /nominations/{id}/cv", h.files)
	h.private("POST /nominations/{id}/cv", h.files)
	h.private("GET /nominations/{id}/files/{file}", h.download)
	h.private("GET /nominations/{id}/endorsements", h.endorsements)
	h.private("POST /nominations/{id}/endorsements", h.endorsements)
	h.private("GET /nominations/{id}/check", h.check)
	h.private("POST /nominations/{id}/submit", h.submit)
	h.private("GET /nominations/{id}/submitted", h.submitted)
	h.private("GET /nominations/{id}/withdraw", h.withdraw)
	h.private("POST /nominations/{id}/withdraw", h.withdraw)
}

// owned is a nomination its owner is looking at, with its workflow and
// call.
type owned struct {
	v    *nomination.View
	n    *nomination.Nomination
	def  *workflow.Definition
	call nomination.Call
	base string // "/nominations/{id}"
}

// own loads the nomination of the path for its owner. Anyone else, and
// any id that does not exist, gets "page not found": the page never tells
// whether someone else's nomination exists.
func (h *Handler) own(rq *request) (*owned, bool) {
	id := rq.r.PathValue("id")
	v, err := h.cfg.Nominations.Get(rq.ctx, rq.actor(), id)
	if err != nil {
		rq.failWith(err)
		return nil, false
	}
	if v.Role != "owner" {
		rq.notFound()
		return nil, false
	}
	n := v.Nomination
	def, call, ok := h.rulesOf(rq, n)
	if !ok {
		return nil, false
	}
	return &owned{v: v, n: n, def: def, call: call, base: "/nominations/" + url.PathEscape(n.ID)}, true
}

func (o *owned) editable() bool {
	st, ok := o.def.State(o.n.State)
	return ok && st.Editable
}

func (o *owned) final() bool {
	st, ok := o.def.State(o.n.State)
	return !ok || st.Final
}

// action returns the status of an action the owner may take now.
func (o *owned) action(name string) (workflow.ActionStatus, bool) {
	for _, a := range o.v.Actions {
		if a.Name == name {
			return a, true
		}
	}
	return workflow.ActionStatus{}, false
}

// caption names the nomination above a page's heading.
func (rq *request) caption(o *owned) string {
	return rq.L.T("NominationCaption", "Nominee", o.n.Nominee.Name, "Call", o.call.Title)
}

// stateTag is the status label of a state.
func (rq *request) stateTag(state string) Tag {
	colour := map[string]string{
		"draft": "grey", "submitted": "", "panel_review": "purple", "secretariat_review": "purple",
		"shortlisted": "green", "appointed": "green", "not_selected": "yellow", "rejected": "red", "withdrawn": "grey",
	}[state]
	return Tag{Text: rq.stateName(state), Colour: colour}
}

func (rq *request) stateName(state string) string {
	return rq.L.TOr("State_"+state, humanize(state))
}

type listItem struct {
	Href, Nominee, Call, Next, Deadline string
	Status                              Tag
}

func (h *Handler) myNominations(rq *request) {
	L := rq.L
	cursor := rq.r.URL.Query().Get("cursor")
	page, err := h.cfg.Nominations.List(rq.ctx, rq.actor(), nomination.ListQuery{Limit: 25, Cursor: cursor})
	if err != nil {
		if nomination.ErrorCode(err) == nomination.EINVALID {
			rq.notFound()
			return
		}
		rq.failWith(err)
		return
	}
	d := struct {
		Page
		Items []listItem
		Pages Pagination
	}{Page: rq.page(L.T("NominationsTitle"))}
	d.Nav, d.Wide = "nominations", true
	calls := map[string]nomination.Call{}
	a := rq.actor()
	for _, v := range page.Items {
		n := v.Nomination
		if v.Role != "owner" {
			continue // a reviewer's queue is on the review pages
		}
		c, ok := calls[n.CallSlug]
		if !ok {
			c, _ = h.cfg.Nominations.GetCall(rq.ctx, &a, n.CallSlug)
			calls[n.CallSlug] = c
		}
		item := listItem{Href: "/nominations/" + url.PathEscape(n.ID), Nominee: n.Nominee.Name, Call: orDefault(c.Title, n.CallSlug),
			Status: rq.stateTag(n.State), Next: L.TOr("Next_"+n.State, ""), Deadline: "–"}
		if n.State == "draft" && !c.ClosesAt.IsZero() {
			item.Deadline = rq.when(c.ClosesAt)
		}
		d.Items = append(d.Items, item)
	}
	d.Pages = Pagination{L: L}
	if page.Next != "" {
		d.Pages.Next = "/nominations?cursor=" + url.QueryEscape(page.Next)
	}
	if cursor != "" {
		d.Pages.Prev = "/nominations"
	}
	if rq.r.URL.Query().Get("saved") == "1" {
		d.Banner = &Banner{Title: L.T("BannerSuccess"), Heading: L.T("DetailsSavedLater"), Success: true}
	}
	d.AddressNotice = rq.addressNotice("ConfirmWhy")
	rq.render(http.StatusOK, "nominations", d)
}

// startNomination opens a draft in the call, for the signed-in person or,
// named by nominee_name and nominee_email, for someone else.
func (h *Handler) startNomination(rq *request) {
	if !rq.parseForm() {
		return
	}
	L := rq.L
	who, name, email := rq.form("nominee"), rq.form("nominee_name"), rq.form("nominee_email")
	in := nomination.NominationInput{}
	fe := newFormErrors(L)
	switch who {
	case "self", "":
	case "someone_else":
		if name == "" {
			fe.add("nominee_name", L.T("RequiredNomineeName"))
		}
		if email == "" {
			fe.add("nominee_email", L.T("RequiredNomineeEmail"))
		}
		in.Nominee = &nomination.Person{Name: name, Email: email}
	default:
		fe.add("nominee", L.T("RequiredWho"))
	}
	if rq.switched {
		h.renderCall(rq, http.StatusOK, nil, who, name, email)
		return
	}
	if !fe.any() {
		v, err := h.cfg.Nominations.Create(rq.ctx, rq.actor(), rq.r.PathValue("slug"), in)
		if err == nil {
			rq.redirect("/nominations/" + url.PathEscape(v.Nomination.ID))
			return
		}
		var de *nomination.Error
		switch {
		case errors.Is(err, nomination.ErrUnconfirmed):
			// Why, in words, at the choice that needs it.
			fe.add("nominee", L.T("UnconfirmedNominate"))
			h.renderCall(rq, http.StatusForbidden, fe, who, name, email)
			return
		case errors.As(err, &de) && de.Code == nomination.EFORBIDDEN && de.Message != "":
			// The call's start rules or quota, in the workflow's words.
			fe.add("nominee", sayError(L, de))
			h.renderCall(rq, http.StatusForbidden, fe, who, name, email)
			return
		}
		if !fe.addDomain(err,
			field{"nominee.name", "nominee_name", L.T("CallNomineeName"), "RequiredNomineeName"},
			field{"nominee.email", "nominee_email", L.T("CallNomineeEmail"), "RequiredNomineeEmail"}) {
			rq.failWith(err)
			return
		}
	}
	h.renderCall(rq, http.StatusUnprocessableEntity, fe, who, name, email)
}

// taskStatus labels.
func (rq *request) tag(id, colour string) Tag { return Tag{Text: rq.L.T(id), Colour: colour} }

// detailsProblems lists the problems that keep the form's answers (not
// its files) from being complete.
func detailsProblems(def *workflow.Definition, n *nomination.Nomination) []workflow.FieldProblem {
	var out []workflow.FieldProblem
	for _, p := range def.CheckFields(n.Fields, true) {
		if f, ok := def.Field(p.Field); ok && f.Type != workflow.TypeFile {
			out = append(out, p)
		}
	}
	return out
}

func countKind(n *nomination.Nomination, kind string) int {
	c := 0
	for _, a := range n.Attachments {
		if a.Kind == kind {
			c++
		}
	}
	return c
}

func fileFields(def *workflow.Definition) []*workflow.Field {
	var out []*workflow.Field
	for _, f := range def.Fields {
		if f.Type == workflow.TypeFile {
			out = append(out, f)
		}
	}
	return out
}

func (h *Handler) nominationPage(rq *request) {
	o, ok := h.own(rq)
	if !ok {
		return
	}
	L := rq.L
	n := o.n
	d := struct {
		Page
		CallTitle, Heading, Progress, Deadline, Returned string
		DeadlineISO                                      string
		Draft                                            bool
		Tasks                                            TaskList
		Status                                           Tag
		StatusText, Reference, Poll, CheckHref, Withdraw string
		Next                                             []string
		Timeline                                         Timeline
	}{Page: rq.page(L.T("NominationTitle", "Nominee", n.Nominee.Name)), CallTitle: o.call.Title, CheckHref: o.base + "/check"}
	d.Nav = "nominations"
	d.Back = &Link{Href: "/nominations", Text: L.T("NavNominations")}
	if n.SelfNominated {
		d.Heading = L.T("NominationHeadingSelf")
	} else {
		d.Heading = L.T("NominationHeadingOther", "Nominee", n.Nominee.Name)
	}
	if _, ok := o.action("withdraw"); ok {
		d.Withdraw = o.base + "/withdraw"
	}
	switch rq.r.URL.Query().Get("done") {
	case "withdrawn":
		d.Banner = &Banner{Title: L.T("BannerSuccess"), Heading: L.T("WithdrawnBanner"), Success: true}
	case "details":
		d.Banner = &Banner{Title: L.T("BannerSuccess"), Heading: L.T("DetailsSaved"), Success: true}
	case "cv":
		d.Banner = &Banner{Title: L.T("BannerSuccess"), Heading: L.T("CVSaved"), Success: true}
	}
	if o.editable() {
		d.Draft = true
		d.AddressNotice = rq.addressNotice("ConfirmWhyEndorse")
		if n.LastComment != "" && slices.Contains(n.Visited, "submitted") {
			d.Returned = L.T("NominationReturned", "Comment", n.LastComment)
		}
		d.Deadline = L.T("NominationDeadline", "Closes", rq.when(o.call.ClosesAt))
		d.DeadlineISO = isoTime(o.call.ClosesAt)
		d.Tasks = h.tasks(rq, o)
		done := 0
		for _, t := range d.Tasks.Items {
			if t.Status.Colour == "green" || t.Status.Colour == "" && t.Status.Text == L.T("TaskCompleted") {
				done++
			}
		}
		d.Progress = L.T("NominationProgress", "Done", done, "All", len(d.Tasks.Items))
		rq.render(http.StatusOK, "nomination", d)
		return
	}
	d.Status = rq.stateTag(n.State)
	if st, ok := o.def.State(n.State); ok {
		d.StatusText = strings.TrimSpace(st.Description)
	}
	d.Reference = n.ID
	d.Next = h.whatNext(rq, o)
	if !o.final() {
		d.HTMX, d.Poll = true, o.base
	}
	items, err := h.timeline(rq, o)
	if err != nil {
		rq.failWith(err)
		return
	}
	d.Timeline = Timeline{L: L, Items: items}
	rq.render(http.StatusOK, "nomination", d)
}

// tasks builds the task list of a draft: details, files, endorsements,
// the nominee's consent when someone else is nominated, check and submit.
func (h *Handler) tasks(rq *request, o *owned) TaskList {
	L := rq.L
	n := o.n
	var tl TaskList
	detailsDone := len(detailsProblems(o.def, n)) == 0
	answered := 0
	for _, f := range o.def.Fields {
		if _, ok := n.Fields[f.Name]; ok && f.Type != workflow.TypeFile {
			answered++
		}
	}
	st := rq.tag("TaskNotStarted", "grey")
	switch {
	case detailsDone:
		st = rq.tag("TaskCompleted", "green")
	case answered > 0:
		st = rq.tag("TaskInProgress", "")
	}
	tl.Items = append(tl.Items, Task{ID: "task-details", Title: L.T("TaskDetails"), Href: o.base + "/details", Status: st})
	filesDone := true
	for _, f := range fileFields(o.def) {
		t := Task{ID: "task-" + f.Name, Title: f.Label, Href: o.base + "/cv", Status: rq.tag("TaskNotStarted", "grey")}
		if countKind(n, f.Name) > 0 {
			t.Status = rq.tag("TaskCompleted", "green")
		} else if !f.Required {
			t.Status = rq.tag("TaskOptional", "grey")
		} else {
			filesDone = false
		}
		tl.Items = append(tl.Items, t)
	}
	confirmed, waiting := 0, 0
	for _, e := range n.Endorsements {
		switch e.Status {
		case "confirmed":
			confirmed++
		case "requested":
			waiting++
		}
	}
	et := Task{ID: "task-endorsements", Title: L.T("TaskEndorsements"), Href: o.base + "/endorsements", Status: rq.tag("TaskOptional", "grey"), Hint: L.T("TaskEndorsementsHint")}
	need := o.call.RequiredEndorsements
	switch {
	case need > 0 && confirmed >= need:
		et.Status = Tag{Text: L.N("TaskEndorsed", confirmed), Colour: "green"}
	case need > 0:
		// The call asks for them: not optional, and counted.
		et.Status = Tag{Text: L.T("TaskEndorsedOf", "Done", confirmed, "All", need), Colour: ""}
		if confirmed == 0 && waiting == 0 {
			et.Status = rq.tag("TaskNotStarted", "grey")
		}
	case confirmed > 0:
		et.Status = Tag{Text: L.N("TaskEndorsed", confirmed), Colour: "green"}
	case waiting > 0:
		et.Status = Tag{Text: L.N("TaskWaitingReplies", waiting), Colour: ""}
	}
	if need > 0 {
		et.Hint = L.N("TaskEndorsementsRequiredHint", need)
	}
	tl.Items = append(tl.Items, et)
	if !n.SelfNominated {
		ct := Task{ID: "task-consent", Title: L.T("TaskConsent", "Nominee", n.Nominee.Name), Hint: L.T("TaskConsentHint", "Email", n.Nominee.Email)}
		switch n.Consent {
		case "accepted":
			ct.Status = rq.tag("ConsentAccepted", "green")
		case "declined":
			ct.Status = rq.tag("ConsentDeclined", "red")
		default:
			ct.Status = rq.tag("ConsentWaiting", "")
		}
		tl.Items = append(tl.Items, ct)
	}
	ck := Task{ID: "task-check", Title: L.T("TaskCheck"), Status: rq.tag("TaskCannotStart", "grey"), Hint: L.T("TaskCheckHint")}
	if detailsDone && filesDone {
		ck.Href, ck.Status, ck.Hint = o.base+"/check", rq.tag("TaskNotStarted", "grey"), ""
	}
	tl.Items = append(tl.Items, ck)
	return tl
}

// whatNext says in words what happens to a nomination in its state.
func (h *Handler) whatNext(rq *request, o *owned) []string {
	L := rq.L
	n := o.n
	var out []string
	if !n.SelfNominated && n.Consent == "pending" && !o.final() {
		out = append(out, L.T("NextConsent", "Nominee", n.Nominee.Name))
	}
	if s := L.TOr("NextLong_"+n.State, ""); s != "" {
		out = append(out, s)
	}
	if len(out) == 0 {
		out = append(out, L.T("NextDefault"))
	}
	return out
}

// timeline is what the owner may see of the history, newest first.
func (h *Handler) timeline(rq *request, o *owned) ([]TimelineItem, error) {
	L := rq.L
	evs, err := h.cfg.Nominations.History(rq.ctx, rq.actor(), o.n.ID)
	if err != nil {
		return nil, err
	}
	var items []TimelineItem
	by := func(actor string) string {
		if actor == rq.user.UserID {
			return L.T("TimelineByYou")
		}
		return ""
	}
	for i, e := range evs {
		it := TimelineItem{When: rq.when(e.At), Datetime: e.At.UTC().Format("2006-01-02T15:04:05Z"), By: by(e.Actor)}
		var data map[string]any
		if e.Data != nil {
			_ = json.Unmarshal(e.Data, &data)
		}
		str := func(k string) string { s, _ := data[k].(string); return s }
		switch e.Type {
		case nomination.EvCreated:
			it.Title = L.T("TimelineCreated")
		case nomination.EvFieldsUpdated:
			if i+1 < len(evs) && evs[i+1].Type == nomination.EvFieldsUpdated {
				continue // one entry for a run of saves
			}
			it.Title = L.T("TimelineSaved")
		case nomination.EvAttachmentAdded:
			it.Title = L.T("TimelineFile", "File", str("filename"))
		case nomination.EvEndorsementRequested:
			it.Title = L.T("TimelineEndorsementAsked", "Name", str("name"))
		case nomination.EvEndorsementConfirmed:
			it.Title = L.T("TimelineEndorsed")
		case nomination.EvEndorsementDeclined:
			it.Title = L.T("TimelineEndorsementDeclined")
		case nomination.EvConsent:
			if str("decision") == "accepted" {
				it.Title = L.T("TimelineConsentAccepted", "Nominee", o.n.Nominee.Name)
			} else {
				it.Title = L.T("TimelineConsentDeclined", "Nominee", o.n.Nominee.Name)
			}
		default:
			if e.To == "" || e.To == e.From {
				continue // a vote or declaration that moved nothing is the panel's
			}
			it.Title = L.T("TimelineState", "State", rq.stateName(e.To))
			if r := str("reason"); r != "" {
				it.Body = r
			} else if c := str("comment"); c != "" && e.To == "draft" {
				it.Body = c
			}
		}
		items = append(items, it)
	}
	slices.Reverse(items)
	return items, nil
}

// detailsField is one question of the details form: exactly one of its
// components is set.
type detailsField struct {
	Input      *Input
	Textarea   *Textarea
	Radios     *Radios
	Select     *Select
	Checkboxes *Checkboxes
}

// maxRadios is the most choices shown as radio buttons; longer lists are a
// select.
const maxRadios = 8

// choiceLabel is the label the workflow gives a choice, or the value in
// words.
func choiceLabel(f *workflow.Field, v string) string {
	if l, ok := f.ChoiceLabels[v]; ok && l != "" {
		return l
	}
	return humanize(v)
}

// requiredMessage is the message id for a missing answer to a field.
func requiredMessage(f *workflow.Field) string {
	switch f.Type {
	case workflow.TypeChoice, workflow.TypeCountry:
		return "RequiredChoice"
	case workflow.TypeBool:
		return "RequiredBool"
	case workflow.TypeFile:
		return "RequiredFile"
	default:
		return "RequiredText"
	}
}

// formText is a form answer as the page shows it in its input.
func formText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return ""
	default:
		return fmt.Sprint(x)
	}
}

// detailsForm builds the form's questions from the workflow's fields, with
// values (as the page has them) and problems.
func (h *Handler) detailsForm(rq *request, o *owned, values map[string]string, fe *formErrors) []detailsField {
	L := rq.L
	var out []detailsField
	for _, f := range o.def.Fields {
		val := values[f.Name]
		optional := !f.Required
		errMsg := fe.get(f.Name)
		switch f.Type {
		case workflow.TypeFile:
			continue // files have their own page
		case workflow.TypeLongText:
			t := &Textarea{L: L, ID: f.Name, Name: f.Name, Label: f.Label, Hint: f.Help, Value: val, Error: errMsg, Optional: optional, Rows: 8, MaxLen: f.MaxLen}
			if f.MaxLen > 0 {
				t.CountMessage = countMessage(L, val, f.MaxLen)
				t.CountURL = "/character-count?max=" + strconv.Itoa(f.MaxLen) + "&field=" + url.QueryEscape(f.Name)
			}
			if f.MinLen > 0 {
				t.Hint = strings.TrimSpace(t.Hint + " " + L.N("HintMinLength", f.MinLen))
			}
			out = append(out, detailsField{Textarea: t})
		case workflow.TypeChoice:
			if len(f.Choices) <= maxRadios {
				r := &Radios{L: L, Name: f.Name, Legend: f.Label, Hint: f.Help, Error: errMsg, Optional: optional}
				for i, c := range f.Choices {
					id := f.Name
					if i > 0 {
						id = f.Name + "-" + strconv.Itoa(i+1)
					}
					r.Items = append(r.Items, Choice{ID: id, Value: c, Label: L.TOr("Choice_"+f.Name+"_"+c, choiceLabel(f, c)), Checked: val == c})
				}
				out = append(out, detailsField{Radios: r})
				continue
			}
			s := &Select{L: L, ID: f.Name, Name: f.Name, Label: f.Label, Hint: f.Help, Error: errMsg, Optional: optional}
			s.Options = append(s.Options, Option{Value: "", Label: L.T("SelectPrompt"), Selected: val == ""})
			for _, c := range f.Choices {
				s.Options = append(s.Options, Option{Value: c, Label: L.TOr("Choice_"+f.Name+"_"+c, choiceLabel(f, c)), Selected: val == c})
			}
			out = append(out, detailsField{Select: s})
		case workflow.TypeCountry:
			s := &Select{L: L, ID: f.Name, Name: f.Name, Label: f.Label, Hint: f.Help, Error: errMsg, Optional: optional, Autocomplete: "off"}
			s.Options = append(s.Options, Option{Value: "", Label: L.T("SelectCountry"), Selected: val == ""})
			for _, c := range countries(L.Tag) {
				s.Options = append(s.Options, Option{Value: c.Code, Label: c.Name, Selected: val == c.Code})
			}
			out = append(out, detailsField{Select: s})
		case workflow.TypeBool:
			out = append(out, detailsField{Checkboxes: &Checkboxes{L: L, Name: f.Name, Legend: f.Label, Hint: f.Help, Error: errMsg, Optional: optional,
				Items: []Choice{{ID: f.Name, Value: "true", Label: L.T("BoolYes"), Checked: val == "true"}}}})
		default:
			in := &Input{L: L, ID: f.Name, Name: f.Name, Label: f.Label, Hint: f.Help, Value: val, Error: errMsg, Optional: optional}
			switch f.Type {
			case workflow.TypeEmail:
				in.Type, in.Autocomplete, in.NoSpellcheck = "email", "off", true
			case workflow.TypeDate:
				in.Type, in.Width = "date", "10"
				in.Hint = strings.TrimSpace(in.Hint + " " + L.T("HintDate"))
			default:
				if f.MaxLen > 0 && f.MaxLen <= 20 {
					in.Width = "20"
				}
			}
			out = append(out, detailsField{Input: in})
		}
	}
	return out
}

// detailsFields lists the form's fields that are answered on the details
// page, as the domain names them.
func detailsFieldList(rq *request, def *workflow.Definition) []field {
	var out []field
	for _, f := range def.Fields {
		if f.Type == workflow.TypeFile {
			continue
		}
		out = append(out, field{name: "fields." + f.Name, id: f.Name, label: f.Label, required: requiredMessage(f)})
	}
	return out
}

func (h *Handler) details(rq *request) {
	o, ok := h.own(rq)
	if !ok {
		return
	}
	L := rq.L
	if !o.editable() {
		rq.failWith(nomination.Errorf(nomination.ECONFLICT, "%s", L.T("NotEditable")))
		return
	}
	values := map[string]string{}
	for k, v := range o.n.Fields {
		values[k] = formText(v)
	}
	version := o.n.Seq
	fe := newFormErrors(L)
	if rq.r.Method == http.MethodPost {
		if !rq.parseForm() {
			return
		}
		changes := map[string]any{}
		for _, f := range o.def.Fields {
			if f.Type == workflow.TypeFile {
				continue
			}
			raw := rq.r.PostForm.Get(f.Name)
			var v any
			switch f.Type {
			case workflow.TypeBool:
				values[f.Name] = ""
				if raw == "true" {
					v, values[f.Name] = true, "true"
				}
			case workflow.TypeLongText:
				s := strings.TrimSpace(strings.ReplaceAll(raw, "\r\n", "\n"))
				values[f.Name] = s
				if s != "" {
					v = s
				}
			default:
				s := strings.TrimSpace(raw)
				values[f.Name] = s
				if s != "" {
					v = s
				}
			}
			old, had := o.n.Fields[f.Name]
			switch {
			case v == nil && had:
				changes[f.Name] = nil
			case v != nil && (!had || !reflect.DeepEqual(old, v)):
				changes[f.Name] = v
			}
		}
		sent, err := strconv.Atoi(rq.form("version"))
		if err != nil || sent < 1 {
			sent = nomination.AnyVersion
		}
		next := o.base + "?done=details"
		if rq.form("then") == "later" {
			next = "/nominations?saved=1"
		}
		if len(changes) == 0 && !rq.switched {
			rq.redirect(next)
			return
		}
		if rq.switched && sent != nomination.AnyVersion {
			version = sent // the version the reader's answers were made on
		}
		if !rq.switched {
			_, err = h.cfg.Nominations.UpdateFields(rq.ctx, rq.actor(), o.n.ID, sent, changes)
		}
		switch {
		case rq.switched:
		case err == nil:
			rq.redirect(next)
			return
		case nomination.ErrorCode(err) == nomination.EPRECONDITION:
			fe.add(detailsFieldList(rq, o.def)[0].id, L.T("DetailsChangedMeanwhile"))
		case !fe.addDomain(err, detailsFieldList(rq, o.def)...):
			rq.failWith(err)
			return
		}
	}
	d := struct {
		Page
		Caption, Action string
		Version         int
		Fields          []detailsField
		Save, SaveLater Button
	}{Page: rq.page(L.T("DetailsTitle")), Caption: rq.caption(o), Action: o.base + "/details", Version: version}
	d.Back = &Link{Href: o.base, Text: L.T("Back")}
	d.SwitchForm = true
	d.Errors = fe.summary()
	d.HTMX = true
	d.Fields = h.detailsForm(rq, o, values, fe)
	d.Save = Button{Text: L.T("SaveContinue"), Name: "then", Value: "continue"}
	d.SaveLater = Button{Text: L.T("SaveLater"), Name: "then", Value: "later", Secondary: true}
	status := http.StatusOK
	if fe.any() {
		status = http.StatusUnprocessableEntity
	}
	rq.render(status, "details", d)
}

// fileLimit is the most bytes one upload of f may have.
func (h *Handler) fileLimit(f *workflow.Field) int64 {
	if f.MaxBytes > 0 && f.MaxBytes < h.cfg.MaxUploadBytes {
		return f.MaxBytes
	}
	return h.cfg.MaxUploadBytes
}

// multipartSlack is the room an upload's body gets for its multipart
// framing and the other small fields.
const multipartSlack = 64 << 10

type fileForm struct {
	Kind    string
	Current *SummaryList
	Upload  FileUpload
	Submit  Button
}

// files serves the CV page: one upload per file field of the workflow.
func (h *Handler) files(rq *request) {
	o, ok := h.own(rq)
	if !ok {
		return
	}
	L := rq.L
	if !o.editable() {
		rq.failWith(nomination.Errorf(nomination.ECONFLICT, "%s", L.T("NotEditable")))
		return
	}
	fields := fileFields(o.def)
	if len(fields) == 0 {
		rq.notFound()
		return
	}
	fe := newFormErrors(L)
	status := http.StatusOK
	if rq.r.Method == http.MethodPost {
		var err error
		status, err = h.upload(rq, o, fields, fe)
		if err != nil {
			rq.failWith(err)
			return
		}
		if status == http.StatusSeeOther {
			rq.redirect(o.base + "?done=cv")
			return
		}
	}
	d := struct {
		Page
		Caption, Heading, Action, BackHref string
		Files                              []fileForm
	}{Page: rq.page(fields[0].Label), Caption: rq.caption(o), Heading: fields[0].Label, Action: o.base + "/cv", BackHref: o.base}
	if len(fields) > 1 {
		d.Title, d.Heading = L.T("FilesTitle"), L.T("FilesTitle")
	}
	d.Back = &Link{Href: o.base, Text: L.T("Back")}
	d.Errors = fe.summary()
	for _, f := range fields {
		ff := fileForm{Kind: f.Name, Submit: Button{Text: L.T("UploadButton")}}
		hint := f.Help
		if slices.Contains(f.Accept, "application/pdf") && len(f.Accept) == 1 {
			hint = strings.TrimSpace(hint + " " + L.T("HintPDF"))
		}
		hint = strings.TrimSpace(hint + " " + L.T("HintMaxSize", "Size", megabytes(h.fileLimit(f))))
		ff.Upload = FileUpload{L: L, ID: "file-" + f.Name, Name: "file", Label: L.T("UploadLabel", "Label", f.Label), Hint: hint, Error: fe.get("file-" + f.Name), Accept: strings.Join(f.Accept, ",")}
		if len(fields) == 1 {
			ff.Upload.ID = "file"
			ff.Upload.Error = fe.get("file")
		}
		for _, a := range o.n.Attachments {
			if a.Kind != f.Name {
				continue
			}
			ff.Current = &SummaryList{L: L, Rows: []SummaryRow{{Key: L.T("FileUploaded"), Value: []string{a.Filename, L.T("FileSize", "Size", megabytes(a.Size))},
				Href: o.base + "/files/" + url.PathEscape(a.ID), ChangeLabel: L.T("FileDownload"), Change: a.Filename}}}
			ff.Submit.Text = L.T("UploadReplaceButton")
		}
		d.Files = append(d.Files, ff)
	}
	rq.render(status, "cv", d)
}

// megabytes writes a size for people.
func megabytes(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatInt(n>>10, 10) + " KB"
	default:
		return strconv.FormatInt(n, 10) + " B"
	}
}

// upload reads a multipart upload as a stream and hands the file to the
// domain. A body announced larger than the limit is refused before it is
// read. It returns the status to answer with: 303 when stored, else the
// page's with the problems in fe.
func (h *Handler) upload(rq *request, o *owned, fields []*workflow.Field, fe *formErrors) (int, error) {
	L := rq.L
	var biggest int64
	for _, f := range fields {
		biggest = max(biggest, h.fileLimit(f))
	}
	fieldID := func(kind string) string {
		if len(fields) == 1 {
			return "file"
		}
		return "file-" + kind
	}
	tooBig := func(kind string) (int, error) {
		f, ok := o.def.Field(kind)
		limit := biggest
		if ok {
			limit = h.fileLimit(f)
		}
		rq.w.Header().Set("Connection", "close")
		fe.add(fieldID(kind), L.T("FileTooLarge", "Size", megabytes(limit)))
		return http.StatusRequestEntityTooLarge, nil
	}
	if rq.r.ContentLength > biggest+multipartSlack {
		return tooBig(fields[0].Name)
	}
	rq.r.Body = http.MaxBytesReader(rq.w, rq.r.Body, biggest+multipartSlack)
	mr, err := rq.r.MultipartReader()
	if err != nil {
		fe.add(fieldID(fields[0].Name), L.T("FileChoose"))
		return http.StatusUnprocessableEntity, nil
	}
	kind := fields[0].Name
	for {
		part, err := mr.NextPart()
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return tooBig(kind)
			}
			fe.add(fieldID(kind), L.T("FileChoose"))
			return http.StatusUnprocessableEntity, nil
		}
		switch part.FormName() {
		case "kind":
			b, _ := io.ReadAll(io.LimitReader(part, 65))
			k := strings.TrimSpace(string(b))
			if f, ok := o.def.Field(k); ok && f.Type == workflow.TypeFile {
				kind = k
			}
		case "file":
			if part.FileName() == "" {
				fe.add(fieldID(kind), L.T("FileChoose"))
				return http.StatusUnprocessableEntity, nil
			}
			_, err := h.cfg.Nominations.AddAttachment(rq.ctx, rq.actor(), o.n.ID, nomination.Upload{Kind: kind, Filename: part.FileName(), Body: part})
			switch nomination.ErrorCode(err) {
			case "":
				return http.StatusSeeOther, nil
			case nomination.ETOOLARGE:
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return tooBig(kind)
				}
				return tooBig(kind)
			case nomination.EUNSUPPORTED:
				f, _ := o.def.Field(kind)
				fe.add(fieldID(kind), L.T("FileWrongType", "Types", acceptNames(f.Accept)))
				return http.StatusUnsupportedMediaType, nil
			default:
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return tooBig(kind)
				}
				return 0, err
			}
		default:
			_ = part.Close()
		}
	}
}

// acceptNames names accepted content types for people: "PDF".
func acceptNames(types []string) string {
	var out []string
	for _, t := range types {
		switch t {
		case "application/pdf":
			out = append(out, "PDF")
		default:
			if exts, _ := mime.ExtensionsByType(t); len(exts) > 0 {
				out = append(out, strings.ToUpper(strings.TrimPrefix(exts[0], ".")))
			} else {
				out = append(out, t)
			}
		}
	}
	return strings.Join(out, ", ")
}

// download serves a file of a nomination the reader may see, as an
// attachment that no browser renders in place.
func (h *Handler) download(rq *request) {
	rc, att, err := h.cfg.Nominations.OpenAttachment(rq.ctx, rq.actor(), rq.r.PathValue("id"), rq.r.PathValue("file"))
	if err != nil {
		rq.failWith(err)
		return
	}
	defer rc.Close()
	hd := rq.w.Header()
	hd.Set("Content-Type", att.ContentType)
	hd.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": att.Filename}))
	hd.Set("Content-Length", strconv.FormatInt(att.Size, 10))
	hd.Set("Cache-Control", "no-store")
	rq.w.WriteHeader(http.StatusOK)
	d := clientclose.NewDownload(rq.w)
	if _, err := io.Copy(d, rc); err != nil {
		rq.cut(d, err, slog.LevelWarn, "send file")
	}
}

// rulesOf returns the workflow version nomination n runs under, in the
// reader's language, and its call; on failure the answer is written and ok
// is false.
func (h *Handler) rulesOf(rq *request, n *nomination.Nomination) (def *workflow.Definition, call nomination.Call, ok bool) {
	def, ok = h.cfg.Workflows.Get(n.Workflow.ID, n.Workflow.Version, n.Workflow.Hash)
	if !ok {
		rq.failWith(fmt.Errorf("workflow %s@%d of nomination %s is not loaded", n.Workflow.ID, n.Workflow.Version, n.ID))
		return nil, call, false
	}
	a := rq.actor()
	call, err := h.cfg.Nominations.GetCall(rq.ctx, &a, n.CallSlug)
	if err != nil {
		rq.failWith(err)
		return nil, call, false
	}
	return def.In(rq.L.Lang), call, true
}
