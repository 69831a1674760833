package locale

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nicksnyder/go-i18n/v2/i18n"
)

func TestMatch(t *testing.T) {
	cases := []struct {
		accept    string
		preferred []string
		want      string
	}{
		{"", nil, "en"},
		{"fr-CH, de;q=0.8", nil, "fr"},
		{"de, fr;q=0.8", nil, "fr"},
		{"de, ja;q=0.8", nil, "en"},
		{"ar-EG,ar;q=0.9,en;q=0.5", nil, "ar"},
		{"zh-TW", nil, "zh"},
		{"zh-Hant-HK", nil, "zh"},
		{"es-419,es;q=0.9", nil, "es"},
		{"ru-RU", nil, "ru"},
		{"en-GB,fr;q=0.5", nil, "en"},
		{"fr", []string{"ru"}, "ru"},
		{"fr", []string{"", "es"}, "es"},
		{"fr", []string{"de"}, "fr"},
		{"fr", []string{"ar-SA"}, "ar"},
		{"*", nil, "en"},
		{"garbage;;q=x", nil, "en"},
		{strings.Repeat("fr,", 300), nil, "en"},
	}
	for _, c := range cases {
		if got := Match(c.accept, c.preferred...); got != c.want {
			t.Errorf("Match(%q, %q) = %s, want %s", c.accept, c.preferred, got, c.want)
		}
	}
}

// The plural forms the catalogs are held to are exactly those go-i18n's
// CLDR rules choose among: every count finds its form, and every form is
// chosen by some count.
func TestPluralFormsAreCLDRs(t *testing.T) {
	counts := []any{0, 1, 2, 3, 4, 5, 10, 11, 12, 14, 19, 21, 22, 25, 100, 101, 102, 103, 111, 1000, 1000000, 2000000, "1.5"}
	for _, lang := range Languages {
		forms := PluralForms(lang)
		m := &i18n.Message{ID: "Seats"}
		for _, f := range forms {
			text := f + " {{.Count}}"
			switch f {
			case "zero":
				m.Zero = text
			case "one":
				m.One = text
			case "two":
				m.Two = text
			case "few":
				m.Few = text
			case "many":
				m.Many = text
			case "other":
				m.Other = text
			}
		}
		c, err := New(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.bundle.AddMessages(c.In(lang).Tag, m); err != nil {
			t.Fatal(err)
		}
		loc := i18n.NewLocalizer(c.bundle, lang)
		seen := map[string]bool{}
		for _, n := range counts {
			s, err := loc.Localize(&i18n.LocalizeConfig{MessageID: "Seats", PluralCount: n})
			if err != nil {
				t.Errorf("%s: count %v: %v", lang, n, err)
				continue
			}
			seen[strings.Fields(s)[0]] = true
		}
		for _, f := range forms {
			if !seen[f] {
				t.Errorf("%s: no count chose the form %s", lang, f)
			}
		}
	}
}

func TestCatalogRefusesDuplicatesAndStrangers(t *testing.T) {
	a := fstest.MapFS{"pages.en.yaml": {Data: []byte("Hello: Hello\n")}}
	b := fstest.MapFS{"more.en.yaml": {Data: []byte("Hello: Hi\n")}}
	if _, err := New(nil, a, b); err == nil || !strings.Contains(err.Error(), "Hello") {
		t.Fatalf("duplicate id: %v", err)
	}
	de := fstest.MapFS{"pages.de.yaml": {Data: []byte("Hello: Hallo\n")}}
	if _, err := New(nil, de); err == nil {
		t.Fatal("a German catalog was accepted")
	}
}

func TestLocalizer(t *testing.T) {
	c, err := New(nil, fstest.MapFS{
		"p.en.yaml": {Data: []byte("Seats:\n  one: \"{{.Count}} seat\"\n  other: \"{{.Count}} seats\"\nOf: \"{{.Done}} of {{.All}}\"\nOnly: Only English\n")},
		"p.ar.yaml": {Data: []byte("Seats:\n  zero: \"لا مقاعد\"\n  one: \"مقعد واحد\"\n  two: \"مقعدان\"\n  few: \"{{.Count}} مقاعد\"\n  many: \"{{.Count}} مقعدًا\"\n  other: \"{{.Count}} مقعد\"\nOf: \"{{.Done}} من {{.All}}\"\n")},
		"p.ru.yaml": {Data: []byte("Seats:\n  one: \"{{.Count}} место\"\n  few: \"{{.Count}} места\"\n  many: \"{{.Count}} мест\"\n  other: \"{{.Count}} места\"\nOf: \"{{.Done}} из {{.All}}\"\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	ar, ru, en := c.In("ar"), c.In("ru"), c.In("xx")
	for _, tc := range []struct{ got, want string }{
		{en.N("Seats", 1), "1 seat"},
		{en.N("Seats", 40), "40 seats"},
		{ar.N("Seats", 0), "لا مقاعد"},
		{ar.N("Seats", 2), "مقعدان"},
		{ar.N("Seats", 5), "٥ مقاعد"},
		{ar.N("Seats", 40), "٤٠ مقعدًا"},
		{ar.N("Seats", 100), "١٠٠ مقعد"},
		{ar.T("Of", "Done", 3, "All", 12), "٣ من ١٢"},
		{ru.N("Seats", 1), "1 место"},
		{ru.N("Seats", 3), "3 места"},
		{ru.N("Seats", 11), "11 мест"},
		{ru.N("Seats", 21), "21 место"},
		{ru.T("Only"), "Only English"},
		{ru.T("NoSuchMessage"), "NoSuchMessage"},
		{ru.TOr("NoSuchMessage", "fallback"), "fallback"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if ar.Dir != "rtl" || ru.Dir != "ltr" || en.Lang != "en" {
		t.Errorf("dir/lang: %s %s %s", ar.Dir, ru.Dir, en.Lang)
	}
}

func TestFormats(t *testing.T) {
	c, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 31, 23, 59, 0, 0, time.FixedZone("X", 3600))
	want := map[string][]string{
		// DateTime, Date, Int(12), Int(12345), Decimal(3.5, 1), Percent(0.4)
		"en": {"31 March 2026, 22:59 UTC", "31 March 2026", "12", "12,345", "3.5", "40%"},
		"fr": {"31 mars 2026 à 22:59 UTC", "31 mars 2026", "12", "12\u00a0345", "3,5", "40\u00a0%"},
		"es": {"31 de marzo de 2026, 22:59 UTC", "31 de marzo de 2026", "12", "12.345", "3,5", "40\u00a0%"},
		"ru": {"31 марта 2026 г., 22:59 UTC", "31 марта 2026 г.", "12", "12\u00a0345", "3,5", "40\u00a0%"},
		"zh": {"2026年3月31日 22:59 UTC", "2026年3月31日", "12", "12,345", "3.5", "40%"},
		"ar": {"٣١ مارس ٢٠٢٦، ٢٢:٥٩ UTC", "٣١ مارس ٢٠٢٦", "١٢", "١٢٬٣٤٥", "٣٫٥", "٤٠٪؜"},
	}
	for lang, w := range want {
		l := c.In(lang)
		got := []string{l.DateTime(at), l.Date(at), l.Int(12), l.Int(12345), l.Decimal(3.5, 1), l.Percent(0.4)}
		for i := range w {
			if got[i] != w[i] {
				t.Errorf("%s [%d]: got %q, want %q", lang, i, got[i], w[i])
			}
		}
	}
	if got := c.In("en").Int(2027); got != "2027" {
		t.Errorf("a year is grouped: %s", got)
	}
}
