package mongostore_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/igf/nomina/internal/keyring"
	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
)

// Twenty instances starting at once on one store, over two connections,
// create exactly one secret of each kind and all use it; the stored
// documents hold the secret only sealed.
func TestSimultaneousFirstStartsCreateOneSecret(t *testing.T) {
	st := storetest.NewStore(t)
	other := mongostore.New(storetest.Connect(t, st.DB().Name()), nil).Secrets()
	stores := []*mongostore.Secrets{st.Secrets(), other}
	kek, err := keyring.NewKEK(bytes.Repeat([]byte{7}, keyring.KEKSize))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, kind := range []string{keyring.AccessTokens, keyring.Links} {
		t.Run(kind, func(t *testing.T) {
			const n = 20
			secrets := make([][]byte, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					r, err := keyring.NewRing(stores[i%2], kek, keyring.Config{Kind: kind, Lifetime: time.Hour})
					if err != nil {
						t.Error(err)
						return
					}
					<-start
					v, err := r.Ensure(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					secrets[i] = v.Signer.Secret
				})
			}
			close(start)
			wg.Wait()
			for i := range secrets {
				if len(secrets[i]) != 32 || !bytes.Equal(secrets[i], secrets[0]) {
					t.Fatalf("instance %d signs with another secret than instance 0", i)
				}
			}
			docs, err := st.Secrets().Secrets(ctx, kind)
			if err != nil {
				t.Fatal(err)
			}
			if len(docs) != 1 || docs[0].Gen != 1 {
				t.Fatalf("%d documents stored, want exactly one", len(docs))
			}
			var raw bson.Raw
			if err := st.DB().Collection("secrets").FindOne(ctx, bson.D{{Key: "_id", Value: docs[0].ID}}).Decode(&raw); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(raw, secrets[0]) {
				t.Fatal("the stored document holds the secret in the clear")
			}
		})
	}
}
