package e2e

import (
	"context"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/nomination"
)

// signUp creates an account through the sign-up page and returns the
// page it lands on ("check your email").
func (b *browser) signUp(name, email string) page {
	b.t.Helper()
	p := b.post("/signup", url.Values{"name": {name}, "email": {email}, "password": {testPassword}})
	loc := mustRedirect(b.t, p, "/signup/check-email")
	if c := p.Header.Values("Set-Cookie"); len(c) != 1 || !strings.HasPrefix(c[0], "nomina_signup=") || !strings.Contains(c[0], "Path=/signup/check-email") {
		b.t.Fatalf("sign-up cookies %q: only the address for the next page, no session", c)
	}
	got := b.get(loc)
	mustStatus(b.t, got, http.StatusOK)
	return got
}

// Signing up answers alike for a new address and a taken one, and signs
// nobody in; the mail says which it was. The address is confirmed from the
// mailed link's page: GET shows, the button's POST confirms.
func TestSignUpThenConfirmFromTheMail(t *testing.T) {
	a := newApp(t, appOptions{})
	first := a.browser().signUp("Ana Candidate", "ana@example.org")
	mustContain(t, first, "Check your email", "ana@example.org", "What happens next", "The link works for 7 days",
		`href="/signin?next=%2Faccount%2Fconfirm-email"`, "If the email does not arrive")
	again := a.browser().signUp("Someone Else", "ana@example.org")
	if first.Body != again.Body {
		t.Fatal("signing up with a taken address answers differently from a new one")
	}
	if a.mails("confirm_email", "ana@example.org") != 1 || a.mails("account_exists", "ana@example.org") != 1 {
		t.Fatalf("mail: %d confirmations, %d account-exists notes", a.mails("confirm_email", "ana@example.org"), a.mails("account_exists", "ana@example.org"))
	}
	// Without the cookie (another browser, later) the page says the same
	// without the address.
	mustContain(t, a.browser().get("/signup/check-email"), "We have sent an email to the address you gave")

	b := a.browser()
	b.signIn("ana@example.org") // signing in needs no confirmation
	p := b.get("/nominations")
	mustStatus(t, p, 200)
	mustContain(t, p, "Confirm your email address", `action="/account/confirm-email"`, `name="next" value="/nominations"`, "Send the link again")

	link := a.mailedLink("confirm_email", "ana@example.org", "confirm")
	if !strings.HasPrefix(link, "/confirm-email/") {
		t.Fatalf("confirmation link %q", link)
	}
	anon := a.browser()
	p = anon.get(link)
	mustStatus(t, p, 200)
	mustContain(t, p, "Confirm that this is your email address", "ana@example.org", `<form method="post" action="`+link+`"`, "Confirm my email address")
	if mustUser(t, a, "ana@example.org").EmailConfirmed() {
		t.Fatal("opening the link confirmed the address: a GET must change nothing")
	}
	mustRedirect(t, anon.post(link, nil), link)
	if !mustUser(t, a, "ana@example.org").EmailConfirmed() {
		t.Fatal("the button did not confirm the address")
	}
	p = anon.get(link)
	mustStatus(t, p, 200)
	mustContain(t, p, "Email address confirmed", `href="/signin?next=%2Fnominations"`)
	// Confirming again changes nothing and still says so.
	mustRedirect(t, anon.post(link, nil), link)
	p = b.get("/nominations")
	if strings.Contains(p.Body, "Confirm your email address") {
		t.Fatal("the notice stays after the address is confirmed")
	}

	t.Run("forged link", func(t *testing.T) {
		for _, tok := range []string{"forged", link[len("/confirm-email/"):] + "x"} {
			p := anon.get("/confirm-email/" + tok)
			mustStatus(t, p, http.StatusNotFound)
			mustContain(t, p, "This link is not valid")
			mustStatus(t, anon.post("/confirm-email/"+tok, nil), http.StatusNotFound)
		}
	})
	t.Run("expired link", func(t *testing.T) {
		b := a.browser()
		b.signUp("Bob Candidate", "bob@example.org")
		tok := a.expired(strings.TrimPrefix(a.mailedLink("confirm_email", "bob@example.org", "confirm"), "/confirm-email/"), auth.PurposeConfirmEmail)
		p := b.get("/confirm-email/" + tok)
		mustStatus(t, p, http.StatusGone)
		mustContain(t, p, "This link has expired", "Get a new link")
		mustStatus(t, b.post("/confirm-email/"+tok, nil), http.StatusGone)
		if mustUser(t, a, "bob@example.org").EmailConfirmed() {
			t.Fatal("an expired link confirmed the address")
		}
	})
}

// An account whose address is not confirmed is told, in words, why it
// cannot nominate someone else or ask for endorsements (403 when it
// tries), and can have the link sent again from the notice, within a limit.
func TestUnconfirmedAccountIsToldWhy(t *testing.T) {
	a := newApp(t, appOptions{})
	a.call("test-2027", "Test call 2027", "every-field")
	b := a.browser()
	b.signUp("Ana Candidate", "ana@example.org")
	b.signIn("ana@example.org")

	p := b.get("/calls/test-2027")
	mustStatus(t, p, 200)
	mustContain(t, p, "you can nominate yourself but not someone else", "First confirm your email address")
	p = b.post("/calls/test-2027/nominations", url.Values{"nominee": {"someone_else"}, "nominee_name": {"Tomás Rivera"}, "nominee_email": {"tomas@example.org"}})
	mustStatus(t, p, http.StatusForbidden)
	mustContain(t, p, "<title>Error: ", `<a href="#nominee">Confirm your email address before you nominate someone else`,
		`value="Tomás Rivera"`, `value="tomas@example.org"`, `value="someone_else" checked`)
	if n := a.mails("nominee_consent", "tomas@example.org"); n != 0 {
		t.Fatalf("%d mails to the nominee of an unconfirmed account", n)
	}
	id := b.startNomination("test-2027", nil) // oneself: fine
	page := "/nominations/" + id + "/endorsements"
	p = b.get(page)
	mustStatus(t, p, 200)
	mustContain(t, p, "You can ask for endorsements once you have confirmed", "you cannot ask for endorsements, because we email each person you ask")
	if strings.Contains(p.Body, `name="organization"`) {
		t.Fatal("the endorsement form is offered to an account that may not use it")
	}
	p = b.post(page, url.Values{"name": {"Eve Endorser"}, "email": {"eve@example.org"}})
	mustStatus(t, p, http.StatusForbidden)
	mustContain(t, p, "Confirm your email address before you ask for endorsements")
	if n := a.mails("endorsement_request", "eve@example.org"); n != 0 {
		t.Fatalf("%d mails to the endorser of an unconfirmed account", n)
	}

	// The notice's button mails a new link and says so; the limit on such
	// mails answers with a page that says how long to wait.
	loc := mustRedirect(t, b.post("/account/confirm-email", url.Values{"next": {page}}), "/account/confirm-email?sent=1&next=")
	p = b.get(loc)
	mustStatus(t, p, 200)
	mustContain(t, p, "We have sent a new link to ana@example.org", "Each link works for 7 days", `href="`+page+`"`)
	if n := a.mails("confirm_email", "ana@example.org"); n != 2 {
		t.Fatalf("%d confirmation mails, want 2", n)
	}
	mustRedirect(t, b.post("/account/confirm-email", url.Values{"next": {"https://evil.example/"}}), "/account/confirm-email?sent=1&next=%2Fnominations")
	for range 3 {
		mustRedirect(t, b.post("/account/confirm-email", nil), "/account/confirm-email?sent=1")
	}
	p = b.post("/account/confirm-email", nil)
	mustStatus(t, p, http.StatusTooManyRequests)
	mustContain(t, p, "Too many attempts", "You can try again in ")
	if p.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}

	// Confirmed, the same requests go through.
	mustRedirect(t, a.browser().post(a.mailedLink("confirm_email", "ana@example.org", "confirm"), nil), "/confirm-email/")
	mustRedirect(t, b.post(page, url.Values{"name": {"Eve Endorser"}, "email": {"eve@example.org"}}), page+"?asked=")
	mustRedirect(t, b.post("/calls/test-2027/nominations", url.Values{"nominee": {"someone_else"}, "nominee_name": {"Tomás Rivera"}, "nominee_email": {"tomas@example.org"}}), "/nominations/")
	if l := a.mailedLink("nominee_consent", "tomas@example.org", "consent"); !strings.HasPrefix(l, "/consent/") {
		t.Fatalf("consent link %q", l)
	}
	if l := a.mailedLink("endorsement_request", "eve@example.org", "endorse"); !strings.HasPrefix(l, "/endorse/") {
		t.Fatalf("endorsement link %q", l)
	}
	p = b.get("/account/confirm-email")
	mustContain(t, p, "Email address confirmed")
}

// A used, expired, outdated or forged password link says so when it is
// opened, before anyone types a password: 410 for a link Nomina made that
// no longer works, 404 for one it never made.
func TestPasswordLinksCheckedBeforeTheForm(t *testing.T) {
	a := newApp(t, appOptions{})
	a.user("ana@example.org", "Ana Candidate")
	anon := a.browser()
	ask := func() string {
		t.Helper()
		mustStatus(t, anon.post("/forgot-password", url.Values{"email": {"ana@example.org"}}), 200)
		return a.mailedLink("password_reset", "ana@example.org", "reset")
	}
	first := ask()
	second := ask()
	if first == second || !strings.HasPrefix(first, "/reset-password/") {
		t.Fatalf("links %q %q", first, second)
	}
	mustContain(t, anon.get(second), `type="password"`, "Choose a new password")
	mustRedirect(t, anon.post(second, url.Values{"password": {"a new and long passphrase 5"}}), "/signin?reset=1")
	for name, link := range map[string]string{"used": second, "outdated by the change": first,
		"expired": "/reset-password/" + a.expired(strings.TrimPrefix(ask(), "/reset-password/"), auth.PurposePasswordReset)} {
		t.Run(name, func(t *testing.T) {
			p := anon.get(link)
			mustStatus(t, p, http.StatusGone)
			mustContain(t, p, "This link has expired or has been used", `href="/forgot-password"`)
			if strings.Contains(p.Body, `type="password"`) {
				t.Fatal("a spent link shows the password form")
			}
			mustStatus(t, anon.post(link, url.Values{"password": {"yet another long passphrase"}}), http.StatusGone)
		})
	}
	t.Run("forged", func(t *testing.T) {
		for _, l := range []string{"/reset-password/forged", "/set-password/x.y", "/set-password" + strings.TrimPrefix(ask(), "/reset-password")} {
			p := anon.get(l)
			mustStatus(t, p, http.StatusNotFound)
			mustContain(t, p, "This link is not valid")
		}
	})
	t.Run("set password", func(t *testing.T) {
		admin := a.user("admin@igf.example", "Admin", auth.RoleAdmin)
		if _, err := a.auth.CreateUser(context.Background(), &auth.Principal{UserID: admin.ID, Roles: admin.Roles},
			auth.NewUser{Email: "rev@example.org", Name: "Rita Reviewer", Roles: []auth.Role{auth.RoleReviewer}}); err != nil {
			t.Fatal(err)
		}
		link := a.mailedLink("set_password", "rev@example.org", "reset")
		if !strings.HasPrefix(link, "/set-password/") {
			t.Fatalf("set-password link %q", link)
		}
		mustContain(t, anon.get(link), "Choose your password")
		mustRedirect(t, anon.post(link, url.Values{"password": {"a new and long passphrase 6"}}), "/signin?reset=1")
		mustStatus(t, anon.get(link), http.StatusGone)
		if !mustUser(t, a, "rev@example.org").EmailConfirmed() {
			t.Fatal("setting the password from the mailed link did not confirm the address")
		}
	})
}

// fromAddress returns a browser whose connections come from the loopback
// address ip, as another computer's would.
func (a *app) fromAddress(ip string) *browser {
	b := a.browser()
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	b.c = &http.Client{Jar: jar, Transport: &http.Transport{DialContext: d.DialContext, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return b
}

// Sign-in is throttled like the API's login, per account and client
// address: after five wrong passwords from one address the next try there
// waits, on a page that says how long and offers a reset, with
// Retry-After; the owner at another address still signs in.
func TestSignInThrottled(t *testing.T) {
	a := newApp(t, appOptions{})
	a.user("ana@example.org", "Ana Candidate")
	b := a.browser()
	for i := range 5 {
		p := b.post("/signin", url.Values{"email": {"ana@example.org"}, "password": {"wrong password number " + string(rune('a'+i))}})
		mustStatus(t, p, 422)
	}
	p := b.post("/signin", url.Values{"email": {"ana@example.org"}, "password": {testPassword}})
	mustStatus(t, p, http.StatusTooManyRequests)
	mustContain(t, p, "Too many attempts", "too many wrong passwords for this account from your network", "You can try again in 1 second",
		`href="/forgot-password"`)
	if p.Header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", p.Header.Get("Retry-After"))
	}
	if strings.Contains(p.Body, "too_many") || strings.Contains(p.Body, "429") {
		t.Fatal("the page shows an error code")
	}
	other := a.fromAddress("127.0.0.2")
	mustRedirect(t, other.post("/signin", url.Values{"email": {"ana@example.org"}, "password": {testPassword}}), "/nominations")
}

// A limit on what an account makes Nomina mail answers with a page, not
// an error code: the sixth request in a day to the same endorser's address
// is refused with 429, how long to wait and Retry-After, and nothing is
// stored.
func TestLimitReachedPage(t *testing.T) {
	a := newApp(t, appOptions{})
	a.call("test-2027", "Test call 2027", "every-field")
	a.user("ana@example.org", "Ana Candidate")
	b := a.browser()
	b.signIn("ana@example.org")
	var last string
	for i := range 6 {
		id := b.startNomination("test-2027", url.Values{"nominee": {"someone_else"}, "nominee_name": {"Nominee " + string(rune('A'+i))},
			"nominee_email": {"nominee" + string(rune('a'+i)) + "@example.org"}})
		p := b.post("/nominations/"+id+"/endorsements", url.Values{"name": {"Eve Endorser"}, "email": {"eve@example.org"}})
		if i < 5 {
			mustRedirect(t, p, "/nominations/"+id+"/endorsements?asked=")
			continue
		}
		last = id
		mustStatus(t, p, http.StatusTooManyRequests)
		mustContain(t, p, "<title>Too many attempts", "You can try again in ", `href="/nominations"`)
		if p.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
	}
	v, err := a.noms.Get(context.Background(), actorOf(mustUser(t, a, "ana@example.org")), last)
	if err != nil || len(v.Nomination.Endorsements) != 0 {
		t.Fatalf("a refused request was stored: %+v %v", v.Nomination.Endorsements, err)
	}
}

// An endorser who declines from the mailed link: the request is answered
// for good (confirming afterwards is refused), the owner sees "Declined",
// and the history still verifies. A link to a nomination that has ended
// meanwhile says so.
func TestEndorserDeclinesAndEndedLinks(t *testing.T) {
	a := newApp(t, appOptions{})
	a.call("test-2027", "Test call 2027", "every-field")
	a.user("ana@example.org", "Ana Candidate")
	b := a.browser()
	b.signIn("ana@example.org")
	id := b.startNomination("test-2027", url.Values{"nominee": {"someone_else"}, "nominee_name": {"Tomás Rivera"}, "nominee_email": {"tomas@example.org"}})
	mustRedirect(t, b.post("/nominations/"+id+"/endorsements", url.Values{"name": {"Eve Endorser"}, "email": {"eve@example.org"}}), "/nominations/"+id)
	link := a.mailedLink("endorsement_request", "eve@example.org", "endorse")
	eve := a.browser()
	mustContain(t, eve.get(link), "Do you endorse the nomination of Tomás Rivera?", "I do not endorse it")
	mustRedirect(t, eve.post(link, url.Values{"decline": {"decline"}}), link)
	mustContain(t, eve.get(link), "You declined to endorse the nomination")
	p := eve.post(link, url.Values{"statement": {"Changed my mind."}})
	mustStatus(t, p, http.StatusGone)
	mustContain(t, p, "This link has already been answered")
	mustContain(t, b.get("/nominations/"+id+"/endorsements"), "Declined")
	if v, err := a.noms.Verify(context.Background(), id); err != nil || !v.OK() {
		t.Fatalf("history after a decline: %+v %v", v, err)
	}

	// The nominee's link after the nomination was withdrawn.
	consent := a.mailedLink("nominee_consent", "tomas@example.org", "consent")
	mustRedirect(t, b.post("/nominations/"+id+"/withdraw", nil), "/nominations/"+id)
	for _, p := range []page{a.browser().get(consent), a.browser().post(consent, url.Values{"decision": {"accept"}})} {
		mustStatus(t, p, http.StatusGone)
		mustContain(t, p, "This nomination has ended")
	}
	v, _ := a.noms.Get(context.Background(), actorOf(mustUser(t, a, "ana@example.org")), id)
	if v.Nomination.Consent != "pending" || v.Nomination.State != "withdrawn" {
		t.Fatalf("consent %s, state %s", v.Nomination.Consent, v.Nomination.State)
	}
}

// A candidate who also sits on a panel sees both: the header links to the
// review pages, and "your nominations" lists their own nominations only,
// never the panel's queue, which the domain lists for them too.
func TestCandidateWhoIsAlsoAReviewerSeesBoth(t *testing.T) {
	a := newApp(t, appOptions{})
	c := a.call("mag-2027", "MAG 2027 renewal", "mag")
	ctx := context.Background()
	anaUser := a.user("ana@example.org", "Ana Candidate")
	if _, err := a.auth.Provision(ctx, auth.NewUser{Email: "rita@example.org", Name: "Rita Reviewer", Password: testPassword,
		Roles: []auth.Role{auth.RoleCandidate, auth.RoleReviewer}, Panels: []string{"civil_society"}}); err != nil {
		t.Fatal(err)
	}
	// Ana's nomination reaches the civil society panel's review.
	ana := actorOf(anaUser)
	v, err := a.noms.Create(ctx, ana, c.Slug, nomination.NominationInput{Fields: map[string]any{
		"stakeholder_group": "civil_society", "nationality": "KE", "gender": "female", "organization": "Kenya ICT Action Network",
		"declaration": true, "motivation": strings.Repeat("I have worked on internet governance in East Africa for a decade. ", 4)}})
	if err != nil {
		t.Fatal(err)
	}
	theirs := v.Nomination.ID
	if _, err := a.noms.AddAttachment(ctx, ana, theirs, nomination.Upload{Kind: "cv", Filename: "cv.pdf", Body: strings.NewReader(string(minimalPDF))}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.noms.RequestEndorsement(ctx, ana, theirs, nomination.EndorsementInput{Name: "Eve Endorser", Email: "eve@example.org"}); err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimPrefix(a.mailedLink("endorsement_request", "eve@example.org", "endorse"), "/endorse/")
	if _, err := a.noms.ConfirmEndorsement(ctx, tok, "Ana has my support."); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		who    nomination.Actor
		action string
	}{{ana, "submit"}, {nomination.Actor{UserID: "sec", Roles: []string{"secretariat"}}, "admit"}} {
		if _, err := a.noms.Act(ctx, step.who, theirs, step.action, nomination.ActionInput{}); err != nil {
			t.Fatalf("%s: %v", step.action, err)
		}
	}
	r := a.browser()
	r.signIn("rita@example.org")
	own := r.startNomination(c.Slug, nil)
	rita := actorOf(mustUser(t, a, "rita@example.org"))
	if l, err := a.noms.List(ctx, rita, nomination.ListQuery{Limit: 50}); err != nil || len(l.Items) != 2 {
		t.Fatalf("the reviewer's list from the domain: %d items, %v (want her own and the panel's)", len(l.Items), err)
	}
	p := r.get("/nominations")
	mustStatus(t, p, 200)
	mustContain(t, p, `<a href="/review">Review</a>`, `href="/nominations/`+own+`"`, "Rita Reviewer")
	if strings.Contains(p.Body, theirs) || strings.Contains(p.Body, "Ana Candidate") {
		t.Fatal("the panel's queue is listed among the reviewer's own nominations")
	}
	// Her own nomination's pages are hers; the one she reviews is not
	// hers to change.
	mustStatus(t, r.get("/nominations/"+own+"/details"), 200)
	mustStatus(t, r.get("/nominations/"+theirs+"/details"), http.StatusNotFound)
	// A candidate without the role has no review link.
	b := a.browser()
	b.signIn("ana@example.org")
	if p := b.get("/nominations"); !strings.Contains(p.Body, theirs) || strings.Contains(p.Body, `href="/review"`) {
		t.Fatal("the candidate does not see her nomination, or sees the review link")
	}
}

// A call whose workflow limits who takes part says so on its page, in the
// workflow's words, and a start its rules refuse comes back (403) with
// the rule at the choice; a call that asks for endorsements says how many,
// and the task list counts them instead of calling them optional.
func TestCallRulesAndRequiredEndorsements(t *testing.T) {
	a := newApp(t, appOptions{})
	a.call("alumni-2027", "MAG alumni call 2027", "mag-alumni")
	ctx := context.Background()
	now := time.Now().UTC()
	opens, closes, term, two, seats, title := now.Add(-time.Hour), now.Add(30*24*time.Hour), now.AddDate(1, 0, 0), 2, 40, "MAG 2027 with endorsements"
	if _, err := a.noms.CreateCall(ctx, nomination.Actor{UserID: "sec", Roles: []string{"secretariat"}}, nomination.CallInput{
		Slug: "mag-endorsed", Title: &title, Workflow: "mag", OpensAt: &opens, ClosesAt: &closes, TermStart: &term, Seats: &seats, RequiredEndorsements: &two}); err != nil {
		t.Fatal(err)
	}
	a.user("ana@example.org", "Ana Candidate")
	b := a.browser()
	b.signIn("ana@example.org")

	p := b.get("/calls/alumni-2027")
	mustStatus(t, p, 200)
	mustContain(t, p, "In this call:", "Only current and past members of the MAG and former members of the WGIG may nominate in this call.",
		"Each nominator may put forward at most two candidates in this call.")
	p = b.post("/calls/alumni-2027/nominations", url.Values{"nominee": {"self"}})
	mustStatus(t, p, http.StatusForbidden)
	mustContain(t, p, "<title>Error: ", `<a href="#nominee">Only current and past members of the MAG`)
	if l, _ := a.noms.List(ctx, actorOf(mustUser(t, a, "ana@example.org")), nomination.ListQuery{Limit: 10}); len(l.Items) != 0 {
		t.Fatalf("a refused start stored %d nominations", len(l.Items))
	}

	p = b.get("/calls/mag-endorsed")
	mustContain(t, p, "A nomination needs 2 confirmed endorsements.", "Anyone may nominate")
	id := b.startNomination("mag-endorsed", nil)
	p = b.get("/nominations/" + id)
	mustContain(t, p, "This call asks for 2 confirmed endorsements")
	if strings.Contains(p.Body, ">Optional<") {
		t.Fatal("required endorsements shown as optional")
	}
	mustRedirect(t, b.post("/nominations/"+id+"/endorsements", url.Values{"name": {"Eve Endorser"}, "email": {"eve@example.org"}}), "/nominations/"+id)
	tok := strings.TrimPrefix(a.mailedLink("endorsement_request", "eve@example.org", "endorse"), "/endorse/")
	if _, err := a.noms.ConfirmEndorsement(ctx, tok, "Ana has my support."); err != nil {
		t.Fatal(err)
	}
	mustContain(t, b.get("/nominations/"+id), "1 of 2 endorsed")
}
