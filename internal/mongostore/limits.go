package mongostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
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
	// hints remembers, per key and window ("<key>|<window start>|"), the
	// highest slot this instance has seen taken (by itself or found taken
	// by an insert or a read), so that the next take starts its search
	// there instead of from slot 1. It may be stale only by being low:
	// other instances (or a concurrent taker here) may have taken higher
	// slots since, and then the insert of the next slot fails as a
	// duplicate and the search moves on. It is never high, since slots are
	// never removed within their window (Purge removes ended windows only,
	// whose prefixes are no longer asked for; an instance whose clock runs
	// behind the purging one's may still take in such a window, and its
	// hint then only refuses what the purge forgot). So the count stays the
	// store's and exact: the insert of a unique slot id decides every take.
	// Bounded by maxLimitHints entries; it is emptied when full.
	mu    sync.Mutex
	hints map[string]int
}

// maxLimitHints bounds the hint map of one instance.
const maxLimitHints = 10000

// hintTries is how many slots past the hint a take tries by insert before
// it searches by reads (concurrent takers of one key each cost one).
const hintTries = 4

var _ nomination.Limiter = (*Limits)(nil)

// Limits returns the store's limiter. Its hints live as long as it does:
// the service keeps one per instance.
func (s *Store) Limits() *Limits {
	return &Limits{c: s.db.Collection(colLimits), hints: map[string]int{}}
}

func (l *Limits) hint(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hints[prefix]
}

// seen records that slot n of prefix is taken.
func (l *Limits) seen(prefix string, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n <= l.hints[prefix] {
		return
	}
	if len(l.hints) >= maxLimitHints {
		clear(l.hints)
	}
	l.hints[prefix] = n
}

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
// A key this instance has seen before in the window starts from the slot
// after the highest it has seen taken (see Limits.hints): a take then costs
// one insert, and a refusal of a key whose last slot was seen taken costs
// nothing. A key not seen before tries the first slot at once (most keys
// are far from their limit). When those slots are taken, a key whose last
// slot is taken is refused, and otherwise the first free slot is found by
// reading slots by _id (cheap on every backend) with a doubling then
// halving search from the highest slot seen taken, since slots fill from
// 1 upwards and are never removed within their window. The insert
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
	refuse := func() error {
		secs := int((end.Sub(now) + time.Second - 1) / time.Second)
		return &nomination.Error{Code: nomination.ETOOMANY, Message: "limit reached", RetryAfter: max(secs, 1)}
	}
	// try inserts slot n: taken reports a duplicate (the slot is noted).
	try := func(n int) (ok, taken bool, err error) {
		err = insert(n)
		if err == nil {
			l.seen(prefix, n)
			return true, false, nil
		}
		if mongo.IsDuplicateKeyError(err) {
			l.seen(prefix, n)
			return false, true, nil
		}
		return false, false, translate("take limit", err)
	}
	h := l.hint(prefix)
	if h == r.Max {
		return refuse() // slot Max was seen taken in this window: it still is
	}
	if h > 0 && h < r.Max {
		for n := h + 1; n <= min(h+hintTries, r.Max); n++ {
			if ok, _, err := try(n); ok || err != nil {
				return err
			}
		}
	} else if h == 0 {
		// Most keys are far from their limit: try the first slot straight away.
		if ok, _, err := try(1); ok || err != nil {
			return err
		}
	}
	taken := func(n int) (bool, error) {
		err := l.c.FindOne(ctx, bson.D{{Key: "_id", Value: slot(n)}}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
		if errors.Is(err, mongo.ErrNoDocuments) {
			return false, nil
		}
		if err == nil {
			l.seen(prefix, n)
		}
		return err == nil, translate("read limit", err)
	}
	// A key at its limit (a flood) is refused after one more read.
	if full, err := taken(r.Max); err != nil {
		return err
	} else if full {
		return refuse()
	}
	// lo is known taken, hi known free (Max+1 stands for "all taken"); the
	// steps double from the highest slot seen taken, then halve.
	lo := min(max(l.hint(prefix), 1), r.Max-1)
	hi, step := lo+1, 1
	for hi <= r.Max {
		t, err := taken(hi)
		if err != nil {
			return err
		}
		if !t {
			break
		}
		step *= 2
		lo, hi = hi, min(hi+step, r.Max+1)
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
		if ok, _, err := try(n); ok || err != nil {
			return err
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
