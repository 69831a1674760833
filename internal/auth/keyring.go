package auth

import (
	"crypto/ed25519"
	"sync/atomic"
)

// KeySource gives the key set access tokens are signed and verified with
// at the moment of the call. A *KeySet is a source of itself; a *KeyRing's
// set changes while the service runs (keys shared by several instances
// through the store, rotated).
type KeySource interface {
	// KeySet returns the current key set, or nil while none is loaded.
	KeySet() *KeySet
}

// KeySet returns ks itself: a fixed key set is its own source.
func (ks *KeySet) KeySet() *KeySet { return ks }

// KeyRing is a KeySource whose set is replaced as a whole (Set) when the
// keys kept elsewhere change. It is safe for concurrent use; readers see
// either the old set or the new one, never a mixture.
type KeyRing struct {
	cur atomic.Pointer[KeySet]
}

// NewKeyRing returns a ring holding no key set yet: tokens are neither
// signed nor accepted until Set is called.
func NewKeyRing() *KeyRing { return &KeyRing{} }

// KeySet returns the current set, nil before the first Set.
func (r *KeyRing) KeySet() *KeySet { return r.cur.Load() }

// Set makes ks the current set.
func (r *KeyRing) Set(ks *KeySet) { r.cur.Store(ks) }

// KeyFromSeed returns the Ed25519 key made from a 32-byte seed, identified
// by its thumbprint.
func KeyFromSeed(seed []byte) (Key, bool) {
	if len(seed) != ed25519.SeedSize {
		return Key{}, false
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	return Key{ID: Thumbprint(pub), Public: pub, Private: priv}, true
}

// SigningSeed returns the seed of the key that signs, for carrying a key
// set kept in a file over into the store.
func (ks *KeySet) SigningSeed() []byte { return ks.signer.Private.Seed() }

// KeyIDs returns the ids of every key of the set, the signing key first.
func (ks *KeySet) KeyIDs() []string {
	out := []string{ks.signer.ID}
	for id := range ks.byID {
		if id != ks.signer.ID {
			out = append(out, id)
		}
	}
	return out
}
