package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var setupLink = regexp.MustCompile(`http://[^ \n]+/setup/([A-Za-z0-9_-]{43})`)

// TestFirstRunSetupLink starts the service as a newcomer would — no
// settings, no workflows folder (the built-in ones serve), no
// administrator — and follows the logged setup link through the pages.
func TestFirstRunSetupLink(t *testing.T) {
	s := startService(t, map[string]string{"NOMINA_WORKFLOWS_DIR": "workflows", "NOMINA_BASE_URL": "http://nomina.test:8080"})
	var token string
	waitUntil(t, time.Minute, "the setup link in the log", func() bool {
		m := setupLink.FindStringSubmatch(s.stderr.String())
		if m != nil {
			token = m[1]
		}
		return m != nil
	})
	logs := s.stderr.String()
	if !strings.Contains(logs, "from=(built-in)") {
		t.Errorf("the log does not say the built-in workflows serve:\n%s", logs)
	}
	if n := strings.Count(logs, token); n != 1 {
		t.Errorf("the token is logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs, "http://nomina.test:8080/setup/"+token) {
		t.Errorf("the link does not use the base URL:\n%s", logs)
	}
	if i, j := strings.Index(logs, "nomina listening"), strings.Index(logs, token); i < 0 || j < i {
		t.Errorf("the setup link is not after the listening line:\n%s", logs)
	}

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "http://" + s.addr
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(path string, form url.Values) (*http.Response, string) {
		t.Helper()
		resp, err := c.PostForm(base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	if code, body := get("/"); code != 200 || !strings.Contains(body, "<html") {
		t.Fatalf("GET / = %d, want the home page:\n%.300s", code, body)
	}
	if code, _ := get("/setup/" + strings.Repeat("A", 43)); code != 404 {
		t.Fatalf("a wrong setup link answers %d, want 404", code)
	}
	if code, body := get("/setup/" + token); code != 200 || !strings.Contains(body, `name="password"`) {
		t.Fatalf("GET setup = %d:\n%.500s", code, body)
	}
	resp, body := post("/setup/"+token, url.Values{"name": {"Ada Root"}, "email": {"ada@example.org"}, "password": {"short"}})
	if resp.StatusCode != 422 || !strings.Contains(body, `href="#password"`) || !strings.Contains(body, `value="ada@example.org"`) {
		t.Fatalf("weak password: %d, want 422 naming the password and keeping the email:\n%.800s", resp.StatusCode, body)
	}
	resp, _ = post("/setup/"+token, url.Values{"name": {"Ada Root"}, "email": {"ada@example.org"}, "password": {"granite orbit willow"}})
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/secretariat" {
		t.Fatalf("setup = %d to %q, want 303 to /secretariat", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code, body := get("/secretariat"); code != 200 || !strings.Contains(body, "Ada Root") {
		t.Fatalf("the new administrator's /secretariat = %d:\n%.500s", code, body)
	}
	if code, _ := get("/secretariat/calls/new"); code != 200 {
		t.Fatalf("the new administrator cannot open the call form: %d", code)
	}
	// Spent.
	if code, _ := get("/setup/" + token); code != 404 {
		t.Fatalf("the spent link answers %d, want 404", code)
	}
	resp, _ = post("/setup/"+token, url.Values{"name": {"Eve"}, "email": {"eve@example.org"}, "password": {"granite orbit willow"}})
	if resp.StatusCode != 404 {
		t.Fatalf("posting the spent link answers %d, want 404", resp.StatusCode)
	}
}
