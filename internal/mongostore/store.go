// Package mongostore keeps Nomina's records in MongoDB through the official
// driver (go.mongodb.org/mongo-driver/v2): it starts the embedded FerretDB
// store when no server is configured, creates indexes, translates driver
// errors into the domain's, and implements the stores the domain declares.
//
// Every change that can race commits with an insert of a unique _id, never a
// conditional update: on the embedded store only unique inserts are atomic.
package mongostore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/igf/nomina/internal/nomination"
)

// Options says which server to use and how.
type Options struct {
	// URI of a MongoDB server; empty starts the embedded store in DataDir.
	URI      string
	DataDir  string
	Database string
	Logger   *slog.Logger
	// Monitor, when set, observes every command (metrics, round-trip counts).
	Monitor *CommandMonitor
	// EmbeddedListen, host:port, opens the embedded store to other
	// instances over TLS with client certificates; see EmbeddedOptions.
	EmbeddedListen string
}

// Client is a connection to the store: the driver client, and the embedded
// server when one was started.
type Client struct {
	client   *mongo.Client
	embedded *Embedded
	// sharedDir is the data directory of the embedded store another
	// instance runs, when the URI points into one (see sharedreader.go).
	sharedDir string
	log       *slog.Logger
}

// Connect connects to the configured server, or starts the embedded store
// first. It does not wait for the server to answer: a server that is down
// makes Ping fail until it appears, while the driver keeps trying.
func Connect(ctx context.Context, opts Options) (*Client, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	c := &Client{log: log}
	uri := opts.URI
	co := options.Client()
	if uri == "" {
		emb, err := StartEmbedded(ctx, opts.DataDir, EmbeddedOptions{Listen: opts.EmbeddedListen}, log)
		if err != nil {
			return nil, err
		}
		c.embedded = emb
		uri = emb.URI()
		co.SetMaxPoolSize(32)
	} else {
		co.SetWriteConcern(writeconcern.Majority()).SetRetryWrites(true).SetRetryReads(true)
		c.sharedDir = embeddedDirOf(uri)
	}
	co.ApplyURI(uri).
		SetAppName("nomina").
		SetServerSelectionTimeout(5 * time.Second).
		SetConnectTimeout(5 * time.Second).
		SetTimeout(30 * time.Second)
	if opts.Monitor != nil {
		co.SetMonitor(opts.Monitor.driverMonitor())
	}
	cl, err := mongo.Connect(co)
	if err != nil {
		if c.embedded != nil {
			c.embedded.Close()
		}
		return nil, fmt.Errorf("connect to store: %w", err)
	}
	c.client = cl
	return c, nil
}

// Database returns the named database.
func (c *Client) Database(name string) *mongo.Database { return c.client.Database(name) }

// Ping checks that the server answers within ctx.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.client.Ping(ctx, readpref.Primary()); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}

// Close disconnects and stops the embedded store, if any.
func (c *Client) Close(ctx context.Context) error {
	err := c.client.Disconnect(ctx)
	if c.embedded != nil {
		c.embedded.Close()
	}
	return err
}

// Store is the set of collections Nomina keeps in one database.
type Store struct {
	db  *mongo.Database
	log *slog.Logger
	// sql, on the embedded store, reads its file for the listings that
	// FerretDB would answer by scanning; nil elsewhere.
	sql *sqlReader
	// calls caches calls for this instance (see callCacheTTL).
	calls *callCache
	// members caches the directory's lists (see memberCacheTTL).
	members *memberCache
	// mailWake tells this instance's mail workers of new jobs.
	mailWake chan struct{}
	// mailTidy paces the removal of finished schedule entries.
	mailTidy *mailTidy
}

// New returns the store over db.
func New(db *mongo.Database, log *slog.Logger) *Store {
	if log == nil {
		log = slog.Default()
	}
	return &Store{db: db, log: log, calls: newCallCache(), members: newMemberCache(), mailWake: make(chan struct{}, 1), mailTidy: &mailTidy{}}
}

// NewStore returns the store over the named database. On the embedded
// store it also reads the database's SQLite file for listings (see
// sqlindex.go), and so does another instance on this machine that reaches
// that store through its URI, once the file is proved to be the store's
// (see sharedreader.go); elsewhere it is New(c.Database(name), log).
func (c *Client) NewStore(name string, log *slog.Logger) *Store {
	s := New(c.Database(name), log)
	if c.embedded == nil && c.sharedDir != "" {
		s.sql = sharedReader(s.db, c.sharedDir, s.log)
	}
	if c.embedded != nil {
		r, err := openSQLReader(filepath.Join(c.embedded.dir, name+".sqlite"))
		if err != nil {
			s.log.Warn("listings scan the embedded store: its file could not be opened", "err", err)
			return s
		}
		s.sql = r
	}
	return s
}

// Owns reports whether db is reached through this client.
func (c *Client) Owns(db *mongo.Database) bool { return db.Client() == c.client }

// DB returns the underlying database.
func (s *Store) DB() *mongo.Database { return s.db }

// Index describes one secondary index of a collection.
type Index struct {
	Collection string
	Keys       bson.D
	Unique     bool
}

var (
	indexMu sync.Mutex
	indexes []Index
)

// registerIndexes adds the indexes a file of this package needs; each file
// declares its own from an init function, so EnsureIndexes knows them all.
func registerIndexes(ix ...Index) {
	indexMu.Lock()
	defer indexMu.Unlock()
	indexes = append(indexes, ix...)
}

// EnsureIndexes creates every collection's indexes. It is idempotent: an
// index that exists already is left as it is.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	indexMu.Lock()
	ix := append([]Index(nil), indexes...)
	indexMu.Unlock()
	for _, i := range ix {
		m := mongo.IndexModel{Keys: i.Keys}
		if i.Unique {
			m.Options = options.Index().SetUnique(true)
		}
		if _, err := s.db.Collection(i.Collection).Indexes().CreateOne(ctx, m); err != nil {
			return fmt.Errorf("create index on %s %v: %w", i.Collection, i.Keys, err)
		}
	}
	return nil
}

// translate maps driver errors to the domain's: no document is ENOTFOUND, a
// duplicate key ECONFLICT; op names the operation for the log.
func translate(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return fmt.Errorf("%s: %w", op, &nomination.Error{Code: nomination.ENOTFOUND, Message: "not found"})
	case mongo.IsDuplicateKeyError(err):
		return fmt.Errorf("%s: %w", op, &nomination.Error{Code: nomination.ECONFLICT, Message: "already exists"})
	case errors.Is(err, context.DeadlineExceeded), mongo.IsTimeout(err), mongo.IsNetworkError(err):
		return fmt.Errorf("%s: %w: %w", op, &nomination.Error{Code: nomination.EUNAVAILABLE, Message: "the store is not available"}, err)
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}

// EmbeddedURI returns the address of the embedded server's unix socket,
// or "" when the client talks to an external one.
func (c *Client) EmbeddedURI() string {
	if c.embedded == nil {
		return ""
	}
	return c.embedded.URI()
}

// EmbeddedRemoteURI returns the TLS URI other instances use to reach the
// embedded server (also written to RemoteURIFile in the data directory),
// or "" when it has no TLS listener.
func (c *Client) EmbeddedRemoteURI() string {
	if c.embedded == nil {
		return ""
	}
	return c.embedded.RemoteURI()
}

// isNamespaceExists reports a "collection already exists" error (code 48).
func isNamespaceExists(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && ce.Code == 48
}
