package mail_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/igf/nomina/internal/mail"
	"github.com/igf/nomina/internal/nomination"
)

func mustTemplates(tb testing.TB) *mail.Templates {
	tb.Helper()
	t, err := mail.LoadTemplates(os.DirFS("testdata/templates"))
	if err != nil {
		tb.Fatalf("load templates: %v", err)
	}
	return t
}

func sampleData() mail.Data {
	return mail.Data{
		Recipient: mail.Recipient{Name: "Ada Lovelace", Email: "ada@example.org"},
		Nomination: mail.Nomination{
			ID: "n-1", State: "submitted", NomineeName: "Grace Hopper",
			Fields: map[string]any{"organization": "Example Foundation", "stakeholder_group": "civil_society"},
		},
		Call:  mail.Call{Title: "MAG 2026", Slug: "mag-2026", ClosesAt: time.Date(2026, 3, 31, 23, 59, 0, 0, time.UTC)},
		Links: map[string]string{"nomination": "https://nomina.example.org/nominations/n-1", "review": "https://nomina.example.org/review/n-1"},
		Extra: map[string]string{"reference": "R-7"},
	}
}

func TestLoadTemplatesRejects(t *testing.T) {
	cases := []struct {
		name  string
		files fstest.MapFS
		want  string
	}{
		{"no subject line", fstest.MapFS{"a.txt": {Data: []byte("Hello\n\nbody")}}, "a.txt:1"},
		{"no blank line after subject", fstest.MapFS{"a.txt": {Data: []byte("Subject: x\nbody")}}, "a.txt:2"},
		{"html without text", fstest.MapFS{"a.html": {Data: []byte("<p>x</p>")}}, "no a.txt"},
		{"bad name", fstest.MapFS{"Bad Name.txt": {Data: []byte("Subject: x\n\nbody")}}, "Bad Name.txt"},
		{"text parse error", fstest.MapFS{"a.txt": {Data: []byte("Subject: x\n\n{{.Links.x")}}, "a.txt"},
		{"subject parse error", fstest.MapFS{"a.txt": {Data: []byte("Subject: {{if}}\n\nbody")}}, "a.txt:1"},
		{"html parse error", fstest.MapFS{"a.txt": {Data: []byte("Subject: x\n\nbody")}, "a.html": {Data: []byte("{{end}}")}}, "a.html"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := mail.LoadTemplates(c.files)
			if err == nil {
				t.Fatal("loaded a broken template set")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not name %q", err, c.want)
			}
		})
	}
}

func TestLoadTemplatesAcceptsCRLFAndIgnoresOtherFiles(t *testing.T) {
	ts, err := mail.LoadTemplates(fstest.MapFS{
		"a.txt":     {Data: []byte("Subject: Hi {{.Recipient.Name}}\r\n\r\nBody\r\n")},
		"README.md": {Data: []byte("not a template")},
		"sub/b.txt": {Data: []byte("no subject")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := ts.Names(); len(got) != 1 || got[0] != "a" {
		t.Fatalf("names = %v, want [a]", got)
	}
	m, err := ts.Render("a", mail.Data{Recipient: mail.Recipient{Name: "Ada"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Hi Ada" || m.Text != "Body\n" || m.HTML != "" {
		t.Fatalf("rendered %+v", m)
	}
}

func TestRender(t *testing.T) {
	ts := mustTemplates(t)
	m, err := ts.Render("notice", sampleData())
	if err != nil {
		t.Fatal(err)
	}
	if want := "MAG 2026: the nomination of Grace Hopper is submitted"; m.Subject != want {
		t.Errorf("subject = %q, want %q", m.Subject, want)
	}
	for _, want := range []string{"Dear Ada Lovelace,", "(Example Foundation)", "https://nomina.example.org/nominations/n-1", "31 March 2026 23:59 UTC"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	if !strings.Contains(m.HTML, `<a href="https://nomina.example.org/nominations/n-1">`) {
		t.Errorf("html lacks the link:\n%s", m.HTML)
	}
}

func TestRenderEscapesAndKeepsSubjectOnOneLine(t *testing.T) {
	ts := mustTemplates(t)
	cases := []struct {
		name    string
		nominee string
		comment string
		link    string
		check   func(t *testing.T, m mail.Message)
	}{
		{
			name: "markup in a name is escaped in HTML", nominee: `<script>alert(1)</script>`,
			check: func(t *testing.T, m mail.Message) {
				if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "&lt;script&gt;") {
					t.Errorf("html not escaped:\n%s", m.HTML)
				}
			},
		},
		{
			name: "CR LF in a name stays out of the subject", nominee: "Eve\r\nBcc: victim@example.org",
			check: func(t *testing.T, m mail.Message) {
				if strings.ContainsAny(m.Subject, "\r\n") {
					t.Errorf("subject has a line break: %q", m.Subject)
				}
				if !strings.Contains(m.Subject, "Eve Bcc: victim@example.org") {
					t.Errorf("subject = %q", m.Subject)
				}
			},
		},
		{
			name: "unicode line separators too", nominee: "Eve\u2028X-Evil: 1\u0085Y",
			check: func(t *testing.T, m mail.Message) {
				if strings.ContainsAny(m.Subject, "\u2028\u0085") {
					t.Errorf("subject = %q", m.Subject)
				}
			},
		},
		{
			name: "a javascript link is neutralised", link: "javascript:alert(1)",
			check: func(t *testing.T, m mail.Message) {
				if strings.Contains(m.HTML, "javascript:") {
					t.Errorf("html keeps the javascript: link:\n%s", m.HTML)
				}
			},
		},
		{
			name: "markup in a comment is escaped", comment: `<img src=x onerror=alert(1)>`,
			check: func(t *testing.T, m mail.Message) {
				if strings.Contains(m.HTML, "<img") {
					t.Errorf("html not escaped:\n%s", m.HTML)
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := sampleData()
			if c.nominee != "" {
				d.Nomination.NomineeName = c.nominee
			}
			d.Comment = c.comment
			if c.link != "" {
				d.Links["nomination"] = c.link
			}
			m, err := ts.Render("notice", d)
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, m)
		})
	}
}

func TestRenderFailures(t *testing.T) {
	ts := mustTemplates(t)
	t.Run("unknown template", func(t *testing.T) {
		_, err := ts.Render("nope", sampleData())
		if nomination.ErrorCode(err) != nomination.ENOTFOUND {
			t.Fatalf("error %v, want ENOTFOUND", err)
		}
	})
	t.Run("missing link", func(t *testing.T) {
		d := sampleData()
		delete(d.Links, "nomination")
		_, err := ts.Render("notice", d)
		if err == nil || !strings.Contains(err.Error(), "nomination") {
			t.Fatalf("error %v, want one naming the missing link", err)
		}
	})
	t.Run("empty subject", func(t *testing.T) {
		ts, err := mail.LoadTemplates(fstest.MapFS{"a.txt": {Data: []byte("Subject: {{.Comment}}\n\nbody")}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ts.Render("a", mail.Data{Comment: "\r\n"}); err == nil {
			t.Fatal("rendered a message without a subject")
		}
	})
}

func TestPreviewFillsWhatTheTemplateUses(t *testing.T) {
	ts := mustTemplates(t)
	for _, name := range ts.Names() {
		t.Run(name, func(t *testing.T) {
			m, err := ts.Preview(name, nil)
			if err != nil {
				t.Fatalf("preview: %v", err)
			}
			if m.Subject == "" || m.Text == "" {
				t.Fatalf("empty preview %+v", m)
			}
			if strings.Contains(m.Text, "<no value>") {
				t.Fatalf("preview has a hole:\n%s", m.Text)
			}
		})
	}
	m, err := ts.Preview("reminder", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{mail.PreviewBaseURL + "/sample/review", "civil_society", "sample reference"} {
		if !strings.Contains(m.Subject+m.Text, want) {
			t.Errorf("preview lacks %q:\n%s\n%s", want, m.Subject, m.Text)
		}
	}
	// Links given by path lead to those pages; the others keep a sample.
	m, err = ts.Preview("reminder", map[string]string{"review": "/review/n-sample", "unused": "/x"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, mail.PreviewBaseURL+"/review/n-sample") || strings.Contains(m.Text, "/sample/review") || strings.Contains(m.Text, "/x") {
		t.Errorf("preview with links:\n%s", m.Text)
	}
	if _, err := ts.Preview("nope", nil); nomination.ErrorCode(err) != nomination.ENOTFOUND {
		t.Fatalf("preview of unknown template: %v", err)
	}
}

func TestJobDataMakesLinksAbsolute(t *testing.T) {
	job := nomination.MailJob{
		ID: "j", To: "ada@example.org", Name: "Ada",
		Links: map[string]string{"a": "/nominations/n-1", "b": "nominations/n-2", "c": "https://other.example.org/x"},
	}
	cases := []struct{ base, key, want string }{
		{"https://nomina.example.org", "a", "https://nomina.example.org/nominations/n-1"},
		{"https://nomina.example.org/", "b", "https://nomina.example.org/nominations/n-2"},
		{"https://igf.example.org/nomina", "a", "https://igf.example.org/nomina/nominations/n-1"},
		{"https://nomina.example.org", "c", "https://other.example.org/x"},
	}
	for _, c := range cases {
		t.Run(c.base+" "+c.key, func(t *testing.T) {
			if got := mail.JobData(job, c.base).Links[c.key]; got != c.want {
				t.Fatalf("link = %q, want %q", got, c.want)
			}
		})
	}
}

func TestJobDataReadsProducerDataKeys(t *testing.T) {
	job := nomination.MailJob{
		ID: "j", To: "ada@example.org",
		Data:  map[string]string{"link_review": "https://nomina.example.org/nominations/n-1", "comment": "c", "reason": "r", "state": "submitted", "other": "x"},
		Links: map[string]string{"nomination": "/nominations/n-1"},
	}
	d := mail.JobData(job, testBase)
	if d.Links["review"] != "https://nomina.example.org/nominations/n-1" || d.Links["nomination"] != testBase+"/nominations/n-1" {
		t.Errorf("links = %v", d.Links)
	}
	if d.Comment != "c" || d.Reason != "r" || d.Nomination.State != "submitted" || d.Extra["other"] != "x" {
		t.Errorf("data = %+v", d)
	}
	job.Comment, job.NominationState = "own", "draft"
	if d := mail.JobData(job, testBase); d.Comment != "own" || d.Nomination.State != "draft" {
		t.Errorf("the job's own fields lost to Data: %+v", d)
	}
}

func TestMessageIDIsStablePerJob(t *testing.T) {
	a, b := mail.MessageID("n-1/000004/review_request/u-9"), mail.MessageID("n-1/000004/review_request/u-10")
	if a != mail.MessageID("n-1/000004/review_request/u-9") {
		t.Fatal("Message-ID changes between calls")
	}
	if a == b {
		t.Fatal("two jobs share a Message-ID")
	}
	if !strings.HasPrefix(a, "<") || !strings.HasSuffix(a, "@nomina>") || len(a) != len("<@nomina>")+32 {
		t.Fatalf("Message-ID %q is not <32 hex digits@nomina>", a)
	}
}

func TestParseSMTPURL(t *testing.T) {
	cases := []struct {
		raw     string
		want    mail.SMTPServer
		wantErr bool
	}{
		{raw: "smtp://mail.example.org", want: mail.SMTPServer{Host: "mail.example.org", Port: 587}},
		{raw: "smtp://user:p%40ss@mail.example.org:2525", want: mail.SMTPServer{Host: "mail.example.org", Port: 2525, Username: "user", Password: "p@ss"}},
		{raw: "smtps://u:p@mail.example.org", want: mail.SMTPServer{Host: "mail.example.org", Port: 465, Username: "u", Password: "p", ImplicitTLS: true}},
		{raw: "smtp://[::1]:1025", want: mail.SMTPServer{Host: "::1", Port: 1025}},
		{raw: "http://mail.example.org", wantErr: true},
		{raw: "smtp://", wantErr: true},
		{raw: "smtp://mail.example.org:99999", wantErr: true},
		{raw: "smtp://mail.example.org/path", wantErr: true},
		{raw: "smtp://mail.example.org?tls=off", wantErr: true},
		{raw: "::", wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.raw, func(t *testing.T) {
			got, err := mail.ParseSMTPURL(c.raw)
			if c.wantErr {
				if err == nil {
					t.Fatalf("parsed %q as %+v", c.raw, got)
				}
				if strings.Contains(err.Error(), "p@ss") || strings.Contains(err.Error(), "p%40ss") {
					t.Fatalf("error repeats the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	const base, ceiling = time.Minute, time.Hour
	cases := []struct {
		try      int
		r        float64
		min, max time.Duration
	}{
		{1, 0, 30 * time.Second, 30 * time.Second},
		{1, 0.999999, 30 * time.Second, time.Minute},
		{2, 0.5, 90 * time.Second, 90 * time.Second},
		{4, 0, 4 * time.Minute, 4 * time.Minute},
		{7, 0.999999, 30 * time.Minute, time.Hour},
		{30, 0.999999, 30 * time.Minute, time.Hour},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("try %d r %.2f", c.try, c.r), func(t *testing.T) {
			got := mail.Backoff(c.try, base, ceiling, c.r)
			if got < c.min || got > c.max {
				t.Fatalf("Backoff(%d, r=%v) = %v, want within [%v, %v]", c.try, c.r, got, c.min, c.max)
			}
		})
	}
}

// Names are shown as plain text: nothing in them is recognisable as a
// link, while they read the same.
func TestPlainName(t *testing.T) {
	for in, want := range map[string]string{
		"Ana López":                     "Ana López",
		"J. R. Smith":                   "J.\u200b R.\u200b Smith",
		"Claim at www.evil.example":     "Claim at www.\u200bevil.\u200bexample",
		"https://evil.example/x":        "https:\u200b/\u200b/\u200bevil.\u200bexample/\u200bx",
		"mail me: ana@evil.example.org": "mail me:\u200b ana@\u200bevil.\u200bexample.\u200borg",
	} {
		got := mail.PlainName(in)
		if got != want {
			t.Errorf("PlainName(%q) = %q, want %q", in, got, want)
		}
		if strings.ReplaceAll(got, "\u200b", "") != in {
			t.Errorf("PlainName(%q) changed the text: %q", in, got)
		}
	}
}
