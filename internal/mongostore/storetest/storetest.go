// Package storetest gives tests a real store: one embedded FerretDB server per
// test package (or the MongoDB server named by NOMINA_TEST_MONGODB_URI), and a
// fresh database per test, dropped when the test ends.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/igf/nomina/internal/mongostore"
)

var (
	mu      sync.Mutex
	client  *mongostore.Client
	dataDir string
	uri     string
)

// Main runs the package's tests with a shared store and stops it afterwards.
// Call it from TestMain: func TestMain(m *testing.M) { storetest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	mu.Lock()
	if client != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = client.Close(ctx)
		cancel()
	}
	if dataDir != "" {
		os.RemoveAll(dataDir)
	}
	mu.Unlock()
	os.Exit(code)
}

func shared(tb testing.TB) *mongostore.Client {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if client != nil {
		return client
	}
	opts := mongostore.Options{URI: os.Getenv("NOMINA_TEST_MONGODB_URI"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if opts.URI == "" {
		dir, err := os.MkdirTemp("", "nomina-store-")
		if err != nil {
			tb.Fatalf("temp dir: %v", err)
		}
		dataDir, opts.DataDir = dir, dir
	}
	c, err := mongostore.Connect(context.Background(), opts)
	if err != nil {
		tb.Fatalf("start store: %v", err)
	}
	client = c
	return c
}

// URI returns the address of the shared store, starting it when needed, so
// a test can open clients of its own (a second service instance).
func URI(tb testing.TB) string {
	tb.Helper()
	shared(tb)
	mu.Lock()
	defer mu.Unlock()
	if u := os.Getenv("NOMINA_TEST_MONGODB_URI"); u != "" {
		return u
	}
	if uri == "" {
		uri = client.EmbeddedURI()
	}
	return uri
}

// NewDatabase returns a fresh, empty database with every index created,
// dropped when the test ends.
func NewDatabase(tb testing.TB) *mongo.Database {
	tb.Helper()
	c := shared(tb)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	name := fmt.Sprintf("t_%s", hex.EncodeToString(b[:]))
	db := c.Database(name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Prepare(ctx, name); err != nil {
		tb.Fatalf("indexes: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = db.Drop(ctx)
	})
	return db
}

// Store returns the service's store over db as the service builds it:
// on the shared embedded store's own client, with the reader of its file
// (listings through its indexes); over any other client (a second
// instance), through the driver alone.
func Store(tb testing.TB, db *mongo.Database, log *slog.Logger) *mongostore.Store {
	tb.Helper()
	if c := shared(tb); c.Owns(db) {
		return c.NewStore(db.Name(), log)
	}
	return mongostore.New(db, log)
}

// NewStore returns a *mongostore.Store over a fresh database.
func NewStore(tb testing.TB) *mongostore.Store {
	tb.Helper()
	db := NewDatabase(tb)
	return shared(tb).NewStore(db.Name(), nil)
}

// Connect opens a second, independent client to the shared store (as a
// second service instance would) and returns the same-named database over it.
func Connect(tb testing.TB, dbName string) *mongo.Database {
	tb.Helper()
	return ConnectMonitored(tb, dbName, nil)
}

// ConnectMonitored is Connect with every command counted by mon.
func ConnectMonitored(tb testing.TB, dbName string, mon *mongostore.CommandMonitor) *mongo.Database {
	tb.Helper()
	c, err := mongostore.Connect(context.Background(), mongostore.Options{URI: URI(tb), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Monitor: mon})
	if err != nil {
		tb.Fatalf("second client: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close(context.Background()) })
	return c.Database(dbName)
}

// StoreMonitored opens a second, independent client to the shared store,
// every command counted by mon, and returns the store over dbName as a
// second service instance builds it (Client.NewStore: on the embedded
// store, with the reader of its file, once proved).
func StoreMonitored(tb testing.TB, dbName string, mon *mongostore.CommandMonitor) *mongostore.Store {
	tb.Helper()
	c, err := mongostore.Connect(context.Background(), mongostore.Options{URI: URI(tb), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Monitor: mon})
	if err != nil {
		tb.Fatalf("second client: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close(context.Background()) })
	return c.NewStore(dbName, nil)
}
