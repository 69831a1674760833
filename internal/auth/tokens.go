package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/igf/nomina/internal/nomination"
)

// Access token settings.
const (
	// AccessTokenType is the JWT "typ" header of access tokens (RFC 9068),
	// which keeps any other JWT from being accepted as one.
	AccessTokenType = "at+jwt"
	// MaxTokenLength bounds a presented access token; anything longer is
	// refused before any decoding, so a huge header costs nothing.
	MaxTokenLength = 4096
	// DefaultAccessTTL is how long an access token lives.
	DefaultAccessTTL = 10 * time.Minute
	// tokenLeeway absorbs clock skew between replicas.
	tokenLeeway = 30 * time.Second
)

// errBadToken is the one answer to any access token that is not accepted;
// why it was refused is not the caller's business.
var errBadToken = nomination.Fail(nomination.EUNAUTHORIZED, "BadAccessToken", "the access token is missing, invalid or expired")

// errNoKeys answers a sign-in before the signing keys are loaded from the
// store (the service is not ready yet).
var errNoKeys = nomination.Fail(nomination.EUNAVAILABLE, "ServiceStarting", "the service is starting; try again shortly")

// AccessClaims are the claims of a verified access token.
type AccessClaims struct {
	UserID    string
	SessionID string
	TokenID   string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

type jwtClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
}

// AccessTokens signs and verifies access tokens: EdDSA JWTs with a pinned
// algorithm, required exp, iss, aud, sub and sid, "typ" at+jwt and a "kid"
// from the key set.
type AccessTokens struct {
	keys     KeySource
	issuer   string
	audience string
	ttl      time.Duration
	parser   *jwt.Parser
}

// NewAccessTokens returns an AccessTokens for issuer and audience whose
// tokens live ttl (DefaultAccessTTL when zero); now is the clock that
// judges expiry.
func NewAccessTokens(keys KeySource, issuer, audience string, ttl time.Duration, now func() time.Time) *AccessTokens {
	if ttl <= 0 {
		ttl = DefaultAccessTTL
	}
	return &AccessTokens{
		keys: keys, issuer: issuer, audience: audience, ttl: ttl,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuer(issuer),
			jwt.WithAudience(audience),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(tokenLeeway),
			jwt.WithTimeFunc(now),
			jwt.WithStrictDecoding(),
		),
	}
}

// TTL returns the lifetime of the tokens Issue makes.
func (a *AccessTokens) TTL() time.Duration { return a.ttl }

// Issue returns a signed access token for the user and session, issued at
// iat, with tokenID as its "jti", and its expiry time.
func (a *AccessTokens) Issue(userID, sessionID, tokenID string, iat time.Time) (string, time.Time, error) {
	exp := iat.Add(a.ttl)
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    a.issuer,
			Subject:   userID,
			Audience:  jwt.ClaimStrings{a.audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(iat),
			ID:        tokenID,
		},
		SessionID: sessionID,
	})
	ks := a.keys.KeySet()
	if ks == nil {
		return "", time.Time{}, errNoKeys
	}
	t.Header["typ"] = AccessTokenType
	t.Header["kid"] = ks.signer.ID
	s, err := t.SignedString(ks.signer.Private)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign access token: %w", err)
	}
	return s, exp, nil
}

// Verify checks an access token's size, signature, header and claims and
// returns its claims. Every refusal is the same EUNAUTHORIZED error.
func (a *AccessTokens) Verify(token string) (*AccessClaims, error) {
	if len(token) == 0 || len(token) > MaxTokenLength || strings.Count(token, ".") != 2 {
		return nil, errBadToken
	}
	var c jwtClaims
	_, err := a.parser.ParseWithClaims(token, &c, a.keyFunc)
	if err != nil {
		return nil, errBadToken
	}
	if c.Subject == "" || c.SessionID == "" || c.IssuedAt == nil {
		return nil, errBadToken
	}
	return &AccessClaims{
		UserID: c.Subject, SessionID: c.SessionID, TokenID: c.ID,
		IssuedAt: c.IssuedAt.Time, ExpiresAt: c.ExpiresAt.Time,
	}, nil
}

func (a *AccessTokens) keyFunc(t *jwt.Token) (any, error) {
	if typ, _ := t.Header["typ"].(string); !strings.EqualFold(typ, AccessTokenType) &&
		!strings.EqualFold(typ, "application/"+AccessTokenType) {
		return nil, errors.New("not an access token")
	}
	kid, _ := t.Header["kid"].(string)
	ks := a.keys.KeySet()
	if ks == nil {
		return nil, errors.New("no keys loaded")
	}
	key, ok := ks.lookup(kid)
	if !ok {
		return nil, errors.New("unknown key id")
	}
	return key, nil
}

// randomToken returns 32 bytes from rand, base64url-encoded: the opaque
// refresh and link tokens.
func randomToken(rand io.Reader) (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// randomID returns n random bytes from rand as lower-case hex.
func randomID(rand io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// HashToken returns the hex SHA-256 of an opaque token: the form in which
// refresh and link tokens are stored and looked up. A fast hash suffices
// because the tokens carry 256 random bits.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// wellFormedOpaque reports whether s looks like a token randomToken made,
// so garbage is refused without a store round trip.
func wellFormedOpaque(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}
