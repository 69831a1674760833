package workflow

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestRegistryVersions(t *testing.T) {
	v1 := mustParse(t, baseYAML)
	v2 := mustParse(t, edit(t, "version: 1", "version: 2"))
	v1b := mustParse(t, edit(t, "title: Demo", "title: Demo, edited in place"))
	other := mustParse(t, edit(t, "id: demo", "id: another"))
	r := NewRegistry(v2, v1, other)
	r.Add(v1b)

	tests := []struct {
		name    string
		id      string
		version int
		hash    string
		want    *Definition
	}{
		{"exact v1", "demo", 1, v1.Hash, v1},
		{"exact v1 edited", "demo", 1, v1b.Hash, v1b},
		{"exact v2", "demo", 2, v2.Hash, v2},
		{"any hash", "demo", 2, "", v2},
		{"wrong hash", "demo", 2, v1.Hash, nil},
		{"unknown version", "demo", 3, "", nil},
		{"unknown id", "nope", 1, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := r.Get(tt.id, tt.version, tt.hash)
			if got != tt.want || ok != (tt.want != nil) {
				t.Errorf("Get = %v, %v", got, ok)
			}
		})
	}
	if latest, ok := r.Latest("demo"); !ok || latest != v2 {
		t.Errorf("Latest = version %d", latest.Version)
	}
	if _, ok := r.Latest("nope"); ok {
		t.Error("Latest of an unknown id")
	}
	all := r.All()
	if len(all) != 2 || all[0] != other || all[1] != v2 {
		t.Errorf("All = %v", all)
	}
	if vs := r.Versions("demo"); len(vs) != 3 || vs[0].Version != 1 || vs[2] != v2 {
		t.Errorf("Versions = %d", len(vs))
	}
	r.Add(v2) // the same again replaces, never duplicates
	if vs := r.Versions("demo"); len(vs) != 3 {
		t.Errorf("Versions after re-adding = %d", len(vs))
	}
	if v1.Hash == v1b.Hash || len(v1.Hash) != 64 {
		t.Errorf("hashes %q %q", v1.Hash, v1b.Hash)
	}
}

func TestLoadDir(t *testing.T) {
	write := func(t *testing.T, dir, name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setup := func(t *testing.T, files map[string]string) string {
		t.Helper()
		dir := t.TempDir()
		mustCopyDir(t, filepath.Join(shippedDir, TemplatesDir), filepath.Join(dir, TemplatesDir))
		for name, content := range files {
			write(t, dir, name, content)
		}
		return dir
	}
	mag, err := os.ReadFile(filepath.Join(shippedDir, "mag.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Whatever version the shipped file is at, the test names it 1 and 2.
	magV1 := regexp.MustCompile(`(?m)^version: \d+$`).ReplaceAllString(string(mag), "version: 1")
	magV2 := strings.Replace(magV1, "version: 1", "version: 2", 1)
	tests := []struct {
		name     string
		files    map[string]string
		versions int    // of mag, when loading succeeds
		wantErr  string // in a diagnostic, when it fails
	}{
		{"two versions kept side by side", map[string]string{"mag.yaml": magV2, "mag-v1.yaml": magV1}, 2, ""},
		{"one version twice", map[string]string{"mag.yaml": magV1, "mag-copy.yaml": magV1}, 0, "workflow mag@1 is also defined in"},
		{"one broken file stops everything", map[string]string{"mag.yaml": string(mag), "broken.yaml": "id: [\n"}, 0, "YAML syntax"},
		{"no workflow at all", map[string]string{}, 0, "no workflow files"},
		{"a template a workflow uses is broken", map[string]string{"mag.yaml": string(mag), "templates/review_request.txt": "no subject\n"}, 0, `the first line must be "Subject: ..."`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := setup(t, tt.files)
			reg, diags, err := LoadDir(dir)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("LoadDir: %v %v", err, diags)
				}
				if n := len(reg.Versions("mag")); n != tt.versions {
					t.Errorf("%d versions of mag, want %d", n, tt.versions)
				}
				if latest, _ := reg.Latest("mag"); latest.Version != 2 {
					t.Errorf("latest version %d", latest.Version)
				}
				return
			}
			if reg != nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("LoadDir = %v, %v; want refusal", reg != nil, err)
			}
			for _, d := range diags {
				if d.Severity == SeverityError && strings.Contains(d.Message, tt.wantErr) {
					return
				}
			}
			t.Errorf("no error containing %q:\n%s", tt.wantErr, diagLines(diags))
		})
	}
}

func TestLoadDirMissing(t *testing.T) {
	_, _, err := LoadDir(filepath.Join(t.TempDir(), "nowhere"))
	if err == nil {
		t.Fatal("LoadDir of a missing directory succeeded")
	}
}
