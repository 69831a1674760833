package auth_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// clock is a settable time source shared by the services of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// outbox records the mail jobs a service enqueues.
type outbox struct {
	mu   sync.Mutex
	jobs []nomination.MailJob
}

func (o *outbox) Enqueue(_ context.Context, job nomination.MailJob) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, j := range o.jobs {
		if j.ID == job.ID {
			return nil
		}
	}
	o.jobs = append(o.jobs, job)
	return nil
}

func (o *outbox) Jobs() []nomination.MailJob {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]nomination.MailJob(nil), o.jobs...)
}

// logBuffer collects the security log of a test.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fixture is a service over a fresh database, with its clock, outbox and
// log, and the secrets the test handled, which the log must never show.
type fixture struct {
	svc    *auth.Service
	store  *mongostore.Users
	limits *mongostore.Limits
	db     string
	clock  *clock
	outbox *outbox
	logs   *logBuffer
	keys   *auth.KeySet

	mu      sync.Mutex
	secrets []string
}

var fastParams = auth.HashParams{Memory: 64, Time: 1, Threads: 1}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	db := storetest.NewDatabase(tb)
	keys, _, err := auth.GenerateKeys(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	f := &fixture{
		store: mongostore.New(db, nil).Users(), limits: mongostore.New(db, nil).Limits(), db: db.Name(),
		clock:  &clock{t: time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)},
		outbox: &outbox{}, logs: &logBuffer{}, keys: keys,
	}
	f.svc = f.service(tb, f.store)
	tb.Cleanup(func() { f.checkLogs(tb) })
	return f
}

// links signs mailed links for every service of a test, as instances
// sharing NOMINA_LINK_SECRET_FILE do.
var links = nomination.NewLinkSigner([]byte("the link secret of the auth tests"))

// service returns another service instance over store, sharing the
// fixture's clock, keys, outbox and log.
func (f *fixture) service(tb testing.TB, store auth.Store) *auth.Service {
	tb.Helper()
	svc, err := auth.NewService(store, f.outbox, f.keys, auth.Config{
		BaseURL: "https://nomina.example.org/", Hash: fastParams, Now: f.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Links:  links, Limiter: f.limits,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return svc
}

func (f *fixture) secret(s ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets = append(f.secrets, s...)
}

func (f *fixture) checkLogs(tb testing.TB) {
	tb.Helper()
	logs := f.logs.String()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.secrets {
		if s != "" && strings.Contains(logs, s) {
			tb.Errorf("the log contains a secret %.6s…", s)
		}
	}
}

const password = "granite orbit willow"

func (f *fixture) mustRegister(tb testing.TB, email string) *auth.User {
	tb.Helper()
	f.secret(password)
	if err := f.svc.Register(context.Background(), auth.Registration{Email: email, Password: password, Name: "Ana López"}); err != nil {
		tb.Fatalf("register %s: %v", email, err)
	}
	_, key, _ := auth.NormalizeEmail(email)
	u, err := f.store.UserByEmailKey(context.Background(), key)
	if err != nil {
		tb.Fatalf("registered %s: %v", email, err)
	}
	return u
}

// jobs returns the mail jobs of template.
func (f *fixture) jobs(template string) []nomination.MailJob {
	var out []nomination.MailJob
	for _, j := range f.outbox.Jobs() {
		if j.Template == template {
			out = append(out, j)
		}
	}
	return out
}

func (f *fixture) mustLogin(tb testing.TB, svc *auth.Service, email, pw string) *auth.TokenPair {
	tb.Helper()
	p, err := svc.Login(context.Background(), email, pw, "192.0.2.1")
	if err != nil {
		tb.Fatalf("login %s: %v", email, err)
	}
	f.secret(p.AccessToken, p.RefreshToken)
	return p
}

func (f *fixture) mustUser(tb testing.TB, email string, roles ...auth.Role) (*auth.User, *auth.Principal) {
	tb.Helper()
	f.secret(password)
	u, err := f.svc.Provision(context.Background(), auth.NewUser{Email: email, Name: "Staff " + email, Roles: roles, Password: password})
	if err != nil {
		tb.Fatalf("provision %s: %v", email, err)
	}
	pair := f.mustLogin(tb, f.svc, email, password)
	p, err := f.svc.Authenticate(context.Background(), pair.AccessToken)
	if err != nil {
		tb.Fatal(err)
	}
	return u, p
}

func mustCode(tb testing.TB, err error, code string) *nomination.Error {
	tb.Helper()
	var e *nomination.Error
	if !errors.As(err, &e) || e.Code != code {
		tb.Fatalf("error = %v, want code %s", err, code)
	}
	return e
}

func TestRegisterLoginAuthenticate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.mustRegister(t, " Ana@Example.org ")
	if u.Email != "Ana@Example.org" || u.EmailKey != "ana@example.org" || len(u.Roles) != 1 || u.Roles[0] != auth.RoleCandidate {
		t.Fatalf("registered %+v", u)
	}
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Fatalf("stored hash %q", u.PasswordHash)
	}
	pair := f.mustLogin(t, f.svc, "ANA@example.ORG", password)
	if pair.ExpiresIn != 600 || pair.RefreshToken == "" {
		t.Fatalf("pair = %+v", pair)
	}
	p, err := f.svc.Authenticate(ctx, pair.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if p.UserID != u.ID || p.Email != "Ana@Example.org" || !p.HasRole(auth.RoleCandidate) || p.SessionID == "" {
		t.Fatalf("principal = %+v", p)
	}
	if !strings.Contains(f.logs.String(), `"msg":"login succeeded"`) {
		t.Fatalf("successful login not logged: %s", f.logs)
	}
}

func TestRegisterRefuses(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.mustRegister(t, "ana@example.org")
	tests := []struct {
		name   string
		in     auth.Registration
		code   string
		fields []string
	}{
		{"everything wrong at once", auth.Registration{Email: "ana\r\n@example.org", Password: "short", Name: "\x00"}, nomination.EINVALID, []string{"email", "password", "name"}},
		{"common password", auth.Registration{Email: "bob@example.org", Password: "password123", Name: "Bob"}, nomination.EINVALID, []string{"password"}},
		{"password is the name", auth.Registration{Email: "wiremu@example.org", Password: "WiremuTawhiri", Name: "Wiremu Tawhiri"}, nomination.EINVALID, []string{"password"}},
		{"no password", auth.Registration{Email: "bob@example.org", Name: "Bob"}, nomination.EINVALID, []string{"password"}},
		{"10 MB password", auth.Registration{Email: "bob@example.org", Password: strings.Repeat("x", 10<<20), Name: "Bob"}, nomination.EINVALID, []string{"password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustCode(t, f.svc.Register(ctx, tt.in), tt.code)
			for _, field := range tt.fields {
				found := false
				for _, fe := range e.Fields {
					found = found || fe.Field == field
				}
				if !found {
					t.Fatalf("error %+v does not name %q", e, field)
				}
			}
		})
	}
	users, err := f.store.ListUsers(ctx, auth.UserFilter{})
	if err != nil || len(users) != 1 {
		t.Fatalf("stored users = %d, %v; want only the first", len(users), err)
	}
}

// Registering a taken address (in any case) answers as a new one does,
// creates nothing, and mails the owner instead; and a confirmation mail
// goes to a new account only.
func TestRegisterTakenAddressTellsTheOwner(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.mustRegister(t, "ana@example.org")
	if u.EmailConfirmed() {
		t.Fatal("a self-registered address is confirmed before its owner followed the link")
	}
	if err := f.svc.Register(ctx, auth.Registration{Email: "ANA@example.org", Password: "another fine passphrase", Name: "Mallory"}); err != nil {
		t.Fatalf("taken address: %v, want the answer a new one gets", err)
	}
	users, err := f.store.ListUsers(ctx, auth.UserFilter{})
	if err != nil || len(users) != 1 || users[0].Name != "Ana López" {
		t.Fatalf("users = %v, %v", users, err)
	}
	if n := len(f.jobs("confirm_email")); n != 1 {
		t.Fatalf("%d confirmation mails, want 1", n)
	}
	told := f.jobs("account_exists")
	if len(told) != 1 || told[0].To != "ana@example.org" || told[0].Name != "Ana López" {
		t.Fatalf("owner mails = %+v", told)
	}
}

// Of concurrent registrations of one address in different cases, exactly
// one creates the account; every caller gets the same answer.
func TestConcurrentRegistration(t *testing.T) {
	f := newFixture(t)
	f.secret(password)
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		email := "Ana@Example.org"
		if i%2 == 1 {
			email = "ana@example.org"
		}
		wg.Go(func() {
			errs[i] = f.svc.Register(context.Background(), auth.Registration{Email: email, Password: password, Name: "Ana"})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
	}
	users, err := f.store.ListUsers(context.Background(), auth.UserFilter{})
	if err != nil || len(users) != 1 {
		t.Fatalf("%d accounts, %v; want exactly 1", len(users), err)
	}
	if n := len(f.jobs("confirm_email")); n != 1 {
		t.Fatalf("%d confirmation mails, want 1", n)
	}
}

// overlapLimiter is the store's limiter, noting how many takes of one key
// run at once; each take of it lasts a little longer, as on a busy store.
type overlapLimiter struct {
	nomination.Limiter
	key       string
	mu        sync.Mutex
	now, most int
}

func (l *overlapLimiter) Take(ctx context.Context, key string, r nomination.Rate, now time.Time) error {
	if key != l.key {
		return l.Limiter.Take(ctx, key, r, now)
	}
	l.mu.Lock()
	l.now++
	l.most = max(l.most, l.now)
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.now--
		l.mu.Unlock()
	}()
	time.Sleep(5 * time.Millisecond)
	return l.Limiter.Take(ctx, key, r, now)
}

// A crowd registering at once on one instance takes the count of
// everyone's registrations a few at a time (takers of one key at once
// collide on the same free use, each collision an insert in vain), and
// the count stays exact: of 24 registrations under a limit of 20, 20 are
// let in.
func TestRegistrationsOfACrowdTakeTheSharedCountAFewAtATime(t *testing.T) {
	f := newFixture(t)
	f.secret(password)
	lim := &overlapLimiter{Limiter: f.limits, key: "register:all"}
	svc, err := auth.NewService(f.store, f.outbox, f.keys, auth.Config{
		BaseURL: "https://nomina.example.org/", Hash: fastParams, Now: f.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)), Links: links, Limiter: lim,
		Throttle: auth.ThrottleConfig{Registrations: nomination.Rate{Max: 20, Per: time.Hour}},
	})
	if err != nil {
		t.Fatal(err)
	}
	const n = 24
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = svc.Register(context.Background(), auth.Registration{
				Email: fmt.Sprintf("crowd%02d@example.org", i), Password: password, Name: "Crowd", ClientIP: fmt.Sprintf("198.51.100.%d", i+1)})
		})
	}
	wg.Wait()
	if lim.most > 4 {
		t.Errorf("%d takes of the shared count at once, want at most 4", lim.most)
	}
	ok, limited := 0, 0
	for _, err := range errs {
		switch nomination.ErrorCode(err) {
		case "":
			ok++
		case nomination.ETOOMANY:
			limited++
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if ok != 20 || limited != n-20 {
		t.Fatalf("%d registered, %d limited; want 20 and %d", ok, limited, n-20)
	}
}

func TestSamePasswordDifferentHashes(t *testing.T) {
	f := newFixture(t)
	a := f.mustRegister(t, "ana@example.org")
	b := f.mustRegister(t, "bob@example.org")
	if a.PasswordHash == b.PasswordHash {
		t.Fatal("two users with one password share a hash")
	}
}

func TestLoginFailures(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.mustRegister(t, "ana@example.org")
	f.secret("wrong horse battery", "pw for nobody")
	tests := []struct {
		name, email, password string
		code                  string
	}{
		{"wrong password", "ana@example.org", "wrong horse battery", nomination.EUNAUTHORIZED},
		{"unknown account", "nobody@example.org", "pw for nobody", nomination.EUNAUTHORIZED},
		{"oversized password", "ana@example.org", strings.Repeat("x", 5000), nomination.EUNAUTHORIZED},
		{"malformed email", "ana\n@example.org", password, nomination.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Login(ctx, tt.email, tt.password, "192.0.2.1")
			mustCode(t, err, tt.code)
		})
	}
	logs := f.logs.String()
	if !strings.Contains(logs, `"msg":"login failed"`) || !strings.Contains(logs, `"client_ip":"192.0.2.1"`) {
		t.Fatalf("failed logins not logged with the address: %s", logs)
	}
	if strings.Contains(logs, "nobody@example.org") {
		t.Fatal("the log names the address typed for an unknown account")
	}
}

// Failures count per account and client address together: after five
// free failures one address waits 1 s, then 2 s, 4 s..., refused attempts
// not extending the wait; another address signs in meanwhile. The counts
// hold across service instances.
func TestLoginThrottling(t *testing.T) {
	for _, instances := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d instances", instances), func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			f.mustRegister(t, "ana@example.org")
			svcs := []*auth.Service{f.svc}
			if instances == 2 {
				other := mongostore.New(storetest.Connect(t, f.db), nil).Users()
				svcs = append(svcs, f.service(t, other))
			}
			svc := func(i int) *auth.Service { return svcs[i%len(svcs)] }
			f.secret("wrong horse battery")
			const guesser = "198.51.100.7"
			for i := range 5 {
				_, err := svc(i).Login(ctx, "ana@example.org", "wrong horse battery", guesser)
				mustCode(t, err, nomination.EUNAUTHORIZED)
			}
			for i, wait := range []int{1, 2, 4, 8} {
				// Even the right password waits: the address is guessing.
				_, err := svc(i).Login(ctx, "Ana@example.org", password, guesser)
				if e := mustCode(t, err, nomination.ETOOMANY); e.RetryAfter != wait {
					t.Fatalf("failure %d: RetryAfter = %d, want %d", 6+i, e.RetryAfter, wait)
				}
				f.clock.Advance(time.Duration(wait) * time.Second)
				_, err = svc(i+1).Login(ctx, "ana@example.org", "wrong horse battery", guesser)
				mustCode(t, err, nomination.EUNAUTHORIZED)
			}
			// The owner, elsewhere, is not locked out.
			f.mustLogin(t, svc(1), "ana@example.org", password)
			_, err := svc(0).Login(ctx, "ana@example.org", password, guesser)
			e := mustCode(t, err, nomination.ETOOMANY)
			f.clock.Advance(time.Duration(e.RetryAfter) * time.Second)
			p, err := svc(0).Login(ctx, "ana@example.org", password, guesser)
			if err != nil {
				t.Fatalf("after the wait: %v", err)
			}
			f.secret(p.AccessToken, p.RefreshToken)
		})
	}
}

// When an account has many failures from many addresses, the addresses
// that failed wait; one that has not signs in with the right password.
func TestLoginThrottlingPerAccount(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.mustRegister(t, "ana@example.org")
	f.secret("wrong horse battery")
	for i := range 10 {
		_, err := f.svc.Login(ctx, "ana@example.org", "wrong horse battery", fmt.Sprintf("198.51.100.%d", i))
		mustCode(t, err, nomination.EUNAUTHORIZED)
		f.clock.Advance(time.Second)
	}
	_, err := f.svc.Login(ctx, "ana@example.org", password, "198.51.100.3")
	e := mustCode(t, err, nomination.ETOOMANY)
	// The first failure was 10 s ago; the account is below the limit again
	// once it leaves the window, in 14m50s.
	if want := 15*60 - 10; e.RetryAfter != want {
		t.Fatalf("RetryAfter = %d, want %d", e.RetryAfter, want)
	}
	f.mustLogin(t, f.svc, "ana@example.org", password) // from an address that has not failed
	f.clock.Advance(time.Duration(e.RetryAfter) * time.Second)
	p, err := f.svc.Login(ctx, "ana@example.org", password, "198.51.100.3")
	if err != nil {
		t.Fatalf("after the wait: %v", err)
	}
	f.secret(p.AccessToken, p.RefreshToken)
}

func TestLoginThrottlingPerAddress(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.mustRegister(t, "ana@example.org")
	f.secret("wrong horse battery")
	for i := range 100 {
		_, err := f.svc.Login(ctx, fmt.Sprintf("user%d@example.org", i), "wrong horse battery", "192.0.2.77")
		mustCode(t, err, nomination.EUNAUTHORIZED)
	}
	_, err := f.svc.Login(ctx, "ana@example.org", password, "192.0.2.77")
	mustCode(t, err, nomination.ETOOMANY)
	f.mustLogin(t, f.svc, "ana@example.org", password) // from another address
}

// Successful logins do not count towards the limit.
func TestSuccessfulLoginsAreNotFailures(t *testing.T) {
	f := newFixture(t)
	f.mustRegister(t, "ana@example.org")
	for range 15 {
		f.mustLogin(t, f.svc, "ana@example.org", password)
	}
}

// leavingStore is the store of a request whose client goes away while its
// account is looked up: the request's context is cancelled there.
type leavingStore struct {
	*mongostore.Users
	leave context.CancelFunc
}

func (s leavingStore) UserByEmailKey(ctx context.Context, key string) (*auth.User, error) {
	s.leave()
	return s.Users.UserByEmailKey(context.WithoutCancel(ctx), key)
}

// A sign-in its client leaves after its attempt was recorded is not
// counted as a failure: the records are removed though the request's
// context is cancelled, so logins abandoned by a flaky connection never
// make the owner wait.
func TestAbandonedLoginsAreNotFailures(t *testing.T) {
	f := newFixture(t)
	f.mustRegister(t, "ana@example.org")
	for range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		svc := f.service(t, leavingStore{Users: f.store, leave: cancel})
		if _, err := svc.Login(ctx, "ana@example.org", password, "192.0.2.9"); err == nil {
			t.Fatal("a login whose client left succeeded")
		}
	}
	_, key, _ := auth.NormalizeEmail("ana@example.org")
	for _, k := range []string{"login:" + key + "|192.0.2.9", "address:192.0.2.9", "account:" + key} {
		left, err := f.store.Attempts(context.Background(), k, f.clock.Now().Add(-time.Hour), 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 0 {
			t.Errorf("%d attempt(s) left under %s by logins their clients abandoned", len(left), k)
		}
	}
	if strings.Contains(f.logs.String(), "remove login attempt") {
		t.Errorf("removing the records failed:\n%s", f.logs.String())
	}
}

func TestRefreshRotation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.mustRegister(t, "ana@example.org")
	first := f.mustLogin(t, f.svc, "ana@example.org", password)

	f.clock.Advance(time.Minute)
	second, err := f.svc.Refresh(ctx, first.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	f.secret(second.AccessToken, second.RefreshToken)
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatal("refresh did not rotate")
	}
	if _, err := f.svc.Authenticate(ctx, second.AccessToken); err != nil {
		t.Fatalf("new access token: %v", err)
	}
	// The spent token is refused, and presenting it ends the session.
	_, err = f.svc.Refresh(ctx, first.RefreshToken)
	mustCode(t, err, nomination.EUNAUTHORIZED)
	_, err = f.svc.Refresh(ctx, second.RefreshToken)
	mustCode(t, err, nomination.EUNAUTHORIZED)
	_, err = f.svc.Authenticate(ctx, second.AccessToken)
	mustCode(t, err, nomination.EUNAUTHORIZED)
	if !strings.Contains(f.logs.String(), "refresh token reused") {
		t.Fatal("reuse not logged")
	}
	// Another session of the same user is untouched.
	other := f.mustLogin(t, f.svc, "ana@example.org", password)
	if _, err := f.svc.Authenticate(ctx, other.AccessToken); err != nil {
		t.Fatalf("other session: %v", err)
	}
}

// Two uses of one refresh token at once: one wins, the other is a reuse.
func TestConcurrentRefresh(t *testing.T) {
	f := newFixture(t)
	f.mustRegister(t, "ana@example.org")
	pair := f.mustLogin(t, f.svc, "ana@example.org", password)
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			p, err := f.svc.Refresh(context.Background(), pair.RefreshToken)
			if p != nil {
				f.secret(p.AccessToken, p.RefreshToken)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d refreshes succeeded, want 1", ok)
	}
}

func TestRefreshRefuses(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.mustRegister(t, "ana@example.org")
	pair := f.mustLogin(t, f.svc, "ana@example.org", password)
	for _, tok := range []string{"", "garbage", pair.AccessToken, strings.Repeat("A", 43)} {
		_, err := f.svc.Refresh(ctx, tok)
		mustCode(t, err, nomination.EUNAUTHORIZED)
	}
	f.clock.Advance(auth.DefaultRefreshTTL)
	_, err := f.svc.Refresh(ctx, pair.RefreshToken)
	mustCode(t, err, nomination.EUNAUTHORIZED)
}

// A session lasts at most SessionMaxAge however often it is refreshed.
func TestSessionMaxAge(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.mustRegister(t, "ana@example.org")
	pair := f.mustLogin(t, f.svc, "ana@example.org", password)
	var err error
	for elapsed := time.Duration(0); elapsed < auth.DefaultSessionMaxAge+48*time.Hour; elapsed += 6 * 24 * time.Hour {
		f.clock.Advance(6 * 24 * time.Hour)
		pair, err = f.svc.Refresh(ctx, pair.RefreshToken)
		if err != nil {
			if elapsed+6*24*time.Hour < auth.DefaultSessionMaxAge {
				t.Fatalf("refused after %v: %v", elapsed, err)
			}
			mustCode(t, err, nomination.EUNAUTHORIZED)
			return
		}
		f.secret(pair.AccessToken, pair.RefreshToken)
	}
	t.Fatal("session outlived its maximum age")
}

func TestLogout(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.mustRegister(t, "ana@example.org")
	pair := f.mustLogin(t, f.svc, "ana@example.org", password)
	other := f.mustLogin(t, f.svc, "ana@example.org", password)
	p, err := f.svc.Authenticate(ctx, pair.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(ctx, p, pair.RefreshToken); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Authenticate(ctx, pair.AccessToken)
	mustCode(t, err, nomination.EUNAUTHORIZED)
	_, err = f.svc.Refresh(ctx, pair.RefreshToken)
	mustCode(t, err, nomination.EUNAUTHORIZED)
	if _, err := f.svc.Authenticate(ctx, other.AccessToken); err != nil {
		t.Fatalf("logout ended another session: %v", err)
	}
	mustCode(t, f.svc.Logout(ctx, nil, ""), nomination.EUNAUTHORIZED)
}

// resetLink returns the token of the newest mail of template to email.
// The job holds the link sealed (claims, no token); the token is made as
// the mail worker makes it when it sends the message.
func (f *fixture) resetLink(tb testing.TB, template, email string) string {
	tb.Helper()
	jobs := f.outbox.Jobs()
	for i := len(jobs) - 1; i >= 0; i-- {
		j := jobs[i]
		if j.Template != template || j.To != email {
			continue
		}
		name := "reset"
		if template == "confirm_email" {
			name = "confirm"
		}
		if len(j.Links) != 0 || len(j.Data) != 0 {
			tb.Fatalf("the job keeps links or data at rest: %v %v", j.Links, j.Data)
		}
		link := links.Unseal(j).Links[name]
		if !strings.HasPrefix(link, "/") || strings.Count(link, "/") != 2 {
			tb.Fatalf("link %q is not a page of the service", link)
		}
		tok := link[strings.LastIndexByte(link, '/')+1:]
		f.secret(tok)
		return tok
	}
	tb.Fatalf("no %s mail to %s in %v", template, email, jobs)
	return ""
}

func TestPasswordReset(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.mustRegister(t, "ana@example.org")
	before := f.mustLogin(t, f.svc, "ana@example.org", password)

	if err := f.svc.RequestPasswordReset(ctx, "nobody@example.org"); err != nil {
		t.Fatalf("unknown address: %v", err)
	}
	if n := len(f.jobs("password_reset")); n != 0 {
		t.Fatalf("%d reset mails for an unknown address", n)
	}
	if j := f.jobs("password_reset_unknown"); len(j) != 1 || j[0].To != "nobody@example.org" || len(j[0].Sealed) != 0 {
		t.Fatalf("mail to the unknown address = %+v", j)
	}
	if err := f.svc.RequestPasswordReset(ctx, "ANA@example.org"); err != nil {
		t.Fatal(err)
	}
	tok := f.resetLink(t, "password_reset", "ana@example.org")
	if j := f.jobs("password_reset")[0]; strings.Contains(j.ID, tok) {
		t.Fatal("the mail job id holds the token")
	}

	const newPassword = "copper meadow lantern"
	f.secret(newPassword)
	t.Run("weak password keeps the link usable", func(t *testing.T) {
		mustCode(t, f.svc.ResetPassword(ctx, tok, "password1"), nomination.EINVALID)
	})
	if err := f.svc.ResetPassword(ctx, tok, newPassword); err != nil {
		t.Fatalf("reset: %v", err)
	}
	t.Run("link is single-use", func(t *testing.T) {
		mustCode(t, f.svc.ResetPassword(ctx, tok, "another good passphrase"), nomination.EINVALID)
	})
	t.Run("sessions from before are ended", func(t *testing.T) {
		_, err := f.svc.Authenticate(ctx, before.AccessToken)
		mustCode(t, err, nomination.EUNAUTHORIZED)
		_, err = f.svc.Refresh(ctx, before.RefreshToken)
		mustCode(t, err, nomination.EUNAUTHORIZED)
	})
	t.Run("old password no longer works", func(t *testing.T) {
		_, err := f.svc.Login(ctx, "ana@example.org", password, "")
		mustCode(t, err, nomination.EUNAUTHORIZED)
	})
	t.Run("new password works in the same second", func(t *testing.T) {
		after := f.mustLogin(t, f.svc, "ana@example.org", newPassword)
		if _, err := f.svc.Authenticate(ctx, after.AccessToken); err != nil {
			t.Fatalf("token issued right after the reset: %v", err)
		}
	})
}

func TestPasswordResetLinkRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.mustRegister(t, "ana@example.org")
	if err := f.svc.RequestPasswordReset(ctx, "ana@example.org"); err != nil {
		t.Fatal(err)
	}
	first := f.resetLink(t, "password_reset", "ana@example.org")
	f.clock.Advance(2 * time.Second)
	if err := f.svc.RequestPasswordReset(ctx, "ana@example.org"); err != nil {
		t.Fatal(err)
	}
	second := f.resetLink(t, "password_reset", "ana@example.org")
	if first == second {
		t.Fatal("two requests produced one link")
	}
	if err := f.svc.ResetPassword(ctx, second, "copper meadow lantern"); err != nil {
		t.Fatal(err)
	}
	// A link issued before the password changed is dead.
	mustCode(t, f.svc.ResetPassword(ctx, first, "another good passphrase"), nomination.EINVALID)

	f.clock.Advance(2 * time.Second)
	if err := f.svc.RequestPasswordReset(ctx, "ana@example.org"); err != nil {
		t.Fatal(err)
	}
	expired := f.resetLink(t, "password_reset", "ana@example.org")
	f.clock.Advance(auth.DefaultResetTTL)
	mustCode(t, f.svc.ResetPassword(ctx, expired, "another good passphrase"), nomination.EINVALID)

	forged := links.Sign(nomination.LinkClaims{Kind: auth.PurposePasswordReset, Ref: "u-x", Expires: f.clock.Now().Add(time.Hour).Unix()})
	otherKey := nomination.NewLinkSigner([]byte("another secret, not the service's")).Sign(nomination.LinkClaims{Kind: auth.PurposePasswordReset, Expires: f.clock.Now().Add(time.Hour).Unix()})
	for _, tok := range []string{"", "short", strings.Repeat("A", 43), forged, otherKey} {
		mustCode(t, f.svc.ResetPassword(ctx, tok, "another good passphrase"), nomination.EINVALID)
	}
	// A link token is not an access token.
	_, err := f.svc.Authenticate(ctx, expired)
	mustCode(t, err, nomination.EUNAUTHORIZED)
}

// Reset mails are limited per account, silently.
func TestPasswordResetThrottled(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.mustRegister(t, "ana@example.org")
	for range 5 {
		if err := f.svc.RequestPasswordReset(ctx, "ana@example.org"); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.jobs("password_reset")); n != 3 {
		t.Fatalf("%d reset mails, want 3", n)
	}
}

func TestDisableEndsSessions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, admin := f.mustUser(t, "admin@example.org", auth.RoleAdmin)
	u := f.mustRegister(t, "ana@example.org")
	pair := f.mustLogin(t, f.svc, "ana@example.org", password)
	yes := true
	if _, err := f.svc.UpdateUser(ctx, admin, u.ID, auth.UserPatch{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Authenticate(ctx, pair.AccessToken)
	mustCode(t, err, nomination.EUNAUTHORIZED)
	_, err = f.svc.Refresh(ctx, pair.RefreshToken)
	mustCode(t, err, nomination.EUNAUTHORIZED)
	_, err = f.svc.Login(ctx, "ana@example.org", password, "")
	mustCode(t, err, nomination.EUNAUTHORIZED)
	if err := f.svc.RequestPasswordReset(ctx, "ana@example.org"); err != nil || len(f.jobs("password_reset")) != 0 {
		t.Fatalf("reset for a disabled account: %v, %d mails", err, len(f.jobs("password_reset")))
	}
	no := false
	f.clock.Advance(time.Second)
	if _, err := f.svc.UpdateUser(ctx, admin, u.ID, auth.UserPatch{Disabled: &no}); err != nil {
		t.Fatal(err)
	}
	f.mustLogin(t, f.svc, "ana@example.org", password)
}

func TestUserManagementPermissions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, admin := f.mustUser(t, "admin@example.org", auth.RoleAdmin)
	sec2, _ := f.mustUser(t, "sec2@example.org", auth.RoleSecretariat)
	_, sec := f.mustUser(t, "sec@example.org", auth.RoleSecretariat)
	cand, candP := f.mustUser(t, "cand@example.org", auth.RoleCandidate)

	create := func(actor *auth.Principal, email string, roles ...auth.Role) error {
		_, err := f.svc.CreateUser(ctx, actor, auth.NewUser{Email: email, Name: "New", Roles: roles, Panels: []string{"civil_society"}})
		return err
	}
	tests := []struct {
		name string
		err  error
		code string
	}{
		{"secretariat creates a reviewer", create(sec, "rev@example.org", auth.RoleReviewer), ""},
		{"secretariat cannot create an admin", create(sec, "a2@example.org", auth.RoleAdmin), nomination.EFORBIDDEN},
		{"secretariat cannot create a secretariat", create(sec, "s3@example.org", auth.RoleSecretariat, auth.RoleReviewer), nomination.EFORBIDDEN},
		{"admin creates a secretariat", create(admin, "s4@example.org", auth.RoleSecretariat), ""},
		{"candidate cannot create", create(candP, "x@example.org", auth.RoleCandidate), nomination.EFORBIDDEN},
		{"nobody cannot create", create(nil, "y@example.org", auth.RoleCandidate), nomination.EUNAUTHORIZED},
		{"bad role named", create(admin, "z@example.org", "root"), nomination.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.code == "" {
				if tt.err != nil {
					t.Fatal(tt.err)
				}
				return
			}
			mustCode(t, tt.err, tt.code)
		})
	}

	t.Run("a created user without password is mailed a set-password link", func(t *testing.T) {
		tok := f.resetLink(t, "set_password", "rev@example.org")
		if err := f.svc.ResetPassword(ctx, tok, "copper meadow lantern"); err != nil {
			t.Fatal(err)
		}
		f.secret("copper meadow lantern")
		f.mustLogin(t, f.svc, "rev@example.org", "copper meadow lantern")
	})

	_, err := f.svc.ListUsers(ctx, candP, auth.UserQuery{})
	mustCode(t, err, nomination.EFORBIDDEN)
	page, err := f.svc.ListUsers(ctx, sec, auth.UserQuery{Role: auth.RoleReviewer})
	if err != nil || len(page.Items) != 1 || page.Items[0].Email != "rev@example.org" {
		t.Fatalf("reviewers = %v, %v", page, err)
	}

	reviewer := []auth.Role{auth.RoleReviewer}
	admins := []auth.Role{auth.RoleAdmin}
	yes := true
	updates := []struct {
		name  string
		actor *auth.Principal
		id    string
		patch auth.UserPatch
		code  string
	}{
		{"secretariat makes a candidate a reviewer", sec, cand.ID, auth.UserPatch{Roles: &reviewer, Panels: &[]string{"civil_society"}}, ""},
		{"secretariat cannot make anyone admin", sec, cand.ID, auth.UserPatch{Roles: &admins}, nomination.EFORBIDDEN},
		{"secretariat cannot touch another secretariat", sec, sec2.ID, auth.UserPatch{Disabled: &yes}, nomination.EFORBIDDEN},
		{"admin cannot disable themselves", admin, admin.UserID, auth.UserPatch{Disabled: &yes}, nomination.EFORBIDDEN},
		{"admin cannot change own roles", admin, admin.UserID, auth.UserPatch{Roles: &reviewer}, nomination.EFORBIDDEN},
		{"candidate cannot update", candP, cand.ID, auth.UserPatch{Roles: &admins}, nomination.EFORBIDDEN},
		{"unknown user", admin, "u-nope", auth.UserPatch{Disabled: &yes}, nomination.ENOTFOUND},
		{"bad panel", admin, cand.ID, auth.UserPatch{Panels: &[]string{"Bad Panel"}}, nomination.EINVALID},
		{"admin disables a secretariat", admin, sec2.ID, auth.UserPatch{Disabled: &yes}, ""},
	}
	for _, tt := range updates {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.UpdateUser(ctx, tt.actor, tt.id, tt.patch)
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			mustCode(t, err, tt.code)
		})
	}
	got, err := f.svc.User(ctx, cand.ID)
	if err != nil || !got.HasRole(auth.RoleReviewer) || got.HasRole(auth.RoleAdmin) || len(got.Panels) != 1 {
		t.Fatalf("candidate after updates = %+v, %v", got, err)
	}
	// Roles are read from the store on every request, so a token issued
	// before a role change carries the new roles.
	p, err := f.svc.Authenticate(ctx, f.mustLogin(t, f.svc, "cand@example.org", password).AccessToken)
	if err != nil || !p.HasRole(auth.RoleReviewer) || !p.InPanel("civil_society") {
		t.Fatalf("principal = %+v, %v", p, err)
	}
}

func TestListUsersPages(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, admin := f.mustUser(t, "admin@example.org", auth.RoleAdmin)
	for i := range 7 {
		if _, err := f.svc.CreateUser(ctx, admin, auth.NewUser{Email: fmt.Sprintf("user%d@example.org", i), Name: "U", Roles: []auth.Role{auth.RoleCandidate}}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		page, err := f.svc.ListUsers(ctx, admin, auth.UserQuery{Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range page.Items {
			seen = append(seen, u.EmailKey)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 8 || seen[0] != "admin@example.org" || seen[7] != "user6@example.org" {
		t.Fatalf("listed %v", seen)
	}
	for _, q := range []auth.UserQuery{{Limit: -1}, {Limit: auth.MaxPageSize + 1}, {Cursor: "!!"}, {Role: "root"}, {Panel: "A B"}} {
		_, err := f.svc.ListUsers(ctx, admin, q)
		mustCode(t, err, nomination.EINVALID)
	}
}

func TestEnsureAdmin(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.secret("copper meadow lantern")
	created, err := f.svc.EnsureAdmin(ctx, "root@example.org", "copper meadow lantern")
	if err != nil || !created {
		t.Fatalf("first EnsureAdmin = %v, %v", created, err)
	}
	created, err = f.svc.EnsureAdmin(ctx, "other@example.org", "copper meadow lantern")
	if err != nil || created {
		t.Fatalf("second EnsureAdmin = %v, %v; want no-op", created, err)
	}
	f.mustLogin(t, f.svc, "root@example.org", "copper meadow lantern")

	t.Run("never promotes an existing account", func(t *testing.T) {
		g := newFixture(t)
		g.mustRegister(t, "root@example.org")
		_, err := g.svc.EnsureAdmin(ctx, "root@example.org", "copper meadow lantern")
		mustCode(t, err, nomination.ECONFLICT)
	})
	t.Run("refuses a weak password", func(t *testing.T) {
		g := newFixture(t)
		_, err := g.svc.EnsureAdmin(ctx, "root@example.org", "admin123")
		mustCode(t, err, nomination.EINVALID)
	})
}

// A login with a hash made under older parameters stores a new one.
func TestLoginRehashes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.mustRegister(t, "ana@example.org")
	stronger, err := auth.NewService(f.store, f.outbox, f.keys, auth.Config{
		BaseURL: "https://nomina.example.org", Hash: auth.HashParams{Memory: 128, Time: 2, Threads: 1}, Now: f.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)), Links: links,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.mustLogin(t, stronger, "ana@example.org", password)
	got, err := f.store.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash == u.PasswordHash || !strings.Contains(got.PasswordHash, "m=128,t=2,p=1") {
		t.Fatalf("hash after login = %q", got.PasswordHash)
	}
	f.mustLogin(t, f.svc, "ana@example.org", password)
}

func TestPurgeExpired(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.mustRegister(t, "ana@example.org")
	f.secret("wrong horse battery")
	_, _ = f.svc.Login(ctx, "ana@example.org", "wrong horse battery", "192.0.2.1")
	pair := f.mustLogin(t, f.svc, "ana@example.org", password)
	f.clock.Advance(auth.DefaultRefreshTTL + time.Hour)
	n, err := f.svc.PurgeExpired(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Three failure records (account and address, account) and one
	// refresh token.
	if n != 4 {
		t.Fatalf("purged %d records, want 4", n)
	}
	_, err = f.svc.Refresh(ctx, pair.RefreshToken)
	mustCode(t, err, nomination.EUNAUTHORIZED)
}

// BenchmarkLogin measures a whole login against the embedded store at the
// production hash parameters: the sustained logins per second of one
// instance on this machine (run with -cpu to vary parallelism).
func BenchmarkLogin(b *testing.B) {
	db := storetest.NewDatabase(b)
	keys, _, _ := auth.GenerateKeys(rand.Reader)
	svc, err := auth.NewService(mongostore.New(db, nil).Users(), &outbox{}, keys, auth.Config{
		BaseURL: "https://nomina.example.org", Logger: slog.New(slog.DiscardHandler), Links: links,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := svc.Register(ctx, auth.Registration{Email: "ana@example.org", Password: password, Name: "Ana"}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := svc.Login(ctx, "ana@example.org", password, "192.0.2.1"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}

// BenchmarkAuthenticate measures a request's authentication: token
// verification plus the user and session look-ups.
func BenchmarkAuthenticate(b *testing.B) {
	db := storetest.NewDatabase(b)
	keys, _, _ := auth.GenerateKeys(rand.Reader)
	svc, err := auth.NewService(mongostore.New(db, nil).Users(), &outbox{}, keys, auth.Config{
		BaseURL: "https://nomina.example.org", Hash: fastParams, Logger: slog.New(slog.DiscardHandler), Links: links,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := svc.Register(ctx, auth.Registration{Email: "ana@example.org", Password: password, Name: "Ana"}); err != nil {
		b.Fatal(err)
	}
	pair, err := svc.Login(ctx, "ana@example.org", password, "")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := svc.Authenticate(ctx, pair.AccessToken); err != nil {
			b.Fatal(err)
		}
	}
}

// The address is confirmed by the mailed link, once for all, or by the
// operator; a forged, expired or foreign link confirms nothing.
func TestConfirmEmail(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ana := f.mustRegister(t, "ana@example.org")
	bob := f.mustRegister(t, "bob@example.org")
	tok := f.resetLink(t, "confirm_email", "ana@example.org")
	forged := links.Sign(nomination.LinkClaims{Kind: auth.PurposeConfirmEmail, Ref: bob.ID, Expires: f.clock.Now().Add(time.Hour).Unix()})
	mustCode(t, f.svc.ConfirmEmail(ctx, forged), nomination.EINVALID)
	mustCode(t, f.svc.ConfirmEmail(ctx, "nonsense"), nomination.EINVALID)
	// A reset link is no confirmation link.
	if err := f.svc.RequestPasswordReset(ctx, "bob@example.org"); err != nil {
		t.Fatal(err)
	}
	mustCode(t, f.svc.ConfirmEmail(ctx, f.resetLink(t, "password_reset", "bob@example.org")), nomination.EINVALID)
	if err := f.svc.ConfirmEmail(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ConfirmEmail(ctx, tok); err != nil {
		t.Fatalf("confirming again: %v", err)
	}
	for id, want := range map[string]bool{ana.ID: true, bob.ID: false} {
		u, err := f.svc.User(ctx, id)
		if err != nil || u.EmailConfirmed() != want {
			t.Fatalf("%s confirmed = %v, %v; want %v", id, u.EmailConfirmed(), err, want)
		}
	}
	if err := f.svc.ConfirmEmailOf(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.svc.User(ctx, bob.ID); !u.EmailConfirmed() {
		t.Fatal("the operator's confirmation did not hold")
	}
	mustCode(t, f.svc.ConfirmEmailOf(ctx, "u-nobody"), nomination.ENOTFOUND)
	// An expired link confirms nothing.
	carl := f.mustRegister(t, "carl@example.org")
	expired := f.resetLink(t, "confirm_email", "carl@example.org")
	f.clock.Advance(auth.DefaultConfirmTTL + time.Second)
	mustCode(t, f.svc.ConfirmEmail(ctx, expired), nomination.EINVALID)
	if u, _ := f.svc.User(ctx, carl.ID); u.EmailConfirmed() {
		t.Fatal("an expired link confirmed the address")
	}
}

// Changing the password checks the current one under the sign-in
// throttle: wrong ones count as failed sign-ins of the account from that
// client address, so guessing there waits like guessing at the sign-in,
// while the owner at another address is not locked out.
func TestChangePasswordThrottledLikeLogin(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.mustRegister(t, "ana@example.org")
	ana := &auth.Principal{UserID: u.ID}
	const newPassword = "copper meadow lantern"
	f.secret(newPassword)
	for range 5 {
		_, err := f.svc.ChangePassword(ctx, ana, "not the password", newPassword, "192.0.2.7")
		mustCode(t, err, nomination.EINVALID)
	}
	_, err := f.svc.ChangePassword(ctx, ana, password, newPassword, "192.0.2.7")
	mustCode(t, err, nomination.ETOOMANY)
	_, err = f.svc.Login(ctx, "ana@example.org", password, "192.0.2.7")
	mustCode(t, err, nomination.ETOOMANY)
	if _, err := f.svc.ChangePassword(ctx, ana, password, newPassword, "198.51.100.4"); err != nil {
		t.Fatalf("the owner at another address: %v", err)
	}
	f.clock.Advance(time.Second)
	f.mustLogin(t, f.svc, "ana@example.org", newPassword)
}

// CheckLink reads what a mailed link is good for without using it: a page
// shows a used or expired link as such (410) and one Nomina never made as
// unknown (404) before anyone types a password.
func TestCheckLink(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.mustRegister(t, "ana@example.org")
	check := func(t *testing.T, tok, purpose string, want auth.LinkStatus) auth.LinkCheck {
		t.Helper()
		c, err := f.svc.CheckLink(ctx, tok, purpose)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != want {
			t.Fatalf("status %d, want %d", c.Status, want)
		}
		return c
	}
	confirm := f.resetLink(t, "confirm_email", "ana@example.org")
	if c := check(t, confirm, auth.PurposeConfirmEmail, auth.LinkUsable); c.Email != "ana@example.org" || c.EmailConfirmed {
		t.Fatalf("usable confirmation link: %+v", c)
	}
	if err := f.svc.RequestPasswordReset(ctx, "ana@example.org"); err != nil {
		t.Fatal(err)
	}
	first := f.resetLink(t, "password_reset", "ana@example.org")
	f.clock.Advance(2 * time.Second)
	if err := f.svc.RequestPasswordReset(ctx, "ana@example.org"); err != nil {
		t.Fatal(err)
	}
	second := f.resetLink(t, "password_reset", "ana@example.org")
	check(t, first, auth.PurposePasswordReset, auth.LinkUsable)
	// Checking twice uses nothing up.
	check(t, second, auth.PurposePasswordReset, auth.LinkUsable)
	check(t, second, auth.PurposePasswordReset, auth.LinkUsable)
	t.Run("another kind of link is unknown", func(t *testing.T) {
		check(t, second, auth.PurposeConfirmEmail, auth.LinkUnknown)
		check(t, confirm, auth.PurposePasswordReset, auth.LinkUnknown)
	})
	t.Run("forged is unknown", func(t *testing.T) {
		for _, tok := range []string{"", "nonsense", second + "x",
			links.Sign(nomination.LinkClaims{Kind: auth.PurposePasswordReset, Ref: "u-nobody", Expires: f.clock.Now().Add(time.Hour).Unix()}),
			nomination.NewLinkSigner([]byte("another secret, not the service's")).Sign(nomination.LinkClaims{Kind: auth.PurposePasswordReset, Expires: f.clock.Now().Add(time.Hour).Unix()}),
		} {
			check(t, tok, auth.PurposePasswordReset, auth.LinkUnknown)
		}
	})
	if err := f.svc.ResetPassword(ctx, second, "copper meadow lantern"); err != nil {
		t.Fatal(err)
	}
	t.Run("used is spent", func(t *testing.T) { check(t, second, auth.PurposePasswordReset, auth.LinkSpent) })
	t.Run("made before the password changed is spent", func(t *testing.T) { check(t, first, auth.PurposePasswordReset, auth.LinkSpent) })
	t.Run("the reset confirmed the address", func(t *testing.T) {
		if c := check(t, confirm, auth.PurposeConfirmEmail, auth.LinkUsable); !c.EmailConfirmed {
			t.Fatalf("confirmation link after the reset: %+v", c)
		}
	})
	t.Run("expired is spent", func(t *testing.T) {
		f.clock.Advance(2 * time.Second)
		if err := f.svc.RequestPasswordReset(ctx, "ana@example.org"); err != nil {
			t.Fatal(err)
		}
		third := f.resetLink(t, "password_reset", "ana@example.org")
		check(t, third, auth.PurposePasswordReset, auth.LinkUsable)
		f.clock.Advance(auth.DefaultResetTTL)
		check(t, third, auth.PurposePasswordReset, auth.LinkSpent)
		f.clock.Advance(auth.DefaultConfirmTTL)
		check(t, confirm, auth.PurposeConfirmEmail, auth.LinkSpent)
	})
}
