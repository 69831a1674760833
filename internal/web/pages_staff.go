package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/igf/nomina/internal/export"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/phrase"
)

func (h *Handler) staffRoutes() {
	h.staff("GET /secretariat", h.dashboard)
	h.staff("GET /secretariat/calls/new", h.callForm)
	h.staff("POST /secretariat/calls/new", h.callForm)
	h.staff("GET /secretariat/calls/{slug}", h.callForm)
	h.staff("POST /secretariat/calls/{slug}", h.callForm)
	h.staff("GET /secretariat/calls/{slug}/nominations", h.nominationsTable)
	h.staff("GET /secretariat/calls/{slug}/balance", h.balancePage)
	h.staff("POST /secretariat/calls/{slug}/shortlist", h.shortlistSuggestion)
	h.staff("GET /secretariat/calls/{slug}/export.csv", h.exportFile)
	h.staff("GET /secretariat/calls/{slug}/export.xlsx", h.exportFile)
	h.staff("GET /secretariat/calls/{slug}/export.json", h.exportFile)
	h.staff("GET /secretariat/nominations/{id}", h.staffNomination)
	h.staff("POST /secretariat/nominations/{id}/actions/{action}", h.staffAction)
	h.staff("POST /secretariat/nominations/{id}/override", h.staffOverride)
	h.staff("GET /secretariat/users", h.usersPage)
	h.staff("POST /secretariat/users", h.usersPage)
	h.staff("GET /secretariat/members", h.membersPage)
	h.staff("POST /secretariat/members/import", h.importMembers)
	h.staff("GET /secretariat/mail", h.mailPage)
	h.staff("POST /secretariat/mail/retry", h.retryMail)
}

// staffPage is the layout of a secretariat page.
func (rq *request) staffPage(title string) Page {
	p := rq.page(title)
	p.Nav, p.Wide = "secretariat", true
	return p
}

// callLinks are the pages of one call.
func callLinks(L *Localizer, slug string) []Link {
	base := "/secretariat/calls/" + url.PathEscape(slug)
	return []Link{
		{Href: base + "/nominations", Text: L.T("CallLinkNominations")},
		{Href: base + "/balance", Text: L.T("CallLinkBalance")},
		{Href: base, Text: L.T("CallLinkEdit")},
	}
}

// countedStates are the states the dashboard counts, in the order of a
// nomination's life.
var countedStates = []string{"draft", "submitted", "panel_review", "secretariat_review", "shortlisted", "appointed", "not_selected", "rejected", "withdrawn"}

type dashCall struct {
	Title, Href, Dates string
	Counts             []string
	Links              []Link
}

func (h *Handler) dashboard(rq *request) {
	L := rq.L
	a := rq.actor()
	calls, err := h.cfg.Nominations.ListCalls(rq.ctx, &a)
	if err != nil {
		rq.failWith(err)
		return
	}
	d := struct {
		Page
		Calls   []dashCall
		Action  []Link
		NewCall Button
	}{Page: rq.staffPage(L.T("DashboardTitle")), NewCall: Button{Text: L.T("CallNewButton"), Href: "/secretariat/calls/new", Secondary: true}}
	now := h.now()
	toScreen, overdue := 0, 0
	for _, c := range calls {
		counts, err := h.cfg.Nominations.StateCounts(rq.ctx, a, c.Slug)
		if err != nil {
			rq.failWith(err)
			return
		}
		dc := dashCall{Title: c.Title, Href: "/secretariat/calls/" + url.PathEscape(c.Slug) + "/nominations",
			Dates: L.T("CallDates", "Opens", rq.day(c.OpensAt), "Closes", rq.day(c.ClosesAt)), Links: callLinks(L, c.Slug)}
		states := slices.Clone(countedStates)
		for st := range counts {
			if !slices.Contains(states, st) {
				states = append(states, st)
			}
		}
		total := 0
		for _, st := range states {
			if counts[st] > 0 {
				dc.Counts = append(dc.Counts, L.T("StateCount", "State", rq.stateName(st), "Count", counts[st]))
				total += counts[st]
			}
		}
		if total == 0 {
			dc.Counts = []string{L.T("CallNoNominations")}
		}
		d.Calls = append(d.Calls, dc)
		if n := counts["submitted"]; n > 0 {
			toScreen += n
			d.Action = append(d.Action, Link{Href: dc.Href + "?state=submitted", Text: L.N("ActionScreen", n, "Call", c.Title)})
		}
		late, err := h.overdueReviews(rq, c.Slug, now)
		if err != nil {
			rq.failWith(err)
			return
		}
		if late > 0 {
			overdue += late
			d.Action = append(d.Action, Link{Href: dc.Href + "?state=panel_review&sort=submitted", Text: L.N("ActionOverdue", late, "Call", c.Title)})
		}
	}
	if h.cfg.Mail != nil {
		dead, err := h.cfg.Mail.MailLog(rq.ctx, "", nomination.MailDead, 500)
		if err != nil {
			rq.failWith(err)
			return
		}
		if len(dead) > 0 {
			d.Action = append(d.Action, Link{Href: "/secretariat/mail?status=dead", Text: L.N("ActionDeadMail", len(dead))})
		}
	}
	_ = toScreen
	_ = overdue
	rq.render(http.StatusOK, "dashboard", d)
}

// overdueReviews counts the nominations of a call whose review is past
// its due date.
func (h *Handler) overdueReviews(rq *request, slug string, now time.Time) (int, error) {
	n, cursor := 0, ""
	for range 50 {
		page, err := h.cfg.Nominations.List(rq.ctx, rq.actor(), nomination.ListQuery{Call: slug, State: "panel_review", Limit: nomination.MaxPageSize, Cursor: cursor})
		if err != nil {
			return 0, err
		}
		for _, v := range page.Items {
			if due := v.Nomination.StageDue; !due.IsZero() && due.Before(now) {
				n++
			}
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	return n, nil
}

// callFormValues are the call form's answers as typed.
type callFormValues struct {
	Slug, Title, Workflow, Opens, Closes, TermStart, Seats, Endorsements, Quota, TargetsKind, Targets string
}

const dateLayout = "2006-01-02"

func (h *Handler) callForm(rq *request) {
	L := rq.L
	slug := rq.r.PathValue("slug")
	isNew := slug == ""
	var call nomination.Call
	a := rq.actor()
	if !isNew {
		c, err := h.cfg.Nominations.GetCall(rq.ctx, &a, slug)
		if err != nil {
			rq.failWith(err)
			return
		}
		call = c
	}
	v := callFormValues{Seats: "40", Endorsements: "0", TargetsKind: "mag"}
	if !isNew {
		v = callFormValues{Slug: call.Slug, Title: call.Title, Workflow: call.Workflow, Opens: call.OpensAt.UTC().Format(dateLayout),
			Closes: call.ClosesAt.UTC().Format(dateLayout), Seats: strconv.Itoa(call.Seats), Endorsements: strconv.Itoa(call.RequiredEndorsements),
			TargetsKind: "none"}
		if !call.TermStart.IsZero() {
			v.TermStart = call.TermStart.UTC().Format(dateLayout)
		}
		if call.NominatorQuota > 0 {
			v.Quota = strconv.Itoa(call.NominatorQuota)
		}
		if len(call.Targets) > 0 && string(call.Targets) != "null" {
			v.TargetsKind, v.Targets = "custom", string(call.Targets)
		}
	}
	fe := newFormErrors(L)
	status := http.StatusOK
	if rq.r.Method == http.MethodPost {
		if !rq.parseForm() {
			return
		}
		v = callFormValues{Slug: rq.form("slug"), Title: rq.form("title"), Workflow: rq.form("workflow"), Opens: rq.form("opens_at"),
			Closes: rq.form("closes_at"), TermStart: rq.form("term_start"), Seats: rq.form("seats"), Endorsements: rq.form("required_endorsements"),
			Quota: rq.form("nominator_quota"), TargetsKind: rq.form("targets_kind"), Targets: rq.form("targets")}
		in := nomination.CallInput{Slug: v.Slug, Workflow: v.Workflow}
		if !isNew {
			in.Slug, in.Workflow = "", ""
		}
		in.Title = &v.Title
		date := func(id, s string, end bool, required bool) *time.Time {
			if s == "" {
				if required {
					fe.add(id, L.T("RequiredDate"))
				}
				return nil
			}
			t, err := time.Parse(dateLayout, s)
			if err != nil {
				fe.add(id, L.T("InvalidDate"))
				return nil
			}
			if end {
				t = t.Add(24*time.Hour - time.Second)
			}
			return &t
		}
		number := func(id, s string, required bool) *int {
			if s == "" {
				if required {
					fe.add(id, L.T("RequiredNumber"))
				}
				return nil
			}
			n, err := strconv.Atoi(s)
			if err != nil {
				fe.add(id, L.T("InvalidNumber"))
				return nil
			}
			return &n
		}
		if isNew && v.Slug == "" {
			fe.add("slug", L.T("RequiredSlug"))
		}
		if v.Title == "" {
			fe.add("title", L.T("RequiredTitle"))
		}
		if isNew && v.Workflow == "" {
			fe.add("workflow", L.T("RequiredWorkflow"))
		}
		in.OpensAt = date("opens_at", v.Opens, false, true)
		in.ClosesAt = date("closes_at", v.Closes, true, true)
		in.TermStart = date("term_start", v.TermStart, false, false)
		in.Seats = number("seats", v.Seats, true)
		in.RequiredEndorsements = number("required_endorsements", v.Endorsements, false)
		if q := number("nominator_quota", v.Quota, false); q != nil {
			in.NominatorQuota = q
		} else if !isNew && v.Quota == "" {
			zero := 0
			in.NominatorQuota = &zero
		}
		switch v.TargetsKind {
		case "mag":
			raw, _ := json.Marshal(export.MAGTargets(10).WithEconomicGroups(10))
			in.Targets = raw
		case "custom":
			if strings.TrimSpace(v.Targets) == "" {
				fe.add("targets", L.T("RequiredTargets"))
			} else {
				in.Targets = json.RawMessage(v.Targets)
			}
		case "none":
			if !isNew {
				in.Targets = json.RawMessage(`{}`)
			}
		default:
			fe.add("targets_kind", L.T("RequiredChoice", "Label", L.T("LabelTargets")))
		}
		if rq.switched {
			fe = newFormErrors(L)
		}
		if !fe.any() && !rq.switched {
			var c nomination.Call
			var err error
			if isNew {
				c, err = h.cfg.Nominations.CreateCall(rq.ctx, a, in)
			} else {
				c, err = h.cfg.Nominations.UpdateCall(rq.ctx, a, slug, in)
			}
			if err == nil {
				rq.redirect("/secretariat/calls/" + url.PathEscape(c.Slug) + "/nominations?saved=1")
				return
			}
			fields := []field{
				{"slug", "slug", L.T("LabelSlug"), "RequiredSlug"},
				{"workflow", "workflow", L.T("LabelWorkflow"), "RequiredWorkflow"},
				{"title", "title", L.T("LabelCallTitle"), "RequiredTitle"},
				{"opens_at", "opens_at", L.T("LabelOpens"), "RequiredDate"},
				{"closes_at", "closes_at", L.T("LabelCloses"), "RequiredDate"},
				{"term_start", "term_start", L.T("LabelTermStart"), "RequiredDate"},
				{"seats", "seats", L.T("LabelSeats"), "RequiredNumber"},
				{"required_endorsements", "required_endorsements", L.T("LabelRequiredEndorsements"), ""},
				{"nominator_quota", "nominator_quota", L.T("LabelQuota"), ""},
				{"targets", "targets", L.T("LabelTargets"), "RequiredTargets"},
			}
			if !isNew {
				fields = fields[2:]
			}
			if !fe.addDomain(targetsAsOne(err), fields...) {
				rq.failWith(err)
				return
			}
		}
		status = http.StatusUnprocessableEntity
	}
	title := L.T("CallNewTitle")
	if !isNew {
		title = L.T("CallEditTitle", "Title", call.Title)
	}
	d := struct {
		Page
		Heading, Action string
		IsNew           bool
		Inputs          []Input
		Workflow        Select
		Targets         Radios
		TargetsJSON     Textarea
		Submit          Button
		Links           []Link
	}{Page: rq.staffPage(title), Heading: title, Action: rq.r.URL.Path, IsNew: isNew, Submit: Button{Text: L.T("CallSaveButton")}}
	d.Back = &Link{Href: "/secretariat", Text: L.T("BackToDashboard")}
	d.Errors = fe.summary()
	if !isNew {
		d.Links = callLinks(L, call.Slug)[:2]
	}
	if isNew {
		d.Inputs = append(d.Inputs, Input{L: L, ID: "slug", Name: "slug", Label: L.T("LabelSlug"), Hint: L.T("HintSlug"), Value: v.Slug, Error: fe.get("slug"), Width: "20", NoSpellcheck: true, Autocomplete: "off"})
		d.Workflow = Select{L: L, ID: "workflow", Name: "workflow", Label: L.T("LabelWorkflow"), Error: fe.get("workflow")}
		d.Workflow.Options = append(d.Workflow.Options, Option{Value: "", Label: L.T("SelectPrompt")})
		for _, w := range h.cfg.Workflows.All() {
			d.Workflow.Options = append(d.Workflow.Options, Option{Value: w.ID, Label: w.In(L.Lang).Title, Selected: w.ID == v.Workflow})
		}
	}
	d.Inputs = append(d.Inputs,
		Input{L: L, ID: "title", Name: "title", Label: L.T("LabelCallTitle"), Value: v.Title, Error: fe.get("title"), Autocomplete: "off"},
		Input{L: L, ID: "opens_at", Name: "opens_at", Type: "date", Label: L.T("LabelOpens"), Hint: L.T("HintOpens"), Value: v.Opens, Error: fe.get("opens_at"), Width: "10"},
		Input{L: L, ID: "closes_at", Name: "closes_at", Type: "date", Label: L.T("LabelCloses"), Hint: L.T("HintCloses"), Value: v.Closes, Error: fe.get("closes_at"), Width: "10"},
		Input{L: L, ID: "term_start", Name: "term_start", Type: "date", Label: L.T("LabelTermStart"), Hint: L.T("HintTermStart"), Value: v.TermStart, Error: fe.get("term_start"), Width: "10", Optional: true},
		Input{L: L, ID: "seats", Name: "seats", Label: L.T("LabelSeats"), Value: v.Seats, Error: fe.get("seats"), Width: "5", InputMode: "numeric"},
		Input{L: L, ID: "required_endorsements", Name: "required_endorsements", Label: L.T("LabelRequiredEndorsements"), Hint: L.T("HintRequiredEndorsements"), Value: v.Endorsements, Error: fe.get("required_endorsements"), Width: "5", InputMode: "numeric", Optional: true},
		Input{L: L, ID: "nominator_quota", Name: "nominator_quota", Label: L.T("LabelQuota"), Hint: L.T("HintQuota"), Value: v.Quota, Error: fe.get("nominator_quota"), Width: "5", InputMode: "numeric", Optional: true},
	)
	d.Targets = Radios{L: L, Name: "targets_kind", Legend: L.T("LabelTargets"), Error: fe.get("targets_kind"), Items: []Choice{
		{ID: "targets_kind", Value: "mag", Label: L.T("TargetsMAG"), Hint: L.T("TargetsMAGHint"), Checked: v.TargetsKind == "mag"},
		{ID: "targets_kind-2", Value: "custom", Label: L.T("TargetsCustom"), Checked: v.TargetsKind == "custom"},
		{ID: "targets_kind-3", Value: "none", Label: L.T("TargetsNone"), Checked: v.TargetsKind == "none"},
	}}
	d.TargetsJSON = Textarea{L: L, ID: "targets", Name: "targets", Label: L.T("LabelTargetsJSON"), Hint: L.T("HintTargetsJSON"), Value: v.Targets, Error: fe.get("targets"), Optional: true, Rows: 8}
	d.SwitchForm = true
	rq.render(status, "call-form", d)
}

// targetsAsOne names every problem of the targets' parts
// ("targets.rules[0].field") as a problem of the targets, the one field
// the form has for them.
func targetsAsOne(err error) error {
	de, ok := err.(*nomination.Error)
	if !ok {
		return err
	}
	cp := *de
	cp.Fields = nil
	for _, f := range de.Fields {
		if strings.HasPrefix(f.Field, "targets.") {
			path := strings.TrimPrefix(f.Field, "targets.")
			f.Text = phrase.Join(": ", phrase.Plain(path), f.Text)
			f.Message, f.Field = f.Text.English, "targets"
		}
		cp.Fields = append(cp.Fields, f)
	}
	return &cp
}
