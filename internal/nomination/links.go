package nomination

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync/atomic"
	"time"
)

// LinkSigner makes and checks the signed, expiring tokens in mailed links
// (a nominee's consent, an endorser's confirmation, an account's password
// and address links). They need no store lookup to verify; the events or
// records they lead to make them single-use. Its key never lies in the
// store in the clear (a file, or the store sealed under a key that is not
// in it), and mail jobs keep a link's claims only (see SealedLink):
// whoever reads the store cannot follow a mailed link.
//
// Its keys may be replaced while it is in use (SetKeys): the first key
// signs, every key verifies, so links signed with a retired key keep
// working until they expire.
type LinkSigner struct {
	keys atomic.Pointer[[][]byte]
}

// NewLinkSigner returns a signer with key (at least 32 bytes); a nil key
// makes a signer with no key until SetKeys.
func NewLinkSigner(key []byte) *LinkSigner {
	s := &LinkSigner{}
	if key != nil {
		s.SetKeys(key)
	}
	return s
}

// SetKeys makes sign the key new links are signed with and keeps verify
// for checking links signed earlier.
func (s *LinkSigner) SetKeys(sign []byte, verify ...[]byte) {
	keys := [][]byte{append([]byte(nil), sign...)}
	for _, k := range verify {
		keys = append(keys, append([]byte(nil), k...))
	}
	s.keys.Store(&keys)
}

// Ready reports whether the signer has a key. Until it has, Sign returns
// an empty token and Verify accepts nothing: whatever mails links waits
// for it.
func (s *LinkSigner) Ready() bool { return s.keys.Load() != nil }

// LinkClaims is what a link token carries.
type LinkClaims struct {
	Kind         string `json:"k"` // consent, endorse, password_reset, set_password, confirm_email
	NominationID string `json:"n"`
	Ref          string `json:"r,omitempty"` // the endorsement id; the user id of account links
	// Nonce makes each account link its own token, so using one up leaves
	// no other usable; Issued (Unix seconds) dates it against the
	// account's last password change; Address fingerprints the address
	// the link was mailed to.
	Nonce   string `json:"x,omitempty"`
	Issued  int64  `json:"i,omitempty"`
	Address string `json:"a,omitempty"`
	Expires int64  `json:"e"`
}

// SealedLink is a mailed link kept without its secret: the page it leads
// to and the claims its token is signed from. A mail job stores sealed
// links; the token is made by Unseal when the message is sent, so a read
// of the mail queue yields no working link.
type SealedLink struct {
	// Path is the link up to the token, such as "/reset-password/".
	Path   string
	Claims LinkClaims
}

// Unseal returns job with the token of each sealed link signed and added
// to its Links (under the same name). Signing is deterministic: every
// attempt to send a job carries the same links.
func (s *LinkSigner) Unseal(job MailJob) MailJob {
	if len(job.Sealed) == 0 {
		return job
	}
	links := make(map[string]string, len(job.Links)+len(job.Sealed))
	for k, v := range job.Links {
		links[k] = v
	}
	for name, l := range job.Sealed {
		links[name] = l.Path + s.Sign(l.Claims)
	}
	job.Links = links
	return job
}

const maxLinkToken = 512

// Sign returns the token for c, or "" while the signer has no key.
func (s *LinkSigner) Sign(c LinkClaims) string {
	keys := s.keys.Load()
	if keys == nil {
		return ""
	}
	payload, _ := json.Marshal(c)
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + linkMAC((*keys)[0], p)
}

func linkMAC(key []byte, p string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("nomina-link\x00" + p))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// signedByOne reports whether sig is p's MAC under one of the keys; every
// key is tried, so the time taken does not say which one matched.
func (s *LinkSigner) signedByOne(p, sig string) bool {
	keys := s.keys.Load()
	if keys == nil {
		return false
	}
	ok := 0
	for _, k := range *keys {
		ok |= subtle.ConstantTimeCompare([]byte(sig), []byte(linkMAC(k, p)))
	}
	return ok == 1
}

// Verify checks token's signature, kind and expiry at now. Any failure is
// ENOTFOUND, so a forged or stale link reveals nothing.
func (s *LinkSigner) Verify(token, kind string, now time.Time) (LinkClaims, error) {
	c, err := s.Inspect(token, kind)
	if err != nil || now.Unix() >= c.Expires {
		return LinkClaims{}, errBadLinkToken
	}
	return c, nil
}

// Inspect checks token's signature and kind, not its expiry, and returns
// its claims: for a page that tells a link which expired (a link Nomina
// made) from one that was never valid. It acts on nothing; use Verify
// before acting. Any failure is ENOTFOUND.
func (s *LinkSigner) Inspect(token, kind string) (LinkClaims, error) {
	if len(token) > maxLinkToken {
		return LinkClaims{}, errBadLinkToken
	}
	p, sig, ok := strings.Cut(token, ".")
	if !ok || !s.signedByOne(p, sig) {
		return LinkClaims{}, errBadLinkToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return LinkClaims{}, errBadLinkToken
	}
	var c LinkClaims
	if err := json.Unmarshal(raw, &c); err != nil || c.Kind != kind {
		return LinkClaims{}, errBadLinkToken
	}
	return c, nil
}

// errBadLinkToken is the one answer to a link token that is not accepted.
var errBadLinkToken = Fail(ENOTFOUND, "LinkNotValid", "this link is not valid or has expired")
