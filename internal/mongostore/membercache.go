package mongostore

import (
	"slices"
	"sync"
	"time"

	"github.com/igf/nomina/internal/nomination"
)

// memberCacheTTL bounds how long the directory's answers (a panel's
// members, the staff: mail audiences and the reviewers a quorum counts)
// may be stale on this instance: an account change made through another
// instance (roles, panels, disabling) is seen here within this time. A
// change made through this instance empties the cache at once.
const memberCacheTTL = time.Second

// memberCacheMax bounds the lists kept (one per panel, and the staff).
const memberCacheMax = 256

type memberCache struct {
	mu  sync.Mutex
	m   map[string]cachedMembers
	gen uint64 // bumped by every local account change
	now func() time.Time
}

type cachedMembers struct {
	ms []nomination.Member
	at time.Time
}

func newMemberCache() *memberCache {
	return &memberCache{m: map[string]cachedMembers{}, now: time.Now}
}

// get returns the list under key and the generation to put a fresh one
// with.
func (c *memberCache) get(key string) ([]nomination.Member, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || c.now().Sub(e.at) >= memberCacheTTL {
		return nil, c.gen, false
	}
	return slices.Clone(e.ms), c.gen, true
}

// put keeps ms, read from time at, unless a local change happened since
// the read began (generation gen).
func (c *memberCache) put(key string, ms []nomination.Member, gen uint64, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.m) >= memberCacheMax {
		clear(c.m)
	}
	c.m[key] = cachedMembers{ms: slices.Clone(ms), at: at}
}

// changed forgets every list: an account changed through this instance.
func (c *memberCache) changed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}
