package httpapi

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

// acctEnv is one Nomina instance over a real store, wired as cmd/nomina
// wires the account parts: service, mail queue and router, with a settable
// clock and a captured log. It remembers every secret the test handled so
// the log can be searched for them when the test ends.
type acctEnv struct {
	tb     testing.TB
	db     *mongo.Database
	clock  *testClock
	logs   *syncBuffer
	seed   []byte
	priv   ed25519.PrivateKey
	kid    string
	store  *mongostore.Store
	svc    *auth.Service
	queue  *mongostore.MailQueue
	links  *nomination.LinkSigner
	srv    *Server
	shared *acctSecrets
}

type acctSecrets struct {
	mu   sync.Mutex
	list []string
}

func (s *acctSecrets) add(v ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, v...)
}

func (s *acctSecrets) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.list...)
}

const acctPassword = "granite orbit willow"

func newAcctEnv(tb testing.TB) *acctEnv {
	tb.Helper()
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		tb.Fatal(err)
	}
	e := newAcctEnvOn(tb, storetest.NewDatabase(tb), &testClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)},
		seed, &syncBuffer{}, &acctSecrets{})
	tb.Cleanup(func() {
		logs := e.logs.String()
		for _, s := range e.shared.all() {
			if s != "" && strings.Contains(logs, s) {
				tb.Errorf("the log contains a secret (%.8s…)", s)
			}
		}
	})
	return e
}

// newAcctEnvOn builds an instance over db sharing the signing key, clock,
// log and secrets of another: a second replica behind the load balancer.
func newAcctEnvOn(tb testing.TB, db *mongo.Database, clock *testClock, seed []byte, logs *syncBuffer, secrets *acctSecrets) *acctEnv {
	tb.Helper()
	e := &acctEnv{tb: tb, db: db, clock: clock, logs: logs, seed: seed, shared: secrets}
	e.priv = ed25519.NewKeyFromSeed(seed)
	e.kid = auth.Thumbprint(e.priv.Public().(ed25519.PublicKey))
	keys, err := auth.ParseKeys([]byte(`{"keys":[{"seed":"` + base64.RawURLEncoding.EncodeToString(seed) + `"}]}`))
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.store = mongostore.New(db, log)
	e.queue = e.store.MailQueue()
	// Every replica signs mailed links with the same secret, as they share
	// NOMINA_LINK_SECRET_FILE.
	e.links = nomination.NewLinkSigner(append([]byte("link secret of "), seed...))
	e.svc, err = auth.NewService(e.store.Users(), e.queue, keys, auth.Config{
		BaseURL: "https://nomina.example.org", Now: clock.Now, Logger: log,
		Hash:  auth.HashParams{Memory: 1024, Time: 1, Threads: 1},
		Links: e.links, Limiter: e.store.Limits(),
		// Tests register many accounts from one address.
		Throttle: auth.ThrottleConfig{RegistrationsPerAddress: nomination.Rate{Max: 1000, Per: time.Hour}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	e.srv = newTestServer(tb, Config{Logger: log, Auth: e.svc, Authenticate: AuthenticateWith(e.svc)})
	return e
}

// replica opens a second client to the same store and builds another
// instance on it.
func (e *acctEnv) replica() *acctEnv {
	e.tb.Helper()
	return newAcctEnvOn(e.tb, storetest.Connect(e.tb, e.db.Name()), e.clock, e.seed, e.logs, e.shared)
}

// send sends one request through the router; body is a string sent as
// is or a value sent as JSON.
func (e *acctEnv) send(method, path, token string, body any, headers ...string) *httptest.ResponseRecorder {
	e.tb.Helper()
	req := testRequest(e.tb, method, path, token, body, headers...)
	req.RemoteAddr = "192.0.2.10:40000"
	return serve(e.tb, e.srv, req)
}

// register signs up through the API, which answers alike for new and
// taken addresses, and returns the account as the store holds it.
func (e *acctEnv) register(email, password string) userResponse {
	e.tb.Helper()
	e.shared.add(password)
	mustStatus(e.tb, e.send("POST", "/api/v1/auth/register", "", map[string]string{"email": email, "password": password, "name": "Ana López"}), 202, nil)
	_, key, err := auth.NormalizeEmail(email)
	if err != nil {
		e.tb.Fatal(err)
	}
	u, err := e.store.Users().UserByEmailKey(context.Background(), key)
	if err != nil {
		e.tb.Fatalf("registered %s: %v", email, err)
	}
	return toUserResponse(u)
}

// confirm follows the confirmation link mailed to email, as its owner
// would: the page's button posts the token.
func (e *acctEnv) confirm(email string) {
	e.tb.Helper()
	tok := e.mailedToken("confirm_email", email)
	mustStatus(e.tb, e.send("POST", "/api/v1/auth/confirm-email", "", map[string]string{"token": tok}), 204, nil)
}

func (e *acctEnv) login(email, password string) tokenResponse {
	e.tb.Helper()
	var t tokenResponse
	mustStatus(e.tb, e.send("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password}), 200, &t)
	e.shared.add(t.AccessToken, t.RefreshToken)
	return t
}

// staff provisions an account with roles and signs it in.
func (e *acctEnv) staff(email string, roles ...auth.Role) tokenResponse {
	e.tb.Helper()
	e.shared.add(acctPassword)
	if _, err := e.svc.Provision(context.Background(), auth.NewUser{Email: email, Name: "Staff", Roles: roles, Password: acctPassword}); err != nil {
		e.tb.Fatalf("provision %s: %v", email, err)
	}
	return e.login(email, acctPassword)
}

// mailedToken returns the token of the link in the newest queued mail of
// template to email, made as the mail worker makes it when it sends the
// message (the queue keeps the link sealed).
func (e *acctEnv) mailedToken(template, email string) string {
	e.tb.Helper()
	jobs, err := e.queue.MailLog(context.Background(), "", "", 100)
	if err != nil {
		e.tb.Fatal(err)
	}
	for _, j := range jobs {
		if j.Job.Template != template || j.Job.To != email {
			continue
		}
		job := e.links.Unseal(j.Job)
		if len(j.Job.Sealed) != 1 {
			e.tb.Fatalf("%s mail has %d sealed links", template, len(j.Job.Sealed))
		}
		for name := range j.Job.Sealed {
			link := job.Links[name]
			if !strings.HasPrefix(link, "/") {
				e.tb.Fatalf("link %q is not a path of the site", link)
			}
			tok := link[strings.LastIndexByte(link, '/')+1:]
			e.shared.add(tok)
			return tok
		}
	}
	e.tb.Fatalf("no %s mail to %s queued", template, email)
	return ""
}

// craft signs claims with the instance's own key (or any key and method)
// and the given header fields.
func (e *acctEnv) craft(m jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	e.tb.Helper()
	t := jwt.NewWithClaims(m, claims)
	t.Header["typ"] = "at+jwt"
	t.Header["kid"] = e.kid
	for k, v := range header {
		if v == nil {
			delete(t.Header, k)
		} else {
			t.Header[k] = v
		}
	}
	s, err := t.SignedString(key)
	if err != nil {
		e.tb.Fatal(err)
	}
	return s
}

func claimsFor(userID, session string, now time.Time, change map[string]any) jwt.MapClaims {
	c := jwt.MapClaims{
		"iss": auth.DefaultIssuer, "aud": []string{auth.DefaultAudience}, "sub": userID, "sid": session,
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": "t",
	}
	for k, v := range change {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// Every way of presenting a bad access token is answered 401.
func TestAccessTokensRefused(t *testing.T) {
	e := newAcctEnv(t)
	ctx := context.Background()
	u := e.register("ana@example.org", acctPassword)
	good := e.login("ana@example.org", acctPassword)
	p, err := e.svc.Authenticate(ctx, good.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	sid := p.SessionID
	own := func(change map[string]any) string {
		return e.craft(jwt.SigningMethodEdDSA, e.priv, nil, claimsFor(u.ID, sid, now, change))
	}
	pub := []byte(e.priv.Public().(ed25519.PublicKey))

	// Tokens that are refused once something has happened.
	loggedOut := e.login("ana@example.org", acctPassword)
	mustStatus(t, e.send("POST", "/api/v1/auth/logout", loggedOut.AccessToken, map[string]string{"refresh_token": loggedOut.RefreshToken}), 204, nil)

	mustStatus(t, e.send("POST", "/api/v1/auth/password-reset", "", map[string]string{"email": "ana@example.org"}), 202, nil)
	linkToken := e.mailedToken("password_reset", "ana@example.org")

	e.register("bob@example.org", acctPassword)
	bobBefore := e.login("bob@example.org", acctPassword)
	if err := e.svc.RequestPasswordReset(ctx, "bob@example.org"); err != nil {
		t.Fatal(err)
	}
	e.shared.add("copper meadow lantern")
	mustStatus(t, e.send("POST", "/api/v1/auth/password-reset/"+e.mailedToken("password_reset", "bob@example.org"), "",
		map[string]string{"password": "copper meadow lantern"}), 204, nil)

	e.register("carla@example.org", acctPassword)
	carla := e.login("carla@example.org", acctPassword)
	admin := e.staff("admin@example.org", auth.RoleAdmin)
	var cu userResponse
	mustStatus(t, e.send("GET", "/api/v1/me", carla.AccessToken, nil), 200, &cu)
	mustStatus(t, e.send("PATCH", "/api/v1/users/"+cu.ID, admin.AccessToken, map[string]any{"disabled": true}), 200, nil)

	expiring := e.login("ana@example.org", acctPassword)

	tests := []struct {
		name  string
		token string
		at    time.Duration // how far the clock moves first
	}{
		{"alg none", e.craft(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"alg": "none"}, claimsFor(u.ID, sid, now, nil)), 0},
		{"HS256 signed with the public key", e.craft(jwt.SigningMethodHS256, pub, nil, claimsFor(u.ID, sid, now, nil)), 0},
		{"no exp", own(map[string]any{"exp": nil}), 0},
		{"wrong iss", own(map[string]any{"iss": "https://evil.example"}), 0},
		{"wrong aud", own(map[string]any{"aud": "another-api"}), 0},
		{"wrong typ", e.craft(jwt.SigningMethodEdDSA, e.priv, map[string]any{"typ": "JWT"}, claimsFor(u.ID, sid, now, nil)), 0},
		{"refresh token as access token", good.RefreshToken, 0},
		{"email-link token as access token", linkToken, 0},
		{"unknown kid", e.craft(jwt.SigningMethodEdDSA, e.priv, map[string]any{"kid": "2024-old"}, claimsFor(u.ID, sid, now, nil)), 0},
		{"kid with injection payload", e.craft(jwt.SigningMethodEdDSA, e.priv, map[string]any{"kid": `x' || '1'=='1"; {"$ne": null} ../../../dev/null`}, claimsFor(u.ID, sid, now, nil)), 0},
		{"1 MB token of dots", strings.Repeat(".", 1<<20), 0},
		{"garbage", "not-a-token", 0},
		{"token of a user that does not exist", own(map[string]any{"sub": "u-ghost"}), 0},
		{"token issued before logout", loggedOut.AccessToken, 0},
		{"token issued before a password change", bobBefore.AccessToken, 0},
		{"token of a disabled user", carla.AccessToken, 0},
		{"expired beyond the leeway", expiring.AccessToken, 10*time.Minute + 31*time.Second},
	}
	// The control: a good token is accepted (checked before the clock moves).
	mustStatus(t, e.send("GET", "/api/v1/me", good.AccessToken, nil), 200, nil)
	mustStatus(t, e.send("GET", "/api/v1/me", own(nil), nil), 200, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Advance(tt.at)
			rec := e.send("GET", "/api/v1/me", tt.token, nil)
			mustStatus(t, rec, 401, nil)
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") ||
				!strings.Contains(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("headers = %v", rec.Header())
			}
		})
	}
}

// A token that expired within the leeway still works; the leeway is small.
func TestAccessTokenLeeway(t *testing.T) {
	e := newAcctEnv(t)
	e.register("ana@example.org", acctPassword)
	tok := e.login("ana@example.org", acctPassword)
	e.clock.Advance(10*time.Minute + 20*time.Second)
	mustStatus(t, e.send("GET", "/api/v1/me", tok.AccessToken, nil), 200, nil)
	e.clock.Advance(15 * time.Second)
	mustStatus(t, e.send("GET", "/api/v1/me", tok.AccessToken, nil), 401, nil)
}

// A 1 MB token is refused without copying or decoding it: the request
// allocates far less than the token's size.
func TestHugeTokenMemoryBounded(t *testing.T) {
	e := newAcctEnv(t)
	h := e.srv.Handler()
	req := httptest.NewRequest("GET", "/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+strings.Repeat(".", 1<<20))
	const runs = 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 401 {
			t.Fatalf("status %d", rec.Code)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 256<<10 {
		t.Fatalf("each refusal allocated %d bytes", per)
	}
}

// Over a real connection the server answers a 1 MB header with 401 or,
// with the standard header limit, 431 before the router runs.
func TestHugeTokenOverHTTP(t *testing.T) {
	e := newAcctEnv(t)
	ts := httptest.NewServer(e.srv.Handler())
	defer ts.Close()
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+strings.Repeat(".", 1<<20))
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 && resp.StatusCode != 431 {
		t.Fatalf("status %d, want 401 or 431", resp.StatusCode)
	}
}

func TestRefreshRotationOverHTTP(t *testing.T) {
	e := newAcctEnv(t)
	e.register("ana@example.org", acctPassword)
	first := e.login("ana@example.org", acctPassword)

	var second tokenResponse
	rec := e.send("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken})
	mustStatus(t, rec, 200, &second)
	e.shared.add(second.AccessToken, second.RefreshToken)
	if rec.Header().Get("Cache-Control") != "no-store" || second.TokenType != "Bearer" || second.ExpiresIn != 600 {
		t.Fatalf("refresh answer: %v %+v", rec.Header(), second)
	}
	if second.RefreshToken == first.RefreshToken {
		t.Fatal("refresh token not rotated")
	}
	mustStatus(t, e.send("GET", "/api/v1/me", second.AccessToken, nil), 200, nil)

	// The old refresh token fails after use, and reusing it revokes the
	// new one (and its access token) too.
	mustStatus(t, e.send("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken}), 401, nil)
	mustStatus(t, e.send("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": second.RefreshToken}), 401, nil)
	mustStatus(t, e.send("GET", "/api/v1/me", second.AccessToken, nil), 401, nil)
	if !strings.Contains(e.logs.String(), "refresh token reused; session revoked") {
		t.Fatal("reuse not logged")
	}
}

func TestLogoutOverHTTP(t *testing.T) {
	e := newAcctEnv(t)
	e.register("ana@example.org", acctPassword)
	tok := e.login("ana@example.org", acctPassword)
	mustStatus(t, e.send("POST", "/api/v1/auth/logout", "", map[string]string{"refresh_token": tok.RefreshToken}), 401, nil)
	mustStatus(t, e.send("POST", "/api/v1/auth/logout", tok.AccessToken, nil), 204, nil)
	mustStatus(t, e.send("GET", "/api/v1/me", tok.AccessToken, nil), 401, nil)
	mustStatus(t, e.send("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken}), 401, nil)
}

// 20 concurrent registrations of one address in two spellings: exactly
// one account is created, and every caller gets the same answer.
func TestConcurrentRegistrationOverHTTP(t *testing.T) {
	e := newAcctEnv(t)
	e.shared.add(acctPassword)
	const n = 20
	recs := make([]*httptest.ResponseRecorder, n)
	var wg sync.WaitGroup
	for i := range n {
		email := "Ana@Example.org"
		if i%2 == 1 {
			email = "ana@example.org"
		}
		wg.Go(func() {
			recs[i] = e.send("POST", "/api/v1/auth/register", "", map[string]string{"email": email, "password": acctPassword, "name": "Ana"})
		})
	}
	wg.Wait()
	for _, rec := range recs {
		if rec.Code != 202 || rec.Body.String() != recs[0].Body.String() {
			t.Fatalf("answer %d %s, want 202 as %s", rec.Code, rec.Body, recs[0].Body)
		}
	}
	var list userListResponse
	admin := e.staff("admin@example.org", auth.RoleAdmin)
	mustStatus(t, e.send("GET", "/api/v1/users?role=candidate", admin.AccessToken, nil), 200, &list)
	if len(list.Items) != 1 {
		t.Fatalf("%d accounts, want exactly 1", len(list.Items))
	}
}

// sendFrom sends one request from the client address addr.
func (e *acctEnv) sendFrom(addr, method, path, token string, body any) *httptest.ResponseRecorder {
	e.tb.Helper()
	req := testRequest(e.tb, method, path, token, body)
	req.RemoteAddr = addr + ":40000"
	return serve(e.tb, e.srv, req)
}

// Failed sign-ins from one address make that address wait, gradually and
// across instances; the Retry-After it is given lets it in again.
func TestLoginThrottlingOverHTTP(t *testing.T) {
	for _, instances := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d instances", instances), func(t *testing.T) {
			e := newAcctEnv(t)
			e.register("ana@example.org", acctPassword)
			envs := []*acctEnv{e}
			if instances == 2 {
				envs = append(envs, e.replica())
			}
			e.shared.add("wrong horse battery")
			bad := map[string]string{"email": "ana@example.org", "password": "wrong horse battery"}
			for i := range 5 {
				mustStatus(t, envs[i%len(envs)].sendFrom("198.51.100.7", "POST", "/api/v1/auth/login", "", bad), 401, nil)
			}
			rec := envs[len(envs)-1].sendFrom("198.51.100.7", "POST", "/api/v1/auth/login", "", map[string]string{"email": "ana@example.org", "password": acctPassword})
			mustProblem(t, rec, 429)
			secs, err := strconv.Atoi(rec.Header().Get("Retry-After"))
			if err != nil || secs != 1 {
				t.Fatalf("Retry-After = %q, want 1 (the first wait)", rec.Header().Get("Retry-After"))
			}
			e.clock.Advance(time.Duration(secs) * time.Second)
			var tok tokenResponse
			mustStatus(t, e.sendFrom("198.51.100.7", "POST", "/api/v1/auth/login", "", map[string]string{"email": "ana@example.org", "password": acctPassword}), 200, &tok)
			e.shared.add(tok.AccessToken, tok.RefreshToken)
		})
	}
}

func TestSamePasswordDifferentHashesOverHTTP(t *testing.T) {
	e := newAcctEnv(t)
	a := e.register("ana@example.org", acctPassword)
	b := e.register("bob@example.org", acctPassword)
	ua, err := e.svc.User(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	ub, err := e.svc.User(context.Background(), b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ua.PasswordHash == ub.PasswordHash || ua.PasswordHash == "" {
		t.Fatalf("hashes %q and %q", ua.PasswordHash, ub.PasswordHash)
	}
}

func TestPasswordResetOverHTTP(t *testing.T) {
	e := newAcctEnv(t)
	e.register("ana@example.org", acctPassword)
	old := e.login("ana@example.org", acctPassword)

	// Known or not, the request is answered alike.
	unknown := e.send("POST", "/api/v1/auth/password-reset", "", map[string]string{"email": "nobody@example.org"})
	known := e.send("POST", "/api/v1/auth/password-reset", "", map[string]string{"email": "ANA@example.org"})
	mustStatus(t, unknown, 202, nil)
	mustStatus(t, known, 202, nil)
	if unknown.Body.String() != known.Body.String() {
		t.Fatalf("answers differ: %s / %s", unknown.Body, known.Body)
	}
	tok := e.mailedToken("password_reset", "ana@example.org")

	const fresh = "copper meadow lantern"
	e.shared.add(fresh)
	rec := e.send("POST", "/api/v1/auth/password-reset/"+tok, "", map[string]string{"password": "password1"})
	mustStatus(t, rec, 422, nil)
	if !strings.Contains(rec.Body.String(), `"field":"password"`) {
		t.Fatalf("weak password answer: %s", rec.Body)
	}
	mustStatus(t, e.send("POST", "/api/v1/auth/password-reset/"+tok, "", map[string]string{"password": fresh}), 204, nil)
	mustStatus(t, e.send("POST", "/api/v1/auth/password-reset/"+tok, "", map[string]string{"password": "another good passphrase"}), 422, nil)
	mustStatus(t, e.send("POST", "/api/v1/auth/password-reset/not-a-token", "", map[string]string{"password": "another good passphrase"}), 422, nil)
	mustStatus(t, e.send("GET", "/api/v1/me", old.AccessToken, nil), 401, nil)
	mustStatus(t, e.send("POST", "/api/v1/auth/login", "", map[string]string{"email": "ana@example.org", "password": acctPassword}), 401, nil)
	e.login("ana@example.org", fresh)
}

func TestMeOverHTTP(t *testing.T) {
	e := newAcctEnv(t)
	u := e.register(" Ana@Example.org", acctPassword)
	if u.Email != "Ana@Example.org" || len(u.Roles) != 1 || u.Roles[0] != "candidate" || u.ID == "" {
		t.Fatalf("registered %+v", u)
	}
	tok := e.login("ana@example.org", acctPassword)
	rec := e.send("GET", "/api/v1/me", tok.AccessToken, nil)
	var me userResponse
	mustStatus(t, rec, 200, &me)
	if me.ID != u.ID || strings.Contains(rec.Body.String(), "argon2") || strings.Contains(rec.Body.String(), "password") {
		t.Fatalf("me = %s", rec.Body)
	}
	for k, v := range map[string]string{
		"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
	} {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("CSP = %q", rec.Header().Get("Content-Security-Policy"))
	}
	mustStatus(t, e.send("GET", "/api/v1/me", "", nil), 401, nil)
}

// Bad input is refused with the field named, and nothing is stored.
func TestAccountBadInput(t *testing.T) {
	e := newAcctEnv(t)
	admin := e.staff("admin@example.org", auth.RoleAdmin)
	e.shared.add("river lamp cloud ninth")
	reg := func(fields string) string {
		return `{"email":"ana@example.org","name":"Ana","password":"river lamp cloud ninth"` + fields + `}`
	}
	tests := []struct {
		name   string
		path   string
		token  string
		body   string
		ctype  string
		status int
		field  string
	}{
		{"unknown field", "/api/v1/auth/register", "", reg(`,"roles":["admin"]`), "", 400, "roles"},
		{"wrong type", "/api/v1/auth/register", "", `{"email":5,"name":"Ana","password":"river lamp cloud ninth"}`, "", 400, "email"},
		{"array body", "/api/v1/auth/register", "", `[]`, "", 400, "body"},
		{"two JSON values", "/api/v1/auth/register", "", reg("") + reg(""), "", 400, ""},
		{"empty body", "/api/v1/auth/register", "", ``, "", 400, "body"},
		{"not JSON", "/api/v1/auth/register", "", `email=ana@example.org`, "application/x-www-form-urlencoded", 415, ""},
		{"invalid UTF-8", "/api/v1/auth/register", "", `{"email":"ana@example.org","name":"An` + "\xff" + `a","password":"river lamp cloud ninth"}`, "", 400, "body"},
		{"oversized body", "/api/v1/auth/register", "", reg(`,"x":"` + strings.Repeat("x", 2<<20) + `"`), "", 413, ""},
		{"10 MB password", "/api/v1/auth/register", "", `{"email":"ana@example.org","name":"Ana","password":"` + strings.Repeat("qK8!", 10<<20/4) + `"}`, "", 413, ""},
		{"1025-character password", "/api/v1/auth/register", "", `{"email":"ana@example.org","name":"Ana","password":"` + strings.Repeat("qK8!", 257)[:1025] + `"}`, "", 422, "password"},
		{"CR LF in email", "/api/v1/auth/register", "", `{"email":"ana@example.org\r\nBcc: x@example.org","name":"Ana","password":"river lamp cloud ninth"}`, "", 422, "email"},
		{"NUL in email", "/api/v1/auth/register", "", `{"email":"ana\u0000@example.org","name":"Ana","password":"river lamp cloud ninth"}`, "", 422, "email"},
		{"NUL in name", "/api/v1/auth/register", "", `{"email":"ana@example.org","name":"An\u0000a","password":"river lamp cloud ninth"}`, "", 422, "name"},
		{"NUL in password", "/api/v1/auth/register", "", `{"email":"ana@example.org","name":"Ana","password":"river lamp\u0000cloud ninth"}`, "", 422, "password"},
		{"common password", "/api/v1/auth/register", "", `{"email":"ana@example.org","name":"Ana","password":"password123"}`, "", 422, "password"},
		{"missing fields", "/api/v1/auth/register", "", `{}`, "", 422, "email"},
		{"login unknown field", "/api/v1/auth/login", "", `{"email":"ana@example.org","password":"x","remember":true}`, "", 400, "remember"},
		{"refresh wrong type", "/api/v1/auth/refresh", "", `{"refresh_token":["a"]}`, "", 400, "refresh_token"},
		{"reset CR LF", "/api/v1/auth/password-reset", "", `{"email":"ana@example.org\n"}`, "", 422, "email"},
		{"create user unknown role", "/api/v1/users", admin.AccessToken, `{"email":"bob@example.org","name":"Bob","roles":["root"]}`, "", 422, "roles[0]"},
		{"create user roles not a list", "/api/v1/users", admin.AccessToken, `{"email":"bob@example.org","name":"Bob","roles":"admin"}`, "", 400, "roles"},
		{"create user unknown field", "/api/v1/users", admin.AccessToken, `{"email":"bob@example.org","name":"Bob","roles":["candidate"],"password_hash":"$argon2id$"}`, "", 400, "password_hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", tt.path, strings.NewReader(tt.body))
			ct := tt.ctype
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			rec := httptest.NewRecorder()
			e.srv.Handler().ServeHTTP(rec, req)
			p := mustProblem(t, rec, tt.status)
			if tt.field == "" {
				return
			}
			for _, f := range p.Errors {
				if f.Field == tt.field {
					return
				}
			}
			t.Fatalf("problem %+v does not name %q", p, tt.field)
		})
	}
	var list userListResponse
	mustStatus(t, e.send("GET", "/api/v1/users", admin.AccessToken, nil), 200, &list)
	if len(list.Items) != 1 || list.Items[0].Email != "admin@example.org" {
		t.Fatalf("stored users after bad input: %+v", list.Items)
	}
	if jobs, _ := e.queue.MailLog(context.Background(), "", "", 10); len(jobs) != 0 {
		t.Fatalf("mail queued after bad input: %d", len(jobs))
	}
}

// The log of a whole session of account traffic never holds a password
// or a token, while it does record who signed in from where.
func TestLogsHoldNoSecrets(t *testing.T) {
	e := newAcctEnv(t)
	e.register("ana@example.org", acctPassword)
	e.shared.add("wrong horse battery", "nobody password 1")
	mustStatus(t, e.send("POST", "/api/v1/auth/login", "", map[string]string{"email": "ana@example.org", "password": "wrong horse battery"}), 401, nil)
	mustStatus(t, e.send("POST", "/api/v1/auth/login", "", map[string]string{"email": "nobody@example.org", "password": "nobody password 1"}), 401, nil)
	// A password typed into the address field is not logged either.
	mustStatus(t, e.send("POST", "/api/v1/auth/login", "", map[string]string{"email": "granite.orbit@willow.org", "password": "x"}), 401, nil)
	e.shared.add("granite.orbit@willow.org")
	tok := e.login("ana@example.org", acctPassword)
	var next tokenResponse
	mustStatus(t, e.send("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken}), 200, &next)
	e.shared.add(next.AccessToken, next.RefreshToken)
	mustStatus(t, e.send("POST", "/api/v1/auth/password-reset", "", map[string]string{"email": "ana@example.org"}), 202, nil)
	reset := e.mailedToken("password_reset", "ana@example.org")
	e.shared.add("copper meadow lantern")
	mustStatus(t, e.send("POST", "/api/v1/auth/password-reset/"+reset, "", map[string]string{"password": "copper meadow lantern"}), 204, nil)
	mustStatus(t, e.send("GET", "/api/v1/me", next.AccessToken, nil), 401, nil)

	logs := e.logs.String()
	for _, want := range []string{`"msg":"login succeeded"`, `"msg":"login failed"`, `"client_ip":"192.0.2.10"`, `"msg":"password set by mailed link"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	for _, s := range e.shared.all() {
		if strings.Contains(logs, s) {
			t.Errorf("log holds a secret (%.8s…)", s)
		}
	}
	if strings.Contains(logs, "ana@example.org") {
		t.Error("log holds an email address")
	}
}

// BenchmarkLoginHTTP measures sustained logins per second through the
// router against the embedded store, at the production hash parameters.
func BenchmarkLoginHTTP(b *testing.B) {
	db := storetest.NewDatabase(b)
	keys, _, err := auth.GenerateKeys(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	store := mongostore.New(db, nil)
	log := slog.New(slog.DiscardHandler)
	svc, err := auth.NewService(store.Users(), store.MailQueue(), keys, auth.Config{BaseURL: "https://nomina.example.org", Logger: log,
		Links: nomination.NewLinkSigner([]byte("a link secret for the benchmark.")), Limiter: store.Limits()})
	if err != nil {
		b.Fatal(err)
	}
	if err := svc.Register(context.Background(), auth.Registration{Email: "ana@example.org", Password: acctPassword, Name: "Ana"}); err != nil {
		b.Fatal(err)
	}
	h := newTestServer(b, Config{Logger: log, Auth: svc, Authenticate: AuthenticateWith(svc)}).Handler()
	body := `{"email":"ana@example.org","password":"` + acctPassword + `"}`
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("POST", "/api/v1/auth/login", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Errorf("status %d: %s", rec.Code, rec.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}

// BenchmarkAuthenticatedRequest measures GET /me with a valid token: token
// verification plus the store look-ups every authenticated request makes.
func BenchmarkAuthenticatedRequest(b *testing.B) {
	e := newAcctEnv(b)
	e.register("ana@example.org", acctPassword)
	tok := e.login("ana@example.org", acctPassword)
	h := e.srv.Handler()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
