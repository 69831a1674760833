package mongostore

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Embedded is a FerretDB server (SQLite backend) running inside this
// process, listening on a loopback port.
type Embedded struct {
	fdb    *ferretdb.FerretDB
	cancel context.CancelFunc
	done   chan struct{}
	uri    string
	dir    string
}

// StartEmbedded starts FerretDB with its files under dir (created 0700 if
// missing) and waits until it accepts connections. Its logs go to log at
// warn level and above.
func StartEmbedded(ctx context.Context, dir string, log *slog.Logger) (*Embedded, error) {
	return StartEmbeddedOn(ctx, dir, "127.0.0.1:0", log)
}

// StartEmbeddedOn is StartEmbedded listening on addr, a loopback host:port.
func StartEmbeddedOn(ctx context.Context, dir, addr string, log *slog.Logger) (*Embedded, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("data directory %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	h := &levelHandler{min: slog.LevelWarn, next: log.With("component", "ferretdb").Handler()}
	fdb, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + filepath.ToSlash(abs) + "/",
		Logger:    slog.New(h),
	})
	if err != nil {
		return nil, fmt.Errorf("start embedded store: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e := &Embedded{fdb: fdb, cancel: cancel, done: make(chan struct{}), dir: abs}
	go func() {
		defer close(e.done)
		_ = fdb.Run(runCtx)
	}()
	e.uri = fdb.MongoDBURI()
	// Wait until the listener answers, so the first request does not race it.
	pu, err := url.Parse(e.uri)
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("embedded store address %q: %w", e.uri, err)
	}
	host := pu.Host
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", host, time.Second)
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			e.Close()
			return nil, fmt.Errorf("embedded store did not start listening: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return e, nil
}

// URI returns the mongodb:// URI of the embedded server.
func (e *Embedded) URI() string { return e.uri + "?directConnection=true" }

// Close stops the server and waits for it to release its files.
func (e *Embedded) Close() {
	e.cancel()
	<-e.done
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
