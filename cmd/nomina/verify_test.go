package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/nomination"
)

// withStore opens the embedded store in dir, runs f and closes it again,
// as a service would have left it.
func withStore(t *testing.T, dir string, f func(*mongo.Database, *nomination.Service)) {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	client, err := mongostore.Connect(ctx, mongostore.Options{DataDir: dir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close(ctx)
	db := client.Database("nomina")
	store := mongostore.New(db, log)
	if err := store.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	reg, err := loadWorkflows("../../workflows", env{stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	noms := store.Nominations()
	f(db, nomination.New(nomination.Config{Store: noms, Files: noms, Workflows: reg, BaseURL: "http://x", Logger: log}))
}

func runVerify(t *testing.T, dir string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	vals := map[string]string{"NOMINA_DATA_DIR": dir, "NOMINA_WORKFLOWS_DIR": "../../workflows"}
	e := env{getenv: func(k string) string { return vals[k] }, stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}
	code := runEnv(context.Background(), []string{"verify", "--config", "../../config/nomina.yaml"}, e)
	return code, stdout.String(), stderr.String()
}

// `nomina verify` checks every nomination; one whose withdrawal event had
// its to state changed in the store fails, named with that event.
func TestVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	var ids []string
	withStore(t, dir, func(_ *mongo.Database, svc *nomination.Service) {
		ctx := context.Background()
		staff := nomination.Actor{UserID: "sec", Roles: []string{"secretariat"}}
		title, seats := "MAG 2027", 40
		opens, closes, term := time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
		if _, err := svc.CreateCall(ctx, staff, nomination.CallInput{Slug: "mag-2027", Title: &title, Workflow: "mag", OpensAt: &opens, ClosesAt: &closes, TermStart: &term, Seats: &seats}); err != nil {
			t.Fatal(err)
		}
		for _, who := range []string{"ana", "bob", "eve"} {
			cand := nomination.Actor{UserID: "u-" + who, Name: who, Email: who + "@example.org", Roles: []string{"candidate"}}
			v, err := svc.Create(ctx, cand, "mag-2027", nomination.NominationInput{Fields: map[string]any{"stakeholder_group": "government"}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Act(ctx, cand, v.Nomination.ID, "withdraw", nomination.ActionInput{}); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, v.Nomination.ID)
		}
	})
	code, stdout, stderr := runVerify(t, dir)
	if code != 0 || !strings.Contains(stdout, "3 nomination histories verify") {
		t.Fatalf("intact store: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}

	// Bob's withdrawal (event 2) now says it went to appointed, and Eve's
	// projection says she was appointed.
	withStore(t, dir, func(db *mongo.Database, _ *nomination.Service) {
		ctx := context.Background()
		if _, err := db.Collection("events").UpdateOne(ctx, bson.D{{Key: "_id", Value: nomination.EventID(ids[1], 2)}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "to", Value: "appointed"}}}}); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Body string `bson:"body"`
		}
		if err := db.Collection("nominations").FindOne(ctx, bson.D{{Key: "_id", Value: ids[2]}}).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		forged := strings.Replace(doc.Body, `"State":"withdrawn"`, `"State":"appointed"`, 1)
		if forged == doc.Body {
			t.Fatalf("no state in %s", doc.Body)
		}
		if _, err := db.Collection("nominations").UpdateOne(ctx, bson.D{{Key: "_id", Value: ids[2]}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "body", Value: forged}}}}); err != nil {
			t.Fatal(err)
		}
	})
	code, stdout, stderr = runVerify(t, dir)
	if code != 1 {
		t.Fatalf("tampered store: exit %d, want 1\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		id, rest, _ := strings.Cut(l, ": ")
		lines[id] = rest
	}
	if len(lines) != 2 || !strings.HasPrefix(lines[ids[1]], "first bad event 2: ") || !strings.Contains(lines[ids[1]], "altered") ||
		!strings.HasPrefix(lines[ids[2]], "first bad event 2: ") || !strings.Contains(lines[ids[2]], "State") {
		t.Fatalf("want a line for %s and %s, each at event 2:\n%s", ids[1], ids[2], stdout)
	}
	t.Logf("nomina verify:\n%s%s", stdout, stderr)
	if !strings.Contains(stderr, "2 of 3 nomination histories do not verify") {
		t.Fatalf("stderr: %s", stderr)
	}
}
