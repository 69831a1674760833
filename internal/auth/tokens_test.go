package auth

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/igf/nomina/internal/nomination"
)

var testNow = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func mustKeys(tb testing.TB) *KeySet {
	tb.Helper()
	ks, _, err := GenerateKeys(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return ks
}

func mustIssue(tb testing.TB, a *AccessTokens, iat time.Time) string {
	tb.Helper()
	tok, _, err := a.Issue("u-1", "s-1", "j-1", iat)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// craft signs arbitrary claims and headers, as an attacker (or a careless
// issuer) might.
func craft(tb testing.TB, m jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	tb.Helper()
	t := jwt.NewWithClaims(m, claims)
	for k, v := range header {
		if v == nil {
			delete(t.Header, k)
		} else {
			t.Header[k] = v
		}
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatalf("craft: %v", err)
	}
	return s
}

func goodClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": "nomina", "aud": []string{"nomina-api"}, "sub": "u-1", "sid": "s-1",
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for kk, vv := range c {
		out[kk] = vv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func TestAccessTokenVerify(t *testing.T) {
	ks := mustKeys(t)
	other := mustKeys(t)
	a := NewAccessTokens(ks, "nomina", "nomina-api", 10*time.Minute, func() time.Time { return testNow })
	priv := ks.signer.Private
	pub := ks.signer.Public
	kid := ks.SigningKeyID()
	hdr := map[string]any{"typ": "at+jwt", "kid": kid}
	c := goodClaims(testNow)

	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"issued by the service", mustIssue(t, a, testNow), true},
		{"crafted with the right key and claims", craft(t, jwt.SigningMethodEdDSA, priv, hdr, c), true},
		{"expired within the leeway", craft(t, jwt.SigningMethodEdDSA, priv, hdr, with(c, "exp", testNow.Add(-10*time.Second).Unix())), true},
		{"typ in media type form", craft(t, jwt.SigningMethodEdDSA, priv, map[string]any{"typ": "application/at+jwt", "kid": kid}, c), true},

		{"alg none", craft(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, hdr, c), false},
		{"HS256 signed with the public key", craft(t, jwt.SigningMethodHS256, []byte(pub), hdr, c), false},
		{"signed by another key under our kid", craft(t, jwt.SigningMethodEdDSA, other.signer.Private, hdr, c), false},
		{"no exp", craft(t, jwt.SigningMethodEdDSA, priv, hdr, with(c, "exp", nil)), false},
		{"expired beyond the leeway", craft(t, jwt.SigningMethodEdDSA, priv, hdr, with(c, "exp", testNow.Add(-2*time.Minute).Unix())), false},
		{"issued in the future", craft(t, jwt.SigningMethodEdDSA, priv, hdr, with(c, "iat", testNow.Add(time.Hour).Unix())), false},
		{"no iat", craft(t, jwt.SigningMethodEdDSA, priv, hdr, with(c, "iat", nil)), false},
		{"wrong iss", craft(t, jwt.SigningMethodEdDSA, priv, hdr, with(c, "iss", "evil")), false},
		{"no iss", craft(t, jwt.SigningMethodEdDSA, priv, hdr, with(c, "iss", nil)), false},
		{"wrong aud", craft(t, jwt.SigningMethodEdDSA, priv, hdr, with(c, "aud", "other-api")), false},
		{"no aud", craft(t, jwt.SigningMethodEdDSA, priv, hdr, with(c, "aud", nil)), false},
		{"no sub", craft(t, jwt.SigningMethodEdDSA, priv, hdr, with(c, "sub", nil)), false},
		{"no sid", craft(t, jwt.SigningMethodEdDSA, priv, hdr, with(c, "sid", nil)), false},
		{"typ JWT", craft(t, jwt.SigningMethodEdDSA, priv, map[string]any{"typ": "JWT", "kid": kid}, c), false},
		{"no typ", craft(t, jwt.SigningMethodEdDSA, priv, map[string]any{"typ": nil, "kid": kid}, c), false},
		{"unknown kid", craft(t, jwt.SigningMethodEdDSA, priv, map[string]any{"typ": "at+jwt", "kid": "nope"}, c), false},
		{"no kid", craft(t, jwt.SigningMethodEdDSA, priv, map[string]any{"typ": "at+jwt"}, c), false},
		{"kid with injection payload", craft(t, jwt.SigningMethodEdDSA, priv, map[string]any{"typ": "at+jwt", "kid": `../../etc/passwd' OR '1'='1"; $where: 1`}, c), false},
		{"kid of another type", craft(t, jwt.SigningMethodEdDSA, priv, map[string]any{"typ": "at+jwt", "kid": map[string]any{"$ne": ""}}, c), false},
		{"refresh token", strings.Repeat("A", 43), false},
		{"empty", "", false},
		{"1 MB of dots", strings.Repeat(".", 1<<20), false},
		{"two dots", "..", false},
		{"four segments", mustIssue(t, a, testNow) + ".x", false},
		{"padded base64", strings.Replace(mustIssue(t, a, testNow), ".", "=.", 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.Verify(tt.token)
			if !tt.ok {
				if err == nil {
					t.Fatalf("accepted: %+v", got)
				}
				if nomination.ErrorCode(err) != nomination.EUNAUTHORIZED {
					t.Fatalf("error = %v, want EUNAUTHORIZED", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if got.UserID != "u-1" || got.SessionID != "s-1" || !got.IssuedAt.Equal(testNow) {
				t.Fatalf("claims = %+v", got)
			}
		})
	}
}

func TestAccessTokenHeaderAndLifetime(t *testing.T) {
	ks := mustKeys(t)
	a := NewAccessTokens(ks, "nomina", "nomina-api", 0, func() time.Time { return testNow })
	tok, exp, err := a.Issue("u-1", "s-1", "j-1", testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(testNow.Add(DefaultAccessTTL)) {
		t.Fatalf("exp = %v, want %v", exp, testNow.Add(DefaultAccessTTL))
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Header["alg"] != "EdDSA" || parsed.Header["typ"] != "at+jwt" || parsed.Header["kid"] != ks.SigningKeyID() {
		t.Fatalf("header = %v", parsed.Header)
	}
	later := NewAccessTokens(ks, "nomina", "nomina-api", 0, func() time.Time { return testNow.Add(DefaultAccessTTL + time.Minute) })
	if _, err := later.Verify(tok); err == nil {
		t.Fatal("token accepted after its lifetime and the leeway")
	}
}

// After a rotation the new key signs, and tokens of the old key verify for
// as long as the old key stays in the set.
func TestKeyRotation(t *testing.T) {
	oldKeys := mustKeys(t)
	newKeys := mustKeys(t)
	clock := func() time.Time { return testNow }
	oldTok := mustIssue(t, NewAccessTokens(oldKeys, "nomina", "nomina-api", 0, clock), testNow)

	rotated, err := NewKeySet(*newKeys.signer, Key{ID: oldKeys.signer.ID, Public: oldKeys.signer.Public})
	if err != nil {
		t.Fatal(err)
	}
	a := NewAccessTokens(rotated, "nomina", "nomina-api", 0, clock)
	if _, err := a.Verify(oldTok); err != nil {
		t.Fatalf("old key's token refused while the key is kept: %v", err)
	}
	newTok := mustIssue(t, a, testNow)
	if p, _, _ := jwt.NewParser().ParseUnverified(newTok, jwt.MapClaims{}); p.Header["kid"] != newKeys.SigningKeyID() {
		t.Fatalf("new tokens signed with %v, want the newest key", p.Header["kid"])
	}
	dropped := NewAccessTokens(newKeys, "nomina", "nomina-api", 0, clock)
	if _, err := dropped.Verify(oldTok); err == nil {
		t.Fatal("old key's token accepted after the key left the set")
	}
}

func TestOpaqueTokens(t *testing.T) {
	tok, err := randomToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if !wellFormedOpaque(tok) {
		t.Fatalf("%q is not well formed", tok)
	}
	for _, bad := range []string{"", tok[:42], tok + "A", strings.Repeat("!", 43), strings.Repeat(".", 43)} {
		if wellFormedOpaque(bad) {
			t.Fatalf("%q accepted as an opaque token", bad)
		}
	}
	if h := HashToken(tok); len(h) != 64 || h == HashToken(tok[:42]+"B") {
		t.Fatalf("HashToken = %q", h)
	}
}

// BenchmarkVerifyAccessToken measures what every authenticated request
// spends on its token before the store is asked.
func BenchmarkVerifyAccessToken(b *testing.B) {
	a := NewAccessTokens(mustKeys(b), "nomina", "nomina-api", 0, func() time.Time { return testNow })
	tok := mustIssue(b, a, testNow)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRefuseHugeToken measures the cost of a 1 MB token of dots.
func BenchmarkRefuseHugeToken(b *testing.B) {
	a := NewAccessTokens(mustKeys(b), "nomina", "nomina-api", 0, func() time.Time { return testNow })
	tok := strings.Repeat(".", 1<<20)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Verify(tok); err == nil {
			b.Fatal("accepted")
		}
	}
}

// A key ring signs and verifies with whatever set it holds at the moment
// of the call: nothing before the first set (the service is starting),
// then the set's signer; a set swapped in while tokens are alive keeps
// them valid as long as their key is in it.
func TestKeyRingSwapsSets(t *testing.T) {
	ring := NewKeyRing()
	clock := func() time.Time { return testNow }
	a := NewAccessTokens(ring, "nomina", "nomina-api", 0, clock)
	if _, _, err := a.Issue("u", "s", "j", testNow); nomination.ErrorCode(err) != nomination.EUNAVAILABLE {
		t.Fatalf("issue without keys: %v, want EUNAVAILABLE", err)
	}
	oldKeys, newKeys := mustKeys(t), mustKeys(t)
	oldTok := mustIssue(t, NewAccessTokens(oldKeys, "nomina", "nomina-api", 0, clock), testNow)
	if _, err := a.Verify(oldTok); err == nil {
		t.Fatal("a token accepted before any key was loaded")
	}
	ring.Set(oldKeys)
	if _, err := a.Verify(oldTok); err != nil {
		t.Fatalf("refused after the set was loaded: %v", err)
	}
	seed := newKeys.SigningSeed()
	k, ok := KeyFromSeed(seed)
	if !ok || k.ID != newKeys.SigningKeyID() {
		t.Fatalf("KeyFromSeed gives %q, want %q", k.ID, newKeys.SigningKeyID())
	}
	rotated, err := NewKeySet(k, Key{ID: oldKeys.signer.ID, Public: oldKeys.signer.Public})
	if err != nil {
		t.Fatal(err)
	}
	ring.Set(rotated)
	if ids := rotated.KeyIDs(); len(ids) != 2 || ids[0] != k.ID {
		t.Fatalf("KeyIDs = %v, want the signer first", ids)
	}
	if _, err := a.Verify(oldTok); err != nil {
		t.Fatalf("old token refused while its key is kept: %v", err)
	}
	if p, _, _ := jwt.NewParser().ParseUnverified(mustIssue(t, a, testNow), jwt.MapClaims{}); p.Header["kid"] != k.ID {
		t.Fatalf("signed with %v after the swap, want %s", p.Header["kid"], k.ID)
	}
	ring.Set(newKeys)
	if _, err := a.Verify(oldTok); err == nil {
		t.Fatal("old token accepted after its key left the ring")
	}
}
