package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/web"
)

// Every page route of the real router, over the real services: a page the
// table pins "page:signed-in" sends a browser without a session to the
// sign-in page and serves one with a session; a "page:public" one serves
// both. Every answer is the pages' own (it carries their CSP), never the
// API's.
func TestPageAccessSweep(t *testing.T) {
	st := newStack(t)
	log := slog.New(slog.NewJSONHandler(st.logs, nil))
	sessions := st.auth.Sessions(st.store.WebSessions(), auth.SessionConfig{})
	pages, err := web.New(web.Config{Accounts: st.auth, Sessions: sessions, Nominations: st.noms, Workflows: mustWorkflows(t),
		Logger: log, Now: st.clock.Now, ClientIP: ClientIP})
	if err != nil {
		t.Fatal(err)
	}
	srv := newTestServer(t, Config{Logger: log, Authenticate: AuthenticateWith(st.auth), Auth: st.auth, Nominations: st.noms,
		Workflows: mustWorkflows(t), MaxUploadBytes: 1 << 20}, mountPages(pages))
	ana := st.candidate("ana@example.org")
	signIn := func() string {
		token, _, err := sessions.Start(context.Background(), ana.ID)
		if err != nil {
			t.Fatal(err)
		}
		st.secretsMu.Lock()
		st.secrets = append(st.secrets, token)
		st.secretsMu.Unlock()
		return token
	}
	session := signIn()
	send := func(method, path, cookie string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(""))
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "nomina_session", Value: cookie})
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		return rec
	}
	toSignIn := func(rec *httptest.ResponseRecorder) bool {
		loc := rec.Header().Get("Location")
		return rec.Code == http.StatusSeeOther && (loc == "/signin" || strings.HasPrefix(loc, "/signin?next="))
	}
	routes := srv.Routes()
	sort.Slice(routes, func(i, j int) bool { return routes[i].Path+routes[i].Method < routes[j].Path+routes[j].Method })
	seen := 0
	for _, r := range routes {
		key := r.Method + " " + r.Path
		access := routeAccess[key]
		if !strings.HasPrefix(access, "page:") {
			continue
		}
		seen++
		path := routeParam.ReplaceAllString(r.Path, "x")
		anon, signed := send(r.Method, path, ""), send(r.Method, path, session)
		for who, rec := range map[string]*httptest.ResponseRecorder{"anonymous": anon, "signed in": signed} {
			if rec.Header().Get("Content-Security-Policy") != web.ContentSecurityPolicy {
				t.Errorf("%s %s: %d without the pages' CSP: not served by the pages", key, who, rec.Code)
			}
		}
		switch access {
		case "page:signed-in":
			if !toSignIn(anon) {
				t.Errorf("%s without a session: %d %q, want 303 to the sign-in page", key, anon.Code, anon.Header().Get("Location"))
			}
			if toSignIn(signed) {
				t.Errorf("%s with a session: sent to sign in", key)
			}
		case "page:public":
			if toSignIn(anon) || toSignIn(signed) {
				t.Errorf("%s is public but sends to the sign-in page", key)
			}
		case "page:reviewer", "page:secretariat":
			// A candidate's session is refused; the roles' own sweep is in
			// internal/e2e (TestStaffPageAccessSweep).
			if !toSignIn(anon) {
				t.Errorf("%s without a session: %d %q, want 303 to the sign-in page", key, anon.Code, anon.Header().Get("Location"))
			}
			if signed.Code != http.StatusForbidden {
				t.Errorf("%s with a candidate's session: %d, want 403", key, signed.Code)
			}
		default:
			t.Errorf("%s: unknown page access %q", key, access)
		}
		if key == "POST /signout" {
			session = signIn() // signing out ended it
		}
	}
	if seen < 40 {
		t.Fatalf("swept %d page routes", seen)
	}
}
