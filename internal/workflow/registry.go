package workflow

import (
	"sort"
	"sync"
)

// Registry holds loaded definitions: every version of every workflow, so a
// nomination keeps being evaluated against the version it started with
// while new nominations use the latest. It is safe for concurrent use.
type Registry struct {
	mu   sync.RWMutex
	byID map[string][]*Definition // sorted by version, then by order added
}

// NewRegistry returns a registry holding defs.
func NewRegistry(defs ...*Definition) *Registry {
	r := &Registry{byID: map[string][]*Definition{}}
	for _, d := range defs {
		r.Add(d)
	}
	return r
}

// Add stores d, keeping the versions already held. A definition with the
// same id, version and hash as one held replaces it.
func (r *Registry) Add(d *Definition) {
	if d == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.byID[d.ID]
	for i, old := range list {
		if old.Version == d.Version && old.Hash == d.Hash {
			list[i] = d
			return
		}
	}
	list = append(list, d)
	sort.SliceStable(list, func(i, j int) bool { return list[i].Version < list[j].Version })
	r.byID[d.ID] = list
}

// Latest returns the highest version of workflow id, and whether there is
// one. When two files share that version the one added last wins.
func (r *Registry) Latest(id string) (*Definition, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	list := r.byID[id]
	if len(list) == 0 {
		return nil, false
	}
	best := list[len(list)-1]
	return best, true
}

// Get returns the definition of workflow id with the given version and
// content hash (any hash when hash is ""), and whether it is held.
func (r *Registry) Get(id string, version int, hash string) (*Definition, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, d := range r.byID[id] {
		if d.Version == version && (hash == "" || d.Hash == hash) {
			return d, true
		}
	}
	return nil, false
}

// Versions returns every held version of workflow id, oldest first.
func (r *Registry) Versions(id string) []*Definition {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]*Definition(nil), r.byID[id]...)
}

// All returns the latest version of each workflow, sorted by id.
func (r *Registry) All() []*Definition {
	r.mu.RLock()
	ids := make([]string, 0, len(r.byID))
	for id := range r.byID {
		ids = append(ids, id)
	}
	r.mu.RUnlock()
	sort.Strings(ids)
	out := make([]*Definition, 0, len(ids))
	for _, id := range ids {
		if d, ok := r.Latest(id); ok {
			out = append(out, d)
		}
	}
	return out
}
