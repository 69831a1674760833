package mail_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	netmail "net/mail"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// fault is what the test SMTP server does to one message instead of
// accepting it.
type fault int

const (
	reply451       fault = iota + 1 // "451 try again later" after the data
	reply550                        // "550 mailbox unavailable" after the data
	dropConn                        // close the connection in the middle of the data
	acceptThenDrop                  // accept the message, then close the connection before the reply
)

// received is one message the test server accepted.
type received struct {
	From      string
	To        []string
	Data      []byte
	MessageID string
	Header    netmail.Header
	Body      []byte
}

// smtpServer is an SMTP server in the test process (github.com/emersion/go-smtp)
// that records what it accepts and fails messages on request.
type smtpServer struct {
	tb   testing.TB
	addr string
	tls  *tls.Config
	user string
	pass string

	mu       sync.Mutex
	srv      *smtp.Server
	received []received
	faults   map[string][]fault // by recipient, consumed in order
	authSeen []string           // mechanisms clients authenticated with
	sessions int
	data     int // messages begun
	downAt   int // the server stops in the middle of this message (1 = the first)
}

type serverOption func(*smtpServer)

// withTLS makes the server offer STARTTLS with cert.
func withTLS(cert tls.Certificate) serverOption {
	return func(s *smtpServer) { s.tls = &tls.Config{Certificates: []tls.Certificate{cert}} }
}

// withAuth makes the server offer AUTH PLAIN for user and pass, even over
// plaintext (so a client that would send a password in the clear can be
// caught doing it).
func withAuth(user, pass string) serverOption {
	return func(s *smtpServer) { s.user, s.pass = user, pass }
}

func startSMTP(tb testing.TB, opts ...serverOption) *smtpServer {
	tb.Helper()
	s := &smtpServer{tb: tb, faults: map[string][]fault{}}
	for _, o := range opts {
		o(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	tb.Cleanup(s.stop)
	return s
}

func (s *smtpServer) serve(ln net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.sessions++
		s.mu.Unlock()
		return &session{s: s, conn: c}, nil
	}))
	srv.Domain = "mx.test"
	srv.TLSConfig = s.tls
	srv.AllowInsecureAuth = s.user != ""
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go srv.Serve(ln)
}

// port returns the server's port.
func (s *smtpServer) port() string {
	_, p, _ := net.SplitHostPort(s.addr)
	return p
}

// url returns an smtp:// URL of the server.
func (s *smtpServer) url() string { return "smtp://" + s.addr }

// stop closes the listener and every connection: the server is down.
func (s *smtpServer) stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// restart listens again on the same address.
func (s *smtpServer) restart() {
	s.tb.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.tb.Fatalf("listen again on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

// goDownAt makes the server stop in the middle of the nth message from
// now on.
func (s *smtpServer) goDownAt(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.downAt = s.data + n
}

// inject makes the next messages to rcpt fail with faults, in order.
func (s *smtpServer) inject(rcpt string, faults ...fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[rcpt] = append(s.faults[rcpt], faults...)
}

func (s *smtpServer) nextFault(rcpts []string) fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rcpts {
		if f := s.faults[r]; len(f) > 0 {
			s.faults[r] = f[1:]
			return f[0]
		}
	}
	return 0
}

// messages returns a copy of what the server accepted.
func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.received...)
}

// countByMessageID counts the accepted messages per Message-ID.
func (s *smtpServer) countByMessageID() map[string]int {
	counts := map[string]int{}
	for _, m := range s.messages() {
		counts[m.MessageID]++
	}
	return counts
}

type session struct {
	s    *smtpServer
	conn *smtp.Conn
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if ss.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		ss.s.mu.Lock()
		ss.s.authSeen = append(ss.s.authSeen, mech)
		ss.s.mu.Unlock()
		if username != ss.s.user || password != ss.s.pass {
			return smtp.ErrAuthFailed
		}
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	f := ss.s.nextFault(ss.to)
	switch f {
	case reply451:
		_, _ = io.Copy(io.Discard, r)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
	case reply550:
		_, _ = io.Copy(io.Discard, r)
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "Mailbox unavailable"}
	case dropConn:
		var part [16]byte
		_, _ = io.ReadFull(r, part[:])
		ss.conn.Conn().Close()
		return errors.New("connection dropped")
	}
	ss.s.mu.Lock()
	ss.s.data++
	down := ss.s.data == ss.s.downAt
	ss.s.mu.Unlock()
	if down {
		var part [16]byte
		_, _ = io.ReadFull(r, part[:])
		ss.s.stop()
		return errors.New("server down")
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Unparsable message"}
	}
	body, _ := io.ReadAll(m.Body)
	ss.s.mu.Lock()
	ss.s.received = append(ss.s.received, received{
		From: ss.from, To: append([]string(nil), ss.to...), Data: data,
		MessageID: m.Header.Get("Message-Id"), Header: m.Header, Body: body,
	})
	ss.s.mu.Unlock()
	if f == acceptThenDrop {
		// The message is the server's now; the client never hears so.
		ss.conn.Conn().Close()
		return errors.New("connection dropped after the message was accepted")
	}
	return nil
}

func (ss *session) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *session) Logout() error { return nil }

// mustCert returns a self-signed certificate for 127.0.0.1, localhost and
// mail.example.org, and a pool that trusts it.
func mustCert(tb testing.TB) (tls.Certificate, *x509.CertPool) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mail.example.org"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		DNSNames:              []string{"localhost", "mail.example.org"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// waitUntil polls cond until it holds, failing the test after within.
func waitUntil(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("gave up after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
