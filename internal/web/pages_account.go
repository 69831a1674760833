package web

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/locale"
	"github.com/igf/nomina/internal/nomination"
)

// register lists every page; the order is the route table's.
func (h *Handler) register() {
	// The forms the language switch may submit: each page shows the
	// values posted again, in the language chosen, without acting.
	h.switchable = map[string]bool{}
	for _, p := range []string{"POST /calls/{slug}/nominations", "POST /signup", "POST /signin", "POST /forgot-password",
		"POST /account", "POST /endorse/{token}", "POST /nominations/{id}/details", "POST /nominations/{id}/endorsements",
		"POST /review/{id}/vote", "POST /secretariat/calls/new", "POST /secretariat/calls/{slug}"} {
		h.switchable[p] = true
	}
	h.handle("GET /assets/{name}", func(rq *request) {
		if !h.assets.serve(rq.w, rq.r) {
			rq.notFound()
		}
	})
	h.handle("GET /{$}", h.home)
	h.handle("GET /calls/{slug}", h.callPage)
	h.private("POST /calls/{slug}/nominations", h.startNomination)
	h.handle("GET /signup", h.signUp)
	h.handle("POST /signup", h.signUp)
	h.handle("GET /signup/check-email", h.signUpSent)
	h.handle("GET /signin", h.signIn)
	h.handle("POST /signin", h.signIn)
	h.handle("POST /signout", h.signOut)
	h.handle("GET /forgot-password", h.forgotPassword)
	h.handle("POST /forgot-password", h.forgotPassword)
	h.handle("GET /reset-password/{token}", h.newPassword)
	h.handle("POST /reset-password/{token}", h.newPassword)
	h.handle("GET /set-password/{token}", h.newPassword)
	h.handle("POST /set-password/{token}", h.newPassword)
	h.handle("GET /confirm-email/{token}", h.confirmEmail)
	h.handle("POST /confirm-email/{token}", h.confirmEmail)
	h.private("GET /account", h.account)
	h.private("POST /account", h.account)
	h.private("GET /account/confirm-email", h.confirmationStatus)
	h.private("POST /account/confirm-email", h.resendConfirmation)
	h.handle("POST /character-count", h.characterCount)
	h.nominationRoutes()
	h.linkRoutes()
	h.reviewRoutes()
	h.staffRoutes()
	h.setupRoutes()
}

// page returns the layout data of a page titled title.
func (rq *request) page(title string) Page {
	p := Page{L: rq.L, Title: title}
	for _, l := range locale.Languages {
		p.Languages = append(p.Languages, LangLink{Lang: l, Name: locale.Name(l), Dir: locale.Dir(l), Href: withLang(rq.r.URL, l), Current: l == rq.L.Lang})
	}
	if u := rq.user; u != nil {
		p.User = &UserView{Name: u.Name, Reviewer: u.HasRole(auth.RoleReviewer), Staff: rq.actor().IsStaff()}
	}
	return p
}

// addressNotice returns the notice that asks a signed-in person whose
// address is not confirmed to confirm it, saying why (a message id: what
// waits on it here), or nil. Pages where it matters show it: the list of
// nominations, a draft's task list, the call, endorsements, the account.
func (rq *request) addressNotice(why string) *ConfirmNotice {
	u := rq.user
	if u == nil || u.EmailConfirmed {
		return nil
	}
	next := rq.r.URL.Path
	if rq.r.Method == http.MethodGet {
		next = rq.r.URL.RequestURI()
	}
	return &ConfirmNotice{L: rq.L, Email: u.Email, Why: rq.L.T(why), Next: localPath(next),
		Button: Button{Text: rq.L.T("ConfirmSendAgain"), Secondary: true}}
}

// when writes a time for the reader, in UTC, as their language writes
// it ("31 mars 2026 à 23:59 UTC").
func (rq *request) when(t time.Time) string { return rq.L.DateTime(t) }

// isoTime is t for machines (a <time> element's datetime, app.js).
func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// day writes a date for the reader.
func (rq *request) day(t time.Time) string { return rq.L.Date(t) }

func (h *Handler) now() time.Time { return h.cfg.Now() }

type callItem struct {
	Title, Href, Dates, Description, ClosesISO string
	Start                                      Button
}

func (h *Handler) home(rq *request) {
	calls, err := h.cfg.Nominations.ListCalls(rq.ctx, nil)
	if err != nil {
		rq.failWith(err)
		return
	}
	now := h.now()
	data := struct {
		Page
		Calls []callItem
	}{Page: rq.page(rq.L.T("HomeTitle"))}
	for _, c := range calls {
		if !c.IsOpen(now) {
			continue
		}
		item := callItem{
			Title: c.Title, Href: "/calls/" + url.PathEscape(c.Slug),
			Dates: rq.L.T("CallDates", "Opens", rq.day(c.OpensAt), "Closes", rq.when(c.ClosesAt)), ClosesISO: isoTime(c.ClosesAt),
			Start: Button{Text: rq.L.T("HomeStart"), Href: "/calls/" + url.PathEscape(c.Slug) + "#start"},
		}
		if def, ok := h.cfg.Workflows.Latest(c.Workflow); ok {
			item.Description = strings.TrimSpace(def.In(rq.L.Lang).Description)
		}
		data.Calls = append(data.Calls, item)
	}
	rq.render(http.StatusOK, "home", data)
}

type callPageData struct {
	Page
	Call          struct{ Title, Description string }
	Facts         SummaryList
	Groups, Steps []string
	// Rules say who may take part when the call's workflow limits it
	// (its start rules and quota), in the workflow's words.
	Rules          []string
	Open           bool
	Action         string
	ClosesISO      string
	Who            Radios
	NomineeName    Input
	NomineeEmail   Input
	Submit, SignUp Button
	SignInHref     string
}

func (h *Handler) callPage(rq *request) {
	h.renderCall(rq, http.StatusOK, nil, "", "", "")
}

// renderCall shows the call page, with the start form's values and errors
// after a failed start.
func (h *Handler) renderCall(rq *request, status int, fe *formErrors, who, name, email string) {
	slug := rq.r.PathValue("slug")
	c, err := h.cfg.Nominations.GetCall(rq.ctx, nil, slug)
	if err != nil {
		rq.failWith(err)
		return
	}
	L := rq.L
	d := callPageData{Page: rq.page(c.Title), Open: c.IsOpen(h.now()), Action: "/calls/" + url.PathEscape(c.Slug) + "/nominations"}
	d.Call.Title = c.Title
	d.ClosesISO = isoTime(c.ClosesAt)
	d.Errors = fe.summary()
	d.Facts = SummaryList{L: L, Rows: []SummaryRow{
		{Key: L.T("CallOpens"), Value: []string{rq.when(c.OpensAt)}},
		{Key: L.T("CallCloses"), Value: []string{rq.when(c.ClosesAt)}},
		{Key: L.T("CallSeats"), Value: []string{L.N("CallSeatsValue", c.Seats)}},
	}}
	if !c.TermStart.IsZero() {
		d.Facts.Rows = append(d.Facts.Rows, SummaryRow{Key: L.T("CallTermStart"), Value: []string{rq.day(c.TermStart)}})
	}
	if def, ok := h.cfg.Workflows.Latest(c.Workflow); ok {
		def = def.In(L.Lang)
		d.Call.Description = strings.TrimSpace(def.Description)
		if f, ok := def.Field("stakeholder_group"); ok {
			for _, v := range f.Choices {
				d.Groups = append(d.Groups, choiceLabel(f, v))
			}
		}
		for _, g := range def.Starting.Guards {
			d.Rules = append(d.Rules, g.Message)
		}
		switch q := def.Quota(c.NominatorQuota); {
		case q > 0 && q == def.Starting.Quota && def.Starting.QuotaMessage != "":
			d.Rules = append(d.Rules, def.Starting.QuotaMessage)
		case q > 0: // the call's own, lower quota
			d.Rules = append(d.Rules, L.N("CallQuota", q))
		}
	}
	if c.RequiredEndorsements > 0 {
		d.Facts.Rows = append(d.Facts.Rows, SummaryRow{Key: L.T("CallEndorsements"), Value: []string{L.N("CallEndorsementsValue", c.RequiredEndorsements)}})
	}
	for _, id := range []string{"CallStep1", "CallStep2", "CallStep3", "CallStep4", "CallStep5"} {
		d.Steps = append(d.Steps, L.T(id, "Closes", rq.when(c.ClosesAt)))
	}
	if who == "" {
		who = "self"
	}
	d.Who = Radios{L: L, Name: "nominee", Legend: L.T("CallWhoLegend"), Error: fe.get("nominee"), Items: []Choice{
		{ID: "nominee", Value: "self", Label: L.T("CallWhoSelf"), Checked: who == "self"},
		{ID: "nominee-2", Value: "someone_else", Label: L.T("CallWhoOther"), Checked: who == "someone_else"},
	}}
	if d.AddressNotice = rq.addressNotice("ConfirmWhyNominate"); d.AddressNotice != nil {
		d.Who.Items[1].Hint = L.T("UnconfirmedNominateHint")
	}
	d.NomineeName = Input{L: L, ID: "nominee_name", Name: "nominee_name", Label: L.T("CallNomineeName"), Value: name, Error: fe.get("nominee_name"), Autocomplete: "off", NoSpellcheck: true}
	d.NomineeEmail = Input{L: L, ID: "nominee_email", Name: "nominee_email", Type: "email", Label: L.T("CallNomineeEmail"), Value: email, Error: fe.get("nominee_email"), Autocomplete: "off", NoSpellcheck: true}
	d.Submit = Button{Text: L.T("CallStartButton")}
	d.SwitchForm = d.Open && d.User != nil
	next := url.QueryEscape("/calls/" + c.Slug + "#start")
	d.SignUp = Button{Text: L.T("NavSignUp"), Href: "/signup?next=" + next}
	d.SignInHref = "/signin?next=" + next
	rq.render(status, "call", d)
}

type accountForm struct {
	Page
	Action, SignInHref, SignUpHref string
	Name, Email, Password          Input
	Submit                         Button
}

func (h *Handler) signUp(rq *request) {
	L := rq.L
	next := localPath(rq.r.URL.Query().Get("next"))
	d := accountForm{Page: rq.page(L.T("SignUpTitle")), Action: "/signup", SignInHref: "/signin"}
	d.Nav = "signup"
	if next != "" {
		d.Action += "?next=" + url.QueryEscape(next)
		d.SignInHref += "?next=" + url.QueryEscape(next)
	}
	var name, email string
	fe := newFormErrors(L)
	if rq.r.Method == http.MethodPost {
		if !rq.parseForm() {
			return
		}
		name, email = rq.form("name"), rq.form("email")
		if rq.switched {
			goto show
		}
		err := h.cfg.Accounts.Register(rq.ctx, auth.Registration{Name: name, Email: email, Password: rq.r.PostForm.Get("password"), ClientIP: rq.clientIP()})
		if err == nil {
			// The same answer for a new and a taken address: the mail
			// tells the owner of the address which it was.
			rq.rememberSignUp(email)
			to := "/signup/check-email"
			if next != "" {
				to += "?next=" + url.QueryEscape(next)
			}
			rq.redirect(to)
			return
		}
		if nomination.ErrorCode(err) == nomination.ETOOMANY {
			rq.tooMany(err, "SignUpTooManyBody")
			return
		}
		if !fe.addDomain(err,
			field{"name", "name", L.T("LabelFullName"), "RequiredName"},
			field{"email", "email", L.T("LabelEmail"), "RequiredEmail"},
			field{"password", "password", L.T("LabelPassword"), "RequiredPassword"}) {
			rq.failWith(err)
			return
		}
	}
show:
	d.SwitchForm = true
	d.Errors = fe.summary()
	d.Name, d.Email, d.Password = accountInputs(L, fe, name, email, L.T("HintEmail"))
	d.Submit = Button{Text: L.T("SignUpButton")}
	rq.render(fe.status(), "signup", d)
}

// accountInputs are the fields of a form that makes an account (sign-up,
// the first administrator): name, address with its hint, and a new
// password, each with what was typed and its error.
func accountInputs(L *Localizer, fe *formErrors, name, email, emailHint string) (nameIn, emailIn, passwordIn Input) {
	nameIn = Input{L: L, ID: "name", Name: "name", Label: L.T("LabelFullName"), Value: name, Error: fe.get("name"), Autocomplete: "name", NoSpellcheck: true}
	emailIn = Input{L: L, ID: "email", Name: "email", Type: "email", Label: L.T("LabelEmail"), Hint: emailHint, Value: email, Error: fe.get("email"), Autocomplete: "email", NoSpellcheck: true}
	passwordIn = Input{L: L, ID: "password", Name: "password", Type: "password", Label: L.T("LabelPassword"), Hint: L.T("HintNewPassword"), Error: fe.get("password"), Autocomplete: "new-password"}
	return nameIn, emailIn, passwordIn
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (h *Handler) signIn(rq *request) {
	L := rq.L
	q := rq.r.URL.Query()
	next := localPath(q.Get("next"))
	d := accountForm{Page: rq.page(L.T("SignInTitle")), Action: "/signin", SignUpHref: "/signup"}
	d.Nav = "signin"
	if next != "" {
		d.Action += "?next=" + url.QueryEscape(next)
		d.SignUpHref += "?next=" + url.QueryEscape(next)
	}
	switch {
	case q.Get("reset") == "1":
		d.Banner = &Banner{Title: L.T("BannerSuccess"), Heading: L.T("SignInAfterReset"), Success: true}
	case q.Get("signedout") == "1":
		d.Banner = &Banner{Title: L.T("BannerInfo"), Heading: L.T("SignInAfterSignOut")}
	}
	var email string
	fe := newFormErrors(L)
	if rq.r.Method == http.MethodPost {
		if !rq.parseForm() {
			return
		}
		email = rq.form("email")
		password := rq.r.PostForm.Get("password")
		switch {
		case rq.switched:
		case email == "" || password == "":
			if email == "" {
				fe.add("email", L.T("RequiredEmail"))
			}
			if password == "" {
				fe.add("password", L.T("RequiredPassword"))
			}
		default:
			token, _, err := h.cfg.Sessions.SignIn(rq.ctx, email, password, rq.clientIP())
			switch nomination.ErrorCode(err) {
			case "":
				if rq.token != "" {
					_ = h.cfg.Sessions.End(rq.ctx, rq.token)
				}
				rq.setSession(token)
				rq.redirect(orDefault(next, "/nominations"))
				return
			case nomination.EUNAUTHORIZED:
				fe.add("email", L.T("SignInWrong"))
			case nomination.ETOOMANY:
				rq.tooMany(err, "SignInTooManyBody", Link{Href: "/forgot-password", Text: L.T("SignInForgot")})
				return
			case nomination.EINVALID:
				fe.add("email", L.T("InvalidEmail"))
			default:
				rq.failWith(err)
				return
			}
		}
	}
	d.SwitchForm = true
	d.Errors = fe.summary()
	d.Email = Input{L: L, ID: "email", Name: "email", Type: "email", Label: L.T("LabelEmail"), Value: email, Error: fe.get("email"), Autocomplete: "email", NoSpellcheck: true}
	d.Password = Input{L: L, ID: "password", Name: "password", Type: "password", Label: L.T("LabelPassword"), Error: fe.get("password"), Autocomplete: "current-password"}
	d.Submit = Button{Text: L.T("SignInButton")}
	status := http.StatusOK
	if fe.any() {
		status = http.StatusUnprocessableEntity
	}
	rq.render(status, "signin", d)
}

func (h *Handler) signOut(rq *request) {
	if rq.token != "" {
		if err := h.cfg.Sessions.End(rq.ctx, rq.token); err != nil {
			rq.failWith(err)
			return
		}
	}
	rq.clearCookie()
	rq.redirect("/signin?signedout=1")
}

func (h *Handler) forgotPassword(rq *request) {
	L := rq.L
	var email string
	fe := newFormErrors(L)
	if rq.r.Method == http.MethodPost {
		if !rq.parseForm() {
			return
		}
		email = rq.form("email")
		var err error
		if !rq.switched {
			err = h.cfg.Accounts.RequestPasswordReset(rq.ctx, email)
		}
		if err == nil && !rq.switched {
			rq.render(http.StatusOK, "message", messagePage{Page: rq.page(L.T("ForgotSentTitle")), Heading: L.T("ForgotSentTitle"),
				Body:  []string{L.T("ForgotSentBody", "Email", email), L.T("ForgotSentSpam")},
				Links: []Link{{Href: "/signin", Text: L.T("NavSignIn")}}})
			return
		}
		if err != nil && !fe.addDomain(err, field{"email", "email", L.T("LabelEmail"), "RequiredEmail"}) {
			rq.failWith(err)
			return
		}
	}
	d := accountForm{Page: rq.page(L.T("ForgotTitle"))}
	d.SwitchForm = true
	d.Errors = fe.summary()
	d.Back = &Link{Href: "/signin", Text: L.T("Back")}
	d.Email = Input{L: L, ID: "email", Name: "email", Type: "email", Label: L.T("LabelEmail"), Value: email, Error: fe.get("email"), Autocomplete: "email", NoSpellcheck: true}
	d.Submit = Button{Text: L.T("ForgotButton")}
	status := http.StatusOK
	if fe.any() {
		status = http.StatusUnprocessableEntity
	}
	rq.render(status, "forgot", d)
}

// newPassword serves the mailed reset and set-password links.
func (h *Handler) newPassword(rq *request) {
	L := rq.L
	token := rq.r.PathValue("token")
	setting := strings.HasPrefix(rq.r.URL.Path, "/set-password/")
	title := L.T("ResetTitle")
	if setting {
		title = L.T("SetTitle")
	}
	purpose := auth.PurposePasswordReset
	if setting {
		purpose = auth.PurposeSetPassword
	}
	// A link that cannot work says so before anyone types a password.
	if !h.usableLink(rq, token, purpose) {
		return
	}
	fe := newFormErrors(L)
	if rq.r.Method == http.MethodPost {
		if !rq.parseForm() {
			return
		}
		err := h.cfg.Accounts.ResetPassword(rq.ctx, token, rq.r.PostForm.Get("password"))
		if err == nil {
			rq.redirect("/signin?reset=1")
			return
		}
		if isBadLink(err) {
			// Used meanwhile (another tab), or expired since the check.
			rq.goneLink()
			return
		}
		if !fe.addDomain(err, field{"password", "password", L.T("LabelNewPassword"), "RequiredPassword"}) {
			rq.failWith(err)
			return
		}
	}
	d := struct {
		Page
		Heading, Action string
		Password        Input
		Submit          Button
	}{Page: rq.page(title), Heading: title, Action: rq.r.URL.Path}
	d.Errors = fe.summary()
	d.Password = Input{L: L, ID: "password", Name: "password", Type: "password", Label: L.T("LabelNewPassword"), Hint: L.T("HintNewPassword"), Error: fe.get("password"), Autocomplete: "new-password"}
	d.Submit = Button{Text: L.T("PasswordButton")}
	status := http.StatusOK
	if fe.any() {
		status = http.StatusUnprocessableEntity
	}
	rq.render(status, "password", d)
}

// isBadLink reports the account service's answer to a mailed link that is
// unknown, used or expired.
func isBadLink(err error) bool {
	var de *nomination.Error
	if nomination.ErrorCode(err) != nomination.EINVALID {
		return false
	}
	if e, ok := err.(*nomination.Error); ok {
		de = e
	}
	return de != nil && len(de.Fields) > 0 && de.Fields[0].Field == "token"
}

// goneLink answers a mailed password link that was used or has expired.
func (rq *request) goneLink() {
	rq.fail(http.StatusGone, "LinkGoneTitle", "LinkGoneBody", Link{Href: "/forgot-password", Text: rq.L.T("LinkGoneAgain")})
}

// usableLink checks a mailed password link without using it and answers
// for one that cannot work: 404 for a link Nomina did not make, 410 for one
// used, expired or outdated. It reports whether the page may go on.
func (h *Handler) usableLink(rq *request, token, purpose string) bool {
	c, err := h.cfg.Accounts.CheckLink(rq.ctx, token, purpose)
	switch {
	case err != nil:
		rq.failWith(err)
	case c.Status == auth.LinkUnknown:
		rq.fail(http.StatusNotFound, "LinkInvalidTitle", "PasswordLinkInvalidBody", Link{Href: "/forgot-password", Text: rq.L.T("LinkGoneAgain")})
	case c.Status == auth.LinkSpent:
		rq.goneLink()
	default:
		return true
	}
	return false
}

func (h *Handler) account(rq *request) {
	L := rq.L
	u, err := h.cfg.Accounts.User(rq.ctx, rq.user.UserID)
	if err != nil {
		rq.failWith(err)
		return
	}
	name, lang := u.Name, u.Language
	profileErrs, passwordErrs := newFormErrors(L), newFormErrors(L)
	var banner *Banner
	if rq.r.Method == http.MethodPost {
		if !rq.parseForm() {
			return
		}
		switch rq.form("form") {
		case "password":
			nu, err := h.cfg.Accounts.ChangePassword(rq.ctx, rq.user, rq.r.PostForm.Get("current_password"), rq.r.PostForm.Get("password"), rq.clientIP())
			if err == nil {
				// Every session of the account has ended, this one too:
				// this browser carries on in a new one.
				token, _, err := h.cfg.Sessions.Start(rq.ctx, nu.ID)
				if err != nil {
					rq.failWith(err)
					return
				}
				rq.setSession(token)
				rq.redirect("/account?changed=password")
				return
			}
			if nomination.ErrorCode(err) == nomination.ETOOMANY {
				rq.tooMany(err, "SignInTooManyBody", Link{Href: "/account", Text: L.T("NavAccount")})
				return
			}
			if !passwordErrs.addDomain(err,
				field{"current_password", "current_password", L.T("LabelCurrentPassword"), "RequiredCurrentPassword"},
				field{"password", "password", L.T("LabelNewPassword"), "RequiredPassword"}) {
				rq.failWith(err)
				return
			}
		default:
			name, lang = rq.form("name"), rq.form("language")
			if rq.switched {
				break
			}
			if _, err := h.cfg.Accounts.UpdateProfile(rq.ctx, rq.user, auth.Profile{Name: name, Language: lang}); err == nil {
				// The account's language now applies in this browser too.
				if lang != "" {
					rq.rememberLanguage(lang)
				} else {
					rq.forgetLanguage()
				}
				rq.redirect("/account?changed=profile")
				return
			} else if !profileErrs.addDomain(err,
				field{"name", "name", L.T("LabelFullName"), "RequiredName"},
				field{"language", "language", L.T("LabelLanguage"), ""}) {
				rq.failWith(err)
				return
			}
		}
	}
	switch rq.r.URL.Query().Get("changed") {
	case "password":
		banner = &Banner{Title: L.T("BannerSuccess"), Heading: L.T("AccountPasswordChanged"), Success: true}
	case "profile":
		banner = &Banner{Title: L.T("BannerSuccess"), Heading: L.T("AccountProfileChanged"), Success: true}
	}
	d := struct {
		Page
		Facts                     SummaryList
		Name, Current, Password   Input
		Language                  Select
		SaveProfile, SavePassword Button
	}{Page: rq.page(L.T("AccountTitle"))}
	d.Nav = "account"
	d.SwitchForm = true
	d.Banner = banner
	d.AddressNotice = rq.addressNotice("ConfirmWhy")
	all := &formErrors{L: L, byField: map[string]string{}}
	all.items = append(append(all.items, profileErrs.items...), passwordErrs.items...)
	d.Errors = all.summary()
	d.Facts = SummaryList{L: L, Rows: []SummaryRow{{Key: L.T("LabelEmail"), Value: []string{u.Email}}}}
	d.Name = Input{L: L, ID: "name", Name: "name", Label: L.T("LabelFullName"), Value: name, Error: profileErrs.get("name"), Autocomplete: "name", NoSpellcheck: true}
	d.Language = Select{L: L, ID: "language", Name: "language", Label: L.T("LabelLanguage"), Hint: L.T("HintLanguage"), Error: profileErrs.get("language")}
	d.Language.Options = append(d.Language.Options, Option{Value: "", Label: L.T("LanguageNone"), Selected: lang == ""})
	for _, tag := range auth.Languages {
		d.Language.Options = append(d.Language.Options, Option{Value: tag, Label: locale.Name(tag), Selected: lang == tag})
	}
	d.Current = Input{L: L, ID: "current_password", Name: "current_password", Type: "password", Label: L.T("LabelCurrentPassword"), Error: passwordErrs.get("current_password"), Autocomplete: "current-password"}
	d.Password = Input{L: L, ID: "password", Name: "password", Type: "password", Label: L.T("LabelNewPassword"), Hint: L.T("HintNewPassword"), Error: passwordErrs.get("password"), Autocomplete: "new-password"}
	d.SaveProfile = Button{Text: L.T("AccountSaveProfile")}
	d.SavePassword = Button{Text: L.T("AccountSavePassword")}
	status := http.StatusOK
	if all.any() {
		status = http.StatusUnprocessableEntity
	}
	rq.render(status, "account", d)
}

// characterCount answers htmx's request for the character count of a
// text area: ?max=N names the limit, ?field the posted field.
func (h *Handler) characterCount(rq *request) {
	if !rq.parseForm() {
		return
	}
	q := rq.r.URL.Query()
	max := 0
	for _, c := range q.Get("max") {
		if c < '0' || c > '9' || max > 1_000_000 {
			max = -1
			break
		}
		max = max*10 + int(c-'0')
	}
	if max <= 0 {
		rq.fail(http.StatusBadRequest, "ErrorBadRequestTitle", "ErrorBadRequestBody")
		return
	}
	text := rq.r.PostForm.Get(q.Get("field"))
	rq.w.Header().Set("Cache-Control", "no-store")
	rq.write(http.StatusOK, "text/html; charset=utf-8", []byte(html.EscapeString(countMessage(rq.L, text, max))))
}

// countMessage is the character count of a text area as plain words.
func countMessage(L *Localizer, text string, max int) string {
	n := utf8.RuneCountInString(strings.ReplaceAll(text, "\r\n", "\n"))
	switch {
	case n == 0:
		return L.N("CountLimit", max)
	case n <= max:
		return L.N("CountRemaining", max-n)
	default:
		return L.N("CountOver", n-max)
	}
}
