package mongostore_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// The embedded store keeps what was written across a restart on the same
// data directory.
func TestEmbeddedStorePersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	open := func() *mongostore.Client {
		c, err := mongostore.Connect(ctx, mongostore.Options{DataDir: dir, Logger: quietLogger()})
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := c.Ping(pctx); err != nil {
			t.Fatalf("ping: %v", err)
		}
		return c
	}
	c := open()
	if _, err := c.Database("nomina").Collection("probe").InsertOne(ctx, bson.D{{Key: "_id", Value: "kept"}, {Key: "v", Value: 42}}); err != nil {
		t.Fatalf("insert: %v", err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	c = open()
	defer c.Close(ctx)
	var got struct {
		V int `bson:"v"`
	}
	if err := c.Database("nomina").Collection("probe").FindOne(ctx, bson.D{{Key: "_id", Value: "kept"}}).Decode(&got); err != nil {
		t.Fatalf("read after restart: %v", err)
	}
	if got.V != 42 {
		t.Fatalf("v = %d after restart, want 42", got.V)
	}
}

func TestEnsureIndexesIsIdempotent(t *testing.T) {
	s := storetest.NewStore(t)
	for i := 0; i < 2; i++ {
		if err := s.EnsureIndexes(context.Background()); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
	}
}

func TestFreshDatabasePerTest(t *testing.T) {
	a, b := storetest.NewDatabase(t), storetest.NewDatabase(t)
	if a.Name() == b.Name() {
		t.Fatalf("two tests share database %q", a.Name())
	}
	ctx := context.Background()
	if _, err := a.Collection("x").InsertOne(ctx, bson.D{{Key: "_id", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	err := b.Collection("x").FindOne(ctx, bson.D{{Key: "_id", Value: 1}}).Err()
	if !errors.Is(err, mongo.ErrNoDocuments) {
		t.Fatalf("second database sees the first's document: %v", err)
	}
}

// A server that is not there makes Ping fail with a reason instead of
// hanging; Connect itself succeeds so the service can start and wait.
func TestPingFailsWhenServerIsDown(t *testing.T) {
	c, err := mongostore.Connect(context.Background(), mongostore.Options{URI: "mongodb://127.0.0.1:1/?connectTimeoutMS=200&serverSelectionTimeoutMS=300", Logger: quietLogger()})
	if err != nil {
		t.Fatalf("connect should not fail eagerly: %v", err)
	}
	defer c.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := c.Ping(ctx); err == nil {
		t.Fatal("ping succeeded against a closed port")
	}
}
