package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/workflow"
)

// tableFilters are the form answers the nominations table, the balance and
// the exports filter by, as the API's choiceFilters.
var tableFilters = []string{"stakeholder_group", "region", "economic_group", "gender"}

// tableQuery is the nominations table's query: its filters and sort, read
// from the URL, so a filtered table is a link to share.
type tableQuery struct {
	State, Panel, Q, Sort, Cursor string
	Fields                        map[string]string
}

func readTableQuery(q url.Values) tableQuery {
	t := tableQuery{State: strings.TrimSpace(q.Get("state")), Panel: strings.TrimSpace(q.Get("panel")), Q: strings.TrimSpace(q.Get("q")),
		Sort: q.Get("sort"), Cursor: q.Get("cursor")}
	for _, f := range tableFilters {
		if v := strings.TrimSpace(q.Get(f)); v != "" {
			if t.Fields == nil {
				t.Fields = map[string]string{}
			}
			t.Fields[f] = v
		}
	}
	return t
}

// values returns the query as URL values (without the cursor).
func (t tableQuery) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("state", t.State)
	set("panel", t.Panel)
	set("q", t.Q)
	set("sort", t.Sort)
	for _, f := range tableFilters {
		set(f, t.Fields[f])
	}
	return v
}

// filterQuery is the part of the query the exports and the balance take.
func (t tableQuery) filterQuery() string {
	v := t.values()
	v.Del("sort")
	v.Del("panel")
	return v.Encode()
}

// staffCall loads the call of the path and its workflow.
func (h *Handler) staffCall(rq *request) (nomination.Call, *workflow.Definition, bool) {
	a := rq.actor()
	c, err := h.cfg.Nominations.GetCall(rq.ctx, &a, rq.r.PathValue("slug"))
	if err != nil {
		rq.failWith(err)
		return c, nil, false
	}
	def, ok := h.cfg.Workflows.Get(c.Workflow, c.WorkflowVersion, "")
	if !ok {
		if def, ok = h.cfg.Workflows.Latest(c.Workflow); !ok {
			rq.failWith(fmt.Errorf("workflow %s of call %s is not loaded", c.Workflow, c.Slug))
			return c, nil, false
		}
	}
	return c, def.In(rq.L.Lang), true
}

// choiceOptions are a select's options for a choice field of def, with
// "any" first.
func (rq *request) choiceOptions(def *workflow.Definition, name, selected string) []Option {
	out := []Option{{Value: "", Label: rq.L.T("FilterAny")}}
	f, ok := def.Field(name)
	if !ok {
		return out
	}
	for _, c := range f.Choices {
		out = append(out, Option{Value: c, Label: rq.L.TOr("Choice_"+name+"_"+c, choiceLabel(f, c)), Selected: c == selected})
	}
	return out
}

type tableData struct {
	Page
	Caption, Heading, Action, ClearHref, Count string
	Filters                                    []Select
	Search                                     Input
	Apply                                      Button
	Table                                      Table
	Pages                                      Pagination
	Exports                                    []Link
	Links                                      []Link
}

// staffActionsFrom lists the actions of def the secretariat takes from
// state, by name: what the table offers on a row (the guards are checked
// when the button is pressed, and the nomination's page says why one is
// not possible).
func staffActionsFrom(def *workflow.Definition, state string) []*workflow.Action {
	var out []*workflow.Action
	for _, a := range def.Actions {
		if slices.Contains(a.From, state) && slices.Contains(a.Roles, "secretariat") && len(a.Inputs) == 0 {
			out = append(out, a)
		}
	}
	return out
}

func (h *Handler) nominationsTable(rq *request) {
	L := rq.L
	call, def, ok := h.staffCall(rq)
	if !ok {
		return
	}
	tq := readTableQuery(rq.r.URL.Query())
	page, err := h.cfg.Nominations.List(rq.ctx, rq.actor(), nomination.ListQuery{Call: call.Slug, State: tq.State, Panel: tq.Panel, Query: tq.Q,
		Fields: tq.Fields, Sort: tq.Sort, Limit: 50, Cursor: tq.Cursor})
	if err != nil {
		if c := nomination.ErrorCode(err); c == nomination.EINVALID || c == nomination.EBADREQUEST {
			rq.fail(http.StatusBadRequest, "ErrorBadRequestTitle", "TableBadQuery", Link{Href: rq.r.URL.Path, Text: L.T("FilterClear")})
			return
		}
		rq.failWith(err)
		return
	}
	base := rq.r.URL.Path
	d := tableData{Page: rq.staffPage(L.T("TableTitle", "Call", call.Title)), Caption: call.Title, Heading: L.T("TableHeading"),
		Action: base, ClearHref: base, Apply: Button{Text: L.T("FilterApply"), Secondary: true}, Pages: Pagination{L: L}}
	d.Back = &Link{Href: "/secretariat", Text: L.T("BackToDashboard")}
	d.HTMX = true
	d.Links = callLinks(L, call.Slug)[1:]
	if rq.r.URL.Query().Get("saved") != "" {
		d.Banner = &Banner{Title: L.T("BannerSuccess"), Heading: L.T("CallSaved"), Success: true}
	}
	if done := rq.r.URL.Query().Get("done"); done != "" {
		d.Banner = &Banner{Title: L.T("BannerSuccess"), Heading: L.T("ActionDone", "Action", rq.actionName(def, done), "Nominee", rq.r.URL.Query().Get("who")), Success: true}
	}
	states := Select{L: L, ID: "state", Name: "state", Label: L.T("FilterState"), Options: []Option{{Value: "", Label: L.T("FilterAny")}}}
	for _, st := range def.StateOrder {
		states.Options = append(states.Options, Option{Value: st, Label: rq.stateName(st), Selected: st == tq.State})
	}
	d.Filters = append(d.Filters, states)
	if len(def.Panels) > 0 {
		panels := Select{L: L, ID: "panel", Name: "panel", Label: L.T("FilterPanel"), Options: []Option{{Value: "", Label: L.T("FilterAny")}}}
		for _, p := range def.Panels {
			panels.Options = append(panels.Options, Option{Value: p, Label: L.TOr("Panel_"+p, humanize(p)), Selected: p == tq.Panel})
		}
		d.Filters = append(d.Filters, panels)
	}
	for _, name := range tableFilters {
		if f, ok := def.Field(name); ok {
			d.Filters = append(d.Filters, Select{L: L, ID: name, Name: name, Label: f.Label, Options: rq.choiceOptions(def, name, tq.Fields[name])})
		}
	}
	sorts := Select{L: L, ID: "sort", Name: "sort", Label: L.T("SortLabel"), Options: []Option{
		{Value: "", Label: L.T("SortCreated"), Selected: tq.Sort == ""},
		{Value: "name", Label: L.T("SortName"), Selected: tq.Sort == "name"},
		{Value: "submitted", Label: L.T("SortSubmitted"), Selected: tq.Sort == "submitted"},
		{Value: "score", Label: L.T("SortScore"), Selected: tq.Sort == "score"},
	}}
	d.Filters = append(d.Filters, sorts)
	d.Search = Input{L: L, ID: "q", Name: "q", Type: "search", Label: L.T("FilterText"), Hint: L.T("FilterTextHint"), Value: tq.Q, Autocomplete: "off", Width: "20"}
	sortHref := func(s string) string {
		v := tq.values()
		v.Set("sort", s)
		return base + "?" + v.Encode()
	}
	sortMark := func(s string) string {
		if tq.Sort == s {
			if s == "score" {
				return "descending"
			}
			return "ascending"
		}
		return ""
	}
	d.Table = Table{L: L, ID: "nominations", Caption: L.T("TableCaption", "Call", call.Title), RowHeader: true, Head: []TableHeader{
		{Text: L.T("ColNominee"), Href: sortHref("name"), Sort: sortMark("name")},
		{Text: L.T("ColStatus")},
		{Text: L.T("ColGroup")}, {Text: L.T("ColRegion")}, {Text: L.T("ColGender")},
		{Text: L.T("ColSubmitted"), Href: sortHref("submitted"), Sort: sortMark("submitted")},
		{Text: L.T("ColScore"), Href: sortHref("score"), Sort: sortMark("score"), Numeric: true},
		{Text: L.T("ColScreen")},
	}}
	self := base
	if e := tq.values().Encode(); e != "" {
		self += "?" + e
	}
	answer := func(n *nomination.Nomination, name string) string {
		f, ok := def.Field(name)
		if !ok {
			return ""
		}
		return rq.answerText(f, n.Fields[name])
	}
	for _, v := range page.Items {
		n := v.Nomination
		st := rq.stateTag(n.State)
		submitted := "–"
		if !n.SubmittedAt.IsZero() {
			submitted = rq.day(n.SubmittedAt)
		}
		score := "–"
		if n.MeanScore > 0 {
			score = formatScore(n.MeanScore)
		}
		row := TableRow{ID: "row-" + n.ID, Cells: []TableCell{
			{Lines: []string{n.Nominee.Name}, Href: "/secretariat/nominations/" + url.PathEscape(n.ID)},
			{Tag: &st}, Cell(answer(n, "stakeholder_group")), Cell(answer(n, "region")), Cell(answer(n, "gender")), Cell(submitted), Cell(score),
		}}
		screen := TableCell{}
		for _, a := range staffActionsFrom(def, n.State) {
			screen.Forms = append(screen.Forms, RowForm{Action: "/secretariat/nominations/" + url.PathEscape(n.ID) + "/actions/" + url.PathEscape(a.Name),
				Name: "next", Value: self, Button: Button{Text: rq.actionName(def, a.Name), Secondary: true, Context: n.Nominee.Name}})
		}
		if len(screen.Forms) == 0 {
			screen.Lines = []string{"–"}
		}
		row.Cells = append(row.Cells, screen)
		d.Table.Rows = append(d.Table.Rows, row)
	}
	d.Count = L.N("TableCount", len(page.Items))
	if page.Next != "" {
		v := tq.values()
		v.Set("cursor", page.Next)
		d.Pages.Next = base + "?" + v.Encode()
		d.Count = L.N("TableCountMore", len(page.Items))
	}
	exp := "/secretariat/calls/" + url.PathEscape(call.Slug) + "/export."
	fq := tq.filterQuery()
	if fq != "" {
		fq = "?" + fq
	}
	d.Exports = []Link{{Href: exp + "csv" + fq, Text: L.T("ExportCSV")}, {Href: exp + "xlsx" + fq, Text: L.T("ExportXLSX")}, {Href: exp + "json" + fq, Text: L.T("ExportJSON")}}
	if rq.r.Header.Get("HX-Request") == "true" {
		rq.renderFragment(http.StatusOK, "nominations-table", "results", d)
		return
	}
	rq.render(http.StatusOK, "nominations-table", d)
}

// actionName is an action's label from the workflow, or its name in words.
func (rq *request) actionName(def *workflow.Definition, name string) string {
	if a, ok := def.Action(name); ok && a.Label != "" {
		return rq.L.TOr("Action_"+name, a.Label)
	}
	return rq.L.TOr("Action_"+name, humanize(name))
}

// staffNominated is a nomination the secretariat is looking at.
type staffNominated struct {
	v    *nomination.View
	n    *nomination.Nomination
	def  *workflow.Definition
	call nomination.Call
	base string
}

func (h *Handler) loadStaffNomination(rq *request) (*staffNominated, bool) {
	v, err := h.cfg.Nominations.Get(rq.ctx, rq.actor(), rq.r.PathValue("id"))
	if err != nil {
		rq.failWith(err)
		return nil, false
	}
	n := v.Nomination
	def, call, ok := h.rulesOf(rq, n)
	if !ok {
		return nil, false
	}
	return &staffNominated{v: v, n: n, def: def, call: call, base: "/secretariat/nominations/" + url.PathEscape(n.ID)}, true
}

// actionView is one action of the nomination page: a form when it is
// possible, else why not.
type actionView struct {
	ID, Name, Action string
	Allowed          bool
	Reasons          []string
	Reason, Comment  *Textarea
	Button           Button
}

type staffNominationData struct {
	Page
	Caption, Heading, Reference, TableHref string
	Status                                 Tag
	Who, Answers, Endorsements             SummaryList
	Files                                  []Link
	Votes                                  *Table
	Conflicts                              []string
	Actions                                []actionView
	Override                               *struct {
		Action string
		Select Select
		Reason Textarea
		Button Button
	}
	Verified, VerifyProblem string
	VerifyOK                bool
	History                 Table
}

func (h *Handler) staffNomination(rq *request) {
	o, ok := h.loadStaffNomination(rq)
	if !ok {
		return
	}
	h.renderStaffNomination(rq, o, http.StatusOK, nil, "", url.Values{})
}

func (h *Handler) renderStaffNomination(rq *request, o *staffNominated, status int, fe *formErrors, failed string, posted url.Values) {
	L := rq.L
	n, def := o.n, o.def
	d := staffNominationData{Page: rq.staffPage(n.Nominee.Name), Caption: o.call.Title, Heading: n.Nominee.Name, Reference: n.ID,
		Status: rq.stateTag(n.State), TableHref: "/secretariat/calls/" + url.PathEscape(n.CallSlug) + "/nominations"}
	d.Back = &Link{Href: d.TableHref, Text: L.T("BackToTable")}
	d.Errors = fe.summary()
	if done := rq.r.URL.Query().Get("done"); done != "" && fe == nil {
		d.Banner = &Banner{Title: L.T("BannerSuccess"), Heading: L.T("ActionDone", "Action", rq.actionName(def, done), "Nominee", n.Nominee.Name), Success: true}
	}
	consent := map[string]string{"accepted": L.T("ConsentAccepted"), "declined": L.T("ConsentDeclined"), "pending": L.T("ConsentWaiting"), "not_required": L.T("ConsentNotRequired"), "": L.T("ConsentNotRequired")}[n.Consent]
	d.Who = SummaryList{L: L, Rows: []SummaryRow{
		{ID: "who-nominee", Key: L.T("CheckNominee"), Value: []string{n.Nominee.Name, n.Nominee.Email}},
		{ID: "who-nominator", Key: L.T("LabelNominator"), Value: []string{n.Nominator.Name, n.Nominator.Email}},
		{ID: "who-consent", Key: L.T("CheckConsent"), Value: []string{consent}},
	}}
	if n.SelfNominated {
		d.Who.Rows[1].Value = []string{L.T("SelfNominated")}
	}
	if !n.SubmittedAt.IsZero() {
		d.Who.Rows = append(d.Who.Rows, SummaryRow{ID: "who-submitted", Key: L.T("ColSubmitted"), Value: []string{rq.when(n.SubmittedAt)}})
	}
	if n.MeanScore > 0 {
		d.Who.Rows = append(d.Who.Rows, SummaryRow{ID: "who-score", Key: L.T("ColScore"), Value: []string{formatScore(n.MeanScore)}})
	}
	d.Answers = SummaryList{L: L}
	for _, f := range def.Fields {
		if f.Type == workflow.TypeFile {
			continue
		}
		d.Answers.Rows = append(d.Answers.Rows, SummaryRow{ID: "answer-" + f.Name, Key: f.Label, Value: strings.Split(rq.answerText(f, n.Fields[f.Name]), "\n")})
	}
	for _, a := range n.Attachments {
		d.Files = append(d.Files, Link{Href: "/nominations/" + url.PathEscape(n.ID) + "/files/" + url.PathEscape(a.ID), Text: L.T("FileLink", "File", a.Filename, "Size", megabytes(a.Size))})
	}
	d.Endorsements = rq.endorsementRows(n)
	if len(n.Votes) > 0 {
		t := h.votesTable(rq, n)
		d.Votes = &t
	}
	for _, c := range n.Conflicts {
		name := L.T("ReviewerUnknown")
		if u, err := h.cfg.Accounts.User(rq.ctx, c.Reviewer); err == nil {
			name = u.Name
		}
		d.Conflicts = append(d.Conflicts, L.T("ConflictLine", "Reviewer", name, "Date", rq.day(c.At), "Reason", c.Reason))
	}
	for _, a := range o.v.Actions {
		av := actionView{ID: "action-" + a.Name, Name: rq.actionName(def, a.Name), Action: o.base + "/actions/" + url.PathEscape(a.Name), Allowed: a.Allowed, Reasons: sayAll(L, a.Why)}
		if a.Allowed {
			for _, in := range a.Inputs {
				ta := &Textarea{L: L, Rows: 3}
				if a.Name == failed {
					ta.Value = posted.Get(in)
					ta.Error = fe.get(a.Name + "-" + in)
				}
				ta.ID, ta.Name = a.Name+"-"+in, in
				switch in {
				case workflow.InputReason:
					ta.Label = L.T("LabelActionReason", "Action", av.Name)
					av.Reason = ta
				default:
					ta.Label = L.T("LabelActionComment", "Action", av.Name)
					av.Comment = ta
				}
			}
			av.Button = Button{Text: av.Name, Warning: a.Name == "reject" || a.Name == "not_select"}
		}
		d.Actions = append(d.Actions, av)
	}
	// The override: any action leaving the state, with a reason.
	leaving := []Option{{Value: "", Label: L.T("SelectPrompt")}}
	for _, a := range def.Actions {
		if slices.Contains(a.From, n.State) {
			leaving = append(leaving, Option{Value: a.Name, Label: L.T("OverrideOption", "Action", rq.actionName(def, a.Name), "State", rq.stateName(a.To)), Selected: posted.Get("action") == a.Name})
		}
	}
	if len(leaving) > 1 {
		ov := &struct {
			Action string
			Select Select
			Reason Textarea
			Button Button
		}{Action: o.base + "/override", Button: Button{Text: L.T("OverrideButton"), Warning: true}}
		ov.Select = Select{L: L, ID: "override-action", Name: "action", Label: L.T("LabelOverrideAction"), Options: leaving, Error: fe.get("override-action")}
		ov.Reason = Textarea{L: L, ID: "override-reason", Name: "reason", Label: L.T("LabelOverrideReason"), Hint: L.T("HintOverrideReason"), Rows: 3, Error: fe.get("override-reason")}
		if failed == "override" {
			ov.Reason.Value = posted.Get("reason")
		}
		d.Override = ov
	}
	evs, ver, err := h.cfg.Nominations.VerifiedHistory(rq.ctx, rq.actor(), n.ID)
	if err != nil {
		rq.failWith(err)
		return
	}
	if ver != nil {
		d.VerifyOK = ver.OK()
		if ver.OK() {
			d.Verified = L.N("HistoryVerified", ver.Events)
		} else {
			d.Verified = L.T("HistoryBroken", "Seq", ver.FirstBad)
			d.VerifyProblem = ver.Problem
		}
	}
	d.History = h.historyTable(rq, def, evs)
	rq.render(status, "staff-nomination", d)
}

// historyTable lists every event, oldest first, with its hash.
func (h *Handler) historyTable(rq *request, def *workflow.Definition, evs []nomination.Event) Table {
	L := rq.L
	t := Table{L: L, ID: "history", Caption: L.T("HistoryCaption"), Head: []TableHeader{
		{Text: L.T("ColSeq"), Numeric: true}, {Text: L.T("ColWhen")}, {Text: L.T("ColEvent")}, {Text: L.T("ColBy")}, {Text: L.T("ColDetail")}, {Text: L.T("ColHash")}}}
	names := map[string]string{}
	for _, e := range evs {
		by, ok := names[e.Actor]
		if !ok {
			by = e.Actor
			if u, err := h.cfg.Accounts.User(rq.ctx, e.Actor); err == nil {
				by = u.Name
			} else if e.Actor == nomination.SystemActor.UserID {
				by = L.T("ActorSystem")
			}
			names[e.Actor] = by
		}
		what := L.TOr("Event_"+e.Type, humanize(e.Type))
		if e.To != "" && e.To != e.From && e.From != "" {
			what = L.T("EventMoved", "Event", what, "From", rq.stateName(e.From), "To", rq.stateName(e.To))
		}
		var data map[string]any
		_ = json.Unmarshal(e.Data, &data)
		var detail []string
		for _, k := range []string{"action", "decision", "reason", "comment", "filename", "name"} {
			if s, ok := data[k].(string); ok && s != "" {
				switch k {
				case "action":
					s = rq.actionName(def, s)
				case "decision":
					s = rq.decisionName(s)
				}
				detail = append(detail, L.T("HistoryDetail", "Key", L.TOr("Detail_"+k, humanize(k)), "Value", s))
			}
		}
		if len(detail) == 0 {
			detail = []string{"–"}
		}
		hash := e.Hash
		if len(hash) > 12 {
			hash = hash[:12]
		}
		t.Rows = append(t.Rows, TableRow{Cells: []TableCell{Cell(strconv.Itoa(e.Seq)), Cell(rq.when(e.At)), Cell(what), Cell(by), {Lines: detail}, Cell(hash)}})
	}
	return t
}

// nextPath is the local page a form asks to come back to, or def.
func (rq *request) nextPath(def string) string {
	if p := localPath(rq.form("next")); p != "" && strings.HasPrefix(p, "/secretariat/") {
		return p
	}
	return def
}

func (h *Handler) staffAction(rq *request) {
	if !rq.parseForm() {
		return
	}
	L := rq.L
	id, action := rq.r.PathValue("id"), rq.r.PathValue("action")
	in := nomination.ActionInput{Reason: rq.form("reason"), Comment: rq.form("comment")}
	v, err := h.cfg.Nominations.Act(rq.ctx, rq.actor(), id, action, in)
	if err == nil {
		next := rq.nextPath("/secretariat/nominations/" + url.PathEscape(id))
		sep := "?"
		if strings.Contains(next, "?") {
			sep = "&"
		}
		rq.redirect(next + sep + "done=" + url.QueryEscape(action) + "&who=" + url.QueryEscape(v.Nomination.Nominee.Name))
		return
	}
	fe := newFormErrors(L)
	var de *nomination.Error
	if !errors.As(err, &de) || de.Code != nomination.EINVALID {
		rq.failWith(err)
		return
	}
	o, ok := h.loadStaffNomination(rq)
	if !ok {
		return
	}
	name := rq.actionName(o.def, action)
	for _, f := range de.Fields {
		switch f.Field {
		case workflow.InputReason, workflow.InputComment:
			fe.add(action+"-"+f.Field, L.T("RequiredActionInput", "Action", name, "Input", L.TOr("Detail_"+f.Field, humanize(f.Field))))
		default:
			fe.items = append(fe.items, ErrorItem{Href: "#action-" + action, Text: L.T("ActionNotPossible", "Action", name, "Reason", sayField(L, f))})
		}
	}
	if len(fe.items) == 0 {
		fe.items = append(fe.items, ErrorItem{Href: "#action-" + action, Text: L.T("ActionNotPossible", "Action", name, "Reason", sayError(L, de))})
	}
	h.renderStaffNomination(rq, o, http.StatusUnprocessableEntity, fe, action, rq.r.PostForm)
}

func (h *Handler) staffOverride(rq *request) {
	if !rq.parseForm() {
		return
	}
	L := rq.L
	id, action, reason := rq.r.PathValue("id"), rq.form("action"), rq.form("reason")
	fe := newFormErrors(L)
	if action == "" {
		fe.add("override-action", L.T("RequiredOverrideAction"))
	}
	if reason == "" {
		fe.add("override-reason", L.T("RequiredOverrideReason"))
	}
	if !fe.any() {
		_, err := h.cfg.Nominations.Override(rq.ctx, rq.actor(), id, action, reason)
		if err == nil {
			rq.redirect("/secretariat/nominations/" + url.PathEscape(id) + "?done=" + url.QueryEscape(action))
			return
		}
		if !fe.addDomain(err, field{"action", "override-action", L.T("LabelOverrideAction"), "RequiredOverrideAction"},
			field{"reason", "override-reason", L.T("LabelOverrideReason"), "RequiredOverrideReason"}) {
			rq.failWith(err)
			return
		}
	}
	o, ok := h.loadStaffNomination(rq)
	if !ok {
		return
	}
	h.renderStaffNomination(rq, o, http.StatusUnprocessableEntity, fe, "override", rq.r.PostForm)
}
