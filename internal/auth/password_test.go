package auth

import (
	"crypto/rand"
	"strings"
	"testing"
)

// fastParams keep the tests quick; the production parameters are measured
// by BenchmarkHashPassword.
var fastParams = HashParams{Memory: 64, Time: 1, Threads: 1}

func mustHash(tb testing.TB, password string, p HashParams) string {
	tb.Helper()
	h, err := HashPassword(password, p, rand.Reader)
	if err != nil {
		tb.Fatalf("hash: %v", err)
	}
	return h
}

func TestHashPasswordRoundTrip(t *testing.T) {
	long := strings.Repeat("ö", MaxPasswordLength)
	tests := []struct {
		name, password, attempt string
		want                    bool
	}{
		{"same password", "river lamp cloud", "river lamp cloud", true},
		{"different password", "river lamp cloud", "river lamp clouds", false},
		{"case matters", "River Lamp Cloud", "river lamp cloud", false},
		{"composed and decomposed forms match", "caf\u00e9 au lait", "cafe\u0301 au lait", true},
		{"long password is not truncated", long, long[:len(long)-2] + "o", false},
		{"long password verifies", long, long, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := mustHash(t, tt.password, fastParams)
			got, err := VerifyPassword(tt.attempt, h)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if got != tt.want {
				t.Fatalf("VerifyPassword = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHashPasswordSaltsEachHash(t *testing.T) {
	a, b := mustHash(t, "river lamp cloud", fastParams), mustHash(t, "river lamp cloud", fastParams)
	if a == b {
		t.Fatalf("two hashes of one password are equal: %s", a)
	}
	if !strings.HasPrefix(a, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string with its parameters", a)
	}
}

func TestVerifyPasswordRefusesMalformedHashes(t *testing.T) {
	good := mustHash(t, "river lamp cloud", fastParams)
	parts := strings.Split(good, "$")
	tests := []struct{ name, hash string }{
		{"empty", ""},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuu5Zq7N1b1i1Q2b1i1Q2b1i1Q2b1i1Q2"},
		{"argon2i", strings.Replace(good, "argon2id", "argon2i", 1)},
		{"wrong version", strings.Replace(good, "v=19", "v=16", 1)},
		{"memory too large", strings.Replace(good, "m=64", "m=99999999", 1)},
		{"zero time", strings.Replace(good, "t=1", "t=0", 1)},
		{"too many threads", strings.Replace(good, "p=1", "p=255", 1)},
		{"bad salt", strings.Join([]string{"", parts[1], parts[2], parts[3], "!!", parts[5]}, "$")},
		{"short key", strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], "AAAA"}, "$")},
		{"extra segment", good + "$x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := VerifyPassword("river lamp cloud", tt.hash)
			if err == nil || ok {
				t.Fatalf("VerifyPassword(%q) = %v, %v; want an error", tt.hash, ok, err)
			}
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	h := mustHash(t, "river lamp cloud", fastParams)
	if NeedsRehash(h, fastParams) {
		t.Fatal("a hash made with the current parameters needs no rehash")
	}
	if !NeedsRehash(h, DefaultHashParams()) {
		t.Fatal("a hash with other parameters needs a rehash")
	}
	if !NeedsRehash("garbage", fastParams) {
		t.Fatal("an unreadable hash needs a rehash")
	}
}

// BenchmarkHashPassword measures one hash at the production parameters:
// the time a registration, login or reset spends on the password.
func BenchmarkHashPassword(b *testing.B) {
	p := DefaultHashParams()
	for b.Loop() {
		if _, err := HashPassword("correct horse battery staple", p, rand.Reader); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyPassword measures a login's password check.
func BenchmarkVerifyPassword(b *testing.B) {
	h := mustHash(b, "correct horse battery staple", DefaultHashParams())
	for b.Loop() {
		if ok, err := VerifyPassword("correct horse battery staple", h); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
