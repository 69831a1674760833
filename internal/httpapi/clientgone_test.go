package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/igf/nomina/internal/clientclose"
	"github.com/igf/nomina/internal/mongostore/storetest"
)

// storeGate stands between a service's client and the store, at the
// socket: once armed, the next command on one collection passes, and the
// store's answers are held back until the gate is opened again, so the
// driver waits on the socket for them, as it does on a busy store. The
// request then ends by its client going away or by the command's time
// running out. reached says the command was sent.
type storeGate struct {
	mu      sync.Mutex
	coll    string
	reached chan struct{}
	hold    chan struct{} // closed to let answers through; nil: not held
}

// arm holds the answers from the next command on coll.
func (g *storeGate) arm(coll string) <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.coll, g.reached = coll, make(chan struct{})
	return g.reached
}

// open lets every answer held back through.
func (g *storeGate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.hold != nil {
		close(g.hold)
		g.hold = nil
	}
}

func (g *storeGate) started(_ context.Context, e *event.CommandStartedEvent) {
	coll, _ := e.Command.Lookup(e.CommandName).StringValueOK()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.reached == nil || coll != g.coll {
		return
	}
	g.hold = make(chan struct{})
	close(g.reached)
	g.reached = nil
}

// held returns the channel an answer waits on, or nil.
func (g *storeGate) held() chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.hold
}

// proxy forwards connections from a listener of its own to the store at
// uri and returns the URI to reach the store through it.
func (g *storeGate) proxy(t *testing.T, uri string) string {
	t.Helper()
	// mongodb://[user@]host/[?options], the host a socket's path
	// escaped (the embedded store) or host:port (a MongoDB server).
	rest, ok := strings.CutPrefix(uri, "mongodb://")
	if !ok {
		t.Fatalf("store URI %q: want mongodb://", uri)
	}
	hostPart, query, _ := strings.Cut(rest, "?")
	hostPart, _, _ = strings.Cut(hostPart, "/")
	user := ""
	if i := strings.LastIndexByte(hostPart, '@'); i >= 0 {
		user, hostPart = hostPart[:i+1], hostPart[i+1:]
	}
	network, addr := "tcp", hostPart
	if p, err := url.PathUnescape(hostPart); err == nil && strings.HasPrefix(p, "/") {
		network, addr = "unix", p
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial(network, addr)
			if err != nil {
				c.Close()
				continue
			}
			go func() { _, _ = io.Copy(s, c); s.Close(); c.Close() }()
			go func() {
				defer c.Close()
				defer s.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := s.Read(buf)
					if n > 0 {
						if h := g.held(); h != nil {
							<-h
						}
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	q.Set("directConnection", "true")
	return "mongodb://" + user + ln.Addr().String() + "/?" + q.Encode()
}

// gatedStack is a service over a client of the shared store that talks to
// it through the gate, and whose commands time out after timeout (the
// service's own client gives 30 s).
func gatedStack(t *testing.T, timeout time.Duration) (*stack, *storeGate) {
	t.Helper()
	db := storetest.NewDatabase(t)
	g := &storeGate{}
	t.Cleanup(g.open)
	cl, err := mongo.Connect(options.Client().ApplyURI(g.proxy(t, storetest.URI(t))).SetTimeout(timeout).
		SetMonitor(&event.CommandMonitor{Started: g.started}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Disconnect(context.Background()) })
	return newStackOn(t, cl.Database(db.Name()), &testClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}), g
}

// logLines returns the log records of one request.
func logLines(t *testing.T, logs *syncBuffer, requestID string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, rec := range parseLog(t, logs.String()) {
		if strings.Contains(fmt.Sprint(rec), requestID) {
			out = append(out, rec)
		}
	}
	return out
}

// parseLog decodes JSON log lines, skipping empty ones.
func parseLog(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(s, "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

// waitLogged waits until the request's access log line is written (its
// handler has returned) and returns the request's log records.
func waitLogged(t *testing.T, logs *syncBuffer, requestID string) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		lines := logLines(t, logs, requestID)
		for _, l := range lines {
			if l["msg"] == "http request" {
				return lines
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("request %s: no access log line after 30 s; logged %v", requestID, lines)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func requestCounts(t *testing.T, st *stack, route, method string) map[string]int {
	t.Helper()
	rec := httptest.NewRecorder()
	st.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := map[string]int{}
	prefix := fmt.Sprintf(`nomina_http_requests_total{method=%q,route=%q,status="`, method, route)
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		status, n, _ := strings.Cut(rest, `"} `)
		var v int
		fmt.Sscan(n, &v)
		out[status] += v
	}
	return out
}

// A request whose client goes away while its handler waits on the store
// is no failure of the service: the driver reports the cancelled read as
// a network error, which was answered 503 "store unavailable" (or 500)
// and logged as a failure, so a crowd of clients giving up looked like a
// store outage. It is logged as a client close and counted as 499, never
// as a 5xx. A store that does not answer a client still waiting is still
// a 503.
func TestClientGoneIsNotAServerFailure(t *testing.T) {
	st, gate := gatedStack(t, 3*time.Second)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	cand := st.candidate("ana@example.org")
	st.mustDraft(cand, "mag-2027", magFields("civil_society")) // something to list
	ts := httptest.NewServer(st.srv.Handler())
	t.Cleanup(ts.Close)

	cases := []struct {
		method, path, route string
		body                any
		coll                string // the collection whose command the client leaves
	}{
		{"GET", "/api/v1/nominations?call=mag-2027", "/api/v1/nominations", nil, "nominations"},
		{"POST", "/api/v1/calls/mag-2027/nominations", "/api/v1/calls/:slug/nominations", map[string]any{"fields": magFields("civil_society")}, "limits"},
	}
	send := func(ctx context.Context, method, path, requestID string, body any) (*http.Response, error) {
		var r io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(ctx, method, ts.URL+path, r)
		if err != nil {
			return nil, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer "+cand.Token)
		req.Header.Set("X-Request-ID", requestID)
		return (&http.Client{Transport: &http.Transport{}}).Do(req)
	}

	for i, tc := range cases {
		t.Run("client gone "+tc.method, func(t *testing.T) {
			before := requestCounts(t, st, tc.route, tc.method)
			id := fmt.Sprintf("gone%d", i)
			reached := gate.arm(tc.coll)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			answered := make(chan string, 1)
			go func() {
				resp, err := send(ctx, tc.method, tc.path, id, tc.body)
				if err != nil {
					answered <- "" // no answer: what a client that left gets
					return
				}
				resp.Body.Close()
				answered <- resp.Status
			}()
			select {
			case <-reached:
			case <-time.After(30 * time.Second):
				t.Fatal("the request never reached the store")
			}
			cancel() // the client goes away while the driver waits for the store's answer
			if got := <-answered; got != "" {
				t.Fatalf("the client that went away was answered %s", got)
			}
			lines := waitLogged(t, st.logs, id)
			gate.open()
			closed := false
			for _, l := range lines {
				switch {
				case l["msg"] == "http request" && l["status"] != float64(clientclose.Status):
					t.Errorf("access log: status %v, want %d (client closed request): %v", l["status"], clientclose.Status, l)
				case l["level"] == "ERROR" || l["level"] == "WARN":
					t.Errorf("a client going away logged as a failure: %v", l)
				case l["msg"] == "client closed request":
					closed = true
				}
			}
			if !closed {
				t.Errorf("no \"client closed request\" in the log: %v", lines)
			}
			after := requestCounts(t, st, tc.route, tc.method)
			for status, n := range after {
				if strings.HasPrefix(status, "5") && n != before[status] {
					t.Errorf("metrics count %d more %s for %s %s", n-before[status], status, tc.method, tc.route)
				}
			}
			if after["499"] != before["499"]+1 {
				t.Errorf("metrics: 499 counted %d times, want %d", after["499"], before["499"]+1)
			}
		})
	}

	t.Run("store too slow for a client still there", func(t *testing.T) {
		before := requestCounts(t, st, "/api/v1/nominations", "GET")
		reached := gate.arm("nominations")
		resp, err := send(context.Background(), "GET", "/api/v1/nominations?call=mag-2027", "slow1", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		select {
		case <-reached:
		default:
			t.Fatal("the request never reached the store")
		}
		var p Problem
		if resp.StatusCode != http.StatusServiceUnavailable || json.NewDecoder(resp.Body).Decode(&p) != nil || p.Status != http.StatusServiceUnavailable {
			t.Fatalf("answered %s (%+v), want 503 problem", resp.Status, p)
		}
		gate.open()
		lines := waitLogged(t, st.logs, "slow1")
		warned := false
		for _, l := range lines {
			warned = warned || l["msg"] == "dependency unavailable"
		}
		if !warned {
			t.Errorf("a store that does not answer is not logged: %v", lines)
		}
		if after := requestCounts(t, st, "/api/v1/nominations", "GET"); after["503"] != before["503"]+1 {
			t.Errorf("metrics: 503 counted %d times, want %d", after["503"], before["503"]+1)
		}
	})
}

// An export its client leaves part-way (the headers in, the store's rows
// not yet) is no failure either: it was logged as "export failed
// mid-stream" at ERROR. It is logged as a client close and recorded as
// 499 in the access log and the metrics, never as a 5xx. An export the
// store cuts short for a client still reading is still an error, and the
// 200 it began with stays in the log.
func TestExportClientGoneIsNotAServerFailure(t *testing.T) {
	st, gate := gatedStack(t, 3*time.Second)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	st.mustDraft(st.candidate("ana@example.org"), "mag-2027", magFields("civil_society")) // a row to export
	ts := httptest.NewServer(st.srv.Handler())
	t.Cleanup(ts.Close)
	const route = "/api/v1/calls/:slug/export"
	send := func(ctx context.Context, requestID string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/calls/mag-2027/export?format=csv", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+sec.Token)
		req.Header.Set("X-Request-ID", requestID)
		return (&http.Client{Transport: &http.Transport{}}).Do(req)
	}

	t.Run("client gone mid-download", func(t *testing.T) {
		before := requestCounts(t, st, route, "GET")
		reached := gate.arm("nominations")
		defer gate.open()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		resp, err := send(ctx, "exportgone")
		if err != nil {
			t.Fatalf("no headers: %v", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("the download began with %s", resp.Status)
		}
		select {
		case <-reached:
		case <-time.After(30 * time.Second):
			t.Fatal("the export never asked the store for its rows")
		}
		cancel() // the client goes away while the driver waits for the rows
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Fatal("the download the client left came whole")
		}
		lines := waitLogged(t, st.logs, "exportgone")
		gate.open()
		closed := false
		for _, l := range lines {
			switch {
			case l["msg"] == "http request" && l["status"] != float64(clientclose.Status):
				t.Errorf("access log: status %v, want %d (client closed request): %v", l["status"], clientclose.Status, l)
			case l["level"] == "ERROR" || l["level"] == "WARN":
				t.Errorf("a client going away logged as a failure: %v", l)
			case l["msg"] == "client closed request":
				closed = true
				if l["route"] != route {
					t.Errorf("client close logged without its route: %v", l)
				}
			}
		}
		if !closed {
			t.Errorf("no \"client closed request\" in the log: %v", lines)
		}
		after := requestCounts(t, st, route, "GET")
		for status, n := range after {
			if strings.HasPrefix(status, "5") && n != before[status] {
				t.Errorf("metrics count %d more %s", n-before[status], status)
			}
		}
		if after["499"] != before["499"]+1 || after["200"] != before["200"] {
			t.Errorf("metrics: 499 counted %d times, 200 %d times; want once and none", after["499"]-before["499"], after["200"]-before["200"])
		}
	})

	t.Run("store too slow for a client still there", func(t *testing.T) {
		before := requestCounts(t, st, route, "GET")
		reached := gate.arm("nominations")
		defer gate.open()
		resp, err := send(context.Background(), "exportslow")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body) // cut when the store's time runs out
		select {
		case <-reached:
		default:
			t.Fatal("the export never asked the store for its rows")
		}
		if strings.Contains(string(body), "Kenya ICT Action Network") {
			t.Fatalf("the store never answered, yet the download holds its rows: %q", body)
		}
		gate.open()
		failed := false
		for _, l := range waitLogged(t, st.logs, "exportslow") {
			switch {
			case l["msg"] == "export failed mid-stream" && l["level"] == "ERROR":
				failed = true
			case l["msg"] == "client closed request":
				t.Errorf("a client still reading logged as gone: %v", l)
			case l["msg"] == "http request" && l["status"] != float64(http.StatusOK):
				t.Errorf("access log: status %v, want the 200 sent: %v", l["status"], l)
			}
		}
		if !failed {
			t.Error("an export the store cut short is not logged as an error")
		}
		if after := requestCounts(t, st, route, "GET"); after["200"] != before["200"]+1 || after["499"] != before["499"] {
			t.Errorf("metrics: 200 counted %d times, 499 %d times; want once and none", after["200"]-before["200"], after["499"]-before["499"])
		}
	})
}
