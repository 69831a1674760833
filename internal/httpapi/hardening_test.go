package httpapi

// Regression tests of the outside security review's findings, each over
// the real router and the embedded store. Every test names the finding it
// holds.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/nomination"
)

// withLimits changes the nomination service's limits.
func withLimits(change func(*nomination.Limits)) stackOption {
	return func(_ *stack, cfg *nomination.Config) { change(&cfg.Limits) }
}

// withThrottle changes the account service's throttling.
func withThrottle(change func(*auth.ThrottleConfig)) stackOption {
	return func(st *stack, _ *nomination.Config) { change(&st.throttle) }
}

// callFrom sends one request from the client address addr.
func (st *stack) callFrom(addr, method, path string, who account, body any) *httptest.ResponseRecorder {
	st.tb.Helper()
	req := testRequest(st.tb, method, path, who.Token, body)
	req.RemoteAddr = addr + ":40000"
	return serve(st.tb, st.srv, req)
}

// registered signs up through the API, as anyone can, and signs in: an
// account whose address is not confirmed yet.
func (st *stack) registered(email string) account {
	st.tb.Helper()
	mustStatus(st.tb, st.call("POST", "/api/v1/auth/register", anonymous,
		map[string]string{"email": email, "password": testPassword, "name": strings.Split(email, "@")[0]}), http.StatusAccepted, nil)
	var tok tokenResponse
	mustStatus(st.tb, st.call("POST", "/api/v1/auth/login", anonymous, map[string]string{"email": email, "password": testPassword}), http.StatusOK, &tok)
	st.secretsMu.Lock()
	st.secrets = append(st.secrets, tok.AccessToken, tok.RefreshToken)
	st.secretsMu.Unlock()
	var me userResponse
	mustStatus(st.tb, st.call("GET", "/api/v1/me", account{Token: tok.AccessToken}, nil), http.StatusOK, &me)
	return account{ID: me.ID, Email: email, Token: tok.AccessToken}
}

// confirmAddress follows the confirmation link mailed to a, as its owner
// would (the page's button posts the token).
func (st *stack) confirmAddress(a account) {
	st.tb.Helper()
	link := st.mailedLink("", "confirm_email", a.Email, "confirm")
	tok := strings.TrimPrefix(link, "/confirm-email/")
	if tok == link {
		st.tb.Fatalf("confirmation link %q does not lead to /confirm-email/", link)
	}
	mustStatus(st.tb, st.call("POST", "/api/v1/auth/confirm-email", anonymous, map[string]string{"token": tok}), http.StatusNoContent, nil)
}

// thirdParty opens a nomination of someone else.
func (st *stack) thirdParty(who account, slug, name, email string) *httptest.ResponseRecorder {
	st.tb.Helper()
	return st.call("POST", "/api/v1/calls/"+slug+"/nominations", who,
		map[string]any{"nominee": map[string]any{"name": name, "email": email}, "fields": magFields("civil_society")})
}

// endorse asks someone for support.
func (st *stack) endorse(who account, id, name, email string) *httptest.ResponseRecorder {
	st.tb.Helper()
	return st.call("POST", "/api/v1/nominations/"+id+"/endorsements", who,
		map[string]any{"name": name, "email": email, "organization": "Civil Society Network"})
}

// jobsTo counts the queued mail to address.
func (st *stack) jobsTo(address string) int {
	st.tb.Helper()
	recs, err := st.store.MailQueue().MailLog(context.Background(), "", "", 500)
	if err != nil {
		st.tb.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if strings.EqualFold(r.Job.To, address) {
			n++
		}
	}
	return n
}

// storedStrings returns every string value of every document of every
// collection of the stack's database, and the last path segment of each.
func (st *stack) storedStrings() []string {
	st.tb.Helper()
	ctx := context.Background()
	names, err := st.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		st.tb.Fatal(err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
			if i := strings.LastIndexByte(x, '/'); i >= 0 {
				out = append(out, x[i+1:])
			}
		case bson.D:
			for _, e := range x {
				walk(e.Value)
			}
		case bson.M:
			for _, e := range x {
				walk(e)
			}
		case bson.A:
			for _, e := range x {
				walk(e)
			}
		case bson.Binary:
			walk(string(x.Data))
		}
	}
	for _, name := range names {
		cur, err := st.db.Collection(name).Find(ctx, bson.D{})
		if err != nil {
			st.tb.Fatal(err)
		}
		var docs []bson.D
		if err := cur.All(ctx, &docs); err != nil {
			st.tb.Fatal(err)
		}
		for _, d := range docs {
			walk(d)
		}
	}
	return out
}

// Finding 1 (second half): mail jobs keep no usable secret link at rest. A
// read of every collection yields no token that resets or sets a
// password, confirms an address, or opens an endorsement or a consent
// link; the links the mail worker makes at send time do work.
func TestStoreHoldsNoWorkingMailedLink(t *testing.T) {
	st := newStack(t)
	admin := st.mustUser("admin@igf.example", []auth.Role{auth.RoleAdmin}, nil, "")
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	// confirm_email
	reg := st.registered("rosa@example.org")
	// set_password
	mustStatus(t, st.call("POST", "/api/v1/users", admin, map[string]any{"email": "rev@example.org", "name": "Rev", "roles": []string{"reviewer"}}), http.StatusCreated, nil)
	// password_reset
	cand := st.candidate("ana@example.org")
	mustStatus(t, st.call("POST", "/api/v1/auth/password-reset", anonymous, map[string]string{"email": "ana@example.org"}), http.StatusAccepted, nil)
	// consent
	var n nominationBody
	mustStatus(t, st.thirdParty(cand, "mag-2027", "Nia Nominee", "nia@example.org"), http.StatusCreated, &n)
	// endorse
	mustStatus(t, st.endorse(cand, n.ID, "Eve Endorser", "eve@example.org"), http.StatusCreated, nil)

	token := regexp.MustCompile(`^[A-Za-z0-9_.-]{20,600}$`)
	const newPassword = "a fresh and private passphrase 8"
	tried := 0
	for _, s := range st.storedStrings() {
		if !token.MatchString(s) {
			continue
		}
		tried++
		if rec := st.call("POST", "/api/v1/auth/password-reset/"+s, anonymous, map[string]string{"password": newPassword}); rec.Code == http.StatusNoContent {
			t.Fatalf("a stored string resets a password: %.12s…", s)
		}
		if rec := st.call("POST", "/api/v1/auth/confirm-email", anonymous, map[string]string{"token": s}); rec.Code == http.StatusNoContent {
			t.Fatalf("a stored string confirms an address: %.12s…", s)
		}
		if rec := st.call("GET", "/api/v1/endorsements/"+s, anonymous, nil); rec.Code == http.StatusOK {
			t.Fatalf("a stored string opens an endorsement link: %.12s…", s)
		}
		if rec := st.call("GET", "/api/v1/consent/"+s, anonymous, nil); rec.Code == http.StatusOK {
			t.Fatalf("a stored string opens a consent link: %.12s…", s)
		}
	}
	if tried < 20 {
		t.Fatalf("only %d stored strings looked like tokens: the search found nothing to try", tried)
	}
	var me userResponse
	mustStatus(t, st.call("GET", "/api/v1/me", reg, nil), http.StatusOK, &me)
	if me.EmailConfirmed {
		t.Fatal("the address was confirmed by a stored string")
	}
	// The control: the links as the mail worker makes them work.
	mustStatus(t, st.call("GET", st.apiLink(n.ID, "nominee_consent", "nia@example.org", "consent"), anonymous, nil), http.StatusOK, nil)
	mustStatus(t, st.call("GET", st.apiLink(n.ID, "endorsement_request", "eve@example.org", "endorse"), anonymous, nil), http.StatusOK, nil)
	st.confirmAddress(reg)
	for _, c := range []struct{ template, to string }{{"password_reset", "ana@example.org"}, {"set_password", "rev@example.org"}} {
		link := st.mailedLink("", c.template, c.to, "reset")
		tok := link[strings.LastIndexByte(link, '/')+1:]
		mustStatus(t, st.call("POST", "/api/v1/auth/password-reset/"+tok, anonymous, map[string]string{"password": newPassword}), http.StatusNoContent, nil)
	}
}

// Finding 2: a reviewer who is the nominee (by account or by address, in
// any case) is excluded like the submitter: no vote, no review request, no
// sight of the panel's votes, and not counted among the eligible.
func TestNomineeIsExcludedFromTheirOwnReview(t *testing.T) {
	st := newStack(t)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	rita := st.reviewer("Rita@Example.org", "Org R", "civil_society")
	others := []account{st.reviewer("r1@example.org", "Org 1", "civil_society"), st.reviewer("r2@example.org", "Org 2", "civil_society")}
	nominator := st.candidate("nora@example.org")
	var n nominationBody
	mustStatus(t, st.thirdParty(nominator, "mag-2027", "Rita Reviewer", "rita@example.org"), http.StatusCreated, &n)
	mustStatus(t, st.call("POST", st.apiLink(n.ID, "nominee_consent", "rita@example.org", "consent"), anonymous, map[string]string{"decision": "accept"}), http.StatusOK, nil)
	mustStatus(t, st.upload(nominator, n.ID, "cv", "cv.pdf", minimalPDF), http.StatusCreated, nil)
	st.mustEndorse(nominator, n.ID)
	mustStatus(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/actions/submit", nominator, nil), http.StatusOK, nil)
	mustStatus(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/actions/admit", sec, nil), http.StatusOK, &n)
	if n.State != "panel_review" {
		t.Fatalf("state %s", n.State)
	}
	requests := map[string]bool{}
	recs, err := st.store.MailQueue().MailLog(context.Background(), n.ID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Job.Template == "review_request" {
			requests[r.Job.RecipientID] = true
		}
	}
	if requests[rita.ID] || len(requests) != 2 {
		t.Fatalf("review requests to %v; the nominee (%s) must not be asked", requests, rita.ID)
	}
	p := mustProblem(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/votes", rita, map[string]any{"decision": "approve"}), http.StatusForbidden)
	if !strings.Contains(p.Detail, "yourself") {
		t.Fatalf("refusal says %q", p.Detail)
	}
	if code := st.vote(others[0], n.ID, "approve", ""); code != http.StatusCreated {
		t.Fatalf("another reviewer's vote: %d", code)
	}
	var seen nominationBody
	mustStatus(t, st.call("GET", "/api/v1/nominations/"+n.ID, rita, nil), http.StatusOK, &seen)
	if len(seen.Votes) != 0 {
		t.Fatalf("the nominee sees the panel's votes: %+v", seen.Votes)
	}
	for _, e := range st.mustHistory(rita, n.ID) {
		if e.Type == nomination.EvVote && !e.Redacted {
			t.Fatalf("the nominee reads a vote in the history: %s", e.Data)
		}
	}
	// Two eligible reviewers, not three: the second approval decides.
	if code := st.vote(others[1], n.ID, "approve", ""); code != http.StatusCreated {
		t.Fatalf("second vote: %d", code)
	}
	mustStatus(t, st.call("GET", "/api/v1/nominations/"+n.ID, sec, nil), http.StatusOK, &seen)
	if seen.State != "secretariat_review" {
		t.Fatalf("state %s after both eligible reviewers approved", seen.State)
	}
}

// Finding 3: until an account has confirmed its address, nothing it does
// mails other people (403 saying why); the confirmation comes from the
// link in its first mail.
func TestMailToOthersNeedsAConfirmedAddress(t *testing.T) {
	st := newStack(t)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	ana := st.registered("ana@example.org")

	own := st.mustDraft(ana, "mag-2027", magFields("civil_society"))
	p := mustProblem(t, st.thirdParty(ana, "mag-2027", "Nia Nominee", "nia@example.org"), http.StatusForbidden)
	if !strings.Contains(p.Detail, "confirm your email address") {
		t.Fatalf("the refusal does not say why: %q", p.Detail)
	}
	p = mustProblem(t, st.endorse(ana, own.ID, "Eve Endorser", "eve@example.org"), http.StatusForbidden)
	if !strings.Contains(p.Detail, "confirm your email address") {
		t.Fatalf("the refusal does not say why: %q", p.Detail)
	}
	if st.jobsTo("nia@example.org")+st.jobsTo("eve@example.org") != 0 {
		t.Fatal("mail was queued for other people")
	}
	if evs := st.mustConsistent(own.ID); len(evs) != 1 {
		t.Fatalf("%d events after refused requests", len(evs))
	}
	mustProblem(t, st.call("POST", "/api/v1/auth/confirm-email", anonymous, map[string]string{"token": "forged.token"}), http.StatusUnprocessableEntity)
	// A new link can be asked for; both work.
	mustStatus(t, st.call("POST", "/api/v1/auth/confirm-email/resend", ana, nil), http.StatusAccepted, nil)
	st.confirmAddress(ana)
	var me userResponse
	mustStatus(t, st.call("GET", "/api/v1/me", ana, nil), http.StatusOK, &me)
	if !me.EmailConfirmed {
		t.Fatal("not confirmed after following the link")
	}
	mustStatus(t, st.thirdParty(ana, "mag-2027", "Nia Nominee", "nia@example.org"), http.StatusCreated, nil)
	mustStatus(t, st.endorse(ana, own.ID, "Eve Endorser", "eve@example.org"), http.StatusCreated, nil)
	if st.jobsTo("nia@example.org") != 1 || st.jobsTo("eve@example.org") != 1 {
		t.Fatal("the nominee and the endorser were not mailed once confirmed")
	}
}

// Finding 3: accounts the operator or staff created and gave a password
// through a mailed link have shown their address; the operator's own
// accounts too.
func TestWhoseAddressCountsAsConfirmed(t *testing.T) {
	st := newStack(t)
	admin := st.mustUser("admin@igf.example", []auth.Role{auth.RoleAdmin}, nil, "")
	var me userResponse
	mustStatus(t, st.call("GET", "/api/v1/me", admin, nil), http.StatusOK, &me)
	if !me.EmailConfirmed {
		t.Fatal("an account the operator made with a password is not confirmed")
	}
	var u userResponse
	mustStatus(t, st.call("POST", "/api/v1/users", admin, map[string]any{"email": "rev@example.org", "name": "Rev", "roles": []string{"candidate"}}), http.StatusCreated, &u)
	if u.EmailConfirmed {
		t.Fatal("confirmed before the set-password link was used")
	}
	link := st.mailedLink("", "set_password", "rev@example.org", "reset")
	mustStatus(t, st.call("POST", "/api/v1/auth/password-reset/"+link[strings.LastIndexByte(link, '/')+1:], anonymous, map[string]string{"password": testPassword}), http.StatusNoContent, nil)
	rev := st.login(account{ID: u.ID, Email: "rev@example.org"})
	mustStatus(t, st.call("GET", "/api/v1/me", rev, nil), http.StatusOK, &me)
	if !me.EmailConfirmed {
		t.Fatal("setting the password through the mailed link did not confirm the address")
	}
	// Staff giving a password vouch for nothing: the owner confirms.
	mustStatus(t, st.call("POST", "/api/v1/users", admin, map[string]any{"email": "cara@example.org", "name": "Cara", "roles": []string{"candidate"}, "password": testPassword}), http.StatusCreated, &u)
	if u.EmailConfirmed || st.jobsTo("cara@example.org") != 1 {
		t.Fatalf("a staff-made account with a password: confirmed %v, %d mails", u.EmailConfirmed, st.jobsTo("cara@example.org"))
	}
}

// Finding 3: nominations of others, endorsement requests and mail to one
// outside address are limited per account, per client address and per
// recipient, in the store (two instances share the counts): 429 with
// Retry-After, and nothing recorded or mailed.
func TestMailLimits(t *testing.T) {
	day := 24 * time.Hour
	setup := func(t *testing.T, change func(*nomination.Limits)) (*stack, *stack, account, account) {
		st := newStack(t, withLimits(change))
		second := newStackOn(t, st.db, st.clock, withLimits(change))
		sec := st.secretariat("sec@igf.example")
		st.mustCall(sec, "mag-2027", "mag")
		return st, second, st.candidate("ana@example.org"), st.candidate("bob@example.org")
	}
	retryWithin := func(t *testing.T, rec *httptest.ResponseRecorder, max int) {
		t.Helper()
		mustProblem(t, rec, http.StatusTooManyRequests)
		if secs, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || secs < 1 || secs > max {
			t.Fatalf("Retry-After = %q", rec.Header().Get("Retry-After"))
		}
	}
	t.Run("nominations of others per account", func(t *testing.T) {
		st, second, ana, _ := setup(t, func(l *nomination.Limits) { l.ConsentRequestsPerAccount = nomination.Rate{Max: 2, Per: day} })
		mustStatus(t, st.thirdParty(ana, "mag-2027", "One", "one@example.org"), http.StatusCreated, nil)
		mustStatus(t, second.thirdParty(ana, "mag-2027", "Two", "two@example.org"), http.StatusCreated, nil)
		retryWithin(t, st.thirdParty(ana, "mag-2027", "Three", "three@example.org"), 24*3600)
		if st.jobsTo("three@example.org") != 0 {
			t.Fatal("the refused nominee was mailed")
		}
		st.mustDraft(ana, "mag-2027", magFields("civil_society")) // a self-nomination mails nobody else
	})
	t.Run("mail to one outside address", func(t *testing.T) {
		st, second, ana, bob := setup(t, func(l *nomination.Limits) { l.MailsPerRecipient = nomination.Rate{Max: 2, Per: day} })
		carl := st.candidate("carl@example.org")
		mustStatus(t, st.endorse(ana, st.mustDraft(ana, "mag-2027", magFields("civil_society")).ID, "Eve", "eve@example.org"), http.StatusCreated, nil)
		mustStatus(t, second.thirdParty(bob, "mag-2027", "Eve", "EVE@example.org"), http.StatusCreated, nil)
		retryWithin(t, st.endorse(carl, st.mustDraft(carl, "mag-2027", magFields("government")).ID, "Eve", "eve+x@example.org"), 24*3600)
		if n := st.jobsTo("eve@example.org"); n != 2 { // any case
			t.Fatalf("%d mails to one address, want 2", n)
		}
	})
	t.Run("endorsement requests per account", func(t *testing.T) {
		st, second, ana, _ := setup(t, func(l *nomination.Limits) { l.EndorsementRequestsPerAccount = nomination.Rate{Max: 2, Per: day} })
		own := st.mustDraft(ana, "mag-2027", magFields("civil_society"))
		mustStatus(t, st.endorse(ana, own.ID, "F", "f@example.org"), http.StatusCreated, nil)
		mustStatus(t, second.endorse(ana, own.ID, "G", "g@example.org"), http.StatusCreated, nil)
		retryWithin(t, st.endorse(ana, own.ID, "H", "h@example.org"), 24*3600)
		if evs := st.mustConsistent(own.ID); len(evs) != 3 || st.jobsTo("h@example.org") != 0 {
			t.Fatalf("%d events, %d mails to the refused endorser", len(evs), st.jobsTo("h@example.org"))
		}
		// A new day, a new count.
		st.clock.Advance(day)
		ana = st.login(ana)
		mustStatus(t, st.endorse(ana, own.ID, "H", "h@example.org"), http.StatusCreated, nil)
	})
	t.Run("endorsement requests per client address", func(t *testing.T) {
		st, _, ana, bob := setup(t, func(l *nomination.Limits) { l.EndorsementRequestsPerAddress = nomination.Rate{Max: 2, Per: day} })
		carl := st.candidate("carl@example.org")
		ask := func(addr string, who account, email string) *httptest.ResponseRecorder {
			n := st.mustDraft(who, "mag-2027", magFields("civil_society"))
			return st.callFrom(addr, "POST", "/api/v1/nominations/"+n.ID+"/endorsements", who, map[string]any{"name": "E", "email": email})
		}
		mustStatus(t, ask("198.51.100.9", ana, "f@example.org"), http.StatusCreated, nil)
		mustStatus(t, ask("198.51.100.9", bob, "g@example.org"), http.StatusCreated, nil)
		retryWithin(t, ask("198.51.100.9", carl, "h@example.org"), 24*3600)
		mustStatus(t, ask("203.0.113.5", carl, "h@example.org"), http.StatusCreated, nil)
	})
}

// Finding 3: registrations are limited per client address and in all.
func TestRegistrationsAreThrottled(t *testing.T) {
	st := newStack(t, withThrottle(func(c *auth.ThrottleConfig) {
		c.RegistrationsPerAddress = nomination.Rate{Max: 3, Per: time.Hour}
		c.Registrations = nomination.Rate{Max: 5, Per: time.Hour}
	}))
	register := func(addr, email string) *httptest.ResponseRecorder {
		return st.callFrom(addr, "POST", "/api/v1/auth/register", anonymous, map[string]string{"email": email, "password": testPassword, "name": "Flood"})
	}
	for i := range 3 {
		mustStatus(t, register("198.51.100.1", "a"+strconv.Itoa(i)+"@example.org"), http.StatusAccepted, nil)
	}
	rec := register("198.51.100.1", "a3@example.org")
	mustProblem(t, rec, http.StatusTooManyRequests)
	if secs, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || secs < 1 || secs > 3600 {
		t.Fatalf("Retry-After = %q", rec.Header().Get("Retry-After"))
	}
	mustStatus(t, register("198.51.100.2", "b0@example.org"), http.StatusAccepted, nil)
	mustStatus(t, register("198.51.100.3", "c0@example.org"), http.StatusAccepted, nil)
	mustProblem(t, register("198.51.100.4", "d0@example.org"), http.StatusTooManyRequests)
	st.clock.Advance(time.Hour)
	mustStatus(t, register("198.51.100.1", "a3@example.org"), http.StatusAccepted, nil)
}

// Finding 4: a PATCH names fields of the workflow only (400 naming any
// other key, null or not); one that changes nothing appends no event; and
// an account's writes per minute are limited.
func TestPatchTakesFormFieldsOnly(t *testing.T) {
	st := newStack(t, withLimits(func(l *nomination.Limits) { l.Writes = nomination.Rate{Max: 4, Per: time.Minute} }))
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	ana := st.candidate("ana@example.org")
	n := st.mustDraft(ana, "mag-2027", magFields("civil_society")) // write 1
	path := "/api/v1/nominations/" + n.ID
	p := mustProblem(t, st.call("PATCH", path, ana, `{"fields":{"$where":null,"a.b":null,"__proto__":null}}`, "If-Match", "*"), http.StatusBadRequest)
	named := map[string]bool{}
	for _, f := range p.Errors {
		named[f.Field] = true
	}
	if !named["fields.$where"] || !named["fields.a.b"] || !named["fields.__proto__"] {
		t.Fatalf("errors %+v do not name every junk key", p.Errors)
	}
	var many strings.Builder
	many.WriteString(`{"fields":{`)
	for i := range 16000 {
		if i > 0 {
			many.WriteString(",")
		}
		many.WriteString(`"k` + strconv.Itoa(i) + `":null`)
	}
	many.WriteString("}}")
	mustProblem(t, st.call("PATCH", path, ana, many.String(), "If-Match", "*"), http.StatusBadRequest)
	// The same answers again, and removing an answer never given.
	mustStatus(t, st.call("PATCH", path, ana, map[string]any{"fields": magFields("civil_society")}, "If-Match", "*"), http.StatusOK, &n)
	mustStatus(t, st.call("PATCH", path, ana, map[string]any{"fields": map[string]any{"position": nil, "gender": "female"}}, "If-Match", "*"), http.StatusOK, &n)
	if evs := st.mustConsistent(n.ID); len(evs) != 1 || n.Version != 1 {
		t.Fatalf("%d events (version %d) after changes that changed nothing", len(evs), n.Version)
	}
	mustStatus(t, st.call("PATCH", path, ana, map[string]any{"fields": map[string]any{"gender": "male"}}, "If-Match", "*"), http.StatusOK, &n)   // 2
	mustStatus(t, st.call("PATCH", path, ana, map[string]any{"fields": map[string]any{"gender": "female"}}, "If-Match", "*"), http.StatusOK, &n) // 3
	mustStatus(t, st.call("PATCH", path, ana, map[string]any{"fields": map[string]any{"gender": "male"}}, "If-Match", "*"), http.StatusOK, &n)   // 4
	rec := st.call("PATCH", path, ana, map[string]any{"fields": map[string]any{"gender": "female"}}, "If-Match", "*")
	mustProblem(t, rec, http.StatusTooManyRequests)
	if secs, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || secs < 1 || secs > 60 {
		t.Fatalf("Retry-After = %q", rec.Header().Get("Retry-After"))
	}
	st.clock.Advance(time.Minute)
	mustStatus(t, st.call("PATCH", path, ana, map[string]any{"fields": map[string]any{"gender": "female"}}, "If-Match", "*"), http.StatusOK, &n)
	if evs := st.mustConsistent(n.ID); len(evs) != 5 {
		t.Fatalf("%d events, want 5", len(evs))
	}
}

// Finding 5: after a nomination moved to another panel, that panel's
// reviewers read neither the earlier panel's votes nor their comments in
// the history, as in the nomination.
func TestHistoryHidesAnotherPanelsVotes(t *testing.T) {
	st := newStack(t)
	n, cand, csRevs := st.inReview("civil_society", 3)
	gov := st.reviewer("g1@example.org", "Org G", "government")
	if code := st.vote(csRevs[0], n.ID, "request_changes", "Say more about the civil society work."); code != http.StatusCreated {
		t.Fatalf("request changes: %d", code)
	}
	path := "/api/v1/nominations/" + n.ID
	mustStatus(t, st.call("PATCH", path, cand, map[string]any{"fields": map[string]any{"stakeholder_group": "government"}}, "If-Match", "*"), http.StatusOK, nil)
	mustStatus(t, st.call("POST", path+"/actions/submit", cand, nil), http.StatusOK, nil)
	sec := st.secretariat("sec2@igf.example")
	mustStatus(t, st.call("POST", path+"/actions/admit", sec, nil), http.StatusOK, &n)
	if n.Panel != "government" {
		t.Fatalf("panel %q", n.Panel)
	}
	var seen nominationBody
	mustStatus(t, st.call("GET", path, gov, nil), http.StatusOK, &seen)
	if len(seen.Votes) != 0 {
		t.Fatalf("the new panel sees the old panel's votes: %+v", seen.Votes)
	}
	votes := 0
	for _, e := range st.mustHistory(gov, n.ID) {
		if e.Type != nomination.EvVote {
			continue
		}
		votes++
		if !e.Redacted || strings.Contains(string(e.Data), "civil society work") {
			t.Fatalf("the new panel reads the old panel's vote in the history: %s", e.Data)
		}
	}
	if votes != 1 {
		t.Fatalf("%d vote events in the history, want 1", votes)
	}
	// The old panel still reads its own vote.
	for _, e := range st.mustHistory(csRevs[1], n.ID) {
		if e.Type == nomination.EvVote && e.Redacted {
			t.Fatal("the panel that voted cannot read its vote")
		}
	}
}

// Finding 6: the endorser is someone else than the candidate, the nominee
// and the nominator, however the address is spelt, and is asked once.
func TestEndorserIsSomeoneElse(t *testing.T) {
	st := newStack(t)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	ana := st.candidate("ana.lopez@gmail.com")
	own := st.mustDraft(ana, "mag-2027", magFields("civil_society"))
	for _, self := range []string{"ana.lopez@gmail.com", "ANA.LOPEZ@gmail.com", "analopez+support@googlemail.com", "Ana.Lopez+1@Gmail.com"} {
		p := mustProblem(t, st.endorse(ana, own.ID, "Ana", self), http.StatusUnprocessableEntity)
		if len(p.Errors) == 0 || p.Errors[0].Field != "email" {
			t.Fatalf("self-endorsement as %s: %+v", self, p)
		}
	}
	var third nominationBody
	mustStatus(t, st.thirdParty(ana, "mag-2027", "Nia Nominee", "nia@example.org"), http.StatusCreated, &third)
	for _, who := range []string{"NIA@example.org", "nia+me@example.org", "ana.lopez@gmail.com"} {
		mustProblem(t, st.endorse(ana, third.ID, "Someone", who), http.StatusUnprocessableEntity)
	}
	mustStatus(t, st.endorse(ana, third.ID, "Eve", "eve@example.org"), http.StatusCreated, nil)
	mustProblem(t, st.endorse(ana, third.ID, "Eve again", "Eve+2@Example.org"), http.StatusConflict)
	if evs := st.mustConsistent(third.ID); len(evs) != 2 {
		t.Fatalf("%d events, want 2 (created, one request)", len(evs))
	}
}

// Finding 7: ten and more wrong passwords from elsewhere do not lock the
// owner out: a correct password from an address that has not failed gets
// through, the administrator's too. A guessing address waits gradually
// longer, not fifteen minutes at once.
func TestGuessingDoesNotLockTheOwnerOut(t *testing.T) {
	e := newAcctEnv(t)
	e.register("ana@example.org", acctPassword)
	e.staff("admin@example.org", auth.RoleAdmin)
	e.shared.add("wrong horse battery")
	for _, who := range []string{"ana@example.org", "admin@example.org"} {
		bad := map[string]string{"email": who, "password": "wrong horse battery"}
		// Ten failures, from two addresses.
		for _, addr := range []string{"198.51.100.1", "198.51.100.2"} {
			for range 5 {
				mustStatus(t, e.sendFrom(addr, "POST", "/api/v1/auth/login", "", bad), 401, nil)
			}
		}
		var tok tokenResponse
		mustStatus(t, e.sendFrom("203.0.113.20", "POST", "/api/v1/auth/login", "", map[string]string{"email": who, "password": acctPassword}), http.StatusOK, &tok)
		e.shared.add(tok.AccessToken, tok.RefreshToken)
		// A guessing address is held back, a little at first.
		rec := e.sendFrom("198.51.100.1", "POST", "/api/v1/auth/login", "", bad)
		mustProblem(t, rec, http.StatusTooManyRequests)
		if secs, _ := strconv.Atoi(rec.Header().Get("Retry-After")); secs < 1 || secs > 15*60 {
			t.Fatalf("Retry-After = %q", rec.Header().Get("Retry-After"))
		}
	}
	// The waits of one guessing address grow step by step.
	e.clock.Advance(time.Hour)
	bad := map[string]string{"email": "ana@example.org", "password": "wrong horse battery"}
	var waits []int
	for range 12 {
		rec := e.sendFrom("198.51.100.66", "POST", "/api/v1/auth/login", "", bad)
		switch rec.Code {
		case 401:
		case 429:
			secs, _ := strconv.Atoi(rec.Header().Get("Retry-After"))
			waits = append(waits, secs)
			e.clock.Advance(time.Duration(secs) * time.Second)
		default:
			t.Fatalf("status %d", rec.Code)
		}
	}
	if len(waits) < 3 || waits[0] > 5 {
		t.Fatalf("the guessing address waited %v: the lockout does not grow gradually", waits)
	}
	for i := 1; i < len(waits); i++ {
		if waits[i] <= waits[i-1] {
			t.Fatalf("waits %v do not grow", waits)
		}
	}
}

// Finding 8: registering a taken address answers exactly as registering a
// new one; the owner of the taken address is mailed instead, and nothing
// is created. A reset request does the same work for both.
func TestRegistrationDoesNotTellWhichAddressesHaveAccounts(t *testing.T) {
	e := newAcctEnv(t)
	e.register("ana@example.org", acctPassword)
	e.shared.add("another fine passphrase")
	fresh := e.send("POST", "/api/v1/auth/register", "", map[string]string{"email": "bob@example.org", "password": "another fine passphrase", "name": "Bob"})
	taken := e.send("POST", "/api/v1/auth/register", "", map[string]string{"email": "ANA@example.org", "password": "another fine passphrase", "name": "Mallory"})
	if fresh.Code != taken.Code || fresh.Body.String() != taken.Body.String() || fresh.Header().Get("Location") != taken.Header().Get("Location") {
		t.Fatalf("answers differ: %d %s / %d %s", fresh.Code, fresh.Body, taken.Code, taken.Body)
	}
	jobs, err := e.queue.MailLog(context.Background(), "", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	templates := map[string]string{}
	for _, j := range jobs {
		templates[j.Job.To+" "+j.Job.Template] = j.Job.Name
	}
	if templates["ana@example.org account_exists"] != "Ana López" || templates["bob@example.org confirm_email"] != "Bob" {
		t.Fatalf("mail queued: %v", templates)
	}
	mustStatus(t, e.send("POST", "/api/v1/auth/login", "", map[string]string{"email": "ana@example.org", "password": "another fine passphrase"}), 401, nil)
	// Reset: one message queued for a known and for an unknown address.
	before := len(jobs)
	mustStatus(t, e.send("POST", "/api/v1/auth/password-reset", "", map[string]string{"email": "ana@example.org"}), 202, nil)
	mustStatus(t, e.send("POST", "/api/v1/auth/password-reset", "", map[string]string{"email": "nobody@example.org"}), 202, nil)
	jobs, _ = e.queue.MailLog(context.Background(), "", "", 100)
	if len(jobs) != before+2 {
		t.Fatalf("%d messages queued for two reset requests, want 2", len(jobs)-before)
	}
}

// Finding 9: a call not yet open is the secretariat's: candidates and
// reviewers see open and past calls only, anonymous callers open ones.
func TestCallsNotYetOpenAreHidden(t *testing.T) {
	st := newStack(t)
	sec := st.secretariat("sec@igf.example")
	now := st.clock.Now()
	for _, c := range []struct {
		slug       string
		open, shut time.Time
	}{
		{"future-2028", now.Add(10 * 24 * time.Hour), now.Add(40 * 24 * time.Hour)},
		{"open-2027", now.Add(-24 * time.Hour), now.Add(30 * 24 * time.Hour)},
		{"past-2026", now.Add(-60 * 24 * time.Hour), now.Add(-30 * 24 * time.Hour)},
	} {
		mustStatus(t, st.call("POST", "/api/v1/calls", sec, map[string]any{"slug": c.slug, "title": c.slug, "workflow": "mag", "seats": 40,
			"opens_at": c.open, "closes_at": c.shut, "term_start": "2027-01-01T00:00:00Z"}), http.StatusCreated, nil)
	}
	cand := st.candidate("ana@example.org")
	rev := st.reviewer("rev@example.org", "", "government")
	listed := func(who account) string {
		var l struct{ Items []callBody }
		mustStatus(t, st.call("GET", "/api/v1/calls", who, nil), http.StatusOK, &l)
		var slugs []string
		for _, c := range l.Items {
			slugs = append(slugs, c.Slug)
		}
		return strings.Join(slugs, ",")
	}
	for who, want := range map[string]string{"secretariat": "future-2028,open-2027,past-2026", "candidate": "open-2027,past-2026", "reviewer": "open-2027,past-2026", "anonymous": "open-2027"} {
		a := map[string]account{"secretariat": sec, "candidate": cand, "reviewer": rev, "anonymous": anonymous}[who]
		if got := listed(a); got != want {
			t.Errorf("%s lists %s, want %s", who, got, want)
		}
	}
	for _, who := range []account{cand, rev, anonymous} {
		mustProblem(t, st.call("GET", "/api/v1/calls/future-2028", who, nil), http.StatusNotFound)
	}
	mustProblem(t, st.call("POST", "/api/v1/calls/future-2028/nominations", cand, map[string]any{"fields": map[string]any{}}), http.StatusNotFound)
	mustStatus(t, st.call("GET", "/api/v1/calls/future-2028", sec, nil), http.StatusOK, nil)
	mustStatus(t, st.call("GET", "/api/v1/calls/past-2026", cand, nil), http.StatusOK, nil)
}

// Finding 10: a file downloads under a name the service makes from the
// nomination, the field and the type its content was accepted as, never
// the uploader's; the stored label loses control and direction characters.
func TestAttachmentDownloadsUnderTheServicesName(t *testing.T) {
	st := newStack(t)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	ana := st.candidate("ana@example.org")
	n := st.mustDraft(ana, "mag-2027", magFields("civil_society"))
	polyglot := append(append([]byte{}, minimalPDF...), []byte("<html><script>alert(document.cookie)</script></html>")...)
	var att nomination.Attachment
	mustStatus(t, st.upload(ana, n.ID, "cv", "cv\u202efdp.html\r\n", polyglot), http.StatusCreated, &att)
	if strings.ContainsAny(att.Filename, "\u202e\r\n") {
		t.Fatalf("stored label %q keeps control or direction characters", att.Filename)
	}
	for _, who := range []account{ana, sec} {
		rec := st.call("GET", "/api/v1/nominations/"+n.ID+"/attachments/"+att.ID, who, nil)
		mustStatus(t, rec, http.StatusOK, nil)
		cd := rec.Header().Get("Content-Disposition")
		if want := `attachment; filename=` + n.ID + `-cv.pdf`; cd != want {
			t.Fatalf("Content-Disposition = %q, want %q", cd, want)
		}
		if rec.Header().Get("Content-Type") != "application/pdf" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("headers %v", rec.Header())
		}
	}
}

// Finding 11: consent, like endorsement, is refused once the nomination
// has ended.
func TestConsentRefusedOnAnEndedNomination(t *testing.T) {
	st := newStack(t)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	ana := st.candidate("ana@example.org")
	var n nominationBody
	mustStatus(t, st.thirdParty(ana, "mag-2027", "Nia Nominee", "nia@example.org"), http.StatusCreated, &n)
	link := st.apiLink(n.ID, "nominee_consent", "nia@example.org", "consent")
	mustStatus(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/actions/withdraw", ana, nil), http.StatusOK, nil)
	p := mustProblem(t, st.call("POST", link, anonymous, map[string]string{"decision": "accept"}), http.StatusConflict)
	if !strings.Contains(p.Detail, "ended") {
		t.Fatalf("the refusal says %q", p.Detail)
	}
	var got nominationBody
	mustStatus(t, st.call("GET", "/api/v1/nominations/"+n.ID, ana, nil), http.StatusOK, &got)
	evs := st.mustConsistent(n.ID)
	if last := evs[len(evs)-1]; last.Type == nomination.EvConsent || got.State != "withdrawn" {
		t.Fatalf("consent recorded on a withdrawn nomination: %s, %s", last.Type, got.State)
	}
}

// Finding 12: a one-line text (a name, an organisation, a title, a
// nominee's or endorser's name) with a line break, a control character or
// a direction override is refused, naming the field and the character;
// nothing is stored.
func TestOneLineTextsRefuseBreaksAndOverrides(t *testing.T) {
	st := newStack(t)
	admin := st.mustUser("admin@igf.example", []auth.Role{auth.RoleAdmin}, nil, "")
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	ana := st.candidate("ana@example.org")
	own := st.mustDraft(ana, "mag-2027", magFields("civil_society"))
	fields := magFields("civil_society")
	fields["organization"] = "ACME\u2066 Ltd"
	cases := []struct {
		name   string
		do     func() *httptest.ResponseRecorder
		field  string
		sample string
	}{
		{"registration name", func() *httptest.ResponseRecorder {
			return st.call("POST", "/api/v1/auth/register", anonymous, map[string]string{"email": "x@example.org", "password": testPassword, "name": "Ana\u2028Dear candidate"})
		}, "name", "U+2028"},
		{"account name", func() *httptest.ResponseRecorder {
			return st.call("POST", "/api/v1/users", admin, map[string]any{"email": "y@example.org", "name": "Rev\u202eiew", "roles": []string{"reviewer"}})
		}, "name", "U+202E"},
		{"account organisation", func() *httptest.ResponseRecorder {
			return st.call("POST", "/api/v1/users", admin, map[string]any{"email": "y@example.org", "name": "Rev", "organization": "Org\u0085Bcc", "roles": []string{"reviewer"}})
		}, "organization", "U+0085"},
		{"nominee name", func() *httptest.ResponseRecorder {
			return st.thirdParty(ana, "mag-2027", "Nia\u202aNominee", "nia@example.org")
		}, "nominee.name", "U+202A"},
		{"endorser name", func() *httptest.ResponseRecorder {
			return st.endorse(ana, own.ID, "Eve\u2029Endorser", "eve@example.org")
		}, "name", "U+2029"},
		{"endorser organisation", func() *httptest.ResponseRecorder {
			return st.call("POST", "/api/v1/nominations/"+own.ID+"/endorsements", ana, map[string]any{"name": "Eve", "email": "eve@example.org", "organization": "CSN\u2069"})
		}, "organization", "U+2069"},
		{"form text field", func() *httptest.ResponseRecorder {
			return st.call("POST", "/api/v1/calls/mag-2027/nominations", ana, map[string]any{"fields": fields})
		}, "fields.organization", "U+2066"},
		{"call title", func() *httptest.ResponseRecorder {
			return st.call("PATCH", "/api/v1/calls/mag-2027", sec, map[string]any{"title": "MAG\u009b2027"})
		}, "title", "U+009B"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustProblem(t, c.do(), http.StatusUnprocessableEntity)
			for _, f := range p.Errors {
				if f.Field == c.field && strings.Contains(f.Message, c.sample) {
					return
				}
			}
			t.Fatalf("errors %+v do not name %s and %s", p.Errors, c.field, c.sample)
		})
	}
	if evs := st.mustConsistent(own.ID); len(evs) != 1 {
		t.Fatalf("%d events after refused input", len(evs))
	}
	if st.jobsTo("nia@example.org")+st.jobsTo("eve@example.org")+st.jobsTo("x@example.org")+st.jobsTo("y@example.org") != 0 {
		t.Fatal("mail queued after refused input")
	}
}
