package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/web"
)

// withPages returns the stack's router with the web pages mounted, as
// cmd/nomina serves them, and the pages' sessions.
func (st *stack) withPages(tb testing.TB) (*Server, *auth.Sessions) {
	tb.Helper()
	log := slog.New(slog.NewJSONHandler(st.logs, nil))
	sessions := st.auth.Sessions(st.store.WebSessions(), auth.SessionConfig{})
	pages, err := web.New(web.Config{Accounts: st.auth, Sessions: sessions, Nominations: st.noms, Workflows: mustWorkflows(tb),
		Logger: log, Now: st.clock.Now, ClientIP: ClientIP})
	if err != nil {
		tb.Fatal(err)
	}
	srv := newTestServer(tb, Config{Logger: log, Authenticate: AuthenticateWith(st.auth), Auth: st.auth, Nominations: st.noms,
		Workflows: mustWorkflows(tb), MaxUploadBytes: 1 << 20}, mountPages(pages))
	return srv, sessions
}

// startSession signs a in on the pages and returns the cookie's value.
func (st *stack) startSession(sessions *auth.Sessions, a account) string {
	st.tb.Helper()
	token, _, err := sessions.Start(context.Background(), a.ID)
	if err != nil {
		st.tb.Fatal(err)
	}
	st.secretsMu.Lock()
	st.secrets = append(st.secrets, token)
	st.secretsMu.Unlock()
	return token
}

// page sends a page request with the session cookie.
func page(tb testing.TB, srv *Server, method, path, cookie string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(""))
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.AddCookie(&http.Cookie{Name: "nomina_session", Value: cookie})
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	return rec
}

func withoutSessionCache(st *stack, _ *nomination.Config) { st.noSessionCache = true }

// Store round trips of a page request with a session cookie, counted with
// the driver's monitor: with the session cache (as served) and without it
// (every request reads its session and user from the store, as before the
// cache). The difference is what resuming the session costs.
//
//	go test -run '^$' -bench PageSessionRoundTrips -benchtime 300x ./internal/httpapi/
//
// gave (2 cores, embedded store) with the cache 2.01 commands per home
// page, 3.01 per account page, 1.01 per list of one's nominations (the
// fraction is the change log's read, once per 250 ms); without it, and
// before the cache, 6, 7 and 5: a session's read and its user's three.
func BenchmarkPageSessionRoundTrips(b *testing.B) {
	for _, mode := range []struct {
		name string
		opts []stackOption
	}{{"cache", nil}, {"nocache", []stackOption{withoutSessionCache}}} {
		b.Run(mode.name, func(b *testing.B) {
			st, mon := monitored(b, append(mode.opts, withoutLimits)...)
			srv, sessions := st.withPages(b)
			sec := st.secretariat("sec@igf.example")
			st.mustCall(sec, "mag-2027", "mag")
			ana := st.candidate("ana@example.org")
			st.mustDraft(ana, "mag-2027", magFields("civil_society"))
			cookie := st.startSession(sessions, ana)
			for _, p := range []struct{ name, path string }{{"home", "/"}, {"account", "/account"}, {"nominations", "/nominations"}} {
				b.Run(p.name, func(b *testing.B) {
					before := mon.RoundTrips()
					for b.Loop() {
						if rec := page(b, srv, http.MethodGet, p.path, cookie); rec.Code != http.StatusOK {
							b.Fatalf("GET %s: %d", p.path, rec.Code)
						}
					}
					b.ReportMetric(float64(mon.RoundTrips()-before)/float64(b.N), "roundtrips/op")
				})
			}
		})
	}
}

// Two instances over one store, through the real router: a page session
// signed out on the first, or whose account the first disabled, is
// refused by the second (sent to sign in) within auth.SessionCacheBound
// (auth's TestWebSessionCacheAcrossInstances shows the second answers
// from its cache until then); the first refuses it at once.
func TestPageSessionEndsAcrossInstances(t *testing.T) {
	a := newStack(t)
	b := newStackOn(t, a.db, a.clock)
	srvA, sessA := a.withPages(t)
	srvB, _ := b.withPages(t)
	sec := a.secretariat("sec@igf.example")
	signedIn := func(srv *Server, cookie string) bool {
		t.Helper()
		rec := page(t, srv, http.MethodGet, "/account", cookie)
		switch {
		case rec.Code == http.StatusOK:
			return true
		case rec.Code == http.StatusSeeOther && strings.HasPrefix(rec.Header().Get("Location"), "/signin"):
			return false
		}
		t.Fatalf("GET /account: %d %q", rec.Code, rec.Header().Get("Location"))
		return false
	}
	warm := func(email string) (account, string) {
		t.Helper()
		u := a.candidate(email)
		cookie := a.startSession(sessA, u)
		for range 2 {
			if !signedIn(srvB, cookie) {
				t.Fatal("the other instance refuses the session before the change")
			}
		}
		return u, cookie
	}
	for _, tc := range []struct {
		name   string
		change func(u account, cookie string)
	}{
		{"sign-out", func(_ account, cookie string) {
			if rec := page(t, srvA, http.MethodPost, "/signout", cookie); rec.Code != http.StatusSeeOther {
				t.Fatalf("sign out: %d", rec.Code)
			}
		}},
		{"disabled", func(u account, _ string) {
			rec := serve(t, srvA, testRequest(t, http.MethodPatch, "/api/v1/users/"+u.ID, sec.Token, map[string]any{"disabled": true}))
			mustStatus(t, rec, http.StatusOK, nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, cookie := warm(tc.name + "@example.org")
			tc.change(u, cookie)
			done := time.Now()
			if signedIn(srvA, cookie) {
				t.Fatal("the instance that made the change still accepts the session")
			}
			deadline := done.Add(20 * time.Second)
			for {
				began := time.Now()
				if !signedIn(srvB, cookie) {
					break
				}
				if late := began.Sub(done); late > auth.SessionCacheBound {
					t.Fatalf("the other instance served a request begun %v after the change (bound %v)", late, auth.SessionCacheBound)
				}
				if began.After(deadline) {
					t.Fatal("the other instance never refused the session")
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
