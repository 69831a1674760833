package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLoadOrCreateKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "jwt-keys.json")
	first, err := LoadOrCreateKeys(path, rand.Reader)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %o, want 600", st.Mode().Perm())
	}
	dst, _ := os.Stat(filepath.Dir(path))
	if dst.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode = %o, want 700", dst.Mode().Perm())
	}
	again, err := LoadOrCreateKeys(path, rand.Reader)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if again.SigningKeyID() != first.SigningKeyID() {
		t.Fatalf("reloaded key %s, want %s", again.SigningKeyID(), first.SigningKeyID())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("directory holds %d files, want only the key file", len(entries))
	}

	t.Run("refuses a file others may read", func(t *testing.T) {
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(path, 0o600)
		if _, err := LoadOrCreateKeys(path, rand.Reader); err == nil || !strings.Contains(err.Error(), "0600") {
			t.Fatalf("error = %v, want a refusal naming 0600", err)
		}
	})
	t.Run("refuses a corrupt file", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "keys.json")
		if err := os.WriteFile(bad, []byte(`{"keys":[{"seed":"short"}]}`), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOrCreateKeys(bad, rand.Reader); err == nil {
			t.Fatal("corrupt key file accepted")
		}
	})
}

// Replicas starting together on one data directory end with one key.
func TestLoadOrCreateKeysConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwt-keys.json")
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ks, err := LoadOrCreateKeys(path, rand.Reader)
			if err != nil {
				t.Errorf("starter %d: %v", i, err)
				return
			}
			ids[i] = ks.SigningKeyID()
		})
	}
	wg.Wait()
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("starters disagree on the key: %v", ids)
		}
	}
}

func TestParseKeys(t *testing.T) {
	pub1, priv1, _ := ed25519.GenerateKey(rand.Reader)
	pub2, _, _ := ed25519.GenerateKey(rand.Reader)
	privDER, err := x509.MarshalPKCS8PrivateKey(priv1)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub2)
	if err != nil {
		t.Fatal(err)
	}
	privPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}))
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))

	t.Run("PEM: private key signs, public key verifies", func(t *testing.T) {
		ks, err := ParseKeys([]byte(pubPEM + privPEM))
		if err != nil {
			t.Fatal(err)
		}
		if ks.SigningKeyID() != Thumbprint(pub1) {
			t.Fatalf("signer = %s, want the private key's thumbprint", ks.SigningKeyID())
		}
		if _, ok := ks.lookup(Thumbprint(pub2)); !ok {
			t.Fatal("public key missing from the set")
		}
	})
	t.Run("JSON from GenerateKeys", func(t *testing.T) {
		want, data, err := GenerateKeys(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseKeys(data)
		if err != nil || got.SigningKeyID() != want.SigningKeyID() {
			t.Fatalf("ParseKeys = %v, %v", got, err)
		}
	})
	refused := []struct{ name, data string }{
		{"empty", ""},
		{"no keys", `{"keys":[]}`},
		{"unknown field", `{"keys":[],"alg":"none"}`},
		{"only a public key", pubPEM},
		{"verify-only key first in JSON", `{"keys":[{"public":"` + b64(pub2) + `"}]}`},
		{"duplicate kid", `{"keys":[{"kid":"a","seed":"` + b64(priv1.Seed()) + `"},{"kid":"a","public":"` + b64(pub2) + `"}]}`},
		{"RSA-sized garbage", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
		{"trailing data", privPEM + "junk"},
	}
	for _, tt := range refused {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			if _, err := ParseKeys([]byte(tt.data)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
