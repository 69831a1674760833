// Package oneline checks the single-line texts people type into Nomina:
// names, organisations, titles. Such a text travels on into mail subjects
// and greetings, exports and other people's screens, so it may hold no
// character that breaks a line, controls a terminal or turns the direction
// of the text around. It is the one place that rule is written; the
// services wrap its message in their own error type, naming the field.
package oneline

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/igf/nomina/internal/phrase"
)

// Forbidden reports whether r may not appear in a single-line text: the C0
// and C1 control characters (tab, CR, LF and U+0085 NEXT LINE among them),
// DEL, the line and paragraph separators U+2028 and U+2029, and the
// bidirectional embeddings, overrides and isolates U+202A–U+202E and
// U+2066–U+2069, which can make a text read differently from what it holds.
func Forbidden(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == '\u2028', r == '\u2029':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// Problem returns what makes s unacceptable as a single-line text, naming
// the first offending character, or the zero Text when s is acceptable
// (whatever its length).
func Problem(s string) phrase.Text {
	if !utf8.ValidString(s) {
		return phrase.New("TextNotUTF8", "must be valid UTF-8 text")
	}
	for _, r := range s {
		if Forbidden(r) {
			return phrase.New("TextNotOneLine", "must be one line of text without line breaks, control or text-direction characters (it contains {{.Char}})",
				"Char", fmt.Sprintf("U+%04X", r))
		}
	}
	return phrase.Text{}
}

// Clean returns s without surrounding spaces and in Unicode normal form C,
// with the zero Text when it is an acceptable single-line text of min to
// max characters; otherwise the message says what is wrong. Forbidden
// characters are refused, never removed: what a person typed is either kept
// as typed or refused with a reason.
func Clean(s string, min, max int) (string, phrase.Text) {
	if len(s) > 4*max+64 {
		return "", phrase.New("TextTooLong", "must be at most {{.Max}} characters", "Max", max)
	}
	if msg := Problem(s); msg.English != "" {
		return "", msg
	}
	s = norm.NFC.String(strings.TrimSpace(s))
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0 && min > 0:
		return "", phrase.New("Required", "is required")
	case n < min:
		return "", phrase.New("TextTooShort", "must be at least {{.Min}} characters", "Min", min)
	case n > max:
		return "", phrase.New("TextTooLongIs", "must be at most {{.Max}} characters (it is {{.Length}})", "Max", max, "Length", n)
	}
	return s, phrase.Text{}
}

// Strip returns s with every forbidden character and invalid byte removed:
// for labels Nomina keeps but nobody typed for others to read, such as the
// name an uploaded file came with.
func Strip(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || Forbidden(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}
