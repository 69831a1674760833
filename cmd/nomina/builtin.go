package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/igf/nomina/internal/mail"
	"github.com/igf/nomina/internal/workflow"
	"github.com/igf/nomina/workflows"
)

// defaultWorkflowsDir is the workflows folder looked for when
// NOMINA_WORKFLOWS_DIR is not set.
const defaultWorkflowsDir = "workflows"

// builtinLabel names the built-in workflows in logs and diagnostics.
const builtinLabel = "(built-in)"

// workflowFiles returns the workflow files to use: the folder dir when it
// exists; else, for the default folder only, the workflows built into the
// binary (builtin true). A folder named in the settings that is missing is
// an error reported by the loader, never silently replaced.
func workflowFiles(dir string) (fsys fs.FS, label string, builtin bool) {
	if dir == defaultWorkflowsDir {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return workflows.Files, builtinLabel, true
		}
	}
	return os.DirFS(dir), dir, false
}

// workflowFilesOf is workflowFiles without the flag.
func workflowFilesOf(dir string) (fs.FS, string) {
	fsys, label, _ := workflowFiles(dir)
	return fsys, label
}

// loadMailTemplates reads the email templates of the workflow files.
func loadMailTemplates(fsys fs.FS) (*mail.Templates, error) {
	sub, err := fs.Sub(fsys, workflow.TemplatesDir)
	if err != nil {
		return nil, err
	}
	return mail.LoadTemplates(sub)
}

// exportWorkflows writes the built-in workflows into dir (created when
// missing) to edit; it refuses to overwrite a file that is there.
func exportWorkflows(dir string) ([]string, error) {
	var written []string
	err := fs.WalkDir(workflows.Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := fs.ReadFile(workflows.Files, p)
		if err != nil {
			return err
		}
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s exists: export into an empty folder", target)
		}
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		written = append(written, target)
		return nil
	})
	return written, err
}
