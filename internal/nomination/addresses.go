package nomination

import (
	"strings"

	"golang.org/x/text/unicode/norm"
)

// MailboxKey returns the form in which two addresses that reach the same
// mailbox compare equal, as far as Nomina can tell: Unicode NFC, lower
// case, without a "+tag" in the local part (sub-addressing delivers
// ana+x@example.org to ana@example.org), and at Gmail without the dots of
// the local part and with googlemail.com as gmail.com. It decides who may
// not endorse a nomination (its candidate, nominee, nominator), who counts
// once among its endorsers, and who is the nominee among its reviewers.
func MailboxKey(email string) string {
	e := strings.ToLower(norm.NFC.String(strings.TrimSpace(email)))
	at := strings.LastIndexByte(e, '@')
	if at < 0 {
		return e
	}
	local, domain := e[:at], strings.TrimSuffix(e[at+1:], ".")
	if i := strings.IndexByte(local, '+'); i > 0 {
		local = local[:i]
	}
	if domain == "googlemail.com" {
		domain = "gmail.com"
	}
	if domain == "gmail.com" {
		local = strings.ReplaceAll(local, ".", "")
	}
	return local + "@" + domain
}

// sameMailbox reports whether a and b (both non-empty) reach one mailbox.
func sameMailbox(a, b string) bool {
	return a != "" && b != "" && MailboxKey(a) == MailboxKey(b)
}
