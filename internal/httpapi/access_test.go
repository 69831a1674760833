package httpapi

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/igf/nomina/internal/auth"
)

// routeAccess pins who may call every route of the router: "public",
// "authenticated" (any signed-in user; the domain checks each record), or
// "roles:a,b" (callers holding one of the roles; an admin holds every role
// the secretariat holds). A route added to the router must be added here,
// and a changed access must be changed here: TestRouteAccessTable fails
// naming the route otherwise.
var routeAccess = map[string]string{
	"GET /healthz":             "public",
	"GET /readyz":              "public",
	"GET /api/v1/openapi.yaml": "public",
	"GET /api/docs":            "public",
	"GET /api/docs/:asset":     "public",

	"GET /api/v1/workflows":           "public",
	"GET /api/v1/workflows/:id":       "public",
	"GET /api/v1/workflows/:id/graph": "public",

	"POST /api/v1/auth/register":              "public",
	"POST /api/v1/auth/login":                 "public",
	"POST /api/v1/auth/refresh":               "public",
	"POST /api/v1/auth/logout":                "authenticated",
	"POST /api/v1/auth/password":              "authenticated",
	"POST /api/v1/auth/password-reset":        "public",
	"POST /api/v1/auth/password-reset/:token": "public",
	"POST /api/v1/auth/confirm-email":         "public",
	"POST /api/v1/auth/confirm-email/resend":  "authenticated",
	"GET /api/v1/me":                          "authenticated",
	"POST /api/v1/users":                      "roles:secretariat",
	"GET /api/v1/users":                       "roles:secretariat",
	"PATCH /api/v1/users/:id":                 "roles:secretariat",

	"POST /api/v1/calls":                           "roles:secretariat",
	"GET /api/v1/calls":                            "public",
	"GET /api/v1/calls/:slug":                      "public",
	"PATCH /api/v1/calls/:slug":                    "roles:secretariat",
	"POST /api/v1/calls/:slug/nominations":         "authenticated",
	"GET /api/v1/calls/:slug/export":               "roles:secretariat",
	"GET /api/v1/calls/:slug/balance":              "roles:secretariat",
	"GET /api/v1/calls/:slug/balance/suggest":      "roles:secretariat",
	"GET /api/v1/calls/:slug/counts":               "roles:secretariat",
	"GET /api/v1/nominations":                      "authenticated",
	"GET /api/v1/nominations/:id":                  "authenticated",
	"PATCH /api/v1/nominations/:id":                "authenticated",
	"POST /api/v1/nominations/:id/attachments":     "authenticated",
	"GET /api/v1/nominations/:id/attachments/:aid": "authenticated",
	"POST /api/v1/nominations/:id/actions/:action": "authenticated",
	"POST /api/v1/nominations/:id/votes":           "roles:reviewer",
	"POST /api/v1/nominations/:id/conflicts":       "roles:reviewer",
	"POST /api/v1/nominations/:id/override":        "roles:secretariat",
	"GET /api/v1/nominations/:id/history":          "authenticated",
	"POST /api/v1/nominations/:id/endorsements":    "authenticated",
	"GET /api/v1/endorsements/:token":              "public",
	"POST /api/v1/endorsements/:token":             "public",
	"GET /api/v1/consent/:token":                   "public",
	"POST /api/v1/consent/:token":                  "public",
	"GET /api/v1/mail":                             "roles:secretariat",
	"POST /api/v1/mail/retry":                      "roles:secretariat",
	"GET /api/v1/members":                          "roles:secretariat",
	"POST /api/v1/members":                         "roles:secretariat",
	"POST /api/v1/members/import":                  "roles:secretariat",
	"GET /api/v1/members/:id":                      "roles:secretariat",
	"POST /api/v1/members/:id/terms":               "roles:secretariat",
	"POST /api/v1/terms/:id/end":                   "roles:secretariat",
	"POST /api/v1/terms/:id/renew":                 "roles:secretariat",
	"GET /api/v1/bodies/:body/rotation":            "roles:secretariat",
	"GET /api/v1/bodies/:body/roster":              "roles:secretariat",

	// The web pages (internal/web), mounted beside the API: "page:public"
	// for anyone, "page:signed-in" for a signed-in person (anyone else is
	// sent to the sign-in page). What a page shows is the domain's answer
	// for its reader.
	"GET /assets/:name":                                 "page:public",
	"GET /":                                             "page:public",
	"GET /calls/:slug":                                  "page:public",
	"POST /calls/:slug/nominations":                     "page:signed-in",
	"GET /signup":                                       "page:public",
	"POST /signup":                                      "page:public",
	"GET /signup/check-email":                           "page:public",
	"GET /signin":                                       "page:public",
	"POST /signin":                                      "page:public",
	"POST /signout":                                     "page:public",
	"GET /forgot-password":                              "page:public",
	"POST /forgot-password":                             "page:public",
	"GET /reset-password/:token":                        "page:public",
	"POST /reset-password/:token":                       "page:public",
	"GET /set-password/:token":                          "page:public",
	"POST /set-password/:token":                         "page:public",
	"GET /confirm-email/:token":                         "page:public",
	"POST /confirm-email/:token":                        "page:public",
	"GET /setup/:token":                                 "page:public",
	"POST /setup/:token":                                "page:public",
	"GET /account":                                      "page:signed-in",
	"POST /account":                                     "page:signed-in",
	"GET /account/confirm-email":                        "page:signed-in",
	"POST /account/confirm-email":                       "page:signed-in",
	"POST /character-count":                             "page:public",
	"GET /nominations":                                  "page:signed-in",
	"GET /nominations/:id":                              "page:signed-in",
	"GET /nominations/:id/details":                      "page:signed-in",
	"POST /nominations/:id/details":                     "page:signed-in",
	"GET /nominations/:id/cv":                           "page:signed-in",
	"POST /nominations/:id/cv":                          "page:signed-in",
	"GET /nominations/:id/files/:file":                  "page:signed-in",
	"GET /nominations/:id/endorsements":                 "page:signed-in",
	"POST /nominations/:id/endorsements":                "page:signed-in",
	"GET /nominations/:id/check":                        "page:signed-in",
	"POST /nominations/:id/submit":                      "page:signed-in",
	"GET /nominations/:id/submitted":                    "page:signed-in",
	"GET /nominations/:id/withdraw":                     "page:signed-in",
	"POST /nominations/:id/withdraw":                    "page:signed-in",
	"GET /endorse/:token":                               "page:public",
	"POST /endorse/:token":                              "page:public",
	"GET /consent/:token":                               "page:public",
	"POST /consent/:token":                              "page:public",
	"GET /review":                                       "page:reviewer",
	"GET /review/:id":                                   "page:reviewer",
	"POST /review/:id/vote":                             "page:reviewer",
	"POST /review/:id/conflict":                         "page:reviewer",
	"GET /secretariat":                                  "page:secretariat",
	"GET /secretariat/calls/new":                        "page:secretariat",
	"POST /secretariat/calls/new":                       "page:secretariat",
	"GET /secretariat/calls/:slug":                      "page:secretariat",
	"POST /secretariat/calls/:slug":                     "page:secretariat",
	"GET /secretariat/calls/:slug/nominations":          "page:secretariat",
	"GET /secretariat/calls/:slug/balance":              "page:secretariat",
	"POST /secretariat/calls/:slug/shortlist":           "page:secretariat",
	"GET /secretariat/calls/:slug/export.csv":           "page:secretariat",
	"GET /secretariat/calls/:slug/export.xlsx":          "page:secretariat",
	"GET /secretariat/calls/:slug/export.json":          "page:secretariat",
	"GET /secretariat/nominations/:id":                  "page:secretariat",
	"POST /secretariat/nominations/:id/actions/:action": "page:secretariat",
	"POST /secretariat/nominations/:id/override":        "page:secretariat",
	"GET /secretariat/users":                            "page:secretariat",
	"POST /secretariat/users":                           "page:secretariat",
	"GET /secretariat/members":                          "page:secretariat",
	"POST /secretariat/members/import":                  "page:secretariat",
	"GET /secretariat/mail":                             "page:secretariat",
	"POST /secretariat/mail/retry":                      "page:secretariat",
	"POST /api/v1/endorsements/:token/decline":          "public",
}

// The declared access of every route is the one the table pins, and the
// table lists no route that is not there.
func TestRouteAccessTable(t *testing.T) {
	s := newFullTestServer(t)
	routed := map[string]bool{}
	for _, r := range s.Routes() {
		key := r.Method + " " + r.Path
		routed[key] = true
		acc, ok := s.AccessOf(r.Method, r.Path)
		want, pinned := routeAccess[key]
		switch {
		case !ok:
			t.Errorf("%s declares no access", key)
		case !pinned:
			t.Errorf("%s is routed with access %q but missing from routeAccess in access_test.go: add it with the access it must have", key, acc)
		case acc.String() != want:
			t.Errorf("%s has access %q, routeAccess pins %q", key, acc, want)
		}
	}
	for key := range routeAccess {
		if !routed[key] {
			t.Errorf("routeAccess pins %s, which is not routed: remove it", key)
		}
	}
}

var routeParam = regexp.MustCompile(`[:*][A-Za-z_]+`)

// allowedRoles returns the roles of roleAccounts that pass an access
// declaration, or nil for public and authenticated routes.
func allowedRoles(access string) []string {
	list, ok := strings.CutPrefix(access, "roles:")
	if !ok {
		return nil
	}
	roles := strings.Split(list, ",")
	if slices.Contains(roles, "secretariat") && !slices.Contains(roles, "admin") {
		roles = append(roles, "admin")
	}
	return roles
}

// Every protected route of the real router, with the real authentication:
// 401 without a token or with a token that does not verify, 403 for each
// role the table does not allow, and past the access check for each role
// it allows.
func TestRouteAccessSweep(t *testing.T) {
	st := newStack(t)
	accounts := map[string]account{}
	for _, role := range auth.Roles {
		accounts[string(role)] = st.mustUser(string(role)+"@igf.example", []auth.Role{role}, []string{"civil_society"}, "")
	}
	const roleDenied = "your role does not allow this"
	const tokenRequired = "a valid access token is required"
	routes := st.srv.Routes()
	sort.Slice(routes, func(i, j int) bool { return routes[i].Path+routes[i].Method < routes[j].Path+routes[j].Method })
	for _, r := range routes {
		key := r.Method + " " + r.Path
		access, ok := routeAccess[key]
		if !ok {
			t.Errorf("%s is missing from routeAccess in access_test.go", key)
			continue
		}
		path := routeParam.ReplaceAllString(r.Path, "x")
		var body any
		if r.Method != http.MethodGet {
			body = "{}"
		}
		send := func(who account) (int, string) {
			rec := st.call(r.Method, path, who, body)
			return rec.Code, rec.Body.String()
		}
		// Without a token.
		code, out := send(anonymous)
		switch {
		case access == "public" && code == http.StatusUnauthorized && strings.Contains(out, tokenRequired):
			t.Errorf("%s is public but answers 401 without a token: %s", key, out)
		case access != "public" && code != http.StatusUnauthorized:
			t.Errorf("%s without a token: %d, want 401: %s", key, code, out)
		}
		// With a token that does not verify, every route answers 401.
		if code, out := send(account{Token: "not-a-token"}); code != http.StatusUnauthorized {
			t.Errorf("%s with a bad token: %d, want 401: %s", key, code, out)
		}
		if access == "public" {
			continue
		}
		allowed := allowedRoles(access)
		for _, role := range auth.Roles {
			code, out := send(accounts[string(role)])
			denied := code == http.StatusForbidden && strings.Contains(out, roleDenied)
			switch {
			case code == http.StatusUnauthorized:
				t.Errorf("%s as %s: 401 with a valid token: %s", key, role, out)
			case allowed != nil && !slices.Contains(allowed, string(role)) && !denied:
				t.Errorf("%s as %s: %d, want 403 (%s): %s", key, role, code, access, out)
			case (allowed == nil || slices.Contains(allowed, string(role))) && denied:
				t.Errorf("%s as %s: refused by role, but %s allows it", key, role, access)
			}
		}
		if key == "POST /api/v1/auth/logout" {
			// Signing out ended the sessions: sign in again.
			for role, a := range accounts {
				accounts[role] = st.login(a)
			}
		}
	}
}

// Other people's nominations are invisible. For a second candidate and a
// reviewer of another panel, every route about a nomination (reading it,
// its history and its real attachment, changing it, uploading, every action
// of its workflow, endorsements, votes, conflicts and override) answers the
// same for the real id as for a guessed one: exactly 404 when the caller's
// role may use the route, 403 when it may not. Nothing is stored.
func TestObjectLevelAuthorization(t *testing.T) {
	st := newStack(t)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	owner := st.candidate("ana@example.org")
	other := st.candidate("bob@example.org")
	outsider := st.reviewer("rev@example.org", "", "government")
	n := st.mustSubmitted(owner, "mag-2027", "civil_society")
	mustStatus(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/actions/admit", sec, nil), http.StatusOK, &n)
	if len(n.Attachments) != 1 {
		t.Fatalf("attachments %+v", n.Attachments)
	}
	aid := n.Attachments[0].ID
	// The file is there for its owner.
	if rec := st.call("GET", "/api/v1/nominations/"+n.ID+"/attachments/"+aid, owner, nil); rec.Code != http.StatusOK || !strings.HasPrefix(rec.Body.String(), "%PDF") {
		t.Fatalf("the owner's download: %d", rec.Code)
	}
	before := len(st.mustConsistent(n.ID))
	def, ok := mustWorkflows(t).Latest("mag")
	if !ok {
		t.Fatal("no mag workflow")
	}

	type route struct {
		method, path string
		body         any
		roles        []string // roles the route admits; nil: any signed-in user
	}
	routesFor := func(id string) []route {
		p := "/api/v1/nominations/" + id
		rs := []route{
			{"GET", p, nil, nil},
			{"PATCH", p, `{"fields":{"gender":"male"}}`, nil},
			{"GET", p + "/history", nil, nil},
			{"GET", p + "/attachments/" + aid, nil, nil},
			{"POST", p + "/endorsements", `{"name":"E","email":"e@example.org","organization":"O"}`, nil},
			{"POST", p + "/votes", `{"decision":"approve","score":4}`, []string{"reviewer"}},
			{"POST", p + "/conflicts", `{"reason":"We worked together."}`, []string{"reviewer"}},
			{"POST", p + "/override", `{"action":"reject","reason":"Forged."}`, []string{"secretariat"}},
		}
		for _, a := range def.Actions {
			rs = append(rs, route{"POST", p + "/actions/" + a.Name, `{"reason":"Because.","comment":"Because."}`, nil})
		}
		return rs
	}
	upload := func(who account, id string) int {
		return st.upload(who, id, "cv", "cv.pdf", minimalPDF).Code
	}
	for _, who := range []struct {
		account
		role string
	}{{other, "candidate"}, {outsider, "reviewer"}} {
		real, guessed := routesFor(n.ID), routesFor("naaaaaaaaaaaaaaaaaaaaaaaaaa")
		for i := range real {
			want := http.StatusNotFound
			if real[i].roles != nil && !slices.Contains(real[i].roles, who.role) {
				want = http.StatusForbidden
			}
			for _, r := range []route{real[i], guessed[i]} {
				if rec := st.call(r.method, r.path, who.account, r.body); rec.Code != want {
					t.Errorf("%s %s as %s: %d, want %d: %s", r.method, r.path, who.Email, rec.Code, want, rec.Body)
				}
			}
		}
		if code := upload(who.account, n.ID); code != http.StatusNotFound {
			t.Errorf("upload to another's nomination as %s: %d, want 404", who.Email, code)
		}
	}
	// A nomination of one's own does not open another's file.
	own := st.mustDraft(other, "mag-2027", map[string]any{"stakeholder_group": "civil_society"})
	if rec := st.call("GET", "/api/v1/nominations/"+own.ID+"/attachments/"+aid, other, nil); rec.Code != http.StatusNotFound {
		t.Errorf("another's file through one's own nomination: %d, want 404", rec.Code)
	}
	if evs := st.mustConsistent(n.ID); len(evs) != before {
		t.Fatalf("%d events after the refused calls, want %d", len(evs), before)
	}
	var list struct{ Items []nominationBody }
	for _, who := range []account{other, outsider} {
		mustStatus(t, st.call("GET", "/api/v1/nominations", who, nil), http.StatusOK, &list)
		for _, item := range list.Items {
			if item.ID == n.ID {
				t.Fatalf("%s lists another's nomination", who.Email)
			}
		}
	}
	if v, err := st.noms.Verify(context.Background(), n.ID); err != nil || !v.OK() {
		t.Fatalf("history after the sweep: %+v %v", v, err)
	}
}
