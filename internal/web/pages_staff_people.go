package web

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/membership"
	"github.com/igf/nomina/internal/nomination"
)

// allPanels lists the panels of every loaded workflow.
func (h *Handler) allPanels() []string {
	var out []string
	for _, d := range h.cfg.Workflows.All() {
		for _, p := range d.Panels {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out
}

// grantable are the roles the reader may give: an admin any, the
// secretariat candidates and reviewers (the domain checks it again).
func (rq *request) grantable() []auth.Role {
	if rq.user.HasRole(auth.RoleAdmin) {
		return []auth.Role{auth.RoleReviewer, auth.RoleSecretariat, auth.RoleCandidate}
	}
	return []auth.Role{auth.RoleReviewer, auth.RoleCandidate}
}

type userForm struct {
	Name, Email, Organization, User string
	Roles, Panels                   []string
}

func (h *Handler) usersPage(rq *request) {
	L := rq.L
	fe := newFormErrors(L)
	status := http.StatusOK
	var f userForm
	op := ""
	if rq.r.Method == http.MethodPost {
		if !rq.parseForm() {
			return
		}
		op = rq.form("op")
		f = userForm{Name: rq.form("name"), Email: rq.form("email"), Organization: rq.form("organization"), User: rq.form("user"),
			Roles: rq.r.PostForm["roles"], Panels: rq.r.PostForm["panels"]}
		roles := make([]auth.Role, 0, len(f.Roles))
		for _, r := range f.Roles {
			roles = append(roles, auth.Role(r))
		}
		switch op {
		case "invite":
			if f.Name == "" {
				fe.add("name", L.T("RequiredFullName"))
			}
			if f.Email == "" {
				fe.add("email", L.T("RequiredEmail"))
			}
			if len(roles) == 0 {
				fe.add("roles", L.T("RequiredRoles"))
			}
			if !fe.any() {
				u, err := h.cfg.Accounts.CreateUser(rq.ctx, rq.user, auth.NewUser{Email: f.Email, Name: f.Name, Organization: f.Organization, Roles: roles, Panels: f.Panels})
				if err == nil {
					rq.redirect("/secretariat/users?invited=" + url.QueryEscape(u.Email))
					return
				}
				if !fe.addDomain(err, field{"name", "name", L.T("LabelFullName"), "RequiredFullName"}, field{"email", "email", L.T("LabelEmail"), "RequiredEmail"},
					field{"organization", "organization", L.T("LabelOrganization"), ""}, field{"roles", "roles", L.T("LabelRoles"), "RequiredRoles"},
					field{"panels", "panels", L.T("LabelPanels"), ""}) {
					if nomination.ErrorCode(err) == nomination.EFORBIDDEN {
						fe.add("roles", L.T("RoleNotYours"))
					} else {
						rq.failWith(err)
						return
					}
				}
			}
		case "update":
			if f.User == "" {
				fe.add("user", L.T("RequiredUser"))
			}
			if !fe.any() {
				_, err := h.cfg.Accounts.UpdateUser(rq.ctx, rq.user, f.User, auth.UserPatch{Roles: &roles, Panels: &f.Panels})
				if err == nil {
					rq.redirect("/secretariat/users?updated=1")
					return
				}
				if !fe.addDomain(err, field{"roles", "update-roles", L.T("LabelRoles"), "RequiredRoles"}, field{"panels", "update-panels", L.T("LabelPanels"), ""}) {
					if nomination.ErrorCode(err) == nomination.EFORBIDDEN {
						fe.add("update-roles", L.T("RoleNotYours"))
					} else {
						rq.failWith(err)
						return
					}
				}
			}
		default:
			rq.fail(http.StatusBadRequest, "ErrorBadRequestTitle", "ErrorBadRequestBody")
			return
		}
		status = http.StatusUnprocessableEntity
	}
	users, err := h.cfg.Accounts.ListUsers(rq.ctx, rq.user, auth.UserQuery{Limit: auth.MaxPageSize, Cursor: rq.r.URL.Query().Get("cursor")})
	if err != nil {
		rq.failWith(err)
		return
	}
	d := struct {
		Page
		Users                     Table
		Pages                     Pagination
		Name, Email, Organization Input
		Roles, Panels             Checkboxes
		Invite, Update            Button
		Person                    Select
		UpdateRoles, UpdatePanels Checkboxes
	}{Page: rq.staffPage(L.T("UsersTitle")), Pages: Pagination{L: L}}
	d.Back = &Link{Href: "/secretariat", Text: L.T("BackToDashboard")}
	d.Errors = fe.summary()
	if users.NextCursor != "" {
		d.Pages.Next = "/secretariat/users?cursor=" + url.QueryEscape(users.NextCursor)
	}
	q := rq.r.URL.Query()
	if e := q.Get("invited"); e != "" {
		d.Banner = &Banner{Title: L.T("BannerSuccess"), Heading: L.T("UserInvited", "Email", e), Success: true}
	} else if q.Get("updated") != "" {
		d.Banner = &Banner{Title: L.T("BannerSuccess"), Heading: L.T("UserUpdated"), Success: true}
	}
	roleName := func(r auth.Role) string { return L.TOr("Role_"+string(r), humanize(string(r))) }
	panelName := func(p string) string { return L.TOr("Panel_"+p, humanize(p)) }
	d.Users = Table{L: L, ID: "users", Caption: L.T("UsersCaption"), RowHeader: true, Head: []TableHeader{
		{Text: L.T("ColName")}, {Text: L.T("LabelEmail")}, {Text: L.T("LabelRoles")}, {Text: L.T("LabelPanels")}, {Text: L.T("ColStatus")}}}
	d.Person = Select{L: L, ID: "user", Name: "user", Label: L.T("LabelUser"), Error: fe.get("user"), Options: []Option{{Value: "", Label: L.T("SelectPrompt")}}}
	for _, u := range users.Items {
		var rs, ps []string
		for _, r := range u.Roles {
			rs = append(rs, roleName(r))
		}
		for _, p := range u.Panels {
			ps = append(ps, panelName(p))
		}
		st := Tag{Text: L.T("UserActive"), Colour: "green"}
		if u.Disabled {
			st = Tag{Text: L.T("UserDisabled"), Colour: "grey"}
		} else if u.PasswordHash == "" {
			st = Tag{Text: L.T("UserInvitedTag"), Colour: "yellow"}
		}
		d.Users.Rows = append(d.Users.Rows, TableRow{Cells: []TableCell{Cell(u.Name), Cell(u.Email), Cell(orDefault(strings.Join(rs, ", "), "–")),
			Cell(orDefault(strings.Join(ps, ", "), "–")), {Tag: &st}}})
		d.Person.Options = append(d.Person.Options, Option{Value: u.ID, Label: L.T("UserOption", "Name", u.Name, "Email", u.Email), Selected: u.ID == f.User})
	}
	roles := func(name, id string, checked []string, errMsg string) Checkboxes {
		c := Checkboxes{L: L, Name: name, Legend: L.T("LabelRoles"), Error: errMsg}
		for i, r := range rq.grantable() {
			cid := id
			if i > 0 {
				cid += "-" + strconv.Itoa(i+1)
			}
			c.Items = append(c.Items, Choice{ID: cid, Value: string(r), Label: roleName(r), Checked: slices.Contains(checked, string(r))})
		}
		return c
	}
	panels := func(name, id string, checked []string) Checkboxes {
		c := Checkboxes{L: L, Name: name, Legend: L.T("LabelPanels"), Hint: L.T("HintPanels"), Optional: true}
		for i, p := range h.allPanels() {
			cid := id
			if i > 0 {
				cid += "-" + strconv.Itoa(i+1)
			}
			c.Items = append(c.Items, Choice{ID: cid, Value: p, Label: panelName(p), Checked: slices.Contains(checked, p)})
		}
		return c
	}
	invite, update := f, userForm{}
	if op == "update" {
		invite, update = userForm{}, f
	}
	d.Name = Input{L: L, ID: "name", Name: "name", Label: L.T("LabelFullName"), Value: invite.Name, Error: fe.get("name"), Autocomplete: "off"}
	d.Email = Input{L: L, ID: "email", Name: "email", Type: "email", Label: L.T("LabelEmail"), Value: invite.Email, Error: fe.get("email"), Autocomplete: "off", NoSpellcheck: true}
	d.Organization = Input{L: L, ID: "organization", Name: "organization", Label: L.T("LabelOrganization"), Value: invite.Organization, Optional: true, Autocomplete: "off"}
	d.Roles = roles("roles", "roles", invite.Roles, fe.get("roles"))
	d.Panels = panels("panels", "panels", invite.Panels)
	d.UpdateRoles = roles("roles", "update-roles", update.Roles, fe.get("update-roles"))
	d.UpdatePanels = panels("panels", "update-panels", update.Panels)
	d.Invite = Button{Text: L.T("InviteButton"), Name: "op", Value: "invite"}
	d.Update = Button{Text: L.T("UpdateUserButton"), Name: "op", Value: "update", Secondary: true}
	rq.render(status, "users", d)
}

func (h *Handler) membersPage(rq *request) {
	h.renderMembers(rq, http.StatusOK, nil, nil, "")
}

// renderMembers shows the roster of a body on a day, its rotation plan,
// and the import form; report is an import's outcome (or dry run), csv
// the checked file to confirm.
func (h *Handler) renderMembers(rq *request, status int, fe *formErrors, report *membership.ImportReport, csv string) {
	L := rq.L
	if h.cfg.Members == nil {
		rq.fail(http.StatusServiceUnavailable, "ErrorUnavailableTitle", "ErrorUnavailableBody")
		return
	}
	q := rq.r.URL.Query()
	bodies := h.cfg.Members.Bodies()
	body := q.Get("body")
	if rq.r.Method == http.MethodPost {
		body = rq.form("body")
	}
	if body == "" && len(bodies) > 0 {
		body = bodies[0].ID
	}
	on := h.now().UTC().Truncate(24 * time.Hour)
	if s := q.Get("on"); s != "" {
		t, err := time.Parse(dateLayout, s)
		if err != nil {
			rq.fail(http.StatusBadRequest, "ErrorBadRequestTitle", "InvalidDate")
			return
		}
		on = t
	}
	d := struct {
		Page
		Body, ImportBody        Select
		On                      Input
		Show                    Button
		Roster                  Table
		RosterCount             string
		Plan                    []SummaryRow
		PlanList                SummaryList
		Action                  string
		File                    FileUpload
		Check                   Button
		Report                  *SummaryList
		Problems                Table
		DryRun                  bool
		ConfirmCSV, ConfirmBody string
		Confirm                 Button
	}{Page: rq.staffPage(L.T("MembersTitle")), Action: "/secretariat/members/import"}
	d.Back = &Link{Href: "/secretariat", Text: L.T("BackToDashboard")}
	d.Errors = fe.summary()
	if n := q.Get("imported"); n != "" && report == nil {
		d.Banner = &Banner{Title: L.T("BannerSuccess"), Heading: L.T("ImportDoneBanner", "Count", n), Success: true}
	}
	d.Body = Select{L: L, ID: "body", Name: "body", Label: L.T("LabelBody")}
	for _, b := range bodies {
		d.Body.Options = append(d.Body.Options, Option{Value: b.ID, Label: L.TOr("Body_"+b.ID, b.Title), Selected: b.ID == body})
	}
	d.ImportBody = d.Body
	d.ImportBody.ID = "import-body"
	d.On = Input{L: L, ID: "on", Name: "on", Type: "date", Label: L.T("LabelOn"), Value: on.Format(dateLayout), Width: "10"}
	d.Show = Button{Text: L.T("MembersShow"), Secondary: true}
	roster, err := h.cfg.Members.Roster(rq.ctx, rq.actor(), body, on)
	if err != nil {
		rq.failWith(err)
		return
	}
	d.Roster = Table{L: L, ID: "roster", Caption: L.T("RosterCaption", "Date", rq.day(on)), RowHeader: true, Head: []TableHeader{
		{Text: L.T("ColName")}, {Text: L.T("ColGroup")}, {Text: L.T("ColRegion")}, {Text: L.T("ColGender")}, {Text: L.T("ColTerm")}, {Text: L.T("ColConsecutive"), Numeric: true}}}
	for _, e := range roster {
		d.Roster.Rows = append(d.Roster.Rows, TableRow{Cells: []TableCell{{Lines: []string{e.Name, e.Organization}}, Cell(L.TOr("Choice_stakeholder_group_"+e.StakeholderGroup, humanize(e.StakeholderGroup))),
			Cell(L.TOr("Choice_region_"+e.Region, humanize(e.Region))), Cell(L.TOr("Choice_gender_"+e.Gender, humanize(e.Gender))),
			Cell(L.T("TermDates", "Start", rq.day(e.TermStart), "End", rq.day(e.TermEnd))), Cell(strconv.Itoa(e.ConsecutiveTerms))}})
	}
	d.RosterCount = L.N("RosterCount", len(roster), "Date", rq.day(on))
	plan, err := h.cfg.Members.RotationPlan(rq.ctx, rq.actor(), body, on.Year())
	if err != nil {
		rq.failWith(err)
		return
	}
	names := func(es []membership.PlanEntry) []string {
		if len(es) == 0 {
			return []string{L.T("PlanNobody")}
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Name)
		}
		return out
	}
	d.PlanList = SummaryList{L: L, Rows: []SummaryRow{
		{ID: "plan-continuing", Key: L.N("PlanContinuing", len(plan.Continuing)), Value: names(plan.Continuing)},
		{ID: "plan-joining", Key: L.N("PlanJoining", len(plan.Joining)), Value: names(plan.Joining)},
		{ID: "plan-ending", Key: L.N("PlanEnding", len(plan.Ending)), Value: names(plan.Ending)},
		{ID: "plan-limit", Key: L.N("PlanLimit", len(plan.LimitReached)), Value: names(plan.LimitReached)},
	}}
	d.File = FileUpload{L: L, ID: "file", Name: "file", Label: L.T("LabelImportFile"), Hint: L.T("HintImportFile", "Columns", strings.Join(membership.ImportColumns, ", ")), Error: fe.get("file"), Accept: ".csv,text/csv"}
	d.Check = Button{Text: L.T("ImportCheckButton")}
	if report != nil {
		list := SummaryList{L: L, Rows: []SummaryRow{
			{ID: "import-rows", Key: L.T("ImportRows"), Value: []string{strconv.Itoa(report.Rows)}},
			{ID: "import-good", Key: L.T("ImportGood"), Value: []string{strconv.Itoa(report.Good)}},
			{ID: "import-existing", Key: L.T("ImportExisting"), Value: []string{strconv.Itoa(report.Existing)}},
			{ID: "import-bad", Key: L.T("ImportBad"), Value: []string{strconv.Itoa(report.Bad)}},
		}}
		if !report.DryRun {
			list.Rows = append(list.Rows, SummaryRow{ID: "import-stored", Key: L.T("ImportStored"), Value: []string{strconv.Itoa(report.Stored)}})
		} else {
			list.Rows = append(list.Rows, SummaryRow{ID: "import-would", Key: L.T("ImportWouldStore"), Value: []string{strconv.Itoa(report.Good - report.Existing)}})
		}
		d.Report = &list
		d.Problems = Table{L: L, ID: "import-problems", Caption: L.T("ImportProblemsCaption"), Head: []TableHeader{{Text: L.T("ColLine"), Numeric: true}, {Text: L.T("LabelEmail")}, {Text: L.T("ColProblem")}}}
		for _, e := range report.Errors {
			var ps []string
			for _, p := range e.Problems {
				ps = append(ps, L.T("FieldProblem", "Label", p.Field, "Message", sayField(L, p)))
			}
			d.Problems.Rows = append(d.Problems.Rows, TableRow{Cells: []TableCell{Cell(strconv.Itoa(e.Line)), Cell(orDefault(e.Email, "–")), {Lines: ps}}})
		}
		d.DryRun = report.DryRun
		if report.DryRun && report.Bad == 0 && report.Good > report.Existing {
			d.ConfirmCSV, d.ConfirmBody = csv, body
			d.Confirm = Button{Text: L.N("ImportConfirmButton", report.Good-report.Existing)}
		}
	}
	rq.render(status, "members", d)
}

// importMembers checks an import file (a dry run that stores nothing and
// shows what would change) and, confirmed, imports it: strictly, so a
// file with any bad row stores nothing.
func (h *Handler) importMembers(rq *request) {
	L := rq.L
	if h.cfg.Members == nil {
		rq.fail(http.StatusServiceUnavailable, "ErrorUnavailableTitle", "ErrorUnavailableBody")
		return
	}
	var data []byte
	confirm := false
	if strings.HasPrefix(rq.r.Header.Get("Content-Type"), "multipart/form-data") {
		rq.r.Body = http.MaxBytesReader(rq.w, rq.r.Body, h.cfg.MaxUploadBytes)
		if err := rq.r.ParseMultipartForm(1 << 20); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				rq.fail(http.StatusRequestEntityTooLarge, "ErrorTooLargeTitle", "ErrorTooLargeBody")
				return
			}
			rq.fail(http.StatusBadRequest, "ErrorBadRequestTitle", "ErrorBadRequestBody")
			return
		}
		defer rq.r.MultipartForm.RemoveAll()
		if f, _, err := rq.r.FormFile("file"); err == nil {
			data, _ = io.ReadAll(f)
			_ = f.Close()
		}
	} else {
		if !rq.parseForm() {
			return
		}
		if b, err := base64.StdEncoding.DecodeString(rq.form("csv")); err == nil {
			data = b
		}
		confirm = rq.form("confirm") == "yes"
	}
	fe := newFormErrors(L)
	if len(bytes.TrimSpace(data)) == 0 {
		fe.add("file", L.T("RequiredImportFile"))
		h.renderMembers(rq, http.StatusUnprocessableEntity, fe, nil, "")
		return
	}
	body := rq.form("body")
	rep, err := h.cfg.Members.Import(rq.ctx, rq.actor(), bytes.NewReader(data), membership.ImportOptions{DryRun: !confirm, Mode: membership.ImportStrict, Body: body})
	if err != nil {
		if nomination.ErrorCode(err) == nomination.EINVALID {
			var de *nomination.Error
			errors.As(err, &de)
			fe.add("file", L.T("ImportFileProblem", "Problem", sayError(L, de)))
			h.renderMembers(rq, http.StatusUnprocessableEntity, fe, nil, "")
			return
		}
		rq.failWith(err)
		return
	}
	if confirm && rep.Bad == 0 {
		rq.redirect("/secretariat/members?body=" + url.QueryEscape(body) + "&imported=" + strconv.Itoa(rep.Stored))
		return
	}
	status := http.StatusOK
	if rep.Bad > 0 {
		status = http.StatusUnprocessableEntity
		fe.items = append(fe.items, ErrorItem{Href: "#import-problems", Text: L.N("ImportBadRows", rep.Bad)})
	}
	h.renderMembers(rq, status, fe, &rep, base64.StdEncoding.EncodeToString(data))
}

func (h *Handler) mailPage(rq *request) {
	L := rq.L
	if h.cfg.Mail == nil {
		rq.fail(http.StatusServiceUnavailable, "ErrorUnavailableTitle", "ErrorUnavailableBody")
		return
	}
	status := rq.r.URL.Query().Get("status")
	switch status {
	case "", nomination.MailQueued, nomination.MailSent, nomination.MailDead:
	default:
		rq.notFound()
		return
	}
	recs, err := h.cfg.Mail.MailLog(rq.ctx, "", status, 200)
	if err != nil {
		rq.failWith(err)
		return
	}
	d := struct {
		Page
		Filter Select
		Show   Button
		Table  Table
		Count  string
	}{Page: rq.staffPage(L.T("MailTitle"))}
	d.Back = &Link{Href: "/secretariat", Text: L.T("BackToDashboard")}
	if rq.r.URL.Query().Get("retried") != "" {
		d.Banner = &Banner{Title: L.T("BannerSuccess"), Heading: L.T("MailRetried"), Success: true}
	}
	d.Filter = Select{L: L, ID: "status", Name: "status", Label: L.T("LabelMailStatus"), Options: []Option{
		{Value: "", Label: L.T("FilterAny"), Selected: status == ""},
		{Value: nomination.MailQueued, Label: L.T("MailQueued"), Selected: status == nomination.MailQueued},
		{Value: nomination.MailSent, Label: L.T("MailSent"), Selected: status == nomination.MailSent},
		{Value: nomination.MailDead, Label: L.T("MailDead"), Selected: status == nomination.MailDead},
	}}
	d.Show = Button{Text: L.T("FilterApply"), Secondary: true}
	d.Table = Table{L: L, ID: "mail", Caption: L.T("MailCaption"), Head: []TableHeader{{Text: L.T("ColWhen")}, {Text: L.T("ColTo")}, {Text: L.T("ColTemplate")},
		{Text: L.T("ColStatus")}, {Text: L.T("ColAttempts"), Numeric: true}, {Text: L.T("ColProblem")}, {Text: L.T("ColRetry")}}}
	for _, r := range recs {
		st := map[string]Tag{nomination.MailQueued: {Text: L.T("MailQueued")}, nomination.MailSent: {Text: L.T("MailSent"), Colour: "green"},
			nomination.MailDead: {Text: L.T("MailDead"), Colour: "red"}}[r.Status]
		retry := TableCell{Lines: []string{"–"}}
		if r.Status == nomination.MailDead {
			retry = TableCell{Forms: []RowForm{{Action: "/secretariat/mail/retry", Name: "id", Value: r.Job.ID, Button: Button{Text: L.T("MailRetryButton"), Secondary: true, Context: r.Job.To}}}}
		}
		d.Table.Rows = append(d.Table.Rows, TableRow{Cells: []TableCell{Cell(rq.when(r.Job.CreatedAt)), {Lines: []string{r.Job.To}}, Cell(L.TOr("Template_"+r.Job.Template, humanize(r.Job.Template))),
			{Tag: &st}, Cell(strconv.Itoa(r.Attempts)), Cell(orDefault(r.LastError, "–")), retry}})
	}
	d.Count = L.N("MailCount", len(recs))
	rq.render(http.StatusOK, "mail", d)
}

func (h *Handler) retryMail(rq *request) {
	if !rq.parseForm() {
		return
	}
	if h.cfg.Mail == nil {
		rq.fail(http.StatusServiceUnavailable, "ErrorUnavailableTitle", "ErrorUnavailableBody")
		return
	}
	id := rq.form("id")
	if id == "" || len(id) > 512 {
		rq.fail(http.StatusBadRequest, "ErrorBadRequestTitle", "ErrorBadRequestBody")
		return
	}
	if err := h.cfg.Mail.RetryDead(rq.ctx, id, h.now()); err != nil {
		rq.failWith(err)
		return
	}
	rq.redirect("/secretariat/mail?retried=1")
}
