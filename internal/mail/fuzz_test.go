package mail_test

import (
	"bytes"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/igf/nomina/internal/mail"
)

// Whatever a person types as a name, the message keeps exactly the headers
// Nomina sets, one recipient, and a one-line subject.
func FuzzMessageHeaders(f *testing.F) {
	for _, seed := range [][2]string{
		{"Ada Lovelace", "Grace Hopper"},
		{"Eve\r\nBcc: victim@example.org", "Grace\r\nX-Evil: 1"},
		{"Eve\nTo: other@example.org", "\r\n\r\nbody"},
		{`"Eve" <victim@example.org>, x`, "=?utf-8?q?=0D=0ABcc:_x@example.org?="},
		{"Zoë \u2028 Ünïcode", "名前\u0085next"},
	} {
		f.Add(seed[0], seed[1])
	}
	tpl := mustTemplates(f)
	from, err := netmail.ParseAddress(testFrom)
	if err != nil {
		f.Fatal(err)
	}
	allowed := map[string]bool{
		"From": true, "To": true, "Subject": true, "Message-Id": true, "Date": true,
		"Auto-Submitted": true, "Mime-Version": true, "Content-Type": true, "Content-Language": true,
	}
	f.Fuzz(func(t *testing.T, name, nominee string) {
		j := testJob(1, "ada@example.org", t0)
		j.Name, j.NomineeName = name, nominee
		m, err := tpl.Render(j.Template, mail.JobData(j, testBase))
		if err != nil {
			t.Fatalf("render: %v", err)
		}
		if strings.ContainsAny(m.Subject, "\r\n") {
			t.Fatalf("subject %q spans lines", m.Subject)
		}
		msg, err := mail.BuildMsg(from, j, m, time.Date(2026, 2, 2, 9, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatalf("build: %v", err)
		}
		var buf bytes.Buffer
		if _, err := msg.WriteTo(&buf); err != nil {
			t.Fatalf("write: %v", err)
		}
		parsed, err := netmail.ReadMessage(&buf)
		if err != nil {
			t.Fatalf("the message does not parse: %v\n%s", err, buf.String())
		}
		for k, v := range parsed.Header {
			if !allowed[k] || len(v) != 1 {
				t.Fatalf("header %s: %q", k, v)
			}
		}
		to, err := parsed.Header.AddressList("To")
		if err != nil || len(to) != 1 || to[0].Address != "ada@example.org" {
			t.Fatalf("To %q parses as %v (%v)", parsed.Header.Get("To"), to, err)
		}
		if got := parsed.Header.Get("Message-Id"); got != mail.MessageID(j.ID) {
			t.Fatalf("Message-ID %q, want %q", got, mail.MessageID(j.ID))
		}
	})
}

// ParseSMTPURL never panics and never repeats a password in its errors.
func FuzzParseSMTPURL(f *testing.F) {
	for _, seed := range []string{
		"smtp://user:s3cret@mail.example.org:587", "smtps://mail.example.org", "smtp://[::1]:25",
		"smtp://u:s3cret@host/path", "smtp://u:s3cret@host:0", "http://u:s3cret@host", "smtp://u:s3cret@:25",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		s, err := mail.ParseSMTPURL(raw)
		if err != nil {
			if strings.Contains(raw, "s3cret") && strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error repeats the password: %v", err)
			}
			return
		}
		if s.Host == "" || s.Port < 1 || s.Port > 65535 {
			t.Fatalf("accepted %q as %+v", raw, s)
		}
	})
}
