package keyring

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/igf/nomina/internal/nomination"
)

// memStore keeps sealed generations in memory, refusing a taken id as the
// real store does. The ring's timing rules are tested here with a moved
// clock; the real store's atomic creation is tested in package mongostore.
type memStore struct {
	mu   sync.Mutex
	docs map[string]Sealed
}

func (m *memStore) InsertSecret(_ context.Context, s Sealed) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.docs == nil {
		m.docs = map[string]Sealed{}
	}
	if _, ok := m.docs[s.ID]; ok {
		return nomination.Errorf(nomination.ECONFLICT, "taken")
	}
	m.docs[s.ID] = s
	return nil
}

func (m *memStore) Secrets(_ context.Context, kind string) ([]Sealed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Sealed
	for _, d := range m.docs {
		if d.Kind == kind {
			out = append(out, d)
		}
	}
	return out, nil
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func gens(v View) []int {
	var out []int
	for _, g := range v.Verifiers {
		out = append(out, g.Gen)
	}
	return out
}

// A rotation is seen by every instance before anything is signed with it,
// and the generation it replaces verifies until what it signed expired:
// generation 2 verifies at once, signs after 2×Refresh, and generation 1
// verifies until Lifetime + 2×Refresh after that.
func TestRotationTiming(t *testing.T) {
	store := &memStore{}
	clk := &clock{now: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	kek := mustKEK(t, 3)
	cfg := Config{Kind: AccessTokens, Lifetime: 10 * time.Minute, Refresh: time.Minute, Now: clk.Now}
	a, _ := NewRing(store, kek, cfg)
	b, _ := NewRing(store, kek, cfg)
	ctx := context.Background()
	va, err := a.Ensure(ctx)
	if err != nil {
		t.Fatal(err)
	}
	vb, err := b.Ensure(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(va.Signer.Secret, vb.Signer.Secret) || va.Signer.Gen != 1 {
		t.Fatalf("instances disagree on the first secret: gen %d and %d", va.Signer.Gen, vb.Signer.Gen)
	}
	if _, err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		after     time.Duration
		signer    int
		verifiers []int
	}{
		{0, 1, []int{1, 2}},                           // published, not signing yet
		{2*time.Minute - time.Second, 1, []int{1, 2}}, // still not
		{time.Second, 2, []int{2, 1}},                 // signs; 1 still verifies
		{12*time.Minute - time.Second, 2, []int{2, 1}},
		{time.Second, 2, []int{2}}, // Lifetime + 2×Refresh later: gone
	}
	for i, s := range steps {
		clk.Advance(s.after)
		v, err := b.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v.Signer.Gen != s.signer || !slices.Equal(gens(v), s.verifiers) {
			t.Fatalf("step %d: signer %d verifiers %v, want %d %v", i, v.Signer.Gen, gens(v), s.signer, s.verifiers)
		}
	}
}

// Two rotations at once store one generation, and both return it.
func TestConcurrentRotationsStoreOne(t *testing.T) {
	store := &memStore{}
	kek := mustKEK(t, 4)
	cfg := Config{Kind: Links, Lifetime: time.Hour}
	r, _ := NewRing(store, kek, cfg)
	ctx := context.Background()
	if _, err := r.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	var got [8]Generation
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			other, _ := NewRing(store, kek, cfg)
			g, err := other.Rotate(ctx)
			if err != nil {
				t.Error(err)
			}
			got[i] = g
		})
	}
	wg.Wait()
	docs, _ := store.Secrets(ctx, Links)
	if len(docs) < 2 {
		t.Fatalf("%d generations stored", len(docs))
	}
	// Every rotation returned a generation that is stored, with its secret.
	for _, g := range got {
		found := false
		for _, d := range docs {
			if d.Gen == g.Gen {
				s, err := r.opened(d)
				found = err == nil && bytes.Equal(s.Secret, g.Secret)
			}
		}
		if !found {
			t.Fatalf("rotation returned generation %d, which is not the stored one", g.Gen)
		}
	}
}

// An instance with another key-encryption key is told so, not handed
// garbage; the first secret may come from an earlier version's file.
func TestWrongKEKAndFirstSecret(t *testing.T) {
	store := &memStore{}
	ctx := context.Background()
	first := bytes.Repeat([]byte{9}, 32)
	a, _ := NewRing(store, mustKEK(t, 5), Config{Kind: Links, Lifetime: time.Hour, First: func() ([]byte, error) { return first, nil }})
	v, err := a.Ensure(ctx)
	if err != nil || !bytes.Equal(v.Signer.Secret, first) {
		t.Fatalf("first secret %x, %v", v.Signer.Secret, err)
	}
	b, _ := NewRing(store, mustKEK(t, 6), Config{Kind: Links, Lifetime: time.Hour, Rand: rand.Reader})
	_, err = b.Ensure(ctx)
	var wrong *WrongKEKError
	if !errors.As(err, &wrong) || wrong.Sealed != mustKEK(t, 5).ID() {
		t.Fatalf("error %v, want a WrongKEKError naming the sealing key", err)
	}
	docs, _ := store.Secrets(ctx, Links)
	if len(docs) != 1 {
		t.Fatalf("%d documents; the refused instance must store nothing", len(docs))
	}
	if any, _ := StoreHoldsAny(ctx, store, AccessTokens, Links); !any {
		t.Fatal("StoreHoldsAny missed the stored secret")
	}
	if any, _ := StoreHoldsAny(ctx, store, AccessTokens); any {
		t.Fatal("StoreHoldsAny found a kind that is not stored")
	}
}
