package mail_test

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/igf/nomina/internal/mail"
	"github.com/igf/nomina/internal/nomination"
)

// The shipped templates say the same in every language, with the date as
// the language writes it, and name their language; a language without a
// translation gets the English.
func TestShippedTemplatesInEachLanguage(t *testing.T) {
	ts, err := mail.LoadTemplates(os.DirFS("../../workflows/templates"))
	if err != nil {
		t.Fatal(err)
	}
	job := nomination.MailJob{
		ID: "n-1/000002/nominee_consent/x", Template: "nominee_consent", To: "ines@example.org", Name: "Inés Ruiz",
		NominationID: "n-1", CallSlug: "mag-2027", CallTitle: "MAG 2027",
		CallClosesAt: time.Date(2027, 3, 31, 23, 59, 0, 0, time.UTC),
		Links:        map[string]string{"consent": "/links/abc"},
	}
	want := map[string][]string{
		"en": {"You have been nominated", "31 March 2027"},
		"es": {"Ha sido propuesto/a", "31 de marzo de 2027"},
		"fr": {"Votre candidature a été présentée", "31 mars 2027"},
		"ru": {"Вашу кандидатуру выдвинули", "31 марта 2027"},
		"ar": {"لقد رُشّحت", "مارس"},
		"zh": {"您已获得提名", "2027年3月31日"},
	}
	for lang, parts := range want {
		if len(ts.Languages("nominee_consent")) != 6 {
			t.Fatalf("nominee_consent is written in %v, want all six", ts.Languages("nominee_consent"))
		}
		d := mail.JobData(job, "https://nomina.example.org")
		d.Language = lang
		m, err := ts.Render("nominee_consent", d)
		if err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		if m.Language != lang {
			t.Errorf("%s: message says it is in %q", lang, m.Language)
		}
		if !strings.Contains(m.Subject, parts[0]) || !strings.Contains(m.Text, "MAG 2027") || !strings.Contains(m.Text, "https://nomina.example.org/links/abc") {
			t.Errorf("%s: subject %q, text %q", lang, m.Subject, m.Text)
		}
		if !strings.Contains(m.Text, parts[1]) || !strings.Contains(m.HTML, parts[1]) {
			t.Errorf("%s: the closing date is not written %q:\n%s\n%s", lang, parts[1], m.Text, m.HTML)
		}
		if !strings.Contains(m.HTML, `href="https://nomina.example.org/links/abc"`) {
			t.Errorf("%s: HTML without the link: %s", lang, m.HTML)
		}
	}
	// A template with no translation in a language is sent in English.
	ts2, err := mail.LoadTemplates(fstest.MapFS{
		"a.txt":    {Data: []byte("Subject: Hello\n\nHello {{.Recipient.Name}}")},
		"b.txt":    {Data: []byte("Subject: Bye\n\nBye")},
		"fr/a.txt": {Data: []byte("Subject: Bonjour\n\nBonjour {{.Recipient.Name}}")},
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := ts2.Render("b", mail.Data{Language: "fr"})
	if err != nil || m.Subject != "Bye" || m.Language != "en" {
		t.Fatalf("untranslated b in fr = %+v, %v; want the English", m, err)
	}
	m, err = ts2.Render("a", mail.Data{Language: "fr", Recipient: mail.Recipient{Name: "Ana"}})
	if err != nil || m.Subject != "Bonjour" || m.Text != "Bonjour Ana" || m.Language != "fr" {
		t.Fatalf("a in fr = %+v, %v", m, err)
	}
	// A folder that is not one of the languages is not a translation
	// (nomina workflows validate reports it); its files are never sent.
	ts3, err := mail.LoadTemplates(fstest.MapFS{"a.txt": {Data: []byte("Subject: a\n\na")}, "de/a.txt": {Data: []byte("Subject: Hallo\n\nHallo")}})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := ts3.Render("a", mail.Data{Language: "de"}); err != nil || m.Subject != "a" || m.Language != "en" {
		t.Fatalf("a in de = %+v, %v; want the English", m, err)
	}
	if _, err := mail.LoadTemplates(fstest.MapFS{"a.txt": {Data: []byte("Subject: a\n\na")}, "fr/z.txt": {Data: []byte("Subject: z\n\nz")}}); err == nil {
		t.Fatal("a translation of no English template was accepted")
	}
}
