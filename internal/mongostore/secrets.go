package mongostore

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/igf/nomina/internal/keyring"
)

// colSecrets holds the signing secrets every instance shares, one document
// per generation (_id "<kind>/<generation>"), each sealed under a
// key-encryption key that is never stored (see package keyring). The
// insert of the _id commits a generation; documents are never changed.
const colSecrets = "secrets"

// Secrets is the store of sealed signing secrets (keyring.Store).
type Secrets struct {
	c *mongo.Collection
}

var _ keyring.Store = (*Secrets)(nil)

// Secrets returns the store's sealed secrets.
func (s *Store) Secrets() *Secrets { return &Secrets{c: s.db.Collection(colSecrets)} }

type secretDoc struct {
	ID        string    `bson:"_id"`
	Kind      string    `bson:"kind"`
	Gen       int       `bson:"gen"`
	KEK       string    `bson:"kek"`
	Nonce     []byte    `bson:"nonce"`
	Box       []byte    `bson:"box"`
	CreatedAt time.Time `bson:"created_at"`
	NotBefore time.Time `bson:"not_before"`
}

// InsertSecret stores s; ECONFLICT when its _id is taken.
func (s *Secrets) InsertSecret(ctx context.Context, in keyring.Sealed) error {
	_, err := s.c.InsertOne(ctx, secretDoc{ID: in.ID, Kind: in.Kind, Gen: in.Gen, KEK: in.KEK, Nonce: in.Nonce, Box: in.Box,
		CreatedAt: in.CreatedAt, NotBefore: in.NotBefore})
	return translate("insert secret "+in.ID, err)
}

// Secrets returns every generation of kind. The collection holds a handful
// of documents (one per rotation), so the scan is cheap.
func (s *Secrets) Secrets(ctx context.Context, kind string) ([]keyring.Sealed, error) {
	cur, err := s.c.Find(ctx, bson.D{{Key: "kind", Value: kind}})
	if err != nil {
		return nil, translate("read secrets", err)
	}
	var docs []secretDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate("read secrets", err)
	}
	out := make([]keyring.Sealed, 0, len(docs))
	for _, d := range docs {
		out = append(out, keyring.Sealed{ID: d.ID, Kind: d.Kind, Gen: d.Gen, KEK: d.KEK, Nonce: d.Nonce, Box: d.Box,
			CreatedAt: d.CreatedAt.UTC(), NotBefore: d.NotBefore.UTC()})
	}
	return out, nil
}
