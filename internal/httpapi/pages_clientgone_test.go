package httpapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/clientclose"
	"github.com/igf/nomina/internal/web"
)

// logSince returns the log records written after the first n bytes.
func logSince(t *testing.T, logs *syncBuffer, n int) []map[string]any {
	t.Helper()
	return parseLog(t, logs.String()[n:])
}

// waitAccessLine waits until the access log line of requestID is written
// (its handler has returned) and returns every record written since the
// first n bytes: the pages' own lines do not all carry the request id.
func waitAccessLine(t *testing.T, logs *syncBuffer, n int, requestID string) (access map[string]any, lines []map[string]any) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		lines = logSince(t, logs, n)
		for _, l := range lines {
			if l["msg"] == "http request" && l["request_id"] == requestID {
				return l, lines
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("request %s: no access log line after 30 s; logged %v", requestID, lines)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The pages as the API: a reader who closes the tab or follows another
// link while a page waits on the store is no failure of the service. The
// driver reports the cancelled read as a network error, which the pages
// answered with the "unavailable" page (503) or the "sorry" page (500)
// and logged as a failure, so readers leaving looked like a store outage.
// Such a request is logged as a client close and counted as 499, never as
// a 5xx; a download cut short by its reader leaving is a client close in
// the log, not an error. A store too slow for a reader still waiting
// still gets the 503 page, and a download it cuts short is still an
// error.
func TestPageClientGoneIsNotAServerFailure(t *testing.T) {
	st, gate := gatedStack(t, 3*time.Second)
	log := slog.New(slog.NewJSONHandler(st.logs, nil))
	sessions := st.auth.Sessions(st.store.WebSessions(), auth.SessionConfig{})
	pages, err := web.New(web.Config{Accounts: st.auth, Sessions: sessions, Nominations: st.noms, Workflows: mustWorkflows(t),
		Logger: log, Now: st.clock.Now, ClientIP: ClientIP})
	if err != nil {
		t.Fatal(err)
	}
	st.srv = newTestServer(t, Config{Logger: log, Authenticate: AuthenticateWith(st.auth), Auth: st.auth, Nominations: st.noms,
		Workflows: mustWorkflows(t), MaxUploadBytes: 1 << 20}, mountPages(pages))
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	cand := st.candidate("ana@example.org")
	st.mustDraft(cand, "mag-2027", magFields("civil_society")) // something to list and export
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
	candSession, secSession := session(cand), session(sec)
	ts := httptest.NewServer(st.srv.Handler())
	t.Cleanup(ts.Close)
	send := func(ctx context.Context, method, path, cookie, requestID, form string) (*http.Response, error) {
		var body io.Reader
		if form != "" {
			body = strings.NewReader(form)
		}
		req, err := http.NewRequestWithContext(ctx, method, ts.URL+path, body)
		if err != nil {
			return nil, err
		}
		if form != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.AddCookie(&http.Cookie{Name: "nomina_session", Value: cookie})
		req.Header.Set("X-Request-ID", requestID)
		return (&http.Client{Transport: &http.Transport{}}).Do(req)
	}

	cases := []struct {
		name, method, path, route, cookie, form string
		coll                                    string // the collection whose command the reader leaves
		download                                bool   // the headers go out before the store is asked
	}{
		{"list page", "GET", "/nominations", "/nominations", candSession, "", "nominations", false},
		{"form post", "POST", "/calls/mag-2027/nominations", "/calls/:slug/nominations", candSession, "nominee=self", "limits", false},
		{"CSV download", "GET", "/secretariat/calls/mag-2027/export.csv", "/secretariat/calls/:slug/export.csv", secSession, "", "nominations", true},
		{"XLSX download", "GET", "/secretariat/calls/mag-2027/export.xlsx", "/secretariat/calls/:slug/export.xlsx", secSession, "", "nominations", true},
	}
	for i, tc := range cases {
		t.Run("reader gone: "+tc.name, func(t *testing.T) {
			before := requestCounts(t, st, tc.route, tc.method)
			mark := len(st.logs.String())
			id := fmt.Sprintf("pagegone%d", i)
			reached := gate.arm(tc.coll)
			defer gate.open() // also when the test stops early
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type answer struct {
				status string
				read   error // reading the body, once the headers came
			}
			headers, answered := make(chan string, 1), make(chan answer, 1)
			go func() {
				resp, err := send(ctx, tc.method, tc.path, tc.cookie, id, tc.form)
				if err != nil {
					answered <- answer{} // no answer: what a reader who left gets
					return
				}
				defer resp.Body.Close()
				headers <- resp.Status
				_, err = io.ReadAll(resp.Body)
				answered <- answer{resp.Status, err}
			}()
			select {
			case <-reached:
			case <-time.After(30 * time.Second):
				t.Fatal("the request never reached the store")
			}
			if tc.download {
				// The download is under way (its headers are in) when
				// the reader leaves.
				select {
				case s := <-headers:
					if s != "200 OK" {
						t.Fatalf("download answered %s", s)
					}
				case <-time.After(30 * time.Second):
					t.Fatal("the download's headers never came")
				}
			}
			cancel() // the reader goes away while the driver waits for the store's answer
			got := <-answered
			switch {
			case !tc.download && got.status != "":
				t.Fatalf("the reader who went away was answered %s", got.status)
			case tc.download && got.read == nil:
				t.Fatalf("the download the reader left came whole")
			}
			access, lines := waitAccessLine(t, st.logs, mark, id)
			gate.open()
			closed := false
			for _, l := range lines {
				switch {
				case l["level"] == "ERROR" || l["level"] == "WARN":
					t.Errorf("a reader going away logged as a failure: %v", l)
				case l["msg"] == "client closed request":
					closed = true
					if l["route"] == nil || l["request_id"] != id {
						t.Errorf("client close logged without its route and request: %v", l)
					}
				}
			}
			if !closed {
				t.Errorf("no \"client closed request\" in the log: %v", lines)
			}
			after := requestCounts(t, st, tc.route, tc.method)
			for status, n := range after {
				if strings.HasPrefix(status, "5") && n != before[status] {
					t.Errorf("metrics count %d more %s for %s %s", n-before[status], status, tc.method, tc.route)
				}
			}
			if tc.download {
				return // the headers went out as 200; the log says the rest
			}
			if access["status"] != float64(clientclose.Status) {
				t.Errorf("access log: status %v, want %d (client closed request): %v", access["status"], clientclose.Status, access)
			}
			if after["499"] != before["499"]+1 {
				t.Errorf("metrics: 499 counted %d times, want %d", after["499"], before["499"]+1)
			}
		})
	}

	t.Run("store too slow for a reader still there: page", func(t *testing.T) {
		before := requestCounts(t, st, "/nominations", "GET")
		mark := len(st.logs.String())
		reached := gate.arm("nominations")
		defer gate.open()
		resp, err := send(context.Background(), "GET", "/nominations", candSession, "pageslow1", "")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		select {
		case <-reached:
		default:
			t.Fatal("the request never reached the store")
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("answered %s %q, want the 503 page", resp.Status, resp.Header.Get("Content-Type"))
		}
		if len(body) == 0 {
			t.Error("the 503 page is empty")
		}
		gate.open()
		_, lines := waitAccessLine(t, st.logs, mark, "pageslow1")
		warned := false
		for _, l := range lines {
			warned = warned || l["msg"] == "dependency unavailable" && l["level"] == "WARN"
			if l["msg"] == "client closed request" {
				t.Errorf("a reader still waiting logged as gone: %v", l)
			}
		}
		if !warned {
			t.Errorf("a store that does not answer is not logged: %v", lines)
		}
		if after := requestCounts(t, st, "/nominations", "GET"); after["503"] != before["503"]+1 {
			t.Errorf("metrics: 503 counted %d times, want %d", after["503"], before["503"]+1)
		}
	})

	t.Run("store too slow for a reader still there: download", func(t *testing.T) {
		mark := len(st.logs.String())
		reached := gate.arm("nominations")
		defer gate.open()
		resp, err := send(context.Background(), "GET", "/secretariat/calls/mag-2027/export.csv", secSession, "pageslow2", "")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		select {
		case <-reached:
		default:
			t.Fatal("the request never reached the store")
		}
		if strings.Contains(string(body), "ana@example.org") {
			t.Fatalf("the store never answered, yet the download holds its rows: %q", body)
		}
		gate.open()
		_, lines := waitAccessLine(t, st.logs, mark, "pageslow2")
		failed := false
		for _, l := range lines {
			failed = failed || l["msg"] == "export failed mid-stream" && l["level"] == "ERROR"
			if l["msg"] == "client closed request" {
				t.Errorf("a reader still waiting logged as gone: %v", l)
			}
		}
		if !failed {
			t.Errorf("a download the store cut short is not logged as a failure: %v", lines)
		}
	})
}
