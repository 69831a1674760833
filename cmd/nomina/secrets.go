package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/igf/nomina/internal/config"
)

// linkSecretPath is where the secret of signed links is kept.
func linkSecretPath(cfg config.Config) string {
	if cfg.LinkSecretFile != "" {
		return cfg.LinkSecretFile
	}
	return filepath.Join(cfg.DataDir, "link-secret")
}

// loadOrCreateSecret reads a hex secret from path, or creates one of n
// random bytes there with 0600 permissions when the file does not exist.
func loadOrCreateSecret(path string, n int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		key, derr := hex.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(key) < 32 {
			return nil, fmt.Errorf("secret file %s: want at least 32 hex-encoded bytes", path)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read secret %s: %w", path, err)
	}
	key := make([]byte, n)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadOrCreateSecret(path, n) // another instance made it first
	}
	if err != nil {
		return nil, fmt.Errorf("create secret %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		return nil, err
	}
	return key, f.Sync()
}
