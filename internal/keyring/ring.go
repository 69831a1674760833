package keyring

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/igf/nomina/internal/nomination"
)

// Kinds of secret kept in the store.
const (
	// AccessTokens are 32-byte Ed25519 seeds: the keys access tokens are
	// signed with.
	AccessTokens = "jwt"
	// Links are 32-byte HMAC keys: the keys mailed links are signed with.
	Links = "links"
)

// Sealed is one generation of a secret as the store keeps it.
type Sealed struct {
	// ID is "<kind>/<generation, six digits>"; inserting it commits the
	// generation, and the sealed box is bound to it.
	ID        string
	Kind      string
	Gen       int
	KEK       string // the ID of the KEK that sealed it
	Nonce     []byte
	Box       []byte
	CreatedAt time.Time
	// NotBefore is when the generation starts signing. A new generation
	// verifies as soon as an instance reads it and signs only later, so
	// that every instance knows it before anything signed with it exists.
	NotBefore time.Time
}

// Store keeps the sealed generations.
type Store interface {
	// InsertSecret stores s under s.ID; a *nomination.Error with ECONFLICT
	// when that ID is taken.
	InsertSecret(ctx context.Context, s Sealed) error
	// Secrets returns every stored generation of kind, in any order.
	Secrets(ctx context.Context, kind string) ([]Sealed, error)
}

// Generation is one generation of a secret, opened.
type Generation struct {
	Gen       int
	Secret    []byte
	CreatedAt time.Time
	NotBefore time.Time
}

// View is one kind of secret as an instance uses it at a given moment.
type View struct {
	// Signer is the generation new tokens and links are signed with.
	Signer Generation
	// Verifiers are the generations accepted when checking: Signer first,
	// then any newer one not signing yet and the older ones whose
	// signatures may still be alive.
	Verifiers []Generation
}

// WrongKEKError says the store's secrets were sealed under another KEK
// than the instance's: the instances do not share one key file.
type WrongKEKError struct {
	ID, Sealed, Have string
}

func (e *WrongKEKError) Error() string {
	return fmt.Sprintf("the secret %s in the store is sealed with key-encryption key %s, and this instance's is %s", e.ID, e.Sealed, e.Have)
}

// Config describes one kind of secret and how an instance keeps it.
type Config struct {
	Kind string
	// Size is the length of a new secret in bytes (32).
	Size int
	// Lifetime is the longest a signature lives: an access token's
	// lifetime plus the clock leeway, a mailed link's. A generation that
	// stopped signing keeps verifying this long, and then some (below).
	Lifetime time.Duration
	// Refresh is how often Run rereads the store (one minute). It bounds
	// how stale an instance's view is while the store answers: a new
	// generation signs only 2×Refresh after it was stored, and an old one
	// verifies 2×Refresh past Lifetime, so skewed clocks and late readers
	// have that margin.
	Refresh time.Duration
	// First, when set, gives the secret of the first generation (one an
	// earlier version kept in a file, so that what it signed stays valid);
	// otherwise it is random. It returns nil for "none".
	First func() ([]byte, error)
	Now   func() time.Time
	Rand  io.Reader
	// Logger receives the rotations seen and the refreshes that failed.
	Logger *slog.Logger
}

// Ring is one kind of secret of one instance: it creates, reads, rotates
// and refreshes the generations kept in the store.
type Ring struct {
	store Store
	kek   *KEK
	cfg   Config
}

// NewRing returns the ring of cfg.Kind over store, sealing with kek.
func NewRing(store Store, kek *KEK, cfg Config) (*Ring, error) {
	if store == nil || kek == nil || cfg.Kind == "" {
		return nil, errors.New("keyring: a store, a key-encryption key and a kind are required")
	}
	if cfg.Size <= 0 {
		cfg.Size = 32
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Ring{store: store, kek: kek, cfg: cfg}, nil
}

// secretID is the document id of a generation.
func secretID(kind string, gen int) string { return fmt.Sprintf("%s/%06d", kind, gen) }

// Ensure returns the current view, first storing generation 1 when the
// store has none. Of any number of instances doing this at once exactly
// one inserts it; the others read that one. It returns a *WrongKEKError
// when the stored generations were sealed with another KEK.
func (r *Ring) Ensure(ctx context.Context) (View, error) {
	for attempt := 0; attempt < 3; attempt++ {
		docs, err := r.store.Secrets(ctx, r.cfg.Kind)
		if err != nil {
			return View{}, fmt.Errorf("read %s secrets: %w", r.cfg.Kind, err)
		}
		if len(docs) > 0 {
			return r.view(docs, r.cfg.Now())
		}
		var secret []byte
		if r.cfg.First != nil {
			if secret, err = r.cfg.First(); err != nil {
				return View{}, err
			}
		}
		if secret == nil {
			if secret, err = r.random(); err != nil {
				return View{}, err
			}
		}
		now := r.cfg.Now()
		doc, err := r.sealed(1, secret, now, now)
		if err != nil {
			return View{}, err
		}
		err = r.store.InsertSecret(ctx, doc)
		if nomination.ErrorCode(err) == nomination.ECONFLICT {
			continue // another instance made it first: read theirs
		}
		if err != nil {
			return View{}, fmt.Errorf("store %s: %w", doc.ID, err)
		}
		r.cfg.Logger.Info("created the first secret of its kind in the store", "kind", r.cfg.Kind, "id", doc.ID)
	}
	docs, err := r.store.Secrets(ctx, r.cfg.Kind)
	if err != nil {
		return View{}, fmt.Errorf("read %s secrets: %w", r.cfg.Kind, err)
	}
	if len(docs) == 0 {
		return View{}, fmt.Errorf("the %s secret was stored and cannot be read back", r.cfg.Kind)
	}
	return r.view(docs, r.cfg.Now())
}

// Load reads the stored generations and returns the current view; ENOTFOUND
// when there is none yet.
func (r *Ring) Load(ctx context.Context) (View, error) {
	docs, err := r.store.Secrets(ctx, r.cfg.Kind)
	if err != nil {
		return View{}, fmt.Errorf("read %s secrets: %w", r.cfg.Kind, err)
	}
	if len(docs) == 0 {
		return View{}, nomination.Errorf(nomination.ENOTFOUND, "no %s secret in the store", r.cfg.Kind)
	}
	return r.view(docs, r.cfg.Now())
}

// Rotate stores the next generation. It verifies on every instance once
// read (within Refresh) and signs from 2×Refresh after now, when every
// instance knows it; the generation it replaces keeps verifying what it
// signed. Two rotations at once store one generation: the second returns
// the first's. It returns ENOTFOUND when there is nothing to rotate yet.
func (r *Ring) Rotate(ctx context.Context) (Generation, error) {
	docs, err := r.store.Secrets(ctx, r.cfg.Kind)
	if err != nil {
		return Generation{}, fmt.Errorf("read %s secrets: %w", r.cfg.Kind, err)
	}
	if len(docs) == 0 {
		return Generation{}, nomination.Errorf(nomination.ENOTFOUND, "no %s secret in the store to rotate", r.cfg.Kind)
	}
	last := slices.MaxFunc(docs, func(a, b Sealed) int { return a.Gen - b.Gen })
	secret, err := r.random()
	if err != nil {
		return Generation{}, err
	}
	now := r.cfg.Now()
	doc, err := r.sealed(last.Gen+1, secret, now, now.Add(2*r.cfg.Refresh))
	if err != nil {
		return Generation{}, err
	}
	switch err := r.store.InsertSecret(ctx, doc); nomination.ErrorCode(err) {
	case "":
		r.cfg.Logger.Info("rotated a secret", "kind", r.cfg.Kind, "id", doc.ID, "signs_from", doc.NotBefore)
		return Generation{Gen: doc.Gen, Secret: secret, CreatedAt: doc.CreatedAt, NotBefore: doc.NotBefore}, nil
	case nomination.ECONFLICT:
		docs, err := r.store.Secrets(ctx, r.cfg.Kind)
		if err != nil {
			return Generation{}, err
		}
		for _, d := range docs {
			if d.Gen == doc.Gen {
				return r.opened(d)
			}
		}
		return Generation{}, fmt.Errorf("generation %s was taken and cannot be read", doc.ID)
	default:
		return Generation{}, fmt.Errorf("store %s: %w", doc.ID, err)
	}
}

// Run rereads the store every Refresh and passes each view to apply, until
// ctx ends. When a reread fails, the view in use stays (logged): an
// instance that cannot reach the store misses rotations for as long, and
// cannot serve much else either.
func (r *Ring) Run(ctx context.Context, apply func(View)) {
	t := time.NewTicker(r.cfg.Refresh)
	defer t.Stop()
	signer := -1
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v, err := r.Load(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.cfg.Logger.Warn("refreshing the secrets failed; the ones loaded stay in use", "kind", r.cfg.Kind, "err", err)
			}
			continue
		}
		if signer >= 0 && v.Signer.Gen != signer {
			r.cfg.Logger.Info("a new secret generation signs", "kind", r.cfg.Kind, "generation", v.Signer.Gen)
		}
		signer = v.Signer.Gen
		apply(v)
	}
}

// view opens the generations in use at now: the one signing (the newest
// whose NotBefore has come, else the oldest), the newer ones (published,
// not signing yet) and the older ones whose signatures may be alive.
func (r *Ring) view(docs []Sealed, now time.Time) (View, error) {
	docs = slices.Clone(docs)
	slices.SortFunc(docs, func(a, b Sealed) int { return a.Gen - b.Gen })
	signer := 0
	for i, d := range docs {
		if !d.NotBefore.After(now) {
			signer = i
		}
	}
	keep := []int{signer}
	for i := len(docs) - 1; i > signer; i-- {
		keep = append(keep, i)
	}
	margin := r.cfg.Lifetime + 2*r.cfg.Refresh
	for i := signer - 1; i >= 0; i-- {
		if now.Before(docs[i+1].NotBefore.Add(margin)) {
			keep = append(keep, i)
		}
	}
	var v View
	for _, i := range keep {
		g, err := r.opened(docs[i])
		if err != nil {
			return View{}, err
		}
		v.Verifiers = append(v.Verifiers, g)
	}
	v.Signer = v.Verifiers[0]
	return v, nil
}

func (r *Ring) opened(d Sealed) (Generation, error) {
	if d.KEK != r.kek.ID() {
		return Generation{}, &WrongKEKError{ID: d.ID, Sealed: d.KEK, Have: r.kek.ID()}
	}
	secret, err := r.kek.open(d.ID, d.Nonce, d.Box)
	if err != nil {
		return Generation{}, err
	}
	return Generation{Gen: d.Gen, Secret: secret, CreatedAt: d.CreatedAt, NotBefore: d.NotBefore}, nil
}

func (r *Ring) sealed(gen int, secret []byte, created, notBefore time.Time) (Sealed, error) {
	id := secretID(r.cfg.Kind, gen)
	nonce, box, err := r.kek.seal(id, secret, r.cfg.Rand)
	if err != nil {
		return Sealed{}, err
	}
	return Sealed{ID: id, Kind: r.cfg.Kind, Gen: gen, KEK: r.kek.ID(), Nonce: nonce, Box: box,
		CreatedAt: created.UTC().Truncate(time.Millisecond), NotBefore: notBefore.UTC().Truncate(time.Millisecond)}, nil
}

func (r *Ring) random() ([]byte, error) {
	b := make([]byte, r.cfg.Size)
	if _, err := io.ReadFull(r.cfg.Rand, b); err != nil {
		return nil, fmt.Errorf("new %s secret: %w", r.cfg.Kind, err)
	}
	return b, nil
}

// StoreHoldsAny reports whether store holds a generation of any of kinds:
// an instance that finds some, and has no KEK, must be given the KEK they
// were sealed with rather than make its own.
func StoreHoldsAny(ctx context.Context, store Store, kinds ...string) (bool, error) {
	for _, k := range kinds {
		docs, err := store.Secrets(ctx, k)
		if err != nil {
			return false, err
		}
		if len(docs) > 0 {
			return true, nil
		}
	}
	return false, nil
}
