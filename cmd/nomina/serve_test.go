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
	exit   chan int
}

// startService runs the serve command in-process with the given settings.
func startService(t *testing.T, settings map[string]string, routes ...func(*httpapi.Server)) *service {
	t.Helper()
	vals := map[string]string{"NOMINA_HTTP_ADDR": "127.0.0.1:0", "NOMINA_DATA_DIR": t.TempDir(), "NOMINA_CONFIG": "", "NOMINA_WORKFLOWS_DIR": "../../workflows"}
	for k, v := range settings {
		vals[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	s := &service{stderr: &lockedBuffer{}, cancel: cancel, exit: make(chan int, 1)}
	e := env{getenv: func(k string) string { return vals[k] }, stdin: strings.NewReader(""), stdout: io.Discard, stderr: s.stderr,
		extraRoutes: routes, listening: listening}
	go func() { s.exit <- runEnv(ctx, []string{"serve", "--config", "../../config/nomina.yaml"}, e) }()
	select {
	case s.addr = <-listening:
	case code := <-s.exit:
		t.Fatalf("service exited with %d before listening: %s", code, s.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("service did not start: %s", s.stderr)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.exit:
		case <-time.After(30 * time.Second):
		}
	})
	return s
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
	deadline := time.Now().Add(within)
	for {
		code, body := s.get(t, "/readyz")
		if code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after %v: %d %s\nlog:\n%s", within, code, body, s.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
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
	started := make(chan struct{})
	s := startService(t, map[string]string{"NOMINA_SHUTDOWN_GRACE": "10s"}, func(srv *httpapi.Server) {
		srv.Handle("GET", "/slow", httpapi.Public, func(c *gin.Context) {
			close(started)
			time.Sleep(1500 * time.Millisecond)
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
	r := <-res
	if r.err != nil || r.code != 200 || r.body != "done" {
		t.Fatalf("in-flight request: %+v", r)
	}
	select {
	case code := <-s.exit:
		if code != 0 {
			t.Fatalf("exit code %d: %s", code, s.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not exit within the grace period")
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
	s := startService(t, map[string]string{"NOMINA_MONGODB_URI": uri})
	code, body := s.get(t, "/readyz")
	if code != 503 {
		t.Fatalf("readyz = %d, want 503", code)
	}
	var p httpapi.Problem
	if err := json.Unmarshal([]byte(body), &p); err != nil || p.Detail == "" {
		t.Fatalf("503 without a reason: %s", body)
	}
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(s.stderr.String(), "store not reachable"); {
		if time.Now().After(deadline) {
			t.Fatalf("the log does not say why the store is not ready:\n%s", s.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(4 * time.Second) // several retries happen meanwhile
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

// A second instance started with the URI the first one writes shares its
// embedded store over TLS with the generated client certificate: an
// account the first created signs in on the second.
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
	second := startService(t, map[string]string{"NOMINA_MONGODB_URI": strings.TrimSpace(string(uri))})
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
	select {
	case code := <-s.exit:
		if code != 2 {
			t.Fatalf("exit %d, want 2", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the service kept running: %s", s.stderr)
	}
	if !strings.Contains(s.stderr.String(), "NOMINA_ADMIN_PASSWORD") {
		t.Fatalf("the log does not name the setting:\n%s", s.stderr)
	}
}
