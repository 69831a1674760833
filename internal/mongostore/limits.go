package mongostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/igf/nomina/internal/nomination"
)

// colLimits holds one document per counted use: _id
// "<key>|<window start>|<slot>", slot 1 to the limit. Taking a use is the
// insert of the next free slot, so of any number of concurrent takers on
// any number of instances at most Max succeed in a window: unique inserts
// are atomic on every backend, where a counter's $inc is not (DESIGN §3).
const colLimits = "limits"

func init() {
	registerIndexes(Index{Collection: colLimits, Keys: bson.D{{Key: "expires_at", Value: 1}}})
}

// Limits counts uses of keys in fixed windows (nomination.Limiter).
type Limits struct {
	c *mongo.Collection
}

var _ nomination.Limiter = (*Limits)(nil)

// Limits returns the store's limiter.
func (s *Store) Limits() *Limits { return &Limits{c: s.db.Collection(colLimits)} }

type limitDoc struct {
	ID        string    `bson:"_id"`
	Key       string    `bson:"key"`
	At        time.Time `bson:"at"`
	ExpiresAt time.Time `bson:"expires_at"`
}

// maxKey bounds a limit key (an account id, a client or email address and
// a short prefix fit well within it).
const maxKey = 512

// Take records one use of key in r's window holding now, unless r.Max are
// recorded there: ETOOMANY with the seconds until the window ends. A zero
// rate takes nothing.
//
// The first slot is tried at once (most keys are far from their limit);
// when it is taken, a key whose last slot is taken is refused, and
// otherwise the first free slot is found by reading slots by _id (cheap on
// every backend) with a doubling then halving search, since slots fill
// from 1 upwards and are never removed within their window. The insert
// decides; one that finds its slot taken by a concurrent taker tries the
// next.
func (l *Limits) Take(ctx context.Context, key string, r nomination.Rate, now time.Time) error {
	if r.Max <= 0 || r.Per <= 0 {
		return nil
	}
	if key == "" || len(key) > maxKey {
		return fmt.Errorf("limit key of %d bytes", len(key))
	}
	start := now.UTC().Truncate(r.Per)
	end := start.Add(r.Per)
	prefix := key + "|" + strconv.FormatInt(start.UnixMilli(), 10) + "|"
	slot := func(n int) string { return prefix + strconv.Itoa(n) }
	insert := func(n int) error {
		_, err := l.c.InsertOne(ctx, limitDoc{ID: slot(n), Key: key, At: now.UTC(), ExpiresAt: end})
		return err
	}
	// Most keys are far from their limit: try the first slot straight away.
	err := insert(1)
	if err == nil {
		return nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return translate("take limit", err)
	}
	taken := func(n int) (bool, error) {
		err := l.c.FindOne(ctx, bson.D{{Key: "_id", Value: slot(n)}}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
		if errors.Is(err, mongo.ErrNoDocuments) {
			return false, nil
		}
		return err == nil, translate("read limit", err)
	}
	refuse := func() error {
		secs := int((end.Sub(now) + time.Second - 1) / time.Second)
		return &nomination.Error{Code: nomination.ETOOMANY, Message: "limit reached", RetryAfter: max(secs, 1)}
	}
	// A key at its limit (a flood) is refused after one more read.
	if full, err := taken(r.Max); err != nil {
		return err
	} else if full {
		return refuse()
	}
	// lo is known taken, hi known free (Max+1 stands for "all taken").
	lo, hi := 1, 2
	for hi <= r.Max {
		t, err := taken(hi)
		if err != nil {
			return err
		}
		if !t {
			break
		}
		lo, hi = hi, min(2*hi, r.Max+1)
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		t, err := taken(mid)
		if err != nil {
			return err
		}
		if t {
			lo = mid
		} else {
			hi = mid
		}
	}
	for n := hi; n <= r.Max; n++ {
		err := insert(n)
		if err == nil {
			return nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return translate("take limit", err)
		}
	}
	return refuse()
}

// Purge removes the uses of windows that ended before now, and returns how
// many it removed; run it now and then (the store has no expiring indexes).
func (l *Limits) Purge(ctx context.Context, now time.Time) (int64, error) {
	res, err := l.c.DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lte", Value: now.UTC()}}}})
	if err != nil {
		return 0, translate("purge limits", err)
	}
	return res.DeletedCount, nil
}
