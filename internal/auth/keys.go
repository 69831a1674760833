package auth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/igf/nomina/internal/secretfile"
)

// Key is one Ed25519 key of a KeySet. Private is nil for a key that only
// verifies (one retired from signing but whose tokens may still be alive).
type Key struct {
	ID      string
	Public  ed25519.PublicKey
	Private ed25519.PrivateKey
}

// KeySet is the fixed set of keys access tokens are signed and verified
// with: the first key signs, every key verifies, and a token's "kid" header
// must name one of them. Rotating keys means putting a new key first and
// keeping the old one until the tokens it signed have expired.
type KeySet struct {
	signer *Key
	byID   map[string]*Key
}

// NewKeySet returns a KeySet whose first key signs. It returns an error when
// keys is empty, the first key has no private half, or two keys share an id.
func NewKeySet(keys ...Key) (*KeySet, error) {
	if len(keys) == 0 {
		return nil, errors.New("key set: no keys")
	}
	ks := &KeySet{byID: make(map[string]*Key, len(keys))}
	for i := range keys {
		k := keys[i]
		if len(k.Public) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("key set: key %d: not an Ed25519 public key", i)
		}
		if k.Private != nil && !bytes.Equal(k.Private.Public().(ed25519.PublicKey), k.Public) {
			return nil, fmt.Errorf("key set: key %d: private and public halves differ", i)
		}
		if k.ID == "" {
			k.ID = Thumbprint(k.Public)
		}
		if _, dup := ks.byID[k.ID]; dup {
			return nil, fmt.Errorf("key set: key id %q appears twice", k.ID)
		}
		ks.byID[k.ID] = &k
		if i == 0 {
			if k.Private == nil {
				return nil, errors.New("key set: the first key signs and needs its private half")
			}
			ks.signer = &k
		}
	}
	return ks, nil
}

// SigningKeyID returns the id of the key that signs new tokens.
func (ks *KeySet) SigningKeyID() string { return ks.signer.ID }

// lookup returns the public key with that id.
func (ks *KeySet) lookup(kid string) (ed25519.PublicKey, bool) {
	k, ok := ks.byID[kid]
	if !ok {
		return nil, false
	}
	return k.Public, true
}

// Thumbprint returns the RFC 7638 JWK thumbprint of an Ed25519 public key,
// used as its key id.
func Thumbprint(pub ed25519.PublicKey) string {
	jwk := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(jwk))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// keyFile is the JSON form of a key set: the first key signs.
type keyFile struct {
	Keys []keyFileEntry `json:"keys"`
}

type keyFileEntry struct {
	ID     string `json:"kid,omitempty"`
	Seed   string `json:"seed,omitempty"`   // base64url Ed25519 seed (32 bytes)
	Public string `json:"public,omitempty"` // base64url public key, for verify-only keys
}

// ParseKeys reads a key set from data in one of two forms: PEM (PKCS#8
// "PRIVATE KEY" and PKIX "PUBLIC KEY" blocks; the first private key signs,
// ids are thumbprints) or JSON {"keys": [{"kid", "seed" | "public"}]}
// (the first entry signs). It returns an error naming what it could not read.
func ParseKeys(data []byte) (*KeySet, error) {
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		return parsePEMKeys(trimmed)
	}
	var f keyFile
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("key set: read JSON: %w", err)
	}
	keys := make([]Key, 0, len(f.Keys))
	for i, e := range f.Keys {
		var k Key
		switch {
		case e.Seed != "":
			seed, err := base64.RawURLEncoding.DecodeString(e.Seed)
			if err != nil || len(seed) != ed25519.SeedSize {
				return nil, fmt.Errorf("key set: key %d: seed is not %d base64url bytes", i, ed25519.SeedSize)
			}
			k.Private = ed25519.NewKeyFromSeed(seed)
			k.Public = k.Private.Public().(ed25519.PublicKey)
		case e.Public != "":
			pub, err := base64.RawURLEncoding.DecodeString(e.Public)
			if err != nil || len(pub) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("key set: key %d: public is not %d base64url bytes", i, ed25519.PublicKeySize)
			}
			k.Public = pub
		default:
			return nil, fmt.Errorf("key set: key %d: neither seed nor public", i)
		}
		k.ID = e.ID
		keys = append(keys, k)
	}
	return NewKeySet(keys...)
}

func parsePEMKeys(data []byte) (*KeySet, error) {
	var keys []Key
	for i := 0; ; i++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		switch block.Type {
		case "PRIVATE KEY":
			key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("key set: PEM block %d: %w", i, err)
			}
			priv, ok := key.(ed25519.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("key set: PEM block %d: not an Ed25519 key", i)
			}
			k := Key{Private: priv, Public: priv.Public().(ed25519.PublicKey)}
			if keys == nil || keys[0].Private != nil {
				keys = append(keys, k)
			} else {
				// The first private key signs even when public keys precede it.
				keys = append([]Key{k}, keys...)
			}
		case "PUBLIC KEY":
			key, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("key set: PEM block %d: %w", i, err)
			}
			pub, ok := key.(ed25519.PublicKey)
			if !ok {
				return nil, fmt.Errorf("key set: PEM block %d: not an Ed25519 key", i)
			}
			keys = append(keys, Key{Public: pub})
		default:
			return nil, fmt.Errorf("key set: PEM block %d: unexpected type %q", i, block.Type)
		}
	}
	if len(bytes.TrimSpace(data)) != 0 {
		return nil, errors.New("key set: trailing data after the PEM blocks")
	}
	return NewKeySet(keys...)
}

// GenerateKeys returns a new key set of one Ed25519 key drawn from rand,
// and its JSON encoding as ParseKeys reads it.
func GenerateKeys(rand io.Reader) (*KeySet, []byte, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(rand, seed); err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	f := keyFile{Keys: []keyFileEntry{{ID: Thumbprint(pub), Seed: base64.RawURLEncoding.EncodeToString(seed)}}}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	ks, err := NewKeySet(Key{ID: f.Keys[0].ID, Public: pub, Private: priv})
	return ks, append(data, '\n'), err
}

// LoadOrCreateKeys reads the key set kept at path, or, when there is no
// file yet, generates one key from rand and stores it there with mode 0600
// (creating the directory with 0700). Several processes starting together
// agree on one key: the file appears atomically and only the first writer's
// survives. It refuses a file that group or others may read, and returns
// an error for a file it cannot parse.
func LoadOrCreateKeys(path string, rand io.Reader) (*KeySet, error) {
	ks, err := loadKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return ks, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("key set: %w", err)
	}
	ks, data, err := GenerateKeys(rand)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, ".jwt-keys-*")
	if err != nil {
		return nil, fmt.Errorf("key set: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("key set: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("key set: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("key set: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("key set: %w", err)
	}
	// A hard link fails when path exists, so a concurrent starter that got
	// there first wins and we read its key instead of overwriting it.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return loadKeyFile(path)
		}
		return nil, fmt.Errorf("key set: %w", err)
	}
	return ks, nil
}

func loadKeyFile(path string) (*KeySet, error) {
	data, err := secretfile.Read(path, 1<<20, "signing keys")
	if err != nil {
		return nil, fmt.Errorf("key set: %w", err)
	}
	ks, err := ParseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ks, nil
}
