package mongostore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Embedded is a FerretDB server (SQLite backend) running inside this
// process. It listens on a unix socket that only the service's own user can
// reach, and on no TCP port unless EmbeddedOptions.Listen asks for one, which
// then takes TLS connections with a client certificate only.
//
// Why: a loopback TCP port without authentication let any local user read
// password hashes and mailed links, and make themselves administrator.
type Embedded struct {
	fdb       *ferretdb.FerretDB
	cancel    context.CancelFunc
	done      chan struct{}
	dir       string
	socket    string
	tempDir   string // the socket's folder when it is under os.TempDir(), removed at Close
	unlock    func()
	closeOnce sync.Once
	remoteURI string // TLS URI for other instances; "" without a TLS listener
}

// EmbeddedOptions are the embedded store's optional listeners.
type EmbeddedOptions struct {
	// Listen, host:port, opens a TLS listener for other instances that
	// requires a client certificate issued by the store's own CA; the URI
	// they use is written to the data directory (see RemoteURIFile).
	// Empty: no TCP port at all.
	Listen string
}

const (
	// privateDirName is the 0700 folder in the data directory holding the
	// socket (when its path is short enough) and the lock.
	privateDirName = "embedded-store"
	socketName     = "mongodb.sock" // the driver takes a host ending in "sock" for a socket path
	lockName       = "lock"
	// RemoteURIFile is the file in the data directory holding the URI
	// other instances use to reach the embedded store over TLS.
	RemoteURIFile = "embedded-store.uri"
	// maxSocketPath is the longest socket path every unix accepts:
	// sun_path holds 104 bytes on macOS and the BSDs (108 on Linux),
	// the terminating NUL included.
	maxSocketPath = 103
)

// StartEmbedded starts FerretDB with its files under dir (created, or
// restricted, 0700) and returns once its socket takes connections. Its logs
// go to log at warn level and above.
//
// It fails when another running process uses the same data directory: two
// servers on one set of SQLite files would each trust their own view of it.
func StartEmbedded(ctx context.Context, dir string, opts EmbeddedOptions, log *slog.Logger) (*Embedded, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("data directory %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	// SQLite creates the store's files readable by all (0644): only the
	// directory keeps other users from reading password hashes there.
	if fi, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	} else if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		if err := os.Chmod(abs, 0o700); err != nil {
			return nil, fmt.Errorf("restrict the data directory %s to its owner: %w", abs, err)
		}
		log.Warn("restricted the data directory to its owner: it holds the embedded store's files", "dir", abs, "mode_was", perm.String())
	}
	private := filepath.Join(abs, privateDirName)
	if err := privateDir(private); err != nil {
		return nil, err
	}
	socket, err := socketPath(abs)
	if err != nil {
		return nil, err
	}
	unlock, err := lockDir(filepath.Join(private, lockName))
	if errors.Is(err, errLocked) {
		return nil, fmt.Errorf("the data directory %s is in use by another running instance (its embedded store holds %s): stop it, or reach its store from this one with NOMINA_MONGODB_URI=%s",
			abs, filepath.Join(private, lockName), socketURI(socket))
	}
	if err != nil {
		return nil, fmt.Errorf("lock the data directory: %w", err)
	}
	fail := func(err error) (*Embedded, error) {
		unlock()
		return nil, err
	}
	if err := clearStaleSocket(socket, log); err != nil {
		return fail(err)
	}

	lc := ferretdb.ListenerConfig{Unix: socket}
	var certs *tlsFiles
	if opts.Listen != "" {
		host, _, err := net.SplitHostPort(opts.Listen)
		if err != nil {
			return fail(fmt.Errorf("embedded store listen address %q: %w", opts.Listen, err))
		}
		if certs, err = ensureTLSFiles(filepath.Join(abs, tlsDirName), host, time.Now()); err != nil {
			return fail(err)
		}
		// FerretDB's TLS listener with a CA file requires and verifies a
		// client certificate (tls.RequireAndVerifyClientCert, in
		// internal/util/tlsutil of v1.24.2): no certificate from our CA, no
		// connection.
		lc.TLS, lc.TLSCertFile, lc.TLSKeyFile, lc.TLSCAFile = opts.Listen, certs.serverCert, certs.serverKey, certs.caCert
	} else if err := os.Remove(filepath.Join(abs, RemoteURIFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		// A URI left from a run with a TLS listener points at nothing now.
		return fail(fmt.Errorf("remove %s: %w", RemoteURIFile, err))
	}

	h := &levelHandler{min: slog.LevelWarn, next: log.With("component", "ferretdb").Handler()}
	fdb, err := ferretdb.New(&ferretdb.Config{
		Listener:  lc,
		Handler:   "sqlite",
		SQLiteURL: "file:" + filepath.ToSlash(abs) + "/",
		Logger:    slog.New(h),
	})
	if err != nil {
		return fail(fmt.Errorf("start embedded store: %w", err))
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e := &Embedded{fdb: fdb, cancel: cancel, done: make(chan struct{}), dir: abs, socket: socket, unlock: unlock}
	if filepath.Dir(socket) != private {
		e.tempDir = filepath.Dir(socket)
	}
	go func() {
		defer close(e.done)
		_ = fdb.Run(runCtx)
	}()
	// The socket is created with the process's umask; its folder (0700)
	// already keeps other users out, and 0600 says so on the file itself.
	if err := os.Chmod(socket, 0o600); err != nil {
		e.Close()
		return nil, fmt.Errorf("restrict the embedded store's socket: %w", err)
	}
	// No need to wait for it: ferretdb.New has bound the socket already, so
	// a client's connection waits in its backlog until Run accepts it.
	if certs != nil {
		// FerretDB's URI names the TLS listener's actual address (the
		// port may have been 0).
		fu, err := url.Parse(fdb.MongoDBURI())
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("embedded store TLS address: %w", err)
		}
		_, port, _ := net.SplitHostPort(fu.Host)
		e.remoteURI = certs.uri(net.JoinHostPort(uriHost(opts.Listen), port))
		file := filepath.Join(abs, RemoteURIFile)
		if err := writeFileAtomic(file, []byte(e.remoteURI+"\n")); err != nil {
			e.Close()
			return nil, err
		}
		log.Info("embedded store open to other instances over TLS with client certificates",
			"addr", fu.Host, "uri_file", file)
	}
	return e, nil
}

// URI returns the mongodb:// URI of the embedded server's unix socket.
func (e *Embedded) URI() string { return socketURI(e.socket) }

// SocketPath returns the path of the embedded server's unix socket.
func (e *Embedded) SocketPath() string { return e.socket }

// RemoteURI returns the URI other instances use over TLS (certificate
// paths included), or "" when no TLS listener was asked for.
func (e *Embedded) RemoteURI() string { return e.remoteURI }

// Close stops the server, waits for it to release its files and unlocks
// the data directory. Calling it again does nothing.
func (e *Embedded) Close() {
	e.closeOnce.Do(func() {
		e.cancel()
		<-e.done // the listener is closed: the socket file is gone
		if e.tempDir != "" {
			_ = os.Remove(e.tempDir) // only when empty
		}
		e.unlock()
	})
}

// EmbeddedSocketURI returns the URI of the unix socket the embedded store
// started on data directory dir listens on (whether or not it runs), for a
// client in another process of the same user.
func EmbeddedSocketURI(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	p, err := socketPath(abs)
	if err != nil {
		return "", err
	}
	return socketURI(p), nil
}

// socketURI is the driver's form of a socket path: the path, escaped, as
// the host.
func socketURI(path string) string {
	return "mongodb://" + url.QueryEscape(path) + "/?directConnection=true"
}

// socketPath returns where the socket of the store in data directory abs
// lives: in the data directory's private folder, or, when that path is too
// long for a socket address or holds a character the driver's URI parser
// misreads (':'), in a private 0700 folder under the system's temporary
// directory named after the data directory, so it stays the same across
// runs and a stale socket is found again.
func socketPath(abs string) (string, error) {
	p := filepath.Join(abs, privateDirName, socketName)
	if len(p) <= maxSocketPath && !strings.Contains(p, ":") {
		return p, nil
	}
	sum := sha256.Sum256([]byte(abs))
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("nomina-%d-%s", os.Getuid(), hex.EncodeToString(sum[:8])))
	p = filepath.Join(dir, socketName)
	if len(p) > maxSocketPath || strings.Contains(p, ":") {
		return "", fmt.Errorf("no usable path for the embedded store's socket: %s and %s are longer than %d bytes; use a shorter NOMINA_DATA_DIR or TMPDIR",
			filepath.Join(abs, privateDirName, socketName), p, maxSocketPath)
	}
	if err := privateDir(dir); err != nil {
		return "", err
	}
	return p, nil
}

// privateDir makes dir a folder only this user can enter: created 0700,
// and refused when it is a symbolic link or someone else's (a folder
// planted in a shared temporary directory).
func privateDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory: the embedded store keeps its socket there", dir)
	}
	if !ownedByMe(fi) {
		return fmt.Errorf("%s belongs to another user: the embedded store keeps its socket there", dir)
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("restrict %s to its owner: %w", dir, err)
		}
	}
	return nil
}

// clearStaleSocket removes a socket a crashed run left behind, which would
// make listening fail, and refuses to touch one that still answers.
func clearStaleSocket(path string, log *slog.Logger) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s is not a socket: remove it, the embedded store listens there", path)
	}
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("another process answers on the embedded store's socket %s: a second store on the same data directory is refused; stop it, or reach it with NOMINA_MONGODB_URI=%s",
			path, socketURI(path))
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove the stale socket %s: %w", path, err)
	}
	log.Info("removed a stale embedded store socket left by an earlier run", "socket", path)
	return nil
}

// uriHost is the host other instances name in the URI: the listen host,
// or, when it listens on every interface, this machine's name when that
// resolves, else loopback (the certificate covers all of them).
func uriHost(listen string) string {
	host, _, _ := net.SplitHostPort(listen)
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return host
	}
	if name, err := os.Hostname(); err == nil && name != "" {
		if _, err := net.LookupHost(name); err == nil {
			return name
		}
	}
	return "127.0.0.1"
}

// levelHandler drops records below min before they reach next.
type levelHandler struct {
	min  slog.Level
	next slog.Handler
}

func (h *levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.next.Enabled(ctx, l)
}
func (h *levelHandler) Handle(ctx context.Context, r slog.Record) error {
	// FerretDB dumps the wire messages of commands it does not implement
	// (such as endSessions at disconnect) at warn level; they are noise.
	if strings.HasPrefix(r.Message, "Response header") || strings.HasPrefix(r.Message, "Response message") ||
		strings.HasPrefix(r.Message, "Request header") || strings.HasPrefix(r.Message, "Request message") {
		return nil
	}
	return h.next.Handle(ctx, r)
}
func (h *levelHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return &levelHandler{min: h.min, next: h.next.WithAttrs(a)}
}
func (h *levelHandler) WithGroup(name string) slog.Handler {
	return &levelHandler{min: h.min, next: h.next.WithGroup(name)}
}
