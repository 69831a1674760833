package web

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/goccy/go-yaml"

	"github.com/igf/nomina/internal/locale/localetest"
)

func TestLocalPath(t *testing.T) {
	cases := map[string]string{
		"/nominations":                  "/nominations",
		"/calls/mag?x=1":                "/calls/mag?x=1",
		"":                              "",
		"//evil.example":                "",
		"/\\evil.example":               "",
		"https://evil.example":          "",
		"javascript:alert(1)":           "",
		"/%2F%2Fevil.example":           "",
		"/%5Cevil.example":              "",
		"/%252F%252Fevil":               "",
		"%2F%2Fevil":                    "",
		"/\tevil":                       "",
		"/a\nb":                         "",
		"/\x00":                         "",
		"http:/evil.example":            "",
		"/" + strings.Repeat("a", 3000): "",
	}
	for in, want := range cases {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzLocalPath: whatever comes in, what comes out stays on this site.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/a", "//b", "/\\c", "/%2f%2fd", "http://e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := localPath(s)
		if out == "" {
			return
		}
		if !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") || strings.ContainsAny(out, "\\") {
			t.Fatalf("localPath(%q) = %q leaves the site", s, out)
		}
	})
}

var (
	actionPattern = regexp.MustCompile(`(?s)\{\{.*?\}\}`)
	tagPattern    = regexp.MustCompile(`(?s)<[^>]*>`)
	idPattern     = regexp.MustCompile(`\bt \$?[.A-Za-z]*L "([A-Za-z_]+)"`)
)

// Templates hold message ids, never words: once the template actions and
// the tags are taken out, no letter is left.
func TestTemplatesHoldNoWords(t *testing.T) {
	files, _ := fs.Glob(templateFiles, "templates/*.tmpl")
	for _, f := range files {
		b, _ := templateFiles.ReadFile(f)
		text := tagPattern.ReplaceAllString(actionPattern.ReplaceAllString(string(b), ""), "")
		for _, r := range text {
			if unicode.IsLetter(r) {
				t.Errorf("%s: words outside the catalog: %q", f, strings.Join(strings.Fields(text), " "))
				break
			}
		}
	}
}

// Every message id a template or page names is in the English catalog,
// and every language has every message of it, with its plural forms.
func TestCatalogHasEveryMessage(t *testing.T) {
	raw, err := localeFiles.ReadFile("locales/active.en.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var catalog map[string]any
	if err := yaml.Unmarshal(raw, &catalog); err != nil {
		t.Fatal(err)
	}
	used := usedMessages(t)
	if len(used) < 50 {
		t.Fatalf("found only %d message ids in the templates", len(used))
	}
	for id := range used {
		if _, ok := catalog[id]; !ok {
			t.Errorf("message %s is used but not in the catalog", id)
		}
	}
	sub, _ := fs.Sub(localeFiles, "locales")
	localetest.Check(t, sub)
	c, err := newCatalog(nil)
	if err != nil {
		t.Fatal(err)
	}
	L := c.For("de-CH, ja;q=0.8")
	if L.Lang != "en" || L.Dir != "ltr" {
		t.Fatalf("fallback language %s %s", L.Lang, L.Dir)
	}
	if got := L.N("CountRemaining", 1); got != "You have 1 character remaining" {
		t.Fatalf("plural one: %q", got)
	}
	if got := L.N("CountRemaining", 3); got != "You have 3 characters remaining" {
		t.Fatalf("plural other: %q", got)
	}
}

// usedMessages returns the message ids the templates and the pages' code
// name.
func usedMessages(t *testing.T) map[string]bool {
	t.Helper()
	used := map[string]bool{}
	files, _ := fs.Glob(templateFiles, "templates/*.tmpl")
	for _, f := range files {
		b, _ := templateFiles.ReadFile(f)
		for _, m := range idPattern.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
	}
	goFiles, _ := filepath.Glob("*.go")
	goID := regexp.MustCompile(`(?:L\.(?:T|N)|rq\.tag)\("([A-Za-z_]+)"()|\.fail\(http\.Status[A-Za-z]+, "([A-Za-z_]+)", "([A-Za-z_]+)"|\.tooMany\(err, "([A-Za-z_]+)"`)
	for _, f := range goFiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, _ := os.ReadFile(f)
		for _, m := range goID.FindAllStringSubmatch(string(b), -1) {
			for _, id := range m[1:] {
				if id != "" {
					used[id] = true
				}
			}
		}
	}
	return used
}

// The catalogs hold no message nobody uses (other than those named by a
// machine name, such as State_draft), so that no translation is wasted.
func TestCatalogHasNoUnusedMessage(t *testing.T) {
	raw, _ := localeFiles.ReadFile("locales/active.en.yaml")
	var catalog map[string]any
	if err := yaml.Unmarshal(raw, &catalog); err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	goFiles, _ := filepath.Glob("*.go")
	for _, f := range goFiles {
		if !strings.HasSuffix(f, "_test.go") {
			b, _ := os.ReadFile(f)
			src.Write(b)
		}
	}
	files, _ := fs.Glob(templateFiles, "templates/*.tmpl")
	for _, f := range files {
		b, _ := templateFiles.ReadFile(f)
		src.Write(b)
	}
	code := src.String()
	prefixes := regexp.MustCompile(`"([A-Z][A-Za-z]*_)"\s*\+`).FindAllStringSubmatch(code, -1)
	for id := range catalog {
		if strings.Contains(code, `"`+id+`"`) {
			continue
		}
		named := false
		for _, p := range prefixes {
			named = named || strings.HasPrefix(id, p[1])
		}
		if !named {
			t.Errorf("message %s is in the catalog but no page uses it", id)
		}
	}
}

// A wait is said in the unit a person would use, rounded up.
func TestWaitWords(t *testing.T) {
	c, err := newCatalog(nil)
	if err != nil {
		t.Fatal(err)
	}
	L := c.In("en")
	for secs, want := range map[int]string{
		1: "1 second", 59: "59 seconds", 60: "1 minute", 61: "2 minutes", 900: "15 minutes",
		3600: "1 hour", 3601: "2 hours", 47 * 3600: "47 hours", 48 * 3600: "2 days", 7 * 86400: "7 days",
	} {
		if got := waitWords(L, secs); got != want {
			t.Errorf("waitWords(%d) = %q, want %q", secs, got, want)
		}
	}
}
