package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/igf/nomina/internal/workflow"
)

// The built-in workflows are the shipped folder's, and export writes them
// out whole, refusing to overwrite.
func TestWorkflowsExport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mine")
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"workflows", "export", dir}, func(string) string { return "" }, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("export: %d %s", code, errb.String())
	}
	exported, _, err := workflow.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	shipped, _, err := workflow.LoadDir("../../workflows")
	if err != nil {
		t.Fatal(err)
	}
	if len(exported.All()) != len(shipped.All()) || len(shipped.All()) < 2 {
		t.Fatalf("exported %d workflows, shipped %d", len(exported.All()), len(shipped.All()))
	}
	for _, name := range []string{"mag.yaml", "templates/review_request.txt"} {
		a, _ := os.ReadFile(filepath.Join(dir, name))
		b, _ := os.ReadFile(filepath.Join("../../workflows", name))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs from the shipped file", name)
		}
	}
	errb.Reset()
	if code := run(t.Context(), []string{"workflows", "export", dir}, func(string) string { return "" }, strings.NewReader(""), &out, &errb); code == 0 || !strings.Contains(errb.String(), "exists") {
		t.Fatalf("a second export over the first: %d %s", code, errb.String())
	}
}

// Only the default folder falls back to the built-in workflows: a folder
// named in the settings that is missing stops the service.
func TestWorkflowFilesFallback(t *testing.T) {
	t.Chdir(t.TempDir())
	if _, label, builtin := workflowFiles(defaultWorkflowsDir); !builtin || label != builtinLabel {
		t.Fatalf("no workflows folder: %s %v, want the built-in ones", label, builtin)
	}
	if _, err := loadWorkflows(defaultWorkflowsDir, env{stderr: &bytes.Buffer{}}); err != nil {
		t.Fatalf("built-in workflows: %v", err)
	}
	if _, err := loadWorkflows("elsewhere", env{stderr: &bytes.Buffer{}}); err == nil {
		t.Fatal("a missing folder named in the settings was accepted")
	}
	if err := os.MkdirAll(filepath.Join(defaultWorkflowsDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, builtin := workflowFiles(defaultWorkflowsDir); builtin {
		t.Fatal("a workflows folder is there, yet the built-in ones are used")
	}
}
