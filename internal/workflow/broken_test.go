package workflow

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBrokenFiles loads each file of testdata/broken, a copy of the MAG
// workflow with one mistake, and checks it is refused with the diagnostic
// its first line announces ("# want: LINE: text") at the right file:line.
func TestBrokenFiles(t *testing.T) {
	templates := mustShippedTemplates(t)
	paths, err := filepath.Glob(filepath.Join("testdata", "broken", "*.yaml"))
	if err != nil || len(paths) < 15 {
		t.Fatalf("broken files: %v (%d found)", err, len(paths))
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			line, want := wantHeader(t, data)
			d, diags := Parse(path, data, templates)
			if d != nil {
				t.Fatalf("broken file loaded; diagnostics: %v", diags)
			}
			prefix := fmt.Sprintf("%s:%d:", path, line)
			for _, dg := range diags {
				s := dg.String()
				if dg.Severity == SeverityError && strings.HasPrefix(s, prefix) && strings.Contains(s, want) {
					return
				}
			}
			t.Errorf("want an error %s... %q; got:\n%s", prefix, want, diagLines(diags))
		})
	}
}

func wantHeader(t *testing.T, data []byte) (int, string) {
	t.Helper()
	first, _, _ := bytes.Cut(data, []byte("\n"))
	rest, ok := strings.CutPrefix(string(first), "# want: ")
	if !ok {
		t.Fatalf("first line %q is not a # want: header", first)
	}
	num, text, ok := strings.Cut(rest, ": ")
	line, err := strconv.Atoi(num)
	if !ok || err != nil {
		t.Fatalf("bad header %q", first)
	}
	return line, text
}

// TestLoadFileBroken goes through LoadFile as `nomina workflows validate`
// does: a misspelt state in a copy of mag.yaml beside the shipped
// templates is refused, naming the file and line.
func TestLoadFileBroken(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(shippedDir, "mag.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	mustCopyDir(t, filepath.Join(shippedDir, TemplatesDir), filepath.Join(dir, TemplatesDir))
	broken := bytes.Replace(src, []byte("    to: shortlisted\n"), []byte("    to: shortlistd\n"), 1)
	path := filepath.Join(dir, "mag-copy.yaml")
	if err := os.WriteFile(path, broken, 0o644); err != nil {
		t.Fatal(err)
	}
	line := bytes.Count(broken[:bytes.Index(broken, []byte("to: shortlistd"))], []byte("\n")) + 1
	d, diags, err := LoadFile(path)
	if d != nil || err == nil {
		t.Fatalf("LoadFile = %v, %v; want refusal", d != nil, err)
	}
	want := fmt.Sprintf(`%s:%d:9: error: unknown state "shortlistd" in action "shortlist" to (did you mean "shortlisted"?)`, path, line)
	if len(diags) != 1 || diags[0].String() != want {
		t.Errorf("diagnostics:\n%s\nwant\n  %s", diagLines(diags), want)
	}
}

func mustCopyDir(tb testing.TB, from, to string) {
	tb.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			mustCopyDir(tb, filepath.Join(from, e.Name()), filepath.Join(to, e.Name()))
			continue
		}
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}
