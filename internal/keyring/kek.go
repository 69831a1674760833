// Package keyring keeps the secrets every instance of Nomina signs with —
// the keys of access tokens and the key of mailed links — in the store, so
// that any number of instances share them, sealed under a key-encryption
// key (KEK) that is never written to the store.
//
// Why sealed: a read of the store (a dump, a backup, a read-only account,
// a copy of the embedded store's files) must not let anyone sign an access
// token or forge a mailed link (password reset, address confirmation,
// consent, endorsement). The KEK lives in a file beside the service (mode
// 0600); every instance on one store is given the same file, once, as it
// is given the store's address. Only a holder of both the KEK and the
// store can sign. What protects the KEK is what protected the key files
// before: the file system of the machines that run Nomina.
//
// The commit point of every change is the insert of a document with a
// fixed _id ("<kind>/<generation>"): the first generation is created by
// whichever instance starts first (the others get a duplicate key and read
// the winner's), and a rotation inserts the next generation, which every
// instance reads before it signs with it.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/igf/nomina/internal/secretfile"
)

// KEKSize is the length in bytes of a key-encryption key (AES-256).
const KEKSize = 32

// KEK is a key-encryption key: it seals and opens the secrets kept in the
// store with AES-256-GCM, binding each to its document id.
type KEK struct {
	id   string
	aead cipher.AEAD
}

// NewKEK returns the KEK made of key (KEKSize bytes).
func NewKEK(key []byte) (*KEK, error) {
	if len(key) != KEKSize {
		return nil, fmt.Errorf("key-encryption key: %d bytes, want %d", len(key), KEKSize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("nomina key-encryption key id"))
	return &KEK{id: hex.EncodeToString(m.Sum(nil)[:8]), aead: aead}, nil
}

// ID names the key without revealing it: it is stored with what it seals,
// so a mismatch is reported as such rather than as corrupt data.
func (k *KEK) ID() string { return k.id }

// seal encrypts secret for the document id, with a random nonce.
func (k *KEK) seal(id string, secret []byte, rnd io.Reader) (nonce, box []byte, err error) {
	nonce = make([]byte, k.aead.NonceSize())
	if _, err := io.ReadFull(rnd, nonce); err != nil {
		return nil, nil, fmt.Errorf("seal %s: %w", id, err)
	}
	return nonce, k.aead.Seal(nil, nonce, secret, []byte("nomina-secret\x00"+id)), nil
}

// open decrypts what seal made for id; a box moved to another id, altered,
// or sealed under another key does not open.
func (k *KEK) open(id string, nonce, box []byte) ([]byte, error) {
	if len(nonce) != k.aead.NonceSize() {
		return nil, fmt.Errorf("open %s: bad nonce", id)
	}
	out, err := k.aead.Open(nil, nonce, box, []byte("nomina-secret\x00"+id))
	if err != nil {
		return nil, fmt.Errorf("open %s: altered, or sealed under another key", id)
	}
	return out, nil
}

// ReadKEKFile reads a KEK kept as hex in path. It refuses a file that
// group or others may read. A missing file is fs.ErrNotExist.
func ReadKEKFile(path string) (*KEK, error) {
	b, err := secretfile.Read(path, 1024, "the key-encryption key")
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != KEKSize {
		return nil, fmt.Errorf("%s: want %d hex-encoded bytes", path, KEKSize)
	}
	return NewKEK(key)
}

// CreateKEKFile makes a new random KEK in path (mode 0600, its folder
// 0700) unless a file is there already, in which case that one is read:
// of several processes creating it at once, all end with the first one's.
// created says whether this call wrote it.
func CreateKEKFile(path string, rnd io.Reader) (k *KEK, created bool, err error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	key := make([]byte, KEKSize)
	if _, err := io.ReadFull(rnd, key); err != nil {
		return nil, false, fmt.Errorf("key-encryption key: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	tmp, err := os.CreateTemp(dir, ".secrets-key-*")
	if err != nil {
		return nil, false, err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err == nil {
		_, err = tmp.WriteString(hex.EncodeToString(key) + "\n")
		if err == nil {
			err = tmp.Sync()
		}
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, false, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	// A hard link fails when path exists: a concurrent creator that got
	// there first wins, and its key is the one read.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			k, err := ReadKEKFile(path)
			return k, false, err
		}
		return nil, false, err
	}
	k, err = NewKEK(key)
	return k, true, err
}
