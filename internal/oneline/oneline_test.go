package oneline

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestClean(t *testing.T) {
	cases := []struct {
		name, in, want string
		ok             bool
	}{
		{"plain", "  Ana López ", "Ana López", true},
		{"decomposed is composed", "Ana Lo\u0301pez", "Ana López", true},
		{"right-to-left script", "مريم", "مريم", true},
		{"line feed", "Ana\nLópez", "", false},
		{"carriage return", "Ana\rLópez", "", false},
		{"tab", "Ana\tLópez", "", false},
		{"next line U+0085", "Ana\u0085López", "", false},
		{"C1 control", "Ana\u009bLópez", "", false},
		{"line separator", "Ana\u2028López", "", false},
		{"paragraph separator", "Ana\u2029López", "", false},
		{"left-to-right embedding", "\u202aAna", "", false},
		{"right-to-left override", "Ana\u202eabc", "", false},
		{"pop directional formatting", "Ana\u202c", "", false},
		{"isolate", "\u2066Ana\u2069", "", false},
		{"first strong isolate", "Ana\u2068", "", false},
		{"DEL", "Ana\x7f", "", false},
		{"NUL", "Ana\x00", "", false},
		{"invalid UTF-8", "Ana\xff", "", false},
		{"empty", "   ", "", false},
		{"too long", strings.Repeat("a", 201), "", false},
		{"longest", strings.Repeat("é", 200), strings.Repeat("é", 200), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, msg := Clean(c.in, 1, 200)
			if (msg.English == "") != c.ok || got != c.want {
				t.Fatalf("Clean(%q) = %q, %q; want %q, ok=%v", c.in, got, msg, c.want, c.ok)
			}
		})
	}
}

func TestProblemNamesTheCharacter(t *testing.T) {
	if msg := Problem("Ana\u202eabc"); !strings.Contains(msg.English, "U+202E") || msg.ID != "TextNotOneLine" {
		t.Fatalf("message %q does not name the character", msg)
	}
	if msg := Problem("Ana López"); msg.English != "" {
		t.Fatalf("a plain name was refused: %s", msg)
	}
}

func TestStrip(t *testing.T) {
	if got := Strip("cv\u202e\u2066lmth.\n\x00pdf\xff"); got != "cvlmth.pdf" {
		t.Fatalf("Strip = %q", got)
	}
}

// FuzzClean: whatever Clean accepts is valid UTF-8, trimmed, in NFC, within
// its length bounds and free of every forbidden character, and is accepted
// again unchanged; Strip always leaves an acceptable text.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"Ana López", "a\u2028b", "\u202eabc", "x\u0085y", " é ", "\xff", "\t", "مريم"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, msg := Clean(s, 1, 200)
		if msg.English == "" {
			if !utf8.ValidString(got) || got != strings.TrimSpace(got) || !norm.NFC.IsNormalString(got) {
				t.Fatalf("Clean(%q) = %q: not trimmed, valid NFC", s, got)
			}
			if n := utf8.RuneCountInString(got); n < 1 || n > 200 {
				t.Fatalf("Clean(%q) = %q: %d characters", s, got, n)
			}
			for _, r := range got {
				if Forbidden(r) {
					t.Fatalf("Clean(%q) kept U+%04X", s, r)
				}
			}
			if again, msg := Clean(got, 1, 200); msg.English != "" || again != got {
				t.Fatalf("Clean is not stable on %q: %q, %q", got, again, msg)
			}
		} else if got != "" {
			t.Fatalf("Clean(%q) refused with %q but returned %q", s, msg, got)
		}
		stripped := Strip(s)
		if Problem(stripped).English != "" {
			t.Fatalf("Strip(%q) = %q still has a problem: %s", s, stripped, Problem(stripped))
		}
	})
}
