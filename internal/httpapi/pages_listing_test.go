package httpapi

import (
	"context"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/web"
)

// The pages that list nominations a page at a time follow the listing's
// cursors: the secretariat's table of 54 nominations sorted by name links
// to its second page, which holds the four left, keeping the table's
// filter and order. A cursor changed by hand shows nothing from the list:
// the table answers 400 with its way back, the own list and the review
// queue 404.
func TestPagesFollowListingCursors(t *testing.T) {
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
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	// 54 in the government group, and 6 outside the table's filter.
	groups := []string{"government", "government", "government", "government", "government", "government", "government", "government", "civil_society"}
	st.seedDrafts("mag-2027", groups, []string{"female", "male"}, 60, nil)
	session := func(a account) string {
		token, _, err := sessions.Start(context.Background(), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		st.secretsMu.Lock()
		st.secrets = append(st.secrets, token)
		st.secretsMu.Unlock()
		return token
	}
	get := func(path, cookie string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.AddCookie(&http.Cookie{Name: "nomina_session", Value: cookie})
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		return rec
	}
	rowID := regexp.MustCompile(`id="row-([^"]+)"`)
	nextLink := regexp.MustCompile(`href="([^"]+)" rel="next"`)
	rows := func(rec *httptest.ResponseRecorder) (ids []string, next string) {
		t.Helper()
		if rec.Code != http.StatusOK {
			t.Fatalf("table: %d", rec.Code)
		}
		for _, m := range rowID.FindAllStringSubmatch(rec.Body.String(), -1) {
			ids = append(ids, m[1])
		}
		if m := nextLink.FindStringSubmatch(rec.Body.String()); m != nil {
			next = html.UnescapeString(m[1])
		}
		return ids, next
	}
	secSession := session(sec)
	first, next := rows(get("/secretariat/calls/mag-2027/nominations?stakeholder_group=government&sort=name", secSession))
	if len(first) != 50 || next == "" {
		t.Fatalf("first page: %d rows, next %q", len(first), next)
	}
	if !strings.Contains(next, "sort=name") || !strings.Contains(next, "stakeholder_group=government") || !strings.Contains(next, "cursor=") {
		t.Fatalf("the next page's link %q drops the table's query", next)
	}
	second, after := rows(get(next, secSession))
	if len(second) != 4 || after != "" || slices.ContainsFunc(second, func(id string) bool { return slices.Contains(first, id) }) {
		t.Fatalf("second page: %v, next %q", second, after)
	}

	cursor := next[strings.Index(next, "cursor=")+len("cursor="):]
	if i := strings.IndexByte(cursor, '&'); i >= 0 {
		cursor = cursor[:i]
	}
	tampered := []byte(cursor)
	if i := len(tampered) / 2; tampered[i] == 'A' {
		tampered[i] = 'B'
	} else {
		tampered[i] = 'A'
	}
	rec := get("/secretariat/calls/mag-2027/nominations?stakeholder_group=government&sort=name&cursor="+string(tampered), secSession)
	if rec.Code != http.StatusBadRequest || rowID.MatchString(rec.Body.String()) {
		t.Errorf("table with a cursor changed by hand: %d, rows shown: %v", rec.Code, rowID.MatchString(rec.Body.String()))
	}
	rec = get("/secretariat/calls/mag-2027/nominations?sort=score&cursor="+cursor, secSession)
	if rec.Code != http.StatusBadRequest {
		t.Errorf("table with the cursor of another order: %d", rec.Code)
	}
	rev := st.reviewer("rev@igf.example", "", "government")
	ana := st.candidate("ana@example.org")
	for path, cookie := range map[string]string{"/nominations": session(ana), "/review": session(rev)} {
		if rec := get(path+"?cursor="+string(tampered), cookie); rec.Code != http.StatusNotFound {
			t.Errorf("%s with a cursor changed by hand: %d", path, rec.Code)
		}
		if rec := get(path, cookie); rec.Code != http.StatusOK {
			t.Errorf("%s: %d", path, rec.Code)
		}
	}
}
