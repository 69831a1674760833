package auth

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/igf/nomina/internal/nomination"
)

// mustFieldError checks err is an EINVALID naming field.
func mustFieldError(tb testing.TB, err error, field string) {
	tb.Helper()
	var e *nomination.Error
	if !errors.As(err, &e) || e.Code != nomination.EINVALID {
		tb.Fatalf("error = %v, want EINVALID", err)
	}
	for _, f := range e.Fields {
		if f.Field == field {
			return
		}
	}
	tb.Fatalf("error %v does not name field %q", err, field)
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		name, in, email, key string
	}{
		{"plain", "ana@example.org", "ana@example.org", "ana@example.org"},
		{"case is kept, key is lower", "Ana@Example.ORG", "Ana@Example.ORG", "ana@example.org"},
		{"surrounding spaces trimmed", "  ana@example.org ", "ana@example.org", "ana@example.org"},
		{"plus addressing", "ana+igf@example.org", "ana+igf@example.org", "ana+igf@example.org"},
		{"unicode local part normalised", "Jose\u0301@example.org", "Jose\u0301@example.org", "jos\u00e9@example.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email, key, err := NormalizeEmail(tt.in)
			if err != nil {
				t.Fatalf("NormalizeEmail(%q): %v", tt.in, err)
			}
			if email != tt.email || key != tt.key {
				t.Fatalf("NormalizeEmail(%q) = %q, %q; want %q, %q", tt.in, email, key, tt.email, tt.key)
			}
		})
	}
}

func TestNormalizeEmailRefuses(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"no at", "ana.example.org"},
		{"CR LF header injection", "ana@example.org\r\nBcc: all@example.org"},
		{"LF alone", "ana@example.org\n"},
		{"NUL", "ana\x00@example.org"},
		{"tab", "ana\t@example.org"},
		{"invalid UTF-8", "an\xffa@example.org"},
		{"display name", "Ana <ana@example.org>"},
		{"comment", "ana@example.org (Ana)"},
		{"two addresses", "ana@example.org, bob@example.org"},
		{"no dot in domain", "ana@localhost"},
		{"trailing dot", "ana@example.org."},
		{"double dot", "ana@example..org"},
		{"local part over 64", strings.Repeat("a", 65) + "@example.org"},
		{"over 254 bytes", "a@" + strings.Repeat("b", 250) + ".org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := NormalizeEmail(tt.in)
			mustFieldError(t, err, "email")
		})
	}
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"ana@example.org", "A@B.C", "a\r\n@b.c", "\"a b\"@example.org", "x@y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		email, key, err := NormalizeEmail(in)
		if err != nil {
			return
		}
		if !utf8.ValidString(email) || strings.IndexFunc(email, unicode.IsControl) >= 0 || len(email) > MaxEmailLength {
			t.Fatalf("accepted %q", email)
		}
		if key != strings.ToLower(key) {
			t.Fatalf("key %q is not lower-case", key)
		}
		if _, key2, err := NormalizeEmail(strings.ToUpper(email)); err == nil && key2 != key && strings.ToLower(strings.ToUpper(email)) == strings.ToLower(email) {
			t.Fatalf("keys differ by case: %q %q", key, key2)
		}
	})
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		name, password string
		inputs         []string
		ok             bool
	}{
		{"passphrase", "river lamp cloud ninth", nil, true},
		{"random eight characters", "qK8!rT2v", nil, true},
		{"no composition rules: lower-case words", "granite orbit willow", nil, true},
		{"unicode passphrase", "мост река облако", nil, true},
		{"1024 characters", strings.Repeat("granite orbit willow ", 49)[:1000] + "qK8!rT2vX9#mZ4@pL7&wN3$e", nil, true},
		{"too short", "qK8!rT2", nil, false},
		{"1025 characters", strings.Repeat("q", 1025), nil, false},
		{"10 MB", strings.Repeat("qK8!rT2v", 10<<20/8), nil, false},
		{"common password", "password1", nil, false},
		{"common with symbol", "Password1!", nil, false},
		{"keyboard walk", "qwertyuiop", nil, false},
		{"digits", "12345678", nil, false},
		{"repeated", strings.Repeat("a", 40), nil, false},
		{"the account's own address", "ana.lopez@example.org", []string{"ana.lopez@example.org", "Ana Lopez"}, false},
		{"a name, not the account's", "WiremuTawhiri", []string{"ana@example.org", "Ana Lopez"}, true},
		{"the account's own name", "WiremuTawhiri", []string{"wiremu@example.org", "Wiremu Tawhiri"}, false},
		{"the account's own address", "tawhiri.wiremu@maori.nz", []string{"tawhiri.wiremu@maori.nz", "Wiremu Tawhiri"}, false},
		{"NUL", "river lamp\x00cloud ninth", nil, false},
		{"invalid UTF-8", "river lamp \xff cloud ninth", nil, false},
		{"guessable prefix of a long password", strings.Repeat("ab", 40) + "qK8!rT2v", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPassword(tt.password, tt.inputs...)
			if tt.ok {
				if err != nil {
					t.Fatalf("CheckPassword refused: %v", err)
				}
				return
			}
			mustFieldError(t, err, "password")
			if strings.Contains(err.Error(), tt.password) {
				t.Fatalf("error %q repeats the password", err)
			}
		})
	}
}

// BenchmarkCheckPasswordLong measures the policy on 1024-character
// repetitive passwords, the estimator's worst case; unbounded, each takes
// seconds.
func BenchmarkCheckPasswordLong(b *testing.B) {
	ps := []string{strings.Repeat("a", 1024), strings.Repeat("Xy7!", 256), strings.Repeat("1a", 512)}
	for b.Loop() {
		for _, p := range ps {
			_ = CheckPassword(p)
		}
	}
}

func TestCheckText(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"trimmed", "  Ana López ", "Ana López", true},
		{"NFC", "Jose\u0301", "Jos\u00e9", true},
		{"empty required", "  ", "", false},
		{"newline", "Ana\nLópez", "", false},
		{"NUL", "Ana\x00", "", false},
		{"invalid UTF-8", "Ana\xff", "", false},
		{"too long", strings.Repeat("x", MaxNameLength+1), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkText("name", tt.in, 1, MaxNameLength)
			if !tt.ok {
				mustFieldError(t, err, "name")
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("checkText(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestCheckRolesAndPanels(t *testing.T) {
	roles, err := checkRoles([]Role{RoleReviewer, RoleCandidate, RoleReviewer})
	if err != nil || len(roles) != 2 || roles[0] != RoleCandidate || roles[1] != RoleReviewer {
		t.Fatalf("checkRoles = %v, %v", roles, err)
	}
	t.Run("unknown role", func(t *testing.T) {
		_, err := checkRoles([]Role{RoleCandidate, "root"})
		mustFieldError(t, err, "roles[1]")
	})
	t.Run("no role", func(t *testing.T) {
		_, err := checkRoles(nil)
		mustFieldError(t, err, "roles")
	})
	panels, err := checkPanels([]string{"civil_society", "lp_committee", "civil_society"})
	if err != nil || len(panels) != 2 {
		t.Fatalf("checkPanels = %v, %v", panels, err)
	}
	t.Run("bad panel", func(t *testing.T) {
		_, err := checkPanels([]string{"ok", "Not OK"})
		mustFieldError(t, err, "panels[1]")
	})
	t.Run("too many panels", func(t *testing.T) {
		many := make([]string, MaxPanels+1)
		for i := range many {
			many[i] = "p" + strings.Repeat("x", i%5)
		}
		_, err := checkPanels(many)
		mustFieldError(t, err, "panels")
	})
}
