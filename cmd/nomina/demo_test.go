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

var demoAccountLine = regexp.MustCompile(`(?m)^  (\S+@demo\.example)\s+(.+)$`)

// signIn signs in through the sign-in page and returns a client holding
// the session.
func signIn(t *testing.T, base, email, password string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(base+"/signin", url.Values{"email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("sign in as %s: %d\n%s", email, resp.StatusCode, b)
	}
	return c
}

func getPage(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDemo runs `nomina demo` on an empty store and signs in as every
// account it prints: each sees pages filled with the demo's data. Run
// again on its own store, the demo serves it as it is.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	settings := map[string]string{"NOMINA_DATA_DIR": dir}
	s := startCommand(t, []string{"demo"}, settings)
	waitUntil(t, 4*time.Minute, "the demo accounts", func() bool { return strings.Contains(s.stderr.String(), "Nomina demo at") })
	logs := s.stderr.String()
	lines := demoAccountLine.FindAllStringSubmatch(logs, -1)
	if len(lines) < 10 {
		t.Fatalf("the demo printed %d accounts:\n%s", len(lines), logs)
	}
	base := "http://" + s.addr
	for _, l := range lines {
		email, who := l[1], l[2]
		c := signIn(t, base, email, demoPassword)
		var path, want string
		switch {
		case strings.HasPrefix(who, "administrator"), strings.HasPrefix(who, "secretariat"):
			path, want = "/secretariat", "Panel review: 7"
		case strings.HasPrefix(who, "reviewer"):
			path, want = "/review", "(demo)"
		case strings.HasPrefix(who, "candidate"):
			path, want = "/nominations", "(demo)"
		default:
			t.Fatalf("unexpected account %q", who)
		}
		code, body := getPage(t, c, base+path)
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("%s (%s): GET %s = %d, want %q in:\n%.2000s", email, who, path, code, want, body)
		}
	}
	// The roster has members now, past and present.
	c := signIn(t, base, "secretariat@demo.example", demoPassword)
	if code, body := getPage(t, c, base+"/secretariat/members?body=mag"); code != 200 || strings.Contains(body, "0 members on") {
		t.Errorf("the MAG roster is empty (%d):\n%.3000s", code, body)
	}
	s.cancel()
	if code, ok := s.exited(30 * time.Second); !ok || code != 0 {
		t.Fatalf("demo stopped with %d, %v", code, ok)
	}

	again := startCommand(t, []string{"demo"}, settings)
	waitUntil(t, 2*time.Minute, "the demo accounts again", func() bool { return strings.Contains(again.stderr.String(), "Nomina demo at") })
	if l := again.stderr.String(); !strings.Contains(l, "the demo is in the store already") || strings.Contains(l, "demo filled") {
		t.Errorf("the second start filled the demo again:\n%s", l)
	}
}

// TestDemoRefusesForeignData runs the demo on a store with an account
// that is not its own: it refuses, stops, and adds nothing.
func TestDemoRefusesForeignData(t *testing.T) {
	dir := t.TempDir()
	settings := map[string]string{"NOMINA_DATA_DIR": dir, "NOMINA_ADMIN_EMAIL": "admin@igf.example", "NOMINA_ADMIN_PASSWORD": "copper meadow lantern"}
	s := startService(t, settings)
	waitReady(t, s, time.Minute)
	s.cancel()
	if _, ok := s.exited(30 * time.Second); !ok {
		t.Fatal("the service did not stop")
	}

	d := startCommand(t, []string{"demo"}, map[string]string{"NOMINA_DATA_DIR": dir})
	code, ok := d.exited(time.Minute)
	if !ok || code != 2 {
		t.Fatalf("demo on a store with other data: exit %d (exited %v), want 2:\n%s", code, ok, d.stderr)
	}
	if l := d.stderr.String(); !strings.Contains(l, "the demo runs only on an empty store") || strings.Contains(l, "demo filled") {
		t.Fatalf("the refusal does not say why:\n%s", l)
	}

	s = startService(t, map[string]string{"NOMINA_DATA_DIR": dir})
	waitReady(t, s, time.Minute)
	resp, err := http.PostForm("http://"+s.addr+"/signin", url.Values{"email": {"admin@demo.example"}, "password": {demoPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusSeeOther {
		t.Fatal("a demo account exists after the refusal")
	}
}
