package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Answers the OpenAPI document promises, which the service did not keep
// before the document was checked against it.

// Every 401 names the scheme (RFC 9110 15.5.2): a refused sign-in or
// refresh as much as a missing token.
func TestEvery401NamesTheScheme(t *testing.T) {
	st := newStack(t)
	ana := st.candidate("ana@example.org")
	cases := map[string]*http.Request{
		"a wrong password": testRequest(t, "POST", "/api/v1/auth/login", "", map[string]string{"email": ana.Email, "password": "not the password at all"}),
		"a spent refresh":  testRequest(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": "rt_unknown"}),
		"no token":         testRequest(t, "GET", "/api/v1/me", "", nil),
		"a bad token":      testRequest(t, "GET", "/api/v1/calls", "not-a-token", nil),
	}
	for name, req := range cases {
		rec := serve(t, st.srv, req)
		mustProblem(t, rec, http.StatusUnauthorized)
		if h := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(h, `Bearer realm="nomina"`) {
			t.Errorf("%s: WWW-Authenticate %q", name, h)
		}
	}
}

// A call is open by the service's clock, the one that decides whether it
// takes nominations, not by the wall clock of the machine.
func TestCallOpenFollowsTheServiceClock(t *testing.T) {
	st := newStack(t) // its clock stands in March 2026
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	var c callResponse
	mustStatus(t, st.call("GET", "/api/v1/calls/mag-2027", anonymous, nil), http.StatusOK, &c)
	if !c.Open {
		t.Fatalf("an anonymous caller is shown the call, which is open, as closed: %+v", c)
	}
	st.clock.Advance(31 * 24 * time.Hour)
	sec = st.login(sec)
	mustStatus(t, st.call("GET", "/api/v1/calls/mag-2027", sec, nil), http.StatusOK, &c)
	if c.Open {
		t.Fatalf("the call closed a day ago and is shown open: %+v", c)
	}
}

// A reviewer's view leaves the nominee's address out rather than sending
// it empty (which no client could read as an address).
func TestReviewerViewOmitsTheNomineeAddress(t *testing.T) {
	st := newStack(t)
	n, _, revs := st.inReview("civil_society", 2)
	rec := st.call("GET", "/api/v1/nominations/"+n.ID, revs[0], nil)
	var body struct {
		Nominee map[string]any `json:"nominee"`
	}
	mustStatus(t, rec, http.StatusOK, &body)
	if _, ok := body.Nominee["email"]; ok || body.Nominee["name"] == "" {
		t.Fatalf("the reviewer's nominee: %v", body.Nominee)
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	mustStatus(t, st.call("GET", "/api/v1/nominations?panel=civil_society", revs[0], nil), http.StatusOK, &list)
	if len(list.Items) != 1 || strings.Contains(string(list.Items[0]), `"email"`) {
		t.Fatalf("the reviewer's queue: %s", list.Items)
	}
}

// A conflict of interest takes a reason and nothing else: a field the
// operation does not know is refused, as everywhere.
func TestConflictRefusesUnknownFields(t *testing.T) {
	st := newStack(t)
	n, _, revs := st.inReview("civil_society", 2)
	p := mustProblem(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/conflicts", revs[0],
		map[string]any{"reason": "Former employer", "action": "close_review"}), http.StatusBadRequest)
	if len(p.Errors) != 1 || p.Errors[0].Field != "action" {
		t.Fatalf("problem: %+v", p)
	}
	mustStatus(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/conflicts", revs[0], map[string]any{"reason": "Former employer"}), http.StatusCreated, nil)
}

// An explicit limit of 0 is out of range, as for the list of accounts; an
// absent limit is the default page.
func TestNominationListLimitZeroIsRefused(t *testing.T) {
	st := newStack(t)
	ana := st.candidate("ana@example.org")
	p := mustProblem(t, st.call("GET", "/api/v1/nominations?limit=0", ana, nil), http.StatusUnprocessableEntity)
	if len(p.Errors) != 1 || p.Errors[0].Field != "limit" {
		t.Fatalf("problem: %+v", p)
	}
	mustStatus(t, st.call("GET", "/api/v1/nominations", ana, nil), http.StatusOK, nil)
}
