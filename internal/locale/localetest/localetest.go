// Package localetest checks message catalogs in tests: every language has
// every message of the English catalog and nothing else, plural messages
// have exactly the CLDR forms of their language, and translations name
// only the placeholders the English names.
package localetest

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"text/template"
	"unicode"

	"github.com/goccy/go-yaml"

	"github.com/igf/nomina/internal/locale"
)

// Catalog is one parsed catalog file: message id to its text, or to its
// plural forms.
type Catalog map[string]any

// Read parses every "*.<lang>.yaml" file of fsys, by base name ("active")
// and language.
func Read(t testing.TB, fsys fs.FS) map[string]map[string]Catalog {
	t.Helper()
	files, err := fs.Glob(fsys, "*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no catalog files (%v)", err)
	}
	out := map[string]map[string]Catalog{}
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			t.Fatal(err)
		}
		var c Catalog
		if err := yaml.Unmarshal(b, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		base := strings.SplitN(path.Base(f), ".", 2)[0]
		if out[base] == nil {
			out[base] = map[string]Catalog{}
		}
		out[base][locale.FileLanguage(f)] = c
	}
	return out
}

var placeholder = regexp.MustCompile(`\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// Check reports every problem of the catalogs in fsys: a language
// without a file, a message missing from a language or unknown to
// English, a plural message without exactly its language's CLDR forms, a
// text that is empty, does not parse, names a placeholder the English
// does not, or is left in English.
func Check(t testing.TB, fsys fs.FS) {
	t.Helper()
	for base, byLang := range Read(t, fsys) {
		en, ok := byLang[locale.Source]
		if !ok {
			t.Errorf("%s: no English catalog %s.en.yaml", base, base)
			continue
		}
		for _, lang := range locale.Languages {
			c, ok := byLang[lang]
			if !ok {
				t.Errorf("%s: no catalog for %s (%s.%s.yaml)", base, lang, base, lang)
				continue
			}
			for _, p := range Problems(en, c, lang) {
				t.Errorf("%s.%s.yaml: %s", base, lang, p)
			}
		}
		for lang := range byLang {
			if !locale.Supported(lang) {
				t.Errorf("%s.%s.yaml: not a language Nomina speaks", base, lang)
			}
		}
	}
}

// Problems compares catalog c of lang with the English en.
func Problems(en, c Catalog, lang string) []string {
	var out []string
	ids := make([]string, 0, len(en))
	for id := range en {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		src := en[id]
		tr, ok := c[id]
		if !ok {
			out = append(out, fmt.Sprintf("message %s is missing", id))
			continue
		}
		srcForms, srcPlural := src.(map[string]any)
		trForms, trPlural := tr.(map[string]any)
		switch {
		case srcPlural && !trPlural:
			out = append(out, fmt.Sprintf("message %s is plural in English: give the forms %s", id, strings.Join(locale.PluralForms(lang), ", ")))
			continue
		case !srcPlural && trPlural:
			out = append(out, fmt.Sprintf("message %s is not plural in English", id))
			continue
		}
		allowed := names(src)
		if srcPlural {
			if lang == locale.Source {
				srcForms = nil // English is its own source
			}
			want := locale.PluralForms(lang)
			for _, f := range want {
				if s, _ := trForms[f].(string); strings.TrimSpace(s) == "" {
					out = append(out, fmt.Sprintf("message %s lacks the plural form %q (%s needs %s)", id, f, lang, strings.Join(want, ", ")))
				}
			}
			for f := range trForms {
				if !slices.Contains(want, f) {
					out = append(out, fmt.Sprintf("message %s has the form %q, which %s does not use", id, f, lang))
				}
			}
			_ = srcForms
			for f, s := range trForms {
				out = append(out, text(id+" ("+f+")", fmt.Sprint(s), allowed, "", lang)...)
			}
			continue
		}
		s, _ := tr.(string)
		out = append(out, text(id, s, allowed, fmt.Sprint(src), lang)...)
	}
	for id := range c {
		if _, ok := en[id]; !ok {
			out = append(out, fmt.Sprintf("message %s is not in the English catalog", id))
		}
	}
	sort.Strings(out)
	return out
}

// names returns the placeholders a message (or any of its forms) names.
func names(v any) map[string]bool {
	out := map[string]bool{}
	add := func(s string) {
		for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
			out[m[1]] = true
		}
	}
	switch x := v.(type) {
	case string:
		add(x)
	case map[string]any:
		for _, f := range x {
			add(fmt.Sprint(f))
		}
	}
	return out
}

func text(what, s string, allowed map[string]bool, english, lang string) []string {
	var out []string
	if strings.TrimSpace(s) == "" {
		return []string{fmt.Sprintf("message %s is empty", what)}
	}
	if _, err := template.New("").Parse(s); err != nil {
		out = append(out, fmt.Sprintf("message %s does not parse: %v", what, err))
	}
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		if !allowed[m[1]] {
			out = append(out, fmt.Sprintf("message %s names {{.%s}}, which the English does not", what, m[1]))
		}
	}
	if lang != locale.Source && english != "" && s == english && letters(placeholder.ReplaceAllString(s, "")) >= 12 && strings.Contains(s, " ") {
		out = append(out, fmt.Sprintf("message %s is left in English: %q", what, s))
	}
	return out
}

func letters(s string) int {
	n := 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			n++
		}
	}
	return n
}
