package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// outcome classifies a request by what the service may have done with it.
type outcome int

const (
	accepted  outcome = iota + 1 // answered 2xx: done, exactly once
	refused                      // answered 4xx, or cut off before its body was sent: nothing done
	ambiguous                    // no answer, or 5xx: done at most once
)

// record is one HTTP request as the simulator saw it.
type record struct {
	Phase    int
	Route    string
	Status   int // 0: no answer
	Start    time.Duration
	Latency  time.Duration
	Instance int
	Cut      bool // the client went away on purpose
}

// ledgerEntry is a change the simulator asked for, found in the stored
// history by its key: a reference carried in a text the event keeps, or
// the nomination and event type for changes that carry no text.
type ledgerEntry struct {
	Key        string
	Nomination string
	What       string
	Outcome    outcome
}

// recorder keeps every request and every change asked for.
type recorder struct {
	start time.Time
	phase atomic.Int32

	mu       sync.Mutex
	records  []record
	ledger   []ledgerEntry
	inFlight atomic.Int64
	done     atomic.Int64
}

func newRecorder() *recorder { return &recorder{start: time.Now()} }

func (r *recorder) add(rec record) {
	r.mu.Lock()
	r.records = append(r.records, rec)
	r.mu.Unlock()
	r.done.Add(1)
}

func (r *recorder) note(e ledgerEntry) {
	r.mu.Lock()
	r.ledger = append(r.ledger, e)
	r.mu.Unlock()
}

func (r *recorder) snapshot() ([]record, []ledgerEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]record(nil), r.records...), append([]ledgerEntry(nil), r.ledger...)
}

// client sends the simulated people's requests to the instances: round
// robin over those that are up, at most Concurrency at a time from the
// crowd (candidates, nominators, nominees, endorsers) and as many again
// from the staff (the secretariat, reviewers, the administrator), each
// in their own queue: the crowd's requests waiting here must not hold
// back the secretariat's and the reviewers', who are other people at
// other machines and share only the service. A request
// refused at connect (an instance that is down) goes to the next one; one
// that was sent and got no answer is reported to the caller as ambiguous,
// and the caller finds out what happened, as a person would by looking.
type client struct {
	cl       *cluster
	rec      *recorder
	http     *http.Client
	sem      chan struct{} // the crowd's requests in flight
	staffSem chan struct{} // the staff's
	next     atomic.Uint64
	cutRate  float64 // share of cuttable requests cut off after being sent
	halfRate float64 // share of cuttable requests cut off half-way through their body
	rnd      *lockedRand
	refs     atomic.Uint64
	seed     uint64
}

func newClient(cl *cluster, rec *recorder, concurrency int, seed uint64) *client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConns:        concurrency * 2,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     30 * time.Second,
	}
	return &client{cl: cl, rec: rec, http: &http.Client{Transport: tr, Timeout: 2 * time.Minute},
		sem: make(chan struct{}, concurrency), staffSem: make(chan struct{}, concurrency), rnd: newLockedRand(seed), seed: seed}
}

// ref returns a new reference for a change: unique in the run, carried in
// a text the change stores, so the stored history can be searched for it.
func (c *client) ref() string {
	n := c.refs.Add(1)
	return fmt.Sprintf("simref-%08x%08x", uint32(c.seed), uint32(n))
}

// request is one HTTP call.
type request struct {
	Method, Path string
	Route        string // the route template, for the statistics
	Body         any    // JSON body; nil for none
	Multipart    *upload
	Token        string
	Addr         string // the simulated person's address (X-Forwarded-For)
	// Cuttable requests may be cut off by the disconnect fault.
	Cuttable bool
	// Key and Nomination name the change for the ledger; Key "" when the
	// request changes nothing the history keeps.
	Key, Nomination, What string
	Header                map[string]string
	// Staff requests (the secretariat's, reviewers', the administrator's)
	// wait in their own queue of the client.
	Staff bool
}

// upload is a multipart file.
type upload struct {
	Fields   map[string]string
	Field    string
	Filename string
	Data     []byte
}

// response is what came back.
type response struct {
	Status   int
	Body     []byte
	Header   http.Header
	Err      error // no answer (Status 0)
	Instance int
	Cut      bool
}

func (r response) ok() bool { return r.Status >= 200 && r.Status < 300 }

func (r response) decode(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("decode %d answer: %w: %.200s", r.Status, err, r.Body)
	}
	return nil
}

// problem returns the detail of a problem+json answer.
func (r response) problem() string {
	var p struct {
		Title, Detail string
		Errors        []struct{ Field, Message string }
	}
	_ = json.Unmarshal(r.Body, &p)
	s := p.Title + ": " + p.Detail
	for _, e := range p.Errors {
		s += "; " + e.Field + ": " + e.Message
	}
	return s
}

func (r response) String() string {
	if r.Err != nil {
		return "no answer: " + r.Err.Error()
	}
	return strconv.Itoa(r.Status) + " " + r.problem()
}

// do sends req and records it; the ledger gets the change with the
// outcome the answer implies.
func (c *client) do(ctx context.Context, req request) response {
	sem := c.sem
	if req.Staff {
		sem = c.staffSem
	}
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return response{Err: ctx.Err()}
	}
	defer func() { <-sem }()
	c.rec.inFlight.Add(1)
	defer c.rec.inFlight.Add(-1)
	var resp response
	for tries := 0; ; tries++ {
		in := c.pick()
		resp = c.send(ctx, in, req)
		// Refused at connect: the instance is down and saw nothing; the
		// next one takes the request, as a load balancer would send it.
		if resp.Err != nil && isConnRefused(resp.Err) && tries < 20 && ctx.Err() == nil {
			time.Sleep(time.Duration(50*(tries+1)) * time.Millisecond)
			continue
		}
		break
	}
	if req.Key != "" {
		oc := accepted
		switch {
		case resp.Status >= 200 && resp.Status < 300:
		case resp.Status >= 400 && resp.Status < 500:
			oc = refused
		case resp.Cut && resp.Status == 0 && resp.Err != nil && errors.Is(resp.Err, errHalfSent):
			oc = refused
		default:
			oc = ambiguous
		}
		c.rec.note(ledgerEntry{Key: req.Key, Nomination: req.Nomination, What: req.What, Outcome: oc})
	}
	return resp
}

var errHalfSent = errors.New("cut off half-way through the body, on purpose")

func isConnRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}

// pick chooses the next instance that is up (any, when none is).
func (c *client) pick() *instance {
	n := len(c.cl.instances)
	for i := 0; i < n; i++ {
		in := c.cl.instances[int(c.next.Add(1)%uint64(n))]
		if in.isUp() {
			return in
		}
	}
	return c.cl.instances[0]
}

func (c *client) send(ctx context.Context, in *instance, req request) response {
	body, ctype, err := encodeBody(req)
	if err != nil {
		return response{Err: err}
	}
	start := time.Now()
	mode := ""
	if req.Cuttable {
		switch x := c.rnd.Float64(); {
		case x < c.halfRate:
			mode = "half"
		case x < c.halfRate+c.cutRate:
			mode = "cut"
		}
	}
	var resp response
	if mode == "half" && len(body) > 8 {
		resp = c.sendHalf(ctx, in, req, body, ctype)
	} else {
		resp = c.sendHTTP(ctx, in, req, body, ctype, mode == "cut")
	}
	resp.Instance = in.index
	c.rec.add(record{Phase: int(c.rec.phase.Load()), Route: req.Route, Status: resp.Status, Start: start.Sub(c.rec.start),
		Latency: time.Since(start), Instance: in.index, Cut: resp.Cut})
	return resp
}

func encodeBody(req request) ([]byte, string, error) {
	switch {
	case req.Multipart != nil:
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for k, v := range req.Multipart.Fields {
			if err := mw.WriteField(k, v); err != nil {
				return nil, "", err
			}
		}
		fw, err := mw.CreateFormFile(req.Multipart.Field, req.Multipart.Filename)
		if err != nil {
			return nil, "", err
		}
		if _, err := fw.Write(req.Multipart.Data); err != nil {
			return nil, "", err
		}
		if err := mw.Close(); err != nil {
			return nil, "", err
		}
		return b.Bytes(), mw.FormDataContentType(), nil
	case req.Body != nil:
		b, err := json.Marshal(req.Body)
		return b, "application/json", err
	}
	return nil, "", nil
}

func (c *client) newHTTPRequest(ctx context.Context, in *instance, req request, body []byte, ctype string) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, "http://"+in.addr+req.Path, r)
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		hr.Header.Set("Content-Type", ctype)
	}
	if req.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+req.Token)
	}
	if req.Addr != "" {
		hr.Header.Set("X-Forwarded-For", req.Addr)
	}
	for k, v := range req.Header {
		hr.Header.Set(k, v)
	}
	return hr, nil
}

// sendHTTP sends the request; cut makes the client go away as soon as the
// request is written, before the answer (the service carries on or not).
func (c *client) sendHTTP(ctx context.Context, in *instance, req request, body []byte, ctype string, cut bool) response {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cut {
		delay := time.Duration(c.rnd.Float64() * float64(3*time.Millisecond))
		rctx = httptrace.WithClientTrace(rctx, &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { time.AfterFunc(delay, cancel) },
		})
	}
	hr, err := c.newHTTPRequest(rctx, in, req, body, ctype)
	if err != nil {
		return response{Err: err}
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return response{Err: err, Cut: cut && ctx.Err() == nil}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	out := response{Status: resp.StatusCode, Body: b, Header: resp.Header}
	if err != nil {
		// The status is known: the change is done or not as it says; the
		// caller reads what it needs again.
		out.Err, out.Cut = err, cut
	}
	return out
}

// sendHalf writes the request line, the headers and half the body over a
// connection of its own, then closes it: the service must store nothing.
func (c *client) sendHalf(ctx context.Context, in *instance, req request, body []byte, ctype string) response {
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", in.addr)
	if err != nil {
		return response{Err: err}
	}
	defer conn.Close()
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n", req.Method, req.Path, in.addr, ctype, len(body))
	if req.Token != "" {
		fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", req.Token)
	}
	if req.Addr != "" {
		fmt.Fprintf(&b, "X-Forwarded-For: %s\r\n", req.Addr)
	}
	for k, v := range req.Header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	b.Write(body[:len(body)/2])
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write(b.Bytes()); err != nil {
		return response{Err: err}
	}
	time.Sleep(time.Duration(c.rnd.Float64() * float64(5*time.Millisecond)))
	return response{Err: errHalfSent, Cut: true}
}

// lockedRand is a random source safe for concurrent use.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newLockedRand(seed uint64) *lockedRand {
	return &lockedRand{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (l *lockedRand) Float64() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64()
}

// session is one signed-in person (or an anonymous one without tokens).
type session struct {
	c        *client
	email    string
	password string
	addr     string
	staff    bool // the secretariat, a reviewer or the administrator

	mu      sync.Mutex
	access  string
	refresh string
}

// call sends req as the session's person: it adds the token and address,
// and once an access token has expired it refreshes (or signs in again)
// and repeats the request.
func (s *session) call(ctx context.Context, req request) response {
	req.Addr, req.Staff = s.addr, s.staff
	for attempt := 0; ; attempt++ {
		s.mu.Lock()
		req.Token = s.access
		s.mu.Unlock()
		resp := s.c.do(ctx, req)
		if resp.Status != http.StatusUnauthorized || req.Token == "" || attempt > 0 || strings.HasPrefix(req.Path, "/api/v1/auth/") {
			return resp
		}
		if err := s.renew(ctx, req.Token); err != nil {
			return resp
		}
	}
}

// renew gets a fresh access token after old was refused: with the refresh
// token, or by signing in again when that is spent (an answer lost to a
// fault may have spent it).
func (s *session) renew(ctx context.Context, old string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.access != old {
		return nil // another request renewed it meanwhile
	}
	if s.refresh != "" {
		resp := s.c.do(ctx, request{Method: "POST", Path: "/api/v1/auth/refresh", Route: "POST /api/v1/auth/refresh", Addr: s.addr, Staff: s.staff,
			Body: map[string]string{"refresh_token": s.refresh}})
		var tok tokenPair
		if resp.Status == http.StatusOK && resp.decode(&tok) == nil {
			s.access, s.refresh = tok.AccessToken, tok.RefreshToken
			return nil
		}
	}
	return s.loginLocked(ctx)
}

type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// login signs the person in with their password.
func (s *session) login(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loginLocked(ctx)
}

func (s *session) loginLocked(ctx context.Context) error {
	var last response
	for attempt := 0; attempt < 5; attempt++ {
		last = s.c.do(ctx, request{Method: "POST", Path: "/api/v1/auth/login", Route: "POST /api/v1/auth/login", Addr: s.addr, Staff: s.staff,
			Body: map[string]string{"email": s.email, "password": s.password}})
		if last.Status == http.StatusOK {
			var tok tokenPair
			if err := last.decode(&tok); err != nil {
				return err
			}
			s.access, s.refresh = tok.AccessToken, tok.RefreshToken
			return nil
		}
		if last.Status != 0 && last.Status < 500 {
			break
		}
		if ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(200*(attempt+1)) * time.Millisecond)
	}
	return fmt.Errorf("sign in %s: %s", s.email, last)
}
