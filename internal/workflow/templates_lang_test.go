package workflow

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A template without a translation in a language is a warning naming the
// file it wants; a translation is checked as the English is; a folder
// that is not a language, or a translation of no template, is an error.
func TestTranslatedTemplatesChecked(t *testing.T) {
	write := func(dir, name, body string) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	write(dir, "hello.txt", "Subject: Hello\n\nDear {{.Recipient.Name}}, the call closes {{.Call.ClosesAt.Format \"2 January 2006\"}}.\n")
	write(dir, "hello.html", "<p>Dear {{.Recipient.Name}}</p>\n")
	for _, lang := range []string{"ar", "es", "ru", "zh"} {
		write(filepath.Join(dir, lang), "hello.txt", "Subject: ¡Hola!\n\n{{.Recipient.Name}}, {{date .Call.ClosesAt}}\n")
		write(filepath.Join(dir, lang), "hello.html", "<p>{{.Recipient.Name}}, {{day .Call.ClosesAt}}</p>\n")
	}
	_, diags, err := LoadTemplates(dir)
	if err != nil {
		t.Fatalf("translations with date and day: %v %v", err, diags)
	}
	if len(diags) != 1 || diags[0].Severity != SeverityWarning || diags[0].File != filepath.Join(dir, "fr", "hello.txt") || !strings.Contains(diags[0].Message, "no fr translation") {
		t.Fatalf("diagnostics %+v, want one warning for fr/hello.txt", diags)
	}

	write(filepath.Join(dir, "fr"), "hello.txt", "Subject: Bonjour\n\n{{.Recipient.Name\n")
	write(filepath.Join(dir, "fr"), "hello.html", "<p>Bonjour</p>\n")
	write(filepath.Join(dir, "es"), "bye.txt", "Subject: Adiós\n\nAdiós\n")
	write(filepath.Join(dir, "de"), "hello.txt", "Subject: Hallo\n\nHallo\n")
	_, diags, err = LoadTemplates(dir)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	for _, want := range []string{filepath.Join(dir, "fr", "hello.txt"), filepath.Join(dir, "es", "bye.txt"), filepath.Join(dir, "de")} {
		found := false
		for _, d := range diags {
			found = found || (d.File == want && d.Severity == SeverityError)
		}
		if !found {
			t.Errorf("no error for %s in %+v", want, diags)
		}
	}
}
