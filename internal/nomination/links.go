package nomination

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// LinkSigner makes and checks the signed, expiring tokens in mailed links
// (a nominee's consent, an endorser's confirmation). They need no account
// and no store lookup to verify; the events they lead to make them
// single-use.
type LinkSigner struct {
	key []byte
}

// NewLinkSigner returns a signer with key (at least 32 bytes).
func NewLinkSigner(key []byte) *LinkSigner { return &LinkSigner{key: append([]byte(nil), key...)} }

// LinkClaims is what a link token carries.
type LinkClaims struct {
	Kind         string `json:"k"` // consent, endorse
	NominationID string `json:"n"`
	Ref          string `json:"r,omitempty"` // the endorsement id
	Expires      int64  `json:"e"`
}

const maxLinkToken = 512

// Sign returns the token for c.
func (s *LinkSigner) Sign(c LinkClaims) string {
	payload, _ := json.Marshal(c)
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + s.mac(p)
}

func (s *LinkSigner) mac(p string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("nomina-link\x00" + p))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Verify checks token's signature, kind and expiry at now. Any failure is
// ENOTFOUND, so a forged or stale link reveals nothing.
func (s *LinkSigner) Verify(token, kind string, now time.Time) (LinkClaims, error) {
	bad := Errorf(ENOTFOUND, "this link is not valid or has expired")
	if len(token) > maxLinkToken {
		return LinkClaims{}, bad
	}
	p, sig, ok := strings.Cut(token, ".")
	if !ok || subtle.ConstantTimeCompare([]byte(sig), []byte(s.mac(p))) != 1 {
		return LinkClaims{}, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return LinkClaims{}, bad
	}
	var c LinkClaims
	if err := json.Unmarshal(raw, &c); err != nil || c.Kind != kind || now.Unix() >= c.Expires {
		return LinkClaims{}, bad
	}
	return c, nil
}
