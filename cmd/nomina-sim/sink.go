package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	netmail "net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// mailMsg is one message the SMTP sink accepted.
type mailMsg struct {
	MessageID string   // the Message-ID header without its angle brackets
	To        []string // lower-case addresses
	Subject   string
	Text      string // the text part, decoded
	At        time.Time
	raw       []byte
}

// refusal is one message the sink refused on purpose (a fault).
type refusal struct {
	At        time.Time
	To        string
	MessageID string
	Code      int
}

// sink is the SMTP server the instances send to. It stands in front of
// the real sink: it refuses messages as the faults say (an outage, 4xx
// then success for some recipients, 4xx then 5xx for others), keeps every
// accepted message for the simulated people to read their links from, and,
// with Mailpit, relays each accepted message there before saying yes, so
// Mailpit holds exactly what was accepted.
type sink struct {
	addr string

	mu       sync.Mutex
	srv      *smtp.Server
	msgs     []*mailMsg
	byTo     map[string][]*mailMsg
	waiters  map[string][]chan struct{}
	greylist map[string]bool // 4xx on a message's first attempt, then accepted
	bounce   map[string]bool // 4xx on a message's first attempt, then 5xx
	attempts map[string]int  // by Message-ID
	refused  []refusal
	down     bool
	outages  []window

	relay   *relay
	mailpit *mailpit
}

// window is a span of time something lasted.
type window struct{ From, To time.Time }

func newSink(addr string) (*sink, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("the SMTP sink: %w", err)
	}
	s := &sink{addr: ln.Addr().String(), byTo: map[string][]*mailMsg{}, waiters: map[string][]chan struct{}{},
		greylist: map[string]bool{}, bounce: map[string]bool{}, attempts: map[string]int{}}
	s.serve(ln)
	return s, nil
}

func (s *sink) serve(ln net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }))
	srv.Domain = "sink.sim.test"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 4 << 20
	srv.MaxRecipients = 10
	srv.ErrorLog = log.New(io.Discard, "", 0)
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// outage takes the server away (listener and every connection) for d, then
// listens again on the same address.
func (s *sink) outage(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	srv := s.srv
	s.srv, s.down = nil, true
	start := time.Now()
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
	var ln net.Listener
	var err error
	for i := 0; i < 100; i++ {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("the SMTP sink cannot listen again on %s: %w", s.addr, err)
	}
	s.serve(ln)
	s.mu.Lock()
	s.down = false
	s.outages = append(s.outages, window{start, time.Now()})
	s.mu.Unlock()
	return nil
}

// setFaults makes greylisted recipients' messages fail once with 451, and
// bounced recipients' fail with 451 and then 550.
func (s *sink) setFaults(greylisted, bounced []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range greylisted {
		s.greylist[strings.ToLower(a)] = true
	}
	for _, a := range bounced {
		s.bounce[strings.ToLower(a)] = true
	}
}

func (s *sink) close() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
	if s.relay != nil {
		s.relay.close()
	}
	if s.mailpit != nil {
		s.mailpit.stop()
	}
}

type sinkSession struct {
	s    *sink
	from string
	to   []string
}

func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }
func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, strings.ToLower(to))
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := parseMessage(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "unreadable message: " + err.Error()}
	}
	m.To = ss.to
	if code := ss.s.fault(m); code != 0 {
		if code >= 500 {
			return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable"}
		}
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "greylisted, try again later"}
	}
	if ss.s.relay != nil {
		if err := ss.s.relay.send(ss.from, ss.to, raw); err != nil {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 1}, Message: "relay: " + err.Error()}
		}
	}
	ss.s.accept(m)
	return nil
}

// fault returns the reply code a fault gives m, or 0 to accept it.
func (s *sink) fault(m *mailMsg) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts[m.MessageID]++
	n := s.attempts[m.MessageID]
	for _, to := range m.To {
		code := 0
		switch {
		case s.bounce[to] && n == 1:
			code = 451
		case s.bounce[to]:
			code = 550
		case s.greylist[to] && n == 1:
			code = 451
		}
		if code != 0 {
			s.refused = append(s.refused, refusal{At: time.Now(), To: to, MessageID: m.MessageID, Code: code})
			return code
		}
	}
	return 0
}

func (s *sink) accept(m *mailMsg) {
	m.At = time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	for _, to := range m.To {
		s.byTo[to] = append(s.byTo[to], m)
		for _, w := range s.waiters[to] {
			close(w)
		}
		delete(s.waiters, to)
	}
}

// duplicate delivers the accepted message with that Message-ID once more,
// as a broken sender would: the checker must notice.
func (s *sink) duplicate(messageID string) error {
	s.mu.Lock()
	var found *mailMsg
	for _, m := range s.msgs {
		if m.MessageID == messageID {
			found = m
			break
		}
	}
	s.mu.Unlock()
	if found == nil {
		return fmt.Errorf("no message %s", messageID)
	}
	if s.relay != nil {
		if err := s.relay.send("nomina@localhost", found.To, found.raw); err != nil {
			return err
		}
	}
	cp := *found
	s.accept(&cp)
	return nil
}

// waitFor waits until a message to addr for which match holds has
// arrived, and returns it.
func (s *sink) waitFor(ctx context.Context, addr string, match func(*mailMsg) bool) (*mailMsg, error) {
	addr = strings.ToLower(addr)
	for {
		s.mu.Lock()
		for _, m := range s.byTo[addr] {
			if match(m) {
				s.mu.Unlock()
				return m, nil
			}
		}
		w := make(chan struct{})
		s.waiters[addr] = append(s.waiters[addr], w)
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for mail to %s: %w", addr, ctx.Err())
		case <-w:
		}
	}
}

// next returns the i-th message accepted for addr (from 0), waiting for
// it to arrive: a mailbox read in order.
func (s *sink) next(ctx context.Context, addr string, i int) (*mailMsg, error) {
	addr = strings.ToLower(addr)
	for {
		s.mu.Lock()
		if msgs := s.byTo[addr]; i < len(msgs) {
			m := msgs[i]
			s.mu.Unlock()
			return m, nil
		}
		w := make(chan struct{})
		s.waiters[addr] = append(s.waiters[addr], w)
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-w:
		}
	}
}

// accepted returns a copy of every accepted message, as the sink's own
// store holds them.
func (s *sink) accepted() []*mailMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*mailMsg(nil), s.msgs...)
}

// delivered returns what the real sink holds: Mailpit's messages when it
// is in use (read through its API), else this server's own store.
func (s *sink) delivered(ctx context.Context) ([]deliveredMsg, error) {
	if s.mailpit != nil {
		return s.mailpit.messages(ctx)
	}
	var out []deliveredMsg
	for _, m := range s.accepted() {
		out = append(out, deliveredMsg{MessageID: m.MessageID, To: m.To, At: m.At})
	}
	return out, nil
}

// deliveredMsg is one message as the real sink holds it.
type deliveredMsg struct {
	MessageID string
	To        []string
	At        time.Time
}

// parseMessage reads the headers and the text part of a raw message.
func parseMessage(raw []byte) (*mailMsg, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		subject = msg.Header.Get("Subject")
	}
	m := &mailMsg{MessageID: strings.Trim(strings.TrimSpace(msg.Header.Get("Message-Id")), "<>"), Subject: subject, raw: raw}
	text, err := textPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	if err != nil {
		return nil, err
	}
	m.Text = text
	return m, nil
}

// textPart returns the first text/plain part of a body, decoded.
func textPart(ctype, encoding string, body io.Reader) (string, error) {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return "", nil
			}
			if err != nil {
				return "", err
			}
			t, err := textPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
			if err != nil || t != "" {
				return t, err
			}
		}
	}
	if mt != "text/plain" {
		return "", nil
	}
	var r io.Reader = body
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(r)
	return string(b), err
}

// relay passes accepted messages on to Mailpit over one SMTP connection.
type relay struct {
	addr string
	mu   sync.Mutex
	c    *smtp.Client
}

func (r *relay) send(from string, to []string, raw []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for attempt := 0; attempt < 2; attempt++ {
		if r.c == nil {
			c, err := smtp.Dial(r.addr)
			if err != nil {
				return err
			}
			r.c = c
		}
		err := r.c.SendMail(from, to, bytes.NewReader(raw))
		if err == nil {
			return nil
		}
		_ = r.c.Close()
		r.c = nil
		if attempt == 1 {
			return err
		}
	}
	return nil
}

func (r *relay) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c != nil {
		_ = r.c.Quit()
		r.c = nil
	}
}

// mailpit is a Mailpit process: the real sink when one is available.
type mailpit struct {
	smtp, http string
	cmd        *exec.Cmd
	done       chan struct{}
}

func startMailpit(ctx context.Context, bin, dir string) (*mailpit, error) {
	sp, err := freePort()
	if err != nil {
		return nil, err
	}
	hp, err := freePort()
	if err != nil {
		return nil, err
	}
	m := &mailpit{smtp: "127.0.0.1:" + strconv.Itoa(sp), http: "127.0.0.1:" + strconv.Itoa(hp), done: make(chan struct{})}
	logf, err := os.Create(filepath.Join(dir, "mailpit.log"))
	if err != nil {
		return nil, err
	}
	// --max 0 keeps every message (the default keeps 500).
	m.cmd = exec.Command(bin, "--smtp", m.smtp, "--listen", m.http, "--database", filepath.Join(dir, "mailpit.db"),
		"--max", "0", "--quiet", "--smtp-disable-rdns", "--disable-version-check")
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	if err := m.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start Mailpit (%s): %w", bin, err)
	}
	go func() {
		_ = m.cmd.Wait()
		logf.Close()
		close(m.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + m.http + "/api/v1/messages?limit=1")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return m, nil
			}
		}
		select {
		case <-m.done:
			return nil, errors.New("Mailpit exited at start; see mailpit.log")
		case <-ctx.Done():
			m.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.stop()
			return nil, errors.New("Mailpit did not answer within 30 s")
		}
	}
}

func (m *mailpit) stop() {
	if m.cmd.Process != nil {
		_ = m.cmd.Process.Kill()
	}
	<-m.done
}

// messages lists every message Mailpit holds, through its API.
func (m *mailpit) messages(ctx context.Context) ([]deliveredMsg, error) {
	var out []deliveredMsg
	const page = 2000
	for start := 0; ; start += page {
		req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://%s/api/v1/messages?start=%d&limit=%d", m.http, start, page), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("list Mailpit's messages: %w", err)
		}
		var body struct {
			Total    int `json:"total"`
			Messages []struct {
				MessageID string
				Created   time.Time
				To        []struct{ Address string }
			} `json:"messages"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("list Mailpit's messages: %w", err)
		}
		for _, msg := range body.Messages {
			d := deliveredMsg{MessageID: msg.MessageID, At: msg.Created}
			for _, t := range msg.To {
				d.To = append(d.To, strings.ToLower(t.Address))
			}
			out = append(out, d)
		}
		if len(body.Messages) < page || start+page >= body.Total {
			return out, nil
		}
	}
}
