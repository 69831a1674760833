package mongostore

import (
	"sync"
	"time"
)

// callCacheTTL bounds how long a call read here may be stale: a change of
// a call's dates, seats, targets or settings committed through another
// instance is seen by this one within this time. A change committed
// through this instance is seen here at once, and a change that loses its
// race to another instance's revision drops the entry, so the retry reads
// the store. Nominations never depend on the cache for their own
// consistency: their commit point is the event insert.
const callCacheTTL = time.Second

// callCacheMax bounds the entries kept (calls are few: a few a year).
const callCacheMax = 1024

// callCache keeps recently read calls, caught up with their revisions, so
// a request does not read the call and probe its next revision each time.
type callCache struct {
	mu  sync.Mutex
	m   map[string]cachedCall
	now func() time.Time
}

type cachedCall struct {
	d  callDoc
	at time.Time
}

func newCallCache() *callCache {
	return &callCache{m: map[string]cachedCall{}, now: time.Now}
}

func (c *callCache) get(slug string) (callDoc, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[slug]
	if !ok || c.now().Sub(e.at) >= callCacheTTL {
		return callDoc{}, false
	}
	return e.d, true
}

// put keeps d as read at the time fetched: what was read before a request
// began counts from then, not from when it ended.
func (c *callCache) put(d callDoc, fetched time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[d.Slug]; ok && e.d.Version > d.Version && c.now().Sub(e.at) < callCacheTTL {
		return // a newer revision is known already
	}
	if len(c.m) >= callCacheMax {
		now := c.now()
		for k, e := range c.m {
			if now.Sub(e.at) >= callCacheTTL {
				delete(c.m, k)
			}
		}
		if len(c.m) >= callCacheMax {
			clear(c.m)
		}
	}
	c.m[d.Slug] = cachedCall{d: d, at: fetched}
}

func (c *callCache) drop(slug string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, slug)
}
