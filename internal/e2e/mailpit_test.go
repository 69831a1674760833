package e2e

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// mailpit is a running Mailpit with its SMTP and HTTP addresses. One runs
// per test package; it dies with the test process.
type mailpit struct {
	smtp, http string
}

var (
	mailpitOnce sync.Once
	mailpitInst *mailpit
	mailpitErr  string
)

// mailpitBinary returns $NOMINA_TEST_MAILPIT (.ci/run installs it) or one
// built here at the pinned version.
func mailpitBinary(t testing.TB) string {
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

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// sharedMailpit starts Mailpit once for the package.
func sharedMailpit(t testing.TB) *mailpit {
	t.Helper()
	mailpitOnce.Do(func() {
		m := &mailpit{smtp: freeAddr(t), http: freeAddr(t)}
		dir, _ := os.MkdirTemp("", "nomina-e2e-mailpit-")
		cmd := exec.Command(mailpitBinary(t), "--smtp", m.smtp, "--listen", m.http, "--database", filepath.Join(dir, "mailpit.db"), "--quiet", "--max", "5000")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		// Mailpit goes when the test process goes, however it ends.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			mailpitErr = "start mailpit: " + err.Error()
			return
		}
		for deadline := time.Now().Add(20 * time.Second); ; {
			if resp, err := http.Get("http://" + m.http + "/api/v1/messages"); err == nil {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				mailpitErr = "mailpit did not start: " + out.String()
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		mailpitInst = m
	})
	if mailpitInst == nil {
		t.Fatal(mailpitErr)
	}
	return mailpitInst
}

type mailpitMessage struct {
	ID      string
	Subject string
	To      []struct{ Address string }
}

func (m *mailpit) messages(t testing.TB) []mailpitMessage {
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
func (m *mailpit) text(t testing.TB, id string) string {
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

// link waits for a message to addr whose subject contains word and returns
// the first link in its text that starts with prefix.
func (m *mailpit) link(t testing.TB, addr, word, prefix string) string {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(prefix) + `\S*`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, msg := range m.messages(t) {
			for _, to := range msg.To {
				if strings.EqualFold(to.Address, addr) && strings.Contains(strings.ToLower(msg.Subject), strings.ToLower(word)) {
					text := m.text(t, msg.ID)
					if l := re.FindString(text); l != "" {
						return l
					}
					t.Fatalf("no link starting %s in the mail to %s:\n%s", prefix, addr, text)
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message to %s about %q; have %+v", addr, word, m.messages(t))
		}
		time.Sleep(150 * time.Millisecond)
	}
}
