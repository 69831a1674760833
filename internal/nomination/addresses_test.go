package nomination

import (
	"testing"
	"time"
)

func TestMailboxKey(t *testing.T) {
	same := [][2]string{
		{"Ana@Example.org", "ana@example.org"},
		{"ana+endorse@example.org", "ana@example.org"},
		{"A.N.A@gmail.com", "ana@googlemail.com"},
		{"ana.lopez+x@GMAIL.com", "analopez@gmail.com"},
		{"Ana\u0301@example.org", "an\u00e1@example.org"}, // decomposed and composed
	}
	for _, p := range same {
		if MailboxKey(p[0]) != MailboxKey(p[1]) {
			t.Errorf("%q and %q are one mailbox: %q, %q", p[0], p[1], MailboxKey(p[0]), MailboxKey(p[1]))
		}
	}
	different := [][2]string{
		{"ana@example.org", "ana@example.com"},
		{"a.na@example.org", "ana@example.org"}, // dots count outside Gmail
		{"+ana@example.org", "ana@example.org"},
	}
	for _, p := range different {
		if MailboxKey(p[0]) == MailboxKey(p[1]) {
			t.Errorf("%q and %q are different mailboxes, both %q", p[0], p[1], MailboxKey(p[0]))
		}
	}
	if sameMailbox("", "") {
		t.Error("two empty addresses are no mailbox")
	}
}

// One endorser counts once, whichever spelling of their address was asked.
func TestConfirmedEndorsementsCountEachMailboxOnce(t *testing.T) {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	n := &Nomination{Endorsements: []Endorsement{
		{ID: "e1", Email: "eve@example.org", Status: "confirmed", ConfirmedAt: at},
		{ID: "e2", Email: "EVE+again@example.org", Status: "confirmed", ConfirmedAt: at},
		{ID: "e3", Email: "bob@example.org", Status: "requested"},
		{ID: "e4", Email: "carl@example.org", Status: "confirmed", ConfirmedAt: at},
	}}
	if got := n.ConfirmedEndorsements(); got != 2 {
		t.Fatalf("ConfirmedEndorsements = %d, want 2", got)
	}
}

func TestDownloadName(t *testing.T) {
	for _, c := range []struct {
		a    Attachment
		want string
	}{
		{Attachment{Kind: "cv", Filename: "cv.html", ContentType: "application/pdf"}, "n1-cv.pdf"},
		{Attachment{Kind: "photo", Filename: "x.exe", ContentType: "image/png"}, "n1-photo.png"},
		{Attachment{Kind: "cv", Filename: "cv.pdf", ContentType: "text/html"}, "n1-cv.bin"},
		{Attachment{Kind: "c\"v/../", Filename: "a", ContentType: "application/pdf"}, "n1-cv.pdf"},
	} {
		if got := DownloadName("n1", c.a); got != c.want {
			t.Errorf("DownloadName(%+v) = %q, want %q", c.a, got, c.want)
		}
	}
}
