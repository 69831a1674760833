package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// SMTPServer is a parsed SMTP URL.
type SMTPServer struct {
	Host     string
	Port     int
	Username string
	Password string
	// ImplicitTLS is set for smtps://: TLS from the first byte instead of
	// STARTTLS.
	ImplicitTLS bool
}

// ParseSMTPURL parses smtp://[user:pass@]host[:port] (port 587 by default)
// or smtps://[user:pass@]host[:port] (port 465). It returns an error for
// another scheme, a missing host, a bad port, or a path or query, which
// would be silently ignored otherwise. The error never repeats the URL,
// which may hold a password.
func ParseSMTPURL(raw string) (SMTPServer, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return SMTPServer{}, errors.New("SMTP URL does not parse: use smtp://[user:pass@]host[:port] or smtps://")
	}
	var s SMTPServer
	switch u.Scheme {
	case "smtp":
		s.Port = gomail.DefaultPortTLS
	case "smtps":
		s.Port, s.ImplicitTLS = gomail.DefaultPortSSL, true
	default:
		return SMTPServer{}, fmt.Errorf("SMTP URL scheme %q: use smtp:// or smtps://", u.Scheme)
	}
	s.Host = u.Hostname()
	if s.Host == "" {
		return SMTPServer{}, errors.New("SMTP URL has no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return SMTPServer{}, fmt.Errorf("SMTP URL port %q is not a port number", p)
		}
		s.Port = n
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return SMTPServer{}, errors.New("SMTP URL must not have a path, query or fragment")
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
	}
	return s, nil
}

// isLoopback reports whether host names this machine without asking DNS.
func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SenderOptions tune a Sender. The zero value is the production setting.
type SenderOptions struct {
	// InsecurePlaintext allows a server that is not on loopback without
	// STARTTLS. Otherwise STARTTLS is mandatory there; on loopback it is used
	// when offered.
	InsecurePlaintext bool
	// Timeout bounds the connection set-up and each SMTP command (30s).
	Timeout time.Duration
	// TLSConfig replaces the default (the server's host name verified
	// against the system roots, TLS 1.2 or later).
	TLSConfig *tls.Config
	// DialContext replaces the plain TCP dialer (TLS for smtps:// is layered
	// on top of it).
	DialContext func(ctx context.Context, network, address string) (net.Conn, error)
}

// authMechanisms are the SMTP AUTH mechanisms a Sender offers, strongest
// first. No "-NOENC" variant is among them: PLAIN and LOGIN refuse to send a
// password over an unencrypted connection to another host.
var authMechanisms = []gomail.SMTPAuthType{
	gomail.SMTPAuthSCRAMSHA256PLUS, gomail.SMTPAuthSCRAMSHA256,
	gomail.SMTPAuthSCRAMSHA1PLUS, gomail.SMTPAuthSCRAMSHA1,
	gomail.SMTPAuthCramMD5, gomail.SMTPAuthPlain, gomail.SMTPAuthLogin,
}

// Sender keeps one connection to an SMTP server and sends messages over
// it one after the other, dialling again when the connection was lost. A
// Sender is used by one goroutine at a time.
type Sender struct {
	server    SMTPServer
	tlsConfig *tls.Config
	dial      func(ctx context.Context, network, address string) (net.Conn, error)
	timeout   time.Duration
	client    *gomail.Client
	connected bool
	// conn is the connection, also closed when the dial fails after
	// connecting (go-mail leaves it open then).
	conn net.Conn
	// limit, when set, is the latest deadline any read or write on conn
	// gets: the deadline of the context of the call in progress. go-mail
	// sets its own per command; limit caps them.
	limit time.Time
}

// cappedConn is a connection whose deadlines never pass its Sender's limit.
type cappedConn struct {
	net.Conn
	s *Sender
}

func (c *cappedConn) SetDeadline(t time.Time) error     { return c.Conn.SetDeadline(c.s.capped(t)) }
func (c *cappedConn) SetReadDeadline(t time.Time) error { return c.Conn.SetReadDeadline(c.s.capped(t)) }
func (c *cappedConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.s.capped(t))
}

func (s *Sender) capped(t time.Time) time.Time {
	if !s.limit.IsZero() && (t.IsZero() || t.After(s.limit)) {
		return s.limit
	}
	return t
}

// bound makes ctx's deadline, if any, the limit of every read and write
// until the returned function is called.
func (s *Sender) bound(ctx context.Context) func() {
	d, ok := ctx.Deadline()
	if !ok || !s.limit.IsZero() {
		return func() {}
	}
	s.limit = d
	if s.conn != nil {
		_ = s.conn.SetDeadline(d)
	}
	return func() { s.limit = time.Time{} }
}

// NewSender returns a Sender for server; it does not connect yet. It returns
// an error when go-mail refuses the settings.
func NewSender(server SMTPServer, opts SenderOptions) (*Sender, error) {
	s := &Sender{server: server, timeout: opts.Timeout, dial: opts.DialContext}
	if s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}
	if s.dial == nil {
		d := &net.Dialer{}
		s.dial = d.DialContext
	}
	s.tlsConfig = &tls.Config{ServerName: server.Host, MinVersion: tls.VersionTLS12}
	if opts.TLSConfig != nil {
		s.tlsConfig = opts.TLSConfig.Clone()
		if s.tlsConfig.ServerName == "" {
			s.tlsConfig.ServerName = server.Host
		}
	}
	policy := gomail.TLSMandatory
	switch {
	case server.ImplicitTLS:
		// TLS is done by the dialer; STARTTLS does not apply.
		policy = gomail.NoTLS
	case opts.InsecurePlaintext:
		policy = gomail.NoTLS
	case isLoopback(server.Host):
		policy = gomail.TLSOpportunistic
	}
	o := []gomail.Option{
		gomail.WithPort(server.Port),
		gomail.WithTimeout(s.timeout),
		gomail.WithTLSPolicy(policy),
		gomail.WithTLSConfig(s.tlsConfig),
		gomail.WithDialContextFunc(s.dialConn),
		// The connection is checked once per batch (Check), not with a
		// NOOP before every message; a connection found dead before a
		// message was sent is replaced (Send).
		gomail.WithoutNoop(),
	}
	if server.ImplicitTLS {
		o = append(o, gomail.WithSSL())
	}
	if server.Username != "" {
		o = append(o,
			gomail.WithOpportunisticSMTPAuth(authMechanisms...),
			gomail.WithUsername(server.Username),
			gomail.WithPassword(server.Password))
	}
	c, err := gomail.NewClient(server.Host, o...)
	if err != nil {
		return nil, fmt.Errorf("SMTP client: %w", err)
	}
	s.client = c
	return s, nil
}

// dialConn opens the TCP connection (and TLS for smtps://) and remembers it
// so a failed set-up can close it.
func (s *Sender) dialConn(ctx context.Context, network, address string) (net.Conn, error) {
	conn, err := s.dial(ctx, network, address)
	if err != nil {
		return nil, err
	}
	if s.server.ImplicitTLS {
		tc := tls.Client(conn, s.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		conn = tc
	}
	s.conn = &cappedConn{Conn: conn, s: s}
	return s.conn, nil
}

// Connect dials the server, says hello, starts TLS and authenticates, unless
// the Sender is connected already, within ctx's deadline. It returns a
// *DeliveryError (temporary, Code 0 or the server's code, nothing sent)
// when that fails.
func (s *Sender) Connect(ctx context.Context) error {
	if s.connected {
		return nil
	}
	defer s.bound(ctx)()
	s.conn = nil
	if err := s.client.DialWithContext(ctx); err != nil {
		if s.conn != nil {
			s.conn.Close()
			s.conn = nil
		}
		return &DeliveryError{Code: replyCode(err), Reply: err.Error(), connection: true, unsent: true}
	}
	s.connected = true
	return nil
}

// Check makes sure the Sender holds a working connection, within ctx's
// deadline: an open one must answer a reset (RSET), else it is replaced.
// It returns what Connect returns.
func (s *Sender) Check(ctx context.Context) error {
	if s.connected {
		release := s.bound(ctx)
		err := s.client.Reset()
		release()
		if err == nil {
			return nil
		}
		s.drop()
	}
	return s.Connect(ctx)
}

// Connected reports whether the Sender holds a connection.
func (s *Sender) Connected() bool { return s.connected }

// Send sends msg over the connection, connecting first when needed; no
// command runs past ctx's deadline. A connection found dead before any of
// msg was sent is replaced once. It returns nil once the server accepted
// the message, or a *DeliveryError saying whether the failure is permanent
// and what the server replied.
func (s *Sender) Send(ctx context.Context, msg *gomail.Msg) error {
	defer s.bound(ctx)()
	for try := 0; ; try++ {
		if err := s.Connect(ctx); err != nil {
			return err
		}
		err := s.client.Send(msg)
		if err == nil {
			return nil
		}
		if msg.IsDelivered() {
			// The server accepted the message; only the RSET after it failed.
			s.drop()
			return nil
		}
		de := classify(err)
		var se *gomail.SendError
		isSend := errors.As(err, &se)
		de.maybeAccepted = isSend && de.connection && de.Code == 0 && se.Reason == gomail.ErrSMTPDataClose
		if isSend && try == 0 && ctx.Err() == nil && (se.Reason == gomail.ErrConnCheck || (de.connection && beforeData(se.Reason))) {
			// The connection died while idle; nothing of msg was sent.
			s.drop()
			continue
		}
		if de.connection || !isSend || (se.Reason != gomail.ErrSMTPMailFrom && se.Reason != gomail.ErrSMTPRcptTo) {
			// go-mail resets the session after a refused sender or
			// recipient; after anything else start afresh.
			s.drop()
		}
		return de
	}
}

// beforeData reports whether a failure at that step of a transaction
// came before any of the message was sent.
func beforeData(r gomail.SendErrReason) bool {
	return r == gomail.ErrSMTPMailFrom || r == gomail.ErrSMTPRcptTo || r == gomail.ErrSMTPData
}

// drop closes the connection without waiting for the server's goodbye.
func (s *Sender) drop() {
	if !s.connected {
		return
	}
	s.connected = false
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
	_ = s.client.Close()
}

// Close says goodbye to the server and closes the connection, if any.
func (s *Sender) Close() error {
	if !s.connected {
		return nil
	}
	s.connected = false
	err := s.client.Close()
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
	return err
}

// DeliveryError is a failed attempt to deliver a message.
type DeliveryError struct {
	// Code is the SMTP reply code, or 0 when no reply came (the connection
	// failed).
	Code int
	// Reply is the server's reply, or the connection error, as text.
	Reply string
	// connection is set when the connection failed rather than the server
	// answering.
	connection bool
	// unsent is set when the server could not be reached at all: nothing
	// of the message was sent.
	unsent bool
	// maybeAccepted is set when the connection failed after the whole
	// message was sent, waiting for the server's reply to it: the server
	// may have accepted it, and nobody can tell.
	maybeAccepted bool
}

// MaybeAccepted reports whether the server may have accepted the message
// although the attempt failed: the connection broke while its reply to
// the end of the message was awaited (SMTP cannot say which way it went).
func (e *DeliveryError) MaybeAccepted() bool { return e.maybeAccepted }

func (e *DeliveryError) Error() string { return e.Reply }

// Permanent reports whether retrying cannot help: the server refused the
// message with a 5xx reply. A failure to connect or log in is never
// permanent for a message: it is the server's or the settings' fault.
func (e *DeliveryError) Permanent() bool {
	return !e.connection && e.Code >= 500 && e.Code < 600
}

// classify turns go-mail's error into a DeliveryError: a 5xx reply is
// permanent, a 4xx reply temporary, anything without a reply a connection
// failure (temporary).
func classify(err error) *DeliveryError {
	de := &DeliveryError{Code: replyCode(err), Reply: err.Error()}
	if de.Code == 0 || de.Code == 421 {
		// 421: the server is closing the connection.
		de.connection = true
	}
	return de
}

// replyCode finds the SMTP reply code in err: go-mail's SendError code, a
// textproto.Error, or 0.
func replyCode(err error) int {
	var se *gomail.SendError
	if errors.As(err, &se) {
		if c := se.ErrorCode(); c != 0 {
			return c
		}
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}
