package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/export"
	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/workflow"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// testClock is a settable clock shared by the services of a stack.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var (
	workflowsOnce sync.Once
	workflows     *workflow.Registry
	workflowsErr  error
)

func mustWorkflows(tb testing.TB) *workflow.Registry {
	tb.Helper()
	workflowsOnce.Do(func() {
		var diags []workflow.Diagnostic
		workflows, diags, workflowsErr = workflow.LoadDir("../../workflows")
		if workflowsErr == nil && workflow.HasErrors(diags) {
			workflowsErr = io.ErrUnexpectedEOF
		}
	})
	if workflowsErr != nil {
		tb.Fatalf("load workflows: %v", workflowsErr)
	}
	return workflows
}

// stack is one service instance over a real store: the router, the account
// and nomination services, and the mail queue, as cmd/nomina wires them.
type stack struct {
	tb    testing.TB
	db    *mongo.Database
	store *mongostore.Store
	auth  *auth.Service
	noms  *nomination.Service
	srv   *Server
	clock *testClock
	logs  *syncBuffer
	mon   *mongostore.CommandMonitor
	link  []byte
	// signer signs mailed links as the mail worker does when it sends
	// them; throttle is the account service's throttling (an option may
	// change it).
	signer   *nomination.LinkSigner
	throttle auth.ThrottleConfig
	faults   func(nomination.Event) error
	// noSessionCache makes the account service read every session from
	// the store (auth.Config.NoSessionCache).
	noSessionCache bool
	// secrets are the passwords and tokens the stack handed out; none may
	// appear in its log (checked when the test ends).
	secretsMu sync.Mutex
	secrets   []string
}

type stackOption func(*stack, *nomination.Config)

// newStack builds a service over a fresh database.
func newStack(tb testing.TB, opts ...stackOption) *stack {
	tb.Helper()
	db := storetest.NewDatabase(tb)
	return newStackOn(tb, db, &testClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}, opts...)
}

// newStackOn builds another instance over db (a second replica), sharing clock.
func newStackOn(tb testing.TB, db *mongo.Database, clock *testClock, opts ...stackOption) *stack {
	tb.Helper()
	st := &stack{tb: tb, db: db, clock: clock, logs: &syncBuffer{}, link: bytes.Repeat([]byte{7}, 32), secrets: []string{testPassword}}
	tb.Cleanup(func() {
		logs := st.logs.String()
		st.secretsMu.Lock()
		defer st.secretsMu.Unlock()
		for _, secret := range st.secrets {
			if strings.Contains(logs, secret) {
				tb.Errorf("a password or token appears in the log")
			}
		}
	})
	log := slog.New(slog.NewJSONHandler(st.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st.store = storetest.Store(tb, db, log)
	keys, _, err := auth.GenerateKeys(strings.NewReader(strings.Repeat("k", 64)))
	if err != nil {
		tb.Fatalf("keys: %v", err)
	}
	queue := st.store.MailQueue()
	st.signer = nomination.NewLinkSigner(st.link)
	noms := st.store.Nominations()
	cfg := nomination.Config{
		Store: noms, Files: noms, Outbox: queue, Directory: st.store.Directory(), Workflows: mustWorkflows(tb), Timers: st.store.Timers(),
		Links: st.signer, BaseURL: "http://nomina.test", MaxUploadBytes: 1 << 20,
		Now: clock.Now, Logger: log, Limiter: st.store.Limits(), Limits: nomination.DefaultLimits(),
	}
	st.throttle = auth.DefaultThrottle()
	for _, o := range opts {
		o(st, &cfg)
	}
	st.auth, err = auth.NewService(st.store.Users(), queue, keys, auth.Config{
		BaseURL: "http://nomina.test", Now: clock.Now, Logger: log,
		Hash:  auth.HashParams{Time: 1, Memory: 8 * 1024, Threads: 1},
		Links: st.signer, Limiter: st.store.Limits(), Throttle: st.throttle, NoSessionCache: st.noSessionCache,
	})
	if err != nil {
		tb.Fatalf("auth: %v", err)
	}
	st.noms = nomination.New(cfg)
	st.mon = mongostore.NewCommandMonitor(nil)
	st.srv = newTestServer(tb, Config{Logger: log, Authenticate: AuthenticateWith(st.auth), Auth: st.auth, Nominations: st.noms,
		Shortlists: export.Shortlists{}, Mail: queue, Workflows: cfg.Workflows, MaxUploadBytes: 1 << 20})
	return st
}

// account is a signed-in test user.
type account struct {
	ID    string
	Email string
	Token string
}

// mustUser creates an account with roles and panels and signs it in.
func (st *stack) mustUser(email string, roles []auth.Role, panels []string, org string) account {
	st.tb.Helper()
	ctx := context.Background()
	const pw = testPassword
	u, err := st.auth.Provision(ctx, auth.NewUser{Email: email, Name: strings.Split(email, "@")[0], Roles: roles, Panels: panels, Organization: org, Password: pw})
	if err != nil {
		st.tb.Fatalf("provision %s: %v", email, err)
	}
	return st.login(account{ID: u.ID, Email: email})
}

const testPassword = "correct horse battery staple 42"

// login signs a test account in again (after the clock moved past its
// token's lifetime, say).
func (st *stack) login(a account) account {
	st.tb.Helper()
	pair, err := st.auth.Login(context.Background(), a.Email, testPassword, "127.0.0.1")
	if err != nil {
		st.tb.Fatalf("login %s: %v", a.Email, err)
	}
	a.Token = pair.AccessToken
	st.secretsMu.Lock()
	st.secrets = append(st.secrets, pair.AccessToken, pair.RefreshToken)
	st.secretsMu.Unlock()
	return a
}

func (st *stack) candidate(email string) account {
	return st.mustUser(email, []auth.Role{auth.Role("candidate")}, nil, "")
}

func (st *stack) secretariat(email string) account {
	return st.mustUser(email, []auth.Role{auth.Role("secretariat")}, nil, "")
}

func (st *stack) reviewer(email string, org string, panels ...string) account {
	return st.mustUser(email, []auth.Role{auth.Role("reviewer")}, panels, org)
}

// call sends one request through the router.
func (st *stack) call(method, path string, who account, body any, headers ...string) *httptest.ResponseRecorder {
	st.tb.Helper()
	return serve(st.tb, st.srv, testRequest(st.tb, method, path, who.Token, body, headers...))
}

// testRequest builds a request; body is nil, a string or bytes sent as
// they are, or a value sent as JSON; headers come in name, value pairs.
func testRequest(tb testing.TB, method, path, token string, body any, headers ...string) *http.Request {
	tb.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		r = bytes.NewReader(js)
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

// serve runs req through the server's router.
func serve(tb testing.TB, srv *Server, req *http.Request) *httptest.ResponseRecorder {
	tb.Helper()
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	return rec
}

// mustStatus fails unless rec has the status; it decodes the body into out.
func mustStatus(tb testing.TB, rec *httptest.ResponseRecorder, status int, out any) {
	tb.Helper()
	if rec.Code != status {
		tb.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body.String())
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			tb.Fatalf("decode %s: %v", rec.Body.String(), err)
		}
	}
}

var anonymous = account{}
