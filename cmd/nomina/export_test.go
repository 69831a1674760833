package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/nomination"
)

// seedCall writes a call with n drafts into the embedded store in dir, then
// closes it, as a service would have left it.
func seedCall(t *testing.T, dir string, n int) {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	client, err := mongostore.Connect(ctx, mongostore.Options{DataDir: dir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close(ctx)
	store := mongostore.New(client.Database("nomina"), log)
	if err := store.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	reg, err := loadWorkflows("../../workflows", env{stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	noms := store.Nominations()
	svc := nomination.New(nomination.Config{Store: noms, Files: noms, Workflows: reg, BaseURL: "http://x", Logger: log})
	staff := nomination.Actor{UserID: "sec", Roles: []string{"secretariat"}}
	title, seats := "MAG 2027", 40
	opens, closes, term := time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := svc.CreateCall(ctx, staff, nomination.CallInput{Slug: "mag-2027", Title: &title, Workflow: "mag", OpensAt: &opens, ClosesAt: &closes, TermStart: &term, Seats: &seats}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		cand := nomination.Actor{UserID: "u" + string(rune('a'+i)), Name: "Candidate " + string(rune('A'+i)), Email: string(rune('a'+i)) + "@example.org", Roles: []string{"candidate"}}
		if _, err := svc.Create(ctx, cand, "mag-2027", nomination.NominationInput{Fields: map[string]any{"stakeholder_group": "government", "organization": "=cmd|' /C calc'!A0"}}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestExportCommandWritesTheCall(t *testing.T) {
	dir := t.TempDir()
	seedCall(t, dir, 3)
	out := filepath.Join(t.TempDir(), "mag.csv")
	var stderr bytes.Buffer
	vals := map[string]string{"NOMINA_DATA_DIR": dir, "NOMINA_WORKFLOWS_DIR": "../../workflows"}
	e := env{getenv: func(k string) string { return vals[k] }, stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr}
	code := runEnv(context.Background(), []string{"export", "--call", "mag-2027", "--state", "draft", "--format", "csv", "-o", out, "--config", "../../config/nomina.yaml"}, e)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want header + 3", len(rows))
	}
	if !strings.Contains(strings.Join(rows[1], ","), "'=cmd") {
		t.Fatalf("formula not neutralised: %v", rows[1])
	}
	if !strings.Contains(stderr.String(), "wrote 3 nominations") {
		t.Fatalf("stderr: %s", stderr.String())
	}
	// A bad format is a usage error.
	if code := runEnv(context.Background(), []string{"export", "--call", "mag-2027", "--format", "pdf"}, e); code != 2 {
		t.Fatalf("bad format: exit %d", code)
	}
}
