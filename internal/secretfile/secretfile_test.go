package secretfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	if err := os.WriteFile(path, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path, 4, "a key")
	if err != nil || string(got) != "0123" {
		t.Fatalf("Read = %q, %v; want the first 4 bytes", got, err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o610, 0o602} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(path, 4, "a key"); err == nil || !strings.Contains(err.Error(), "holds a key and must be 0600") {
			t.Fatalf("mode %o: err %v, want a refusal naming what it holds", mode, err)
		}
	}
	if _, err := Read(filepath.Join(dir, "missing"), 4, "a key"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want fs.ErrNotExist", err)
	}
}
