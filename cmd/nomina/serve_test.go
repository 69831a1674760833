package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/igf/nomina/internal/httpapi"
	"github.com/igf/nomina/internal/mongostore"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type service struct {
	addr   string
	stderr *lockedBuffer
	cancel context.CancelFunc
	done   chan struct{} // closed when the command has returned
	code   int           // its exit status, once done is closed
}

// exited waits up to within for the command to return, and gives its exit
// status. Once it has returned, every call answers at once.
func (s *service) exited(within time.Duration) (int, bool) {
	select {
	case <-s.done:
		return s.code, true
	case <-time.After(within):
		return 0, false
	}
}

// startService runs the serve command in-process with the given settings.
func startService(t *testing.T, settings map[string]string, routes ...func(*httpapi.Server)) *service {
	t.Helper()
	return startCommand(t, []string{"serve"}, settings, routes...)
}

// startCommand runs a serving command (serve, demo) in-process.
func startCommand(t *testing.T, args []string, settings map[string]string, routes ...func(*httpapi.Server)) *service {
	t.Helper()
	vals := map[string]string{"NOMINA_HTTP_ADDR": "127.0.0.1:0", "NOMINA_DATA_DIR": t.TempDir(), "NOMINA_CONFIG": "", "NOMINA_WORKFLOWS_DIR": "../../workflows"}
	for k, v := range settings {
		vals[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	s := &service{stderr: &lockedBuffer{}, cancel: cancel, done: make(chan struct{})}
	e := env{getenv: func(k string) string { return vals[k] }, stdin: strings.NewReader(""), stdout: io.Discard, stderr: s.stderr,
		extraRoutes: routes, listening: listening}
	go func() {
		s.code = runEnv(ctx, append(args, "--config", "../../config/nomina.yaml"), e)
		close(s.done)
	}()
	select {
	case s.addr = <-listening:
	case <-s.done:
		t.Fatalf("service exited with %d before listening: %s", s.code, s.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("service did not start: %s", s.stderr)
	}
	t.Cleanup(func() {
		cancel()
		if _, ok := s.exited(30 * time.Second); !ok {
			t.Errorf("the service did not stop within 30 s of being told to: %s", s.stderr)
		}
	})
	return s
}

// waitUntil polls cond until it holds, failing the test after within.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *service) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + s.addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitReady(t *testing.T, s *service, within time.Duration) {
	t.Helper()
	waitUntil(t, within, "/readyz to answer 200", func() bool {
		code, _ := s.get(t, "/readyz")
		return code == 200
	})
}

func TestServeEmbeddedStoreIsReady(t *testing.T) {
	s := startService(t, map[string]string{"NOMINA_METRICS_ADDR": "127.0.0.1:0"})
	waitReady(t, s, 30*time.Second)
	if code, _ := s.get(t, "/healthz"); code != 200 {
		t.Fatalf("healthz = %d", code)
	}
	// Finding 14 of the security review: the metrics are not on the
	// public port, only on their own address.
	if code, _ := s.get(t, "/metrics"); code != 404 {
		t.Fatalf("public /metrics = %d, want 404", code)
	}
	m := regexp.MustCompile(`msg="metrics listening" addr=(\S+)`).FindStringSubmatch(s.stderr.String())
	if m == nil {
		t.Fatalf("the log does not say where the metrics are:\n%s", s.stderr)
	}
	resp, err := http.Get("http://" + m[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "nomina_http_requests_total") || !strings.Contains(string(body), "nomina_store_operations_total") {
		t.Fatalf("metrics = %d, missing series:\n%.2000s", resp.StatusCode, body)
	}
	// The runtime's profiles: on the metrics listener, which is on
	// loopback here, and never on the public port.
	if code, _ := s.get(t, "/debug/pprof/"); code != 404 {
		t.Fatalf("public /debug/pprof/ = %d, want 404", code)
	}
	resp, err = http.Get("http://" + m[1] + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("profiles on the loopback metrics listener = %d:\n%.500s", resp.StatusCode, body)
	}
}

// The profiles are served only beside metrics that listen on loopback.
func TestLoopbackOnly(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9464": true, "127.0.0.2:0": true, "[::1]:9464": true, "localhost:9464": true,
		":9464": false, "0.0.0.0:9464": false, "[::]:9464": false, "192.0.2.7:9464": false, "metrics.example.org:9464": false, "nonsense": false,
	} {
		if got := loopbackOnly(addr); got != want {
			t.Errorf("loopbackOnly(%q) = %v, want %v", addr, got, want)
		}
	}
}

// Without NOMINA_METRICS_ADDR nothing serves the metrics.
func TestMetricsAreOffByDefault(t *testing.T) {
	s := startService(t, nil)
	if code, _ := s.get(t, "/metrics"); code != 404 {
		t.Fatalf("public /metrics = %d, want 404", code)
	}
	if strings.Contains(s.stderr.String(), "metrics listening") {
		t.Fatalf("a metrics listener without being asked:\n%s", s.stderr)
	}
}

// SIGTERM (here: the context the signal cancels) while a slow request is in
// flight: the request completes and the process exits 0.
func TestGracefulShutdownFinishesInFlightRequest(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	s := startService(t, map[string]string{"NOMINA_SHUTDOWN_GRACE": "10s"}, func(srv *httpapi.Server) {
		srv.Handle("GET", "/slow", httpapi.Public, func(c *gin.Context) {
			close(started)
			<-release // held until the shutdown has begun
			c.String(200, "done")
		})
	})
	type result struct {
		code int
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + s.addr + "/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		res <- result{code: resp.StatusCode, body: string(b)}
	}()
	<-started
	s.cancel()
	// The shutdown has begun once new connections are refused; only then
	// does the request in flight finish.
	waitUntil(t, 10*time.Second, "new connections to be refused", func() bool {
		conn, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
	if _, ok := s.exited(0); ok {
		t.Fatal("the service exited with a request in flight")
	}
	releaseOnce.Do(func() { close(release) })
	r := <-res
	if r.err != nil || r.code != 200 || r.body != "done" {
		t.Fatalf("in-flight request: %+v", r)
	}
	code, ok := s.exited(10 * time.Second)
	if !ok {
		t.Fatal("did not exit within the grace period")
	}
	if code != 0 {
		t.Fatalf("exit code %d: %s", code, s.stderr)
	}
	// New connections are refused once shut down.
	if _, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
		t.Fatal("still accepting connections after shutdown")
	}
}

func TestInvalidSettingExitsWithCode2(t *testing.T) {
	cases := []struct{ name, key, value string }{
		{"address", "NOMINA_HTTP_ADDR", "nonsense"},
		{"log level", "NOMINA_LOG_LEVEL", "loud"},
		{"duration", "NOMINA_SHUTDOWN_GRACE", "soon"},
		{"store uri", "NOMINA_MONGODB_URI", "postgres://x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			e := env{getenv: func(k string) string {
				if k == tc.key {
					return tc.value
				}
				return ""
			}, stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr}
			code := runEnv(context.Background(), []string{"--config", "../../config/nomina.yaml"}, e)
			if code != 2 {
				t.Fatalf("exit code %d, want 2; stderr %q", code, stderr.String())
			}
			out := strings.TrimSpace(stderr.String())
			if strings.Count(out, "\n") != 0 || !strings.Contains(out, tc.key) {
				t.Fatalf("want one line naming %s, got %q", tc.key, out)
			}
		})
	}
}

// A configured server that is not there yet: the service starts, says 503
// with a reason, logs why without flooding, and becomes ready once a server
// appears on that address.
func TestUnreachableStoreBecomesReadyWhenServerAppears(t *testing.T) {
	storeDir := t.TempDir()
	uri, err := mongostore.EmbeddedSocketURI(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	s := startService(t, map[string]string{"NOMINA_MONGODB_URI": uri, "NOMINA_LOG_LEVEL": "debug"})
	code, body := s.get(t, "/readyz")
	if code != 503 {
		t.Fatalf("readyz = %d, want 503", code)
	}
	var p httpapi.Problem
	if err := json.Unmarshal([]byte(body), &p); err != nil || p.Detail == "" {
		t.Fatalf("503 without a reason: %s", body)
	}
	waitUntil(t, 15*time.Second, "the log to say why the store is not ready", func() bool {
		return strings.Contains(s.stderr.String(), "store not reachable")
	})
	// Two more attempts fail after the one that was logged.
	waitUntil(t, 30*time.Second, "three failed attempts to reach the store", func() bool {
		return strings.Contains(s.stderr.String(), "attempt=3")
	})
	if n := strings.Count(s.stderr.String(), "store not reachable"); n != 1 {
		t.Fatalf("logged the outage %d times, want once a minute at most:\n%s", n, s.stderr)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	emb, err := mongostore.StartEmbedded(context.Background(), storeDir, mongostore.EmbeddedOptions{}, quiet)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	defer emb.Close()
	waitReady(t, s, 45*time.Second)
}

// A second instance started with the URI the first one writes, and the
// first one's key-encryption key, shares its embedded store over TLS with
// the generated client certificate: an account the first created signs in
// on the second.
func TestSecondInstanceSharesTheEmbeddedStore(t *testing.T) {
	dir := t.TempDir()
	first := startService(t, map[string]string{"NOMINA_DATA_DIR": dir, "NOMINA_EMBEDDED_LISTEN": "127.0.0.1:0",
		"NOMINA_ADMIN_EMAIL": "admin@igf.example", "NOMINA_ADMIN_PASSWORD": "copper meadow lantern"})
	waitReady(t, first, 30*time.Second)
	uriFile := filepath.Join(dir, mongostore.RemoteURIFile)
	if !strings.Contains(first.stderr.String(), "uri_file="+uriFile) {
		t.Fatalf("the log does not say where the URI is:\n%s", first.stderr)
	}
	uri, err := os.ReadFile(uriFile)
	if err != nil {
		t.Fatal(err)
	}
	second := startService(t, map[string]string{"NOMINA_MONGODB_URI": strings.TrimSpace(string(uri)),
		"NOMINA_SECRETS_KEY_FILE": filepath.Join(dir, "secrets.key")})
	waitReady(t, second, 30*time.Second)
	resp, err := http.Post("http://"+second.addr+"/api/v1/auth/login", "application/json",
		strings.NewReader(`{"email":"admin@igf.example","password":"copper meadow lantern"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("sign-in on the second instance: %d %s\n%s", resp.StatusCode, b, second.stderr)
	}
}

// A first admin the store refuses (a guessable password) stops the service
// with status 2 and a message naming the settings, instead of leaving it
// unready for ever.
func TestRefusedFirstAdminStopsTheService(t *testing.T) {
	s := startService(t, map[string]string{"NOMINA_ADMIN_EMAIL": "admin@igf.example", "NOMINA_ADMIN_PASSWORD": "password"})
	code, ok := s.exited(30 * time.Second)
	if !ok {
		t.Fatalf("the service kept running: %s", s.stderr)
	}
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(s.stderr.String(), "NOMINA_ADMIN_PASSWORD") {
		t.Fatalf("the log does not name the setting:\n%s", s.stderr)
	}
}
