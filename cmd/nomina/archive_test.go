package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/workflow"
)

// A version of a workflow the service ran once stays available after its
// file changes, for the nominations that started under it.
func TestWorkflowArchiveKeepsOldVersions(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	client, err := mongostore.Connect(ctx, mongostore.Options{DataDir: t.TempDir(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close(ctx)
	if err := client.Prepare(ctx, "nomina"); err != nil {
		t.Fatal(err)
	}
	archive := mongostore.New(client.Database("nomina"), log).Workflows()
	templates, _, err := workflow.LoadTemplates("../../workflows/templates")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../../workflows/mag.yaml")
	if err != nil {
		t.Fatal(err)
	}
	v1, diags := workflow.Parse("mag.yaml", src, templates)
	if v1 == nil {
		t.Fatalf("mag.yaml: %v", diags)
	}
	// The service runs version 1 for a while.
	if err := syncWorkflowArchive(ctx, archive, workflow.NewRegistry(v1), templates, log); err != nil {
		t.Fatal(err)
	}
	// The file is changed to the next version and the service restarts.
	old := fmt.Sprintf("\nversion: %d\n", v1.Version)
	v2, diags := workflow.Parse("mag.yaml", bytes.Replace(src, []byte(old), []byte(fmt.Sprintf("\nversion: %d\n", v1.Version+1)), 1), templates)
	if v2 == nil || v2.Version != v1.Version+1 {
		t.Fatalf("version %d: %v", v1.Version+1, diags)
	}
	reg := workflow.NewRegistry(v2)
	if _, ok := reg.Get("mag", v1.Version, v1.Hash); ok {
		t.Fatal("the new registry holds the old version before the sync")
	}
	if err := syncWorkflowArchive(ctx, archive, reg, templates, log); err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Get("mag", v1.Version, v1.Hash); !ok {
		t.Fatal("the old version was not restored from the archive")
	}
	if latest, _ := reg.Latest("mag"); latest.Version != v1.Version+1 {
		t.Fatalf("latest is version %d", latest.Version)
	}
}
