package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/config"
	"github.com/igf/nomina/internal/keyring"
	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/nomination"
)

const (
	// secretsRefresh is how often an instance rereads the shared secrets:
	// a rotation made elsewhere is seen within it, and signs only 2× it
	// after it was stored (keyring.Config.Refresh).
	secretsRefresh = time.Minute
	// linkLifetime is the longest a mailed link lives: consent and
	// endorsement links (nomination.Config.LinkTTL, 30 days) outlast the
	// account links (7 days at most).
	linkLifetime = 31 * 24 * time.Hour
)

// setupError is a problem with the signing secrets that retrying cannot
// mend (instances that do not share a key-encryption key): the service
// stops with it.
type setupError struct{ err error }

func (e *setupError) Error() string { return e.err.Error() }
func (e *setupError) Unwrap() error { return e.err }

// signing is what signs access tokens and mailed links in this instance.
// Each comes from a file when one is configured (that instance's alone),
// else from the store, shared by every instance and sealed there (package
// keyring); those are loaded once the store answers (load) and reread
// every secretsRefresh (run).
//
// Staleness: a view of the stored secrets may be up to secretsRefresh old
// while the store answers (longer while it does not, when the instance
// cannot serve much else either); rotation leaves 2×secretsRefresh of
// margin on both sides, so no instance meets a token or link signed with a
// key it does not know yet, nor stops accepting one that is still alive.
type signing struct {
	keys  auth.KeySource
	links *nomination.LinkSigner

	cfg     config.Config
	log     *slog.Logger
	now     func() time.Time
	jwtRing *auth.KeyRing // nil when the keys come from a file
	shared  bool          // the link secret comes from the store
	rings   []ringApply
	ready   chan struct{}
	once    sync.Once
}

type ringApply struct {
	ring  *keyring.Ring
	apply func(keyring.View) error
}

// newSigning reads the secrets configured as files and prepares the rest
// to come from the store.
func newSigning(cfg config.Config, log *slog.Logger, now func() time.Time) (*signing, error) {
	s := &signing{cfg: cfg, log: log, now: now, ready: make(chan struct{})}
	if cfg.JWTKeysFile != "" {
		keys, err := auth.LoadOrCreateKeys(cfg.JWTKeysFile, rand.Reader)
		if err != nil {
			return nil, &exitError{code: 1, err: fmt.Errorf("signing keys (NOMINA_JWT_KEYS_FILE): %w", err)}
		}
		s.keys = keys
	} else {
		s.jwtRing = auth.NewKeyRing()
		s.keys = s.jwtRing
	}
	if cfg.LinkSecretFile != "" {
		key, err := loadOrCreateSecret(cfg.LinkSecretFile, 32)
		if err != nil {
			return nil, &exitError{code: 1, err: fmt.Errorf("link secret (NOMINA_LINK_SECRET_FILE): %w", err)}
		}
		s.links = nomination.NewLinkSigner(key)
	} else {
		s.links = nomination.NewLinkSigner(nil)
		s.shared = true
	}
	if !s.fromStore() {
		close(s.ready)
	}
	if s.cfg.MongoDBURI != "" && !s.fromStore() {
		log.Warn("signing keys and link secret come from files of this instance: give every instance on the store the same NOMINA_JWT_KEYS_FILE and NOMINA_LINK_SECRET_FILE, or leave both unset to share them through the store")
	}
	return s, nil
}

func (s *signing) fromStore() bool { return s.jwtRing != nil || s.shared }

// kekPath is where the key-encryption key is kept.
func kekPath(cfg config.Config) string {
	if cfg.SecretsKeyFile != "" {
		return cfg.SecretsKeyFile
	}
	return filepath.Join(cfg.DataDir, "secrets.key")
}

// load reads the shared secrets, creating them (and the key-encryption
// key) when the store has none yet. It returns a *setupError when this
// instance's key-encryption key is not the one the store's secrets are
// sealed with, or it has none and the store has some.
func (s *signing) load(ctx context.Context, store *mongostore.Store) error {
	if !s.fromStore() {
		return nil
	}
	select {
	case <-s.ready:
		return nil // loaded by an earlier attempt
	default:
	}
	secrets := store.Secrets()
	var kinds []string
	if s.jwtRing != nil {
		kinds = append(kinds, keyring.AccessTokens)
	}
	if s.shared {
		kinds = append(kinds, keyring.Links)
	}
	path := kekPath(s.cfg)
	kek, err := keyring.ReadKEKFile(path)
	created := false
	if errors.Is(err, fs.ErrNotExist) {
		some, serr := keyring.StoreHoldsAny(ctx, secrets, kinds...)
		if serr != nil {
			return serr
		}
		if some {
			return &setupError{fmt.Errorf("the store holds signing secrets sealed by another instance, and this one has no key-encryption key at %s: copy that instance's key file here, or point NOMINA_SECRETS_KEY_FILE at a copy", path)}
		}
		kek, created, err = keyring.CreateKEKFile(path, rand.Reader)
		if created {
			s.log.Info("created the key-encryption key of the signing secrets; every other instance on this store needs a copy (NOMINA_SECRETS_KEY_FILE)", "file", path)
		}
	}
	if err != nil {
		return &setupError{fmt.Errorf("key-encryption key (NOMINA_SECRETS_KEY_FILE): %w", err)}
	}
	var rings []ringApply
	for _, kind := range kinds {
		cfg := keyring.Config{Kind: kind, Refresh: secretsRefresh, Now: s.now, Logger: s.log}
		var apply func(keyring.View) error
		switch kind {
		case keyring.AccessTokens:
			cfg.Lifetime = s.cfg.AccessTokenTTL + time.Minute // the tokens' clock leeway included
			cfg.First = s.legacyKeys
			apply = s.applyKeys
		case keyring.Links:
			cfg.Lifetime = linkLifetime
			cfg.First = s.legacyLinkSecret
			apply = s.applyLinks
		}
		ring, err := keyring.NewRing(secrets, kek, cfg)
		if err != nil {
			return err
		}
		v, err := ring.Ensure(ctx)
		var wrong *keyring.WrongKEKError
		if errors.As(err, &wrong) {
			if created {
				// This instance lost the race to a first start with
				// another key: its own is of no use.
				_ = os.Remove(path)
			}
			return &setupError{fmt.Errorf("%w: give every instance on this store the same key file (NOMINA_SECRETS_KEY_FILE); this one read %s", err, path)}
		}
		if err != nil {
			return err
		}
		if err := apply(v); err != nil {
			return &setupError{err}
		}
		rings = append(rings, ringApply{ring: ring, apply: apply})
	}
	s.rings = rings
	s.once.Do(func() { close(s.ready) })
	return nil
}

// run keeps the shared secrets fresh until ctx ends, once loaded.
func (s *signing) run(ctx context.Context) {
	if !s.wait(ctx) {
		return
	}
	var wg sync.WaitGroup
	for _, r := range s.rings {
		wg.Go(func() {
			r.ring.Run(ctx, func(v keyring.View) {
				if err := r.apply(v); err != nil {
					s.log.Error("a stored signing secret cannot be used; the ones loaded stay in use", "err", err)
				}
			})
		})
	}
	wg.Wait()
}

// wait blocks until the secrets are loaded (true) or ctx ends (false):
// nothing that mails a link may start before.
func (s *signing) wait(ctx context.Context) bool {
	select {
	case <-s.ready:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *signing) applyKeys(v keyring.View) error {
	keys := make([]auth.Key, 0, len(v.Verifiers))
	for _, g := range v.Verifiers {
		k, ok := auth.KeyFromSeed(g.Secret)
		if !ok {
			return fmt.Errorf("access-token key generation %d is not a 32-byte seed", g.Gen)
		}
		keys = append(keys, k)
	}
	ks, err := auth.NewKeySet(keys...)
	if err != nil {
		return err
	}
	s.jwtRing.Set(ks)
	return nil
}

func (s *signing) applyLinks(v keyring.View) error {
	var verify [][]byte
	for _, g := range v.Verifiers[1:] {
		verify = append(verify, g.Secret)
	}
	s.links.SetKeys(v.Signer.Secret, verify...)
	return nil
}

// legacyKeys carries the key an earlier version kept in the data
// directory into the store, so the tokens it signed stay valid; nil when
// there is none.
func (s *signing) legacyKeys() ([]byte, error) {
	path := filepath.Join(s.cfg.DataDir, "jwt-keys.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ks, err := auth.ParseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.log.Info("the access-token key in the data directory moves to the store; the file is no longer read", "file", path)
	return ks.SigningSeed(), nil
}

// legacyLinkSecret carries the link secret an earlier version kept in the
// data directory into the store, so the links it mailed keep working.
func (s *signing) legacyLinkSecret() ([]byte, error) {
	path := filepath.Join(s.cfg.DataDir, "link-secret")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < 32 {
		return nil, fmt.Errorf("%s: want at least 32 hex-encoded bytes", path)
	}
	s.log.Info("the link secret in the data directory moves to the store; the file is no longer read", "file", path)
	return key, nil
}
