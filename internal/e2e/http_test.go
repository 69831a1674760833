package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/web"
)

// minimalPDF is a small, valid PDF: one empty page.
var minimalPDF = []byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n" +
	"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\nxref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n" +
	"0000000052 00000 n \n0000000101 00000 n \ntrailer<</Size 4/Root 1 0 R>>\nstartxref\n170\n%%EOF\n")

// everyFieldAnswers is a complete, valid set of answers to every-field.
func everyFieldAnswers() url.Values {
	return url.Values{
		"stakeholder_group": {"civil_society"}, "working_language": {"swahili"}, "organization": {"Kenya ICT Action Network"},
		"motivation": {"Ten years of internet governance work in East Africa."}, "referee_email": {"ref@example.org"},
		"nationality": {"KE"}, "available_from": {"2027-01-15"}, "declaration": {"true"}, "version": {"1"},
	}
}

// A draft that is filled in through its pages: every field type rendered,
// saved and shown back.
func TestDetailsFormHasEveryFieldType(t *testing.T) {
	a := newApp(t, appOptions{})
	a.call("test-2027", "Test call 2027", "every-field")
	a.user("ana@example.org", "Ana Candidate")
	b := a.browser()
	b.signIn("ana@example.org")
	id := b.startNomination("test-2027", nil)
	p := b.get("/nominations/" + id + "/details")
	mustStatus(t, p, 200)
	mustContain(t, p,
		`type="radio" value="government"`,                                           // choice as radios
		`<select class="nm-select" id="working_language"`,                           // choice with many options as a select
		`<input class="nm-input" id="organization" name="organization" type="text"`, // text
		`<textarea class="nm-textarea" id="motivation"`,                             // longtext
		`You can enter up to 500 characters`,                                        // its count, as plain text
		`type="email"`,                                                              // email
		`<option value="KE">Kenya</option>`,                                         // country, by name
		`type="date"`,                                                               // date
		`type="checkbox" value="true"`,                                              // bool
		`Working language (optional)`,                                               // optional marked
	)
	if strings.Contains(p.Body, `name="cv"`) {
		t.Fatal("the file field is on the details page; it has its own page")
	}
	// Countries are sorted by name for the reader: Åland Islands after Albania? No: by the reader's collation.
	if i, j := strings.Index(p.Body, ">Germany<"), strings.Index(p.Body, ">Ghana<"); i < 0 || j < 0 || i > j {
		t.Fatalf("countries not in name order (Germany %d, Ghana %d)", i, j)
	}
	form := everyFieldAnswers()
	form.Set("then", "continue")
	mustRedirect(t, b.post("/nominations/"+id+"/details", form), "/nominations/"+id)
	v, err := a.noms.Get(context.Background(), actorOf(mustUser(t, a, "ana@example.org")), id)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"stakeholder_group": "civil_society", "nationality": "KE", "available_from": "2027-01-15", "declaration": true, "working_language": "swahili"} {
		if got := v.Nomination.Fields[k]; got != want {
			t.Errorf("field %s = %v, want %v", k, got, want)
		}
	}
	p = b.get("/nominations/" + id + "/details")
	mustContain(t, p, `value="KE" selected`, `value="2027-01-15"`, `value="true" checked`, `value="swahili" selected`, "You have 447 characters remaining")
	// Unchecking a box and emptying an answer removes them.
	form.Del("declaration")
	form.Set("referee_email", "")
	form.Set("version", fmt.Sprint(v.Nomination.Seq))
	mustRedirect(t, b.post("/nominations/"+id+"/details", form), "/nominations/"+id)
	v, _ = a.noms.Get(context.Background(), actorOf(mustUser(t, a, "ana@example.org")), id)
	if _, ok := v.Nomination.Fields["declaration"]; ok {
		t.Error("unchecked declaration still stored")
	}
	if _, ok := v.Nomination.Fields["referee_email"]; ok {
		t.Error("emptied answer still stored")
	}
}

func mustUser(t testing.TB, a *app, email string) *auth.User {
	t.Helper()
	_, key, _ := auth.NormalizeEmail(email)
	u, err := a.store.Users().UserByEmailKey(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// A refused form comes back with 422, the values as typed, an error summary
// linking each problem to its field, the messages at the fields, and
// "Error:" in the title; nothing is stored, and unknown fields are ignored.
func TestDetailsFormRefusedKeepsValues(t *testing.T) {
	a := newApp(t, appOptions{})
	a.call("test-2027", "Test call 2027", "every-field")
	a.user("ana@example.org", "Ana Candidate")
	b := a.browser()
	b.signIn("ana@example.org")
	id := b.startNomination("test-2027", nil)
	form := everyFieldAnswers()
	form.Set("motivation", "Too short.")
	form.Set("referee_email", "not an address")
	form.Set("available_from", "15/01/2027")
	form.Set("owner", "u-someone-else")
	form.Set("state", "submitted")
	p := b.post("/nominations/"+id+"/details", form)
	mustStatus(t, p, http.StatusUnprocessableEntity)
	mustContain(t, p, "<title>Error: ", "There is a problem",
		`<a href="#motivation">`, `<a href="#referee_email">`, `<a href="#available_from">`,
		`id="motivation-error"`, `aria-invalid="true"`, `aria-describedby="motivation-hint motivation-info motivation-error"`,
		">Too short.</textarea>", `value="not an address"`, `value="15/01/2027"`, `value="Kenya ICT Action Network"`)
	v, _ := a.noms.Get(context.Background(), actorOf(mustUser(t, a, "ana@example.org")), id)
	if len(v.Nomination.Fields) != 0 || v.Nomination.State != "draft" || v.Nomination.OwnerID != mustUser(t, a, "ana@example.org").ID {
		t.Fatalf("a refused form changed the nomination: %+v %s", v.Nomination.Fields, v.Nomination.State)
	}
	// A valid form with unknown fields saves the known ones only.
	form = everyFieldAnswers()
	form.Set("owner", "u-someone-else")
	form.Set("fields.state", "submitted")
	mustRedirect(t, b.post("/nominations/"+id+"/details", form), "/nominations/"+id)
	v, _ = a.noms.Get(context.Background(), actorOf(mustUser(t, a, "ana@example.org")), id)
	_, owner := v.Nomination.Fields["owner"]
	if v.Nomination.State != "draft" || len(v.Nomination.Fields) != 8 || owner {
		t.Fatalf("state %s, fields %v", v.Nomination.State, v.Nomination.Fields)
	}
	// A stale version (another window saved meanwhile) is refused with
	// the values kept.
	form.Set("organization", "Another name")
	form.Set("version", "1")
	p = b.post("/nominations/"+id+"/details", form)
	mustStatus(t, p, http.StatusUnprocessableEntity)
	mustContain(t, p, "changed in another window", `value="Another name"`)
}

// Every page answers with the Content-Security-Policy of DESIGN §9 and the
// other security headers; assets are cached for a year.
func TestEveryPageHasCSP(t *testing.T) {
	a := newApp(t, appOptions{})
	a.call("test-2027", "Test call 2027", "every-field")
	a.user("ana@example.org", "Ana Candidate")
	anon := a.browser()
	b := a.browser()
	b.signIn("ana@example.org")
	id := b.startNomination("test-2027", nil)
	paths := []string{"/", "/calls/test-2027", "/signin", "/signup", "/signup/check-email", "/forgot-password", "/reset-password/x", "/set-password/x",
		"/confirm-email/x", "/endorse/forged", "/consent/forged", "/no-such-page"}
	for _, p := range paths {
		checkPageHeaders(t, anon.get(p))
	}
	for _, p := range []string{"/nominations", "/account", "/account/confirm-email", "/nominations/" + id, "/nominations/" + id + "/details", "/nominations/" + id + "/cv",
		"/nominations/" + id + "/endorsements", "/nominations/" + id + "/check", "/nominations/" + id + "/withdraw", "/calls/test-2027"} {
		p := b.get(p)
		mustStatus(t, p, 200)
		checkPageHeaders(t, p)
	}
	checkPageHeaders(t, b.post("/nominations/"+id+"/details", url.Values{"motivation": {"short"}}))
	checkPageHeaders(t, b.get("/nominations/nope"))
	checkPageHeaders(t, b.post("/signin", url.Values{}))
	// Assets: hashed names, a year's cache; an unknown name is a 404 page.
	css := regexp.MustCompile(`/assets/app\.[0-9a-f]{10}\.css`).FindString(b.get("/").Body)
	if css == "" {
		t.Fatal("no hashed stylesheet link")
	}
	p := anon.get(css)
	mustStatus(t, p, 200)
	if got := p.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Errorf("asset Cache-Control %q", got)
	}
	mustStatus(t, anon.get("/assets/app.css"), 404)
}

func checkPageHeaders(t testing.TB, p page) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": web.ContentSecurityPolicy,
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
		"Content-Type":            "text/html; charset=utf-8",
	}
	for h, v := range want {
		if got := p.Header.Get(h); got != v {
			t.Errorf("%s %s: %s = %q, want %q", p.Request.Method, p.Request.URL.Path, h, got, v)
		}
	}
	if strings.Contains(web.ContentSecurityPolicy, "unsafe") {
		t.Fatal("the CSP allows unsafe-*")
	}
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]|style="|<style|\son[a-z]+="`).MatchString(p.Body) {
		t.Errorf("%s: inline script or style in the page", p.Request.URL.Path)
	}
}

// A form posted from another site is refused with 403, whatever it is.
func TestCrossSitePostsRefused(t *testing.T) {
	a := newApp(t, appOptions{})
	a.call("test-2027", "Test call 2027", "every-field")
	a.user("ana@example.org", "Ana Candidate")
	b := a.browser()
	b.signIn("ana@example.org")
	id := b.startNomination("test-2027", nil)
	for _, tc := range []struct{ path string }{
		{"/signin"}, {"/signout"}, {"/signup"}, {"/nominations/" + id + "/details"}, {"/nominations/" + id + "/withdraw"}, {"/calls/test-2027/nominations"},
		{"/account/confirm-email"}, {"/confirm-email/x"}, {"/reset-password/x"}, {"/endorse/x"}, {"/consent/x"},
	} {
		for _, h := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example", "Sec-Fetch-Site", ""}} {
			p := b.post(tc.path, url.Values{"email": {"ana@example.org"}, "password": {testPassword}}, h...)
			if p.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s with %v: %d, want 403", tc.path, h, p.StatusCode)
				continue
			}
			checkPageHeaders(t, p)
			mustContain(t, p, "sent from another website")
		}
	}
	// Still a draft, still signed in.
	mustStatus(t, b.get("/nominations/"+id+"/details"), 200)
}

// The session cookie holds only a random id: HttpOnly, SameSite=Lax, Path=/;
// Secure with the __Host- prefix when the service is on https.
func TestSessionCookieFlags(t *testing.T) {
	for _, tc := range []struct {
		base, name string
		secure     bool
	}{{"", "nomina_session", false}, {"https://nomina.example.org", "__Host-nomina_session", true}} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t, appOptions{baseURL: tc.base})
			a.user("ana@example.org", "Ana Candidate")
			p := a.browser().post("/signin", url.Values{"email": {"ana@example.org"}, "password": {testPassword}})
			mustStatus(t, p, http.StatusSeeOther)
			set := p.Header.Values("Set-Cookie")
			if len(set) != 1 {
				t.Fatalf("Set-Cookie %q", set)
			}
			c, err := http.ParseSetCookie(set[0])
			if err != nil {
				t.Fatal(err)
			}
			if c.Name != tc.name || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure != tc.secure || c.Domain != "" {
				t.Fatalf("cookie %s", set[0])
			}
			if len(c.Value) != 43 || strings.Contains(set[0], "ana") {
				t.Fatalf("cookie value is not an opaque id: %q", c.Value)
			}
		})
	}
}

// Signing out, changing the password and disabling the account each end
// the session: the old cookie gets the sign-in page.
func TestSessionsEnd(t *testing.T) {
	a := newApp(t, appOptions{})
	a.user("ana@example.org", "Ana Candidate")
	replay := func(cookie string) page {
		req, _ := http.NewRequest("GET", a.URL+"/nominations", nil)
		req.AddCookie(&http.Cookie{Name: "nomina_session", Value: cookie})
		return a.browser().do(req)
	}

	t.Run("sign out", func(t *testing.T) {
		b := a.browser()
		b.signIn("ana@example.org")
		old := b.cookie("nomina_session")
		mustStatus(t, replay(old), 200)
		mustRedirect(t, b.post("/signout", nil), "/signin")
		mustRedirect(t, replay(old), "/signin?next=%2Fnominations")
		mustRedirect(t, b.get("/account"), "/signin")
	})
	t.Run("password change", func(t *testing.T) {
		b, other := a.browser(), a.browser()
		b.signIn("ana@example.org")
		other.signIn("ana@example.org")
		old, otherOld := b.cookie("nomina_session"), other.cookie("nomina_session")
		// Wrong current password: refused at the field, nothing ends.
		p := b.post("/account", url.Values{"form": {"password"}, "current_password": {"wrong password here"}, "password": {"a new and long passphrase 5"}})
		mustStatus(t, p, 422)
		mustContain(t, p, `<a href="#current_password">`)
		mustStatus(t, replay(otherOld), 200)
		const newPW = "a new and long passphrase 5"
		mustRedirect(t, b.post("/account", url.Values{"form": {"password"}, "current_password": {testPassword}, "password": {newPW}}), "/account?changed=password")
		mustRedirect(t, replay(otherOld), "/signin")
		mustRedirect(t, replay(old), "/signin")
		p = b.get("/account?changed=password")
		mustStatus(t, p, 200) // this browser carries on in a new session
		mustContain(t, p, "Your password has been changed")
		if _, _, err := a.sessions.SignIn(context.Background(), "ana@example.org", newPW, ""); err != nil {
			t.Fatalf("new password: %v", err)
		}
		// Back to the test password for the other cases.
		u := mustUser(t, a, "ana@example.org")
		if _, err := a.auth.ChangePassword(context.Background(), &auth.Principal{UserID: u.ID}, newPW, testPassword, ""); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		b := a.browser()
		b.signIn("ana@example.org")
		old := b.cookie("nomina_session")
		admin := a.user("admin@igf.example", "Admin", auth.RoleAdmin)
		yes := true
		if _, err := a.auth.UpdateUser(context.Background(), &auth.Principal{UserID: admin.ID, Roles: admin.Roles}, mustUser(t, a, "ana@example.org").ID, auth.UserPatch{Disabled: &yes}); err != nil {
			t.Fatal(err)
		}
		mustRedirect(t, replay(old), "/signin")
		p := a.browser().post("/signin", url.Values{"email": {"ana@example.org"}, "password": {testPassword}})
		mustStatus(t, p, 422)
	})
}

// One candidate gets "page not found" on every page of another's
// nomination, and can change nothing of it.
func TestOtherCandidatesNominationIsNotFound(t *testing.T) {
	a := newApp(t, appOptions{})
	a.call("test-2027", "Test call 2027", "every-field")
	a.user("ana@example.org", "Ana Candidate")
	a.user("bob@example.org", "Bob Candidate")
	ana, bob := a.browser(), a.browser()
	ana.signIn("ana@example.org")
	bob.signIn("bob@example.org")
	id := ana.startNomination("test-2027", nil)
	mustRedirect(t, ana.upload("/nominations/"+id+"/cv", map[string]string{"kind": "cv"}, "cv.pdf", minimalPDF), "/nominations/"+id)
	base := "/nominations/" + id
	for _, p := range []string{base, base + "/details", base + "/cv", base + "/endorsements", base + "/check", base + "/submitted", base + "/withdraw"} {
		got := bob.get(p)
		mustStatus(t, got, 404)
		mustContain(t, got, "Page not found")
		if strings.Contains(got.Body, "Ana") {
			t.Fatalf("%s shows the other candidate's name", p)
		}
	}
	for _, p := range []string{base + "/details", base + "/withdraw", base + "/submit", base + "/endorsements"} {
		mustStatus(t, bob.post(p, everyFieldAnswers()), 404)
	}
	mustStatus(t, bob.upload(base+"/cv", map[string]string{"kind": "cv"}, "cv.pdf", minimalPDF), 404)
	v, _ := a.noms.Get(context.Background(), actorOf(mustUser(t, a, "ana@example.org")), id)
	if len(v.Nomination.Fields) != 0 || v.Nomination.State != "draft" || len(v.Nomination.Endorsements) != 0 {
		t.Fatalf("the other candidate changed it: %+v", v.Nomination)
	}
	// Files too.
	att := v.Nomination.Attachments[0]
	mustStatus(t, bob.get(base+"/files/"+att.ID), 404)
	p := ana.get(base + "/files/" + att.ID)
	mustStatus(t, p, 200)
	// Downloaded under a name of the nomination and field, not the name
	// it was uploaded with.
	if p.Header.Get("Content-Disposition") != "attachment; filename="+id+"-cv.pdf" || p.Header.Get("X-Content-Type-Options") != "nosniff" || p.Body != string(minimalPDF) {
		t.Fatalf("download: %v", p.Header)
	}
}

// ?next= takes the reader back to a page of this site only.
func TestSignInNextIsLocalOnly(t *testing.T) {
	a := newApp(t, appOptions{})
	a.user("ana@example.org", "Ana Candidate")
	cases := []struct{ next, want string }{
		{"/nominations/abc", "/nominations/abc"},
		{"/calls/mag-2027?x=1", "/calls/mag-2027?x=1"},
		{"//evil.example/", "/nominations"},
		{"/\\evil.example", "/nominations"},
		{"https://evil.example/", "/nominations"},
		{"javascript:alert(1)", "/nominations"},
		{"/%2F%2Fevil.example", "/nominations"},
		{"/%5Cevil.example", "/nominations"},
		{"%2F%2Fevil.example", "/nominations"},
		{"/%252F%252Fevil.example", "/nominations"},
		{"/\tevil", "/nominations"},
		{"http:/evil.example", "/nominations"},
	}
	for _, tc := range cases {
		p := a.browser().post("/signin?next="+url.QueryEscape(tc.next), url.Values{"email": {"ana@example.org"}, "password": {testPassword}})
		mustStatus(t, p, http.StatusSeeOther)
		if got := p.Header.Get("Location"); got != tc.want {
			t.Errorf("next=%q: Location %q, want %q", tc.next, got, tc.want)
		}
	}
	// A signed-out reader of a private page is brought back to it.
	loc := mustRedirect(t, a.browser().get("/account"), "/signin?next=")
	p := a.browser().post(loc, url.Values{"email": {"ana@example.org"}, "password": {testPassword}})
	mustRedirect(t, p, "/account")
}

// countingReader counts the bytes the server read of a body.
type countingReader struct {
	n    atomic.Int64
	left int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	for i := range p {
		p[i] = 'x'
	}
	c.left -= int64(len(p))
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// An upload over the limit is refused from its Content-Length, before the
// body is read, with the CV page saying what the limit is; a file that is
// not a PDF is refused by its content.
func TestUploadLimits(t *testing.T) {
	a := newApp(t, appOptions{})
	a.call("test-2027", "Test call 2027", "every-field")
	a.user("ana@example.org", "Ana Candidate")
	b := a.browser()
	b.signIn("ana@example.org")
	id := b.startNomination("test-2027", nil)
	body := &countingReader{left: 50 << 20}
	req, _ := http.NewRequest("POST", a.URL+"/nominations/"+id+"/cv", body)
	req.ContentLength = 50 << 20
	req.Header.Set("Content-Type", "multipart/form-data; boundary=xyz")
	req.Header.Set("Origin", a.URL)
	p := b.do(req)
	mustStatus(t, p, http.StatusRequestEntityTooLarge)
	mustContain(t, p, "The selected file must be smaller than 1.0 MB", `<a href="#file">`, "<title>Error: ")
	if n := body.n.Load(); n > 4<<20 {
		t.Fatalf("the server read %d bytes of a refused upload", n)
	}
	// Without a Content-Length the stream is cut at the limit.
	big := append(append([]byte{}, minimalPDF...), make([]byte, 2<<20)...)
	p = b.upload("/nominations/"+id+"/cv", map[string]string{"kind": "cv"}, "big.pdf", big)
	mustStatus(t, p, http.StatusRequestEntityTooLarge)
	mustContain(t, p, "smaller than 1.0 MB")
	p = b.upload("/nominations/"+id+"/cv", map[string]string{"kind": "cv"}, "cv.pdf", []byte("GIF89a not a pdf at all"))
	mustStatus(t, p, http.StatusUnsupportedMediaType)
	mustContain(t, p, "must be a PDF")
	p = b.upload("/nominations/"+id+"/cv", map[string]string{"kind": "cv"}, "", nil)
	mustStatus(t, p, 422)
	mustContain(t, p, "Select a file")
	v, _ := a.noms.Get(context.Background(), actorOf(mustUser(t, a, "ana@example.org")), id)
	if len(v.Nomination.Attachments) != 0 {
		t.Fatalf("a refused upload was stored: %+v", v.Nomination.Attachments)
	}
	// Form posts are bounded too.
	req, _ = http.NewRequest("POST", a.URL+"/nominations/"+id+"/details", &countingReader{left: 5 << 20})
	req.ContentLength = 5 << 20
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	mustStatus(t, b.do(req), http.StatusRequestEntityTooLarge)
}

// Every route of the router declares its access, page routes as pages.
func TestRouteTableDeclaresPages(t *testing.T) {
	a := newApp(t, appOptions{})
	pages := map[string]bool{}
	for _, r := range a.web.Routes() {
		pages[r.Method+" "+regexp.MustCompile(`\{(\w+)\}`).ReplaceAllString(r.Path, ":$1")] = true
	}
	seen := 0
	for _, r := range a.api.Routes() {
		acc, ok := a.api.AccessOf(r.Method, r.Path)
		if !ok {
			t.Errorf("%s %s declares no access", r.Method, r.Path)
		}
		if pages[r.Method+" "+r.Path] {
			seen++
			if !strings.HasPrefix(acc.String(), "page:") {
				t.Errorf("page %s %s declared %s", r.Method, r.Path, acc)
			}
		} else if strings.HasPrefix(acc.String(), "page") {
			t.Errorf("API route %s %s declared as a page", r.Method, r.Path)
		}
	}
	if seen != len(pages) || seen < 30 {
		t.Fatalf("%d of %d page routes mounted", seen, len(pages))
	}
}
