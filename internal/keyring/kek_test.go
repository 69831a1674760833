package keyring

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func mustKEK(tb testing.TB, fill byte) *KEK {
	tb.Helper()
	k, err := NewKEK(bytes.Repeat([]byte{fill}, KEKSize))
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// A sealed secret opens only under its key and for its own document: a box
// moved to another id, altered, or opened with another key is refused.
func TestSealOpen(t *testing.T) {
	k, other := mustKEK(t, 1), mustKEK(t, 2)
	if k.ID() == other.ID() || len(k.ID()) != 16 {
		t.Fatalf("ids %q and %q", k.ID(), other.ID())
	}
	if again := mustKEK(t, 1); again.ID() != k.ID() {
		t.Fatal("the id of a key is not stable")
	}
	secret := []byte("thirty-two bytes of link secret!")
	nonce, box, err := k.seal("links/000001", secret, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(box, secret) {
		t.Fatal("the sealed box holds the secret in the clear")
	}
	got, err := k.open("links/000001", nonce, box)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open = %q, %v", got, err)
	}
	altered := bytes.Clone(box)
	altered[0] ^= 1
	for name, try := range map[string]func() ([]byte, error){
		"moved to another id": func() ([]byte, error) { return k.open("links/000002", nonce, box) },
		"another key":         func() ([]byte, error) { return other.open("links/000001", nonce, box) },
		"altered":             func() ([]byte, error) { return k.open("links/000001", nonce, altered) },
		"short nonce":         func() ([]byte, error) { return k.open("links/000001", nonce[:4], box) },
	} {
		t.Run(name, func(t *testing.T) {
			if out, err := try(); err == nil {
				t.Fatalf("opened: %q", out)
			}
		})
	}
	if _, err := NewKEK([]byte("short")); err == nil {
		t.Fatal("a short key was accepted")
	}
}

// Twenty processes creating the key file at once all end with one key;
// the file is 0600 in a 0700 folder, and a file others may read is refused.
func TestCreateKEKFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "secrets.key")
	ids := make([]string, 20)
	created := make([]bool, 20)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			k, c, err := CreateKEKFile(path, rand.Reader)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i], created[i] = k.ID(), c
		})
	}
	wg.Wait()
	writers := 0
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("creator %d holds key %s, creator 0 %s", i, ids[i], ids[0])
		}
		if created[i] {
			writers++
		}
	}
	if writers != 1 {
		t.Fatalf("%d creators say they wrote the file, want 1", writers)
	}
	read, err := ReadKEKFile(path)
	if err != nil || read.ID() != ids[0] {
		t.Fatalf("read back %v, %v", read, err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != want {
			t.Fatalf("%s: mode %v (%v), want %o", p, st.Mode().Perm(), err, want)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("the folder holds %d files, want only the key", len(entries))
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadKEKFile(path); err == nil || !strings.Contains(err.Error(), "0600") {
		t.Fatalf("error %v, want a refusal naming 0600", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.key")
	if err := os.WriteFile(bad, []byte("not hex\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadKEKFile(bad); err == nil {
		t.Fatal("a corrupt key file was read")
	}
}
