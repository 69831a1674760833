// Package e2e tests the pages over HTTP and in a real browser, against the
// whole service: the real router, the embedded store, mail delivered to
// Mailpit. It holds tests only, and is one of the few test packages that
// start a store (one per package, a fresh database per test).
package e2e

import (
	"context"
	"crypto/rand"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/export"
	"github.com/igf/nomina/internal/httpapi"
	"github.com/igf/nomina/internal/mail"
	"github.com/igf/nomina/internal/membership"
	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/web"
	"github.com/igf/nomina/internal/workflow"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const testPassword = "correct horse battery staple 42"

var (
	workflowsOnce sync.Once
	workflowsDir  string
	workflowsErr  error
)

// testWorkflows returns a directory holding the shipped workflows and
// their mail templates plus testdata/every-field.yaml.
func testWorkflows(t testing.TB) string {
	t.Helper()
	workflowsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "nomina-e2e-workflows-")
		if err != nil {
			workflowsErr = err
			return
		}
		workflowsDir = dir
		workflowsErr = os.CopyFS(dir, os.DirFS("../../workflows"))
		if workflowsErr == nil {
			var b []byte
			if b, workflowsErr = os.ReadFile("testdata/every-field.yaml"); workflowsErr == nil {
				workflowsErr = os.WriteFile(filepath.Join(dir, "every-field.yaml"), b, 0o644)
			}
		}
	})
	if workflowsErr != nil {
		t.Fatalf("workflows: %v", workflowsErr)
	}
	return workflowsDir
}

// app is one running service: the router with the API and the pages over
// a fresh database, its mail delivered to Mailpit when one is given.
type app struct {
	t        testing.TB
	URL      string
	store    *mongostore.Store
	auth     *auth.Service
	sessions *auth.Sessions
	noms     *nomination.Service
	members  *membership.Service
	web      *web.Handler
	api      *httpapi.Server
	logs     *syncBuffer
	// links signs mailed links as the mail worker does when it sends.
	links *nomination.LinkSigner
}

type appOptions struct {
	mailpit *mailpit
	baseURL string // overrides the server's own address in links and cookies
}

func newApp(t testing.TB, opts appOptions) *app {
	t.Helper()
	dir := testWorkflows(t)
	registry, diags, err := workflow.LoadDir(dir)
	if err != nil || workflow.HasErrors(diags) {
		t.Fatalf("load workflows: %v %v", err, diags)
	}
	templates, err := mail.LoadTemplates(os.DirFS(filepath.Join(dir, "templates")))
	if err != nil {
		t.Fatalf("mail templates: %v", err)
	}
	a := &app{t: t, logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a.URL = "http://" + ln.Addr().String()
	base := a.URL
	if opts.baseURL != "" {
		base = opts.baseURL
	}
	a.store = storetest.Store(t, storetest.NewDatabase(t), log)
	keys, _, err := auth.GenerateKeys(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	queue := a.store.MailQueue()
	linkKey := make([]byte, 32)
	_, _ = rand.Read(linkKey)
	links := nomination.NewLinkSigner(linkKey)
	a.links = links
	// Wired as cmd/nomina wires them: the limits counted in the store.
	a.auth, err = auth.NewService(a.store.Users(), queue, keys, auth.Config{
		BaseURL: base, Logger: log, Hash: auth.HashParams{Time: 1, Memory: 8 * 1024, Threads: 1},
		Links: links, Limiter: a.store.Limits(), Throttle: auth.DefaultThrottle(),
	})
	if err != nil {
		t.Fatal(err)
	}
	a.sessions = a.auth.Sessions(a.store.WebSessions(), auth.SessionConfig{})
	a.members, err = membership.New(membership.Config{Store: a.store.Members(), Workflows: registry, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	noms := a.store.Nominations()
	a.noms = nomination.New(nomination.Config{
		Terms: a.members, Members: a.members, Histories: a.members,
		Store: noms, Files: noms, Outbox: queue, Directory: a.store.Directory(), Workflows: registry, Timers: a.store.Timers(),
		Links: links, BaseURL: base, ValidateTargets: export.ValidateTargets, Logger: log,
		MaxUploadBytes: 10 << 20, Limiter: a.store.Limits(), Limits: nomination.DefaultLimits(),
	})
	a.web, err = web.New(web.Config{Accounts: a.auth, Sessions: a.sessions, Nominations: a.noms, Workflows: registry,
		BaseURL: base, Logger: log, MaxFormBytes: 1 << 20, MaxUploadBytes: 10 << 20, ClientIP: httpapi.ClientIP,
		Members: a.members, Mail: queue, Setup: a.auth.Setup(a.store.Users(), 0)})
	if err != nil {
		t.Fatalf("pages: %v", err)
	}
	var routes []httpapi.PageRoute
	for _, r := range a.web.Routes() {
		routes = append(routes, httpapi.PageRoute{Method: r.Method, Path: r.Path, Access: r.Access})
	}
	a.api = httpapi.New(httpapi.Config{
		Logger: log, Authenticate: httpapi.AuthenticateWith(a.auth), Auth: a.auth, Nominations: a.noms,
		Workflows: registry, Shortlists: export.Shortlists{}, Mail: queue, MaxUploadBytes: 10 << 20, Members: a.members,
		Ready: func(context.Context) error { return nil },
	}, httpapi.Pages(routes, a.web, a.web.NotFound()))
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: a.api.Handler(), ReadHeaderTimeout: 10 * time.Second}}
	srv.Start()
	ctx, cancel := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	if opts.mailpit != nil {
		bg.Go(func() {
			_ = mail.RunWorkers(ctx, mail.Config{SMTPURL: "smtp://" + opts.mailpit.smtp, From: "IGF Secretariat <nomina@igf.example>", BaseURL: base, Workers: 1},
				queue, templates, mail.WorkerOptions{Logger: log, StillAddressed: a.noms.StillAddressed, Links: links, PollInterval: 100 * time.Millisecond,
					// A message put off by a passing failure (an audience check that
					// timed out on a loaded machine) is tried again within the
					// tests' wait for mail, not after the service's one minute.
					RetryBase: time.Second, RetryMax: 2 * time.Second}, mail.SenderOptions{})
		})
	}
	t.Cleanup(func() {
		cancel()
		srv.Close()
		bg.Wait()
		if t.Failed() {
			t.Logf("service log:\n%s", tail(a.logs.String(), 6000))
		}
	})
	return a
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// syncBuffer collects the log of concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// user makes an account with a password and roles.
func (a *app) user(email, name string, roles ...auth.Role) *auth.User {
	a.t.Helper()
	if len(roles) == 0 {
		roles = []auth.Role{auth.RoleCandidate}
	}
	u, err := a.auth.Provision(context.Background(), auth.NewUser{Email: email, Name: name, Roles: roles, Password: testPassword})
	if err != nil {
		a.t.Fatalf("user %s: %v", email, err)
	}
	return u
}

// mailedLink returns the path of link name in the newest queued mail of
// template to address, signed as the mail worker signs it when it sends
// the message (the queue keeps secret links sealed).
func (a *app) mailedLink(template, to, name string) string {
	a.t.Helper()
	jobs, err := a.store.MailQueue().MailLog(context.Background(), "", "", 1000)
	if err != nil {
		a.t.Fatal(err)
	}
	for _, r := range jobs { // newest first
		j := r.Job
		if j.Template == template && strings.EqualFold(j.To, to) {
			if l := a.links.Unseal(j).Links[name]; l != "" {
				return l
			}
			a.t.Fatalf("the %s mail to %s has no %s link", template, to, name)
		}
	}
	a.t.Fatalf("no %s mail to %s", template, to)
	return ""
}

// mails counts the queued mails of template to address.
func (a *app) mails(template, to string) int {
	a.t.Helper()
	jobs, err := a.store.MailQueue().MailLog(context.Background(), "", "", 1000)
	if err != nil {
		a.t.Fatal(err)
	}
	n := 0
	for _, j := range jobs {
		if j.Job.Template == template && strings.EqualFold(j.Job.To, to) {
			n++
		}
	}
	return n
}

// expired returns token (a link this service signed, of kind) signed
// again with an expiry in the past: the same link, too late.
func (a *app) expired(token, kind string) string {
	a.t.Helper()
	c, err := a.links.Inspect(token, kind)
	if err != nil {
		a.t.Fatalf("inspect %s link: %v", kind, err)
	}
	c.Expires = time.Now().Add(-time.Minute).Unix()
	return a.links.Sign(c)
}

// call opens a call of workflow wf, open from an hour ago for a month.
func (a *app) call(slug, title, wf string) nomination.Call {
	a.t.Helper()
	now := time.Now().UTC()
	opens, closes, term, seats := now.Add(-time.Hour), now.Add(30*24*time.Hour), now.AddDate(1, 0, 0), 40
	c, err := a.noms.CreateCall(context.Background(), nomination.Actor{UserID: "sec", Roles: []string{"secretariat"}},
		nomination.CallInput{Slug: slug, Title: &title, Workflow: wf, OpensAt: &opens, ClosesAt: &closes, TermStart: &term, Seats: &seats})
	if err != nil {
		a.t.Fatalf("call %s: %v", slug, err)
	}
	return c
}

// actorOf is the nomination domain's view of a user.
func actorOf(u *auth.User) nomination.Actor {
	roles := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		roles[i] = string(r)
	}
	return nomination.Actor{UserID: u.ID, Email: u.Email, Name: u.Name, Roles: roles, Panels: u.Panels, Organization: u.Organization,
		EmailConfirmed: u.EmailConfirmed()}
}

// readAll reads a body, failing the test on error.
func readAll(t testing.TB, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var _ = fs.ValidPath
