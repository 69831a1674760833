package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// mailpitBinary returns the Mailpit binary: $NOMINA_TEST_MAILPIT when set
// (.ci/run installs it), else one built here at the pinned version.
func mailpitBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("NOMINA_TEST_MAILPIT"); p != "" {
		return p
	}
	dir := filepath.Join(os.TempDir(), "nomina-test-tools")
	bin := filepath.Join(dir, "mailpit")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.Command("go", "install", "github.com/axllent/mailpit@v1.33.1")
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build mailpit: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// mailpit is a running Mailpit with its SMTP and HTTP addresses.
type mailpit struct {
	smtp, http string
}

func startMailpit(t *testing.T) mailpit {
	t.Helper()
	m := mailpit{smtp: freeAddr(t), http: freeAddr(t)}
	cmd := exec.Command(mailpitBinary(t), "--smtp", m.smtp, "--listen", m.http, "--database", filepath.Join(t.TempDir(), "mailpit.db"), "--quiet")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mailpit: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	waitUntil(t, 20*time.Second, "mailpit to answer", func() bool {
		resp, err := http.Get("http://" + m.http + "/api/v1/messages")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return m
}

type mailpitMessage struct {
	ID      string
	Subject string
	To      []struct{ Address string }
}

// messages lists what Mailpit received.
func (m mailpit) messages(t *testing.T) []mailpitMessage {
	t.Helper()
	resp, err := http.Get("http://" + m.http + "/api/v1/messages?limit=500")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Messages []mailpitMessage }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Messages
}

// text returns a message's text part.
func (m mailpit) text(t *testing.T, id string) string {
	t.Helper()
	resp, err := http.Get("http://" + m.http + "/api/v1/message/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Text string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Text
}

// waitFor waits until a message to addr whose subject contains word
// arrives, and returns it.
func (m mailpit) waitFor(t *testing.T, addr, word string) mailpitMessage {
	t.Helper()
	var found mailpitMessage
	waitUntil(t, 30*time.Second, fmt.Sprintf("a message to %s about %q", addr, word), func() bool {
		for _, msg := range m.messages(t) {
			for _, to := range msg.To {
				if strings.EqualFold(to.Address, addr) && strings.Contains(strings.ToLower(msg.Subject), word) {
					found = msg
					return true
				}
			}
		}
		return false
	})
	return found
}

// client talks to the running service as one user.
type client struct {
	t     *testing.T
	base  string
	token string
}

func (c client) do(method, path string, body any, out any) int {
	c.t.Helper()
	var r io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case *multipart.Writer:
		c.t.Fatal("use upload")
	default:
		js, _ := json.Marshal(b)
		r = bytes.NewReader(js)
	}
	req, _ := http.NewRequest(method, c.base+path, r)
	if r != nil {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	if resp.StatusCode >= 300 {
		c.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode
}

func (c client) must(method, path string, body any, want int, out any) {
	c.t.Helper()
	if code := c.do(method, path, body, out); code != want {
		c.t.Fatalf("%s %s: %d, want %d", method, path, code, want)
	}
}

func (c client) login(email, password string) client {
	c.t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	c.must("POST", "/api/v1/auth/login", map[string]any{"email": email, "password": password}, 200, &tok)
	return client{t: c.t, base: c.base, token: tok.AccessToken}
}

// End to end through Mailpit: a MAG nomination submitted and screened; the
// candidate receives the receipt, each reviewer of the candidate's panel
// (and only they) the review request with a working link.
func TestMailEndToEndWithMailpit(t *testing.T) {
	mp := startMailpit(t)
	addr := freeAddr(t)
	const adminPW = "admin passphrase for the test 1"
	s := startService(t, map[string]string{
		"NOMINA_HTTP_ADDR": addr, "NOMINA_BASE_URL": "http://" + addr,
		"NOMINA_SMTP_URL": "smtp://" + mp.smtp, "NOMINA_ADMIN_EMAIL": "admin@igf.example", "NOMINA_ADMIN_PASSWORD": adminPW,
	})
	waitReady(t, s, 30*time.Second)
	anon := client{t: t, base: "http://" + addr}
	admin := anon.login("admin@igf.example", adminPW)
	const pw = "a long and private passphrase 7"
	for _, u := range []map[string]any{
		{"email": "sec@igf.example", "name": "Sam Secretariat", "roles": []string{"secretariat"}},
		{"email": "cs1@example.org", "name": "Cleo One", "roles": []string{"reviewer"}, "panels": []string{"civil_society"}},
		{"email": "cs2@example.org", "name": "Cleo Two", "roles": []string{"reviewer"}, "panels": []string{"civil_society"}},
		{"email": "gov@example.org", "name": "Gus Gov", "roles": []string{"reviewer"}, "panels": []string{"government"}},
	} {
		u["password"] = pw
		admin.must("POST", "/api/v1/users", u, 201, nil)
	}
	sec := anon.login("sec@igf.example", pw)
	now := time.Now().UTC()
	sec.must("POST", "/api/v1/calls", map[string]any{"slug": "mag-2027", "title": "MAG 2027", "workflow": "mag", "seats": 40,
		"opens_at": now.Add(-time.Hour), "closes_at": now.Add(30 * 24 * time.Hour), "term_start": "2027-01-01T00:00:00Z"}, 201, nil)
	anon.must("POST", "/api/v1/auth/register", map[string]any{"email": "ana@example.org", "password": pw, "name": "Ana Candidate"}, 202, nil)
	ana := anon.login("ana@example.org", pw)
	// Her first mail confirms her address: only then may she ask others
	// for support. The link leads to the page; its button posts the token.
	confirmMail := mp.waitFor(t, "ana@example.org", "confirm")
	confirmLink := regexp.MustCompile(`http://\S+/confirm-email/(\S+)`).FindStringSubmatch(mp.text(t, confirmMail.ID))
	if confirmLink == nil {
		t.Fatalf("no confirmation link in:\n%s", mp.text(t, confirmMail.ID))
	}
	anon.must("POST", "/api/v1/auth/confirm-email", map[string]any{"token": confirmLink[1]}, 204, nil)
	var n struct{ ID, State string }
	ana.must("POST", "/api/v1/calls/mag-2027/nominations", map[string]any{"fields": map[string]any{
		"stakeholder_group": "civil_society", "nationality": "KE", "gender": "female", "organization": "Kenya ICT Action Network",
		"declaration": true, "motivation": strings.Repeat("Ten years of internet governance work in East Africa. ", 5),
	}}, 201, &n)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("kind", "cv")
	fw, _ := mw.CreateFormFile("file", "cv.pdf")
	_, _ = fw.Write([]byte("%PDF-1.4\n%%EOF\n"))
	_ = mw.Close()
	req, _ := http.NewRequest("POST", ana.base+"/api/v1/nominations/"+n.ID+"/attachments", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+ana.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("upload: %v %v", err, resp)
	}
	resp.Body.Close()

	// The endorser follows the link in the mail they received.
	// The name Ana gives the endorser reaches the mail as plain text,
	// never as a link.
	ana.must("POST", "/api/v1/nominations/"+n.ID+"/endorsements", map[string]any{"name": "Eve at www.evil.example", "email": "eve@example.org", "organization": "CS Network"}, 201, nil)
	msg := mp.waitFor(t, "eve@example.org", "")
	// The mail leads to the endorser's page; the API takes the same token.
	link := regexp.MustCompile(`http://\S+/endorse/\S+`).FindString(mp.text(t, msg.ID))
	if link == "" {
		t.Fatalf("no endorsement link in:\n%s", mp.text(t, msg.ID))
	}
	if text := mp.text(t, msg.ID); strings.Contains(text, "www.evil.example") || !strings.Contains(text, "Eve at www.") {
		t.Fatalf("the endorser's name reached the mail as a link:\n%s", text)
	}
	endorser := client{t: t, base: ""}
	endorser.must("POST", strings.Replace(link, "/endorse/", "/api/v1/endorsements/", 1), map[string]any{"statement": "Ana has my full support."}, 200, nil)

	ana.must("POST", "/api/v1/nominations/"+n.ID+"/actions/submit", nil, 200, &n)
	sec.must("POST", "/api/v1/nominations/"+n.ID+"/actions/admit", nil, 200, &n)
	if n.State != "panel_review" {
		t.Fatalf("state %s", n.State)
	}
	receipt := mp.waitFor(t, "ana@example.org", "receiv")
	if receipt.ID == "" {
		t.Fatal("no receipt")
	}
	for _, who := range []string{"cs1@example.org", "cs2@example.org"} {
		m := mp.waitFor(t, who, "review")
		text := mp.text(t, m.ID)
		// The mail leads to the reviewer's page of the nomination.
		if link := regexp.MustCompile(`http://\S+/review/` + n.ID).FindString(text); link == "" {
			t.Fatalf("no review link for %s in:\n%s", who, text)
		}
		rev := anon.login(who, pw)
		rev.must("GET", "/api/v1/nominations/"+n.ID, nil, 200, nil)
	}
	// The reviewer of another panel is never asked: once every message
	// about the nomination has gone out, none went to them.
	waitUntil(t, 30*time.Second, "every message about the nomination sent", func() bool {
		var log struct {
			Items []struct {
				Status string `json:"status"`
			} `json:"items"`
		}
		if sec.do("GET", "/api/v1/mail?nomination="+n.ID, nil, &log) != 200 || len(log.Items) == 0 {
			return false
		}
		for _, it := range log.Items {
			if it.Status != "sent" {
				return false
			}
		}
		return true
	})
	for _, m := range mp.messages(t) {
		if strings.HasPrefix(m.Subject, "Confirm your email address") {
			continue // every account made with a password confirms its address
		}
		for _, to := range m.To {
			if to.Address == "gov@example.org" {
				t.Fatalf("a government reviewer got %q", m.Subject)
			}
		}
	}
}
