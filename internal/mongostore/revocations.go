package mongostore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/igf/nomina/internal/auth"
)

// colAuthLog records, before it is committed, every change that alters or
// ends what a session may do: a user's change ("u:<user id>") and a
// session's revocation ("s:<session id>"). Instances that cache accounts
// read it to forget what changed (auth.RevocationLog).
//
// _id: "<unix nanoseconds, 19 digits>-<random>", so the entries since a
// time are an _id range (indexed on MongoDB; on the embedded store read
// from its file through an expression index, see sqlindex.go).
const colAuthLog = "auth_log"

var _ auth.RevocationLog = (*Users)(nil)

func logID(at time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%019d-%s", at.UnixNano(), hex.EncodeToString(b[:]))
}

// logChange appends key to the log; the change it announces is committed
// after it, so a reader that sees the entry before the change re-reads
// for the whole window it keeps entries in view.
func (s *Users) logChange(ctx context.Context, key string) error {
	at := time.Now()
	_, err := s.db.Collection(colAuthLog).InsertOne(ctx, bson.D{{Key: "_id", Value: logID(at)}, {Key: "key", Value: key}, {Key: "at", Value: at.UTC()}})
	return translate("log account change", err)
}

// Revocations returns the entries logged after since (by the writers'
// clocks), oldest first.
func (s *Users) Revocations(ctx context.Context, since time.Time) ([]auth.Revocation, error) {
	after := fmt.Sprintf("%019d", since.UnixNano())
	if s.sql != nil {
		if out, ok, err := s.sql.revocations(ctx, after); ok || err != nil {
			return out, err
		}
	}
	cur, err := s.db.Collection(colAuthLog).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}}},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(100000))
	if err != nil {
		return nil, translate("read account changes", err)
	}
	var docs []struct {
		Key string    `bson:"key"`
		At  time.Time `bson:"at"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate("read account changes", err)
	}
	out := make([]auth.Revocation, len(docs))
	for i, d := range docs {
		out[i] = auth.Revocation{Key: d.Key, At: d.At.UTC()}
	}
	return out, nil
}

// purgeLog removes entries logged before before.
func (s *Users) purgeLog(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.Collection(colAuthLog).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$lt", Value: fmt.Sprintf("%019d", before.UnixNano())}}}})
	if err != nil {
		return 0, translate("purge account changes", err)
	}
	return res.DeletedCount, nil
}
