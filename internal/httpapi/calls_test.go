package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Secretariat members changing one call at the same moment: every change
// is kept, none overwrites another. The writers wait at a gate and start
// together, and there are enough of them that they overlap even under the
// race detector: each accepted change must be a revision of its own, and
// the call must end with every change that no later one replaced.
func TestConcurrentCallChangesAreKept(t *testing.T) {
	st := newStack(t)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	closes := st.clock.Now().Add(60 * 24 * time.Hour).UTC().Truncate(time.Second)
	const writers = 16
	bodies := []map[string]any{{"seats": 42}, {"closes_at": closes}}
	for i := len(bodies); i < writers; i++ {
		bodies = append(bodies, map[string]any{"title": fmt.Sprintf("Title %02d", i)})
	}
	gate := make(chan struct{})
	var wg sync.WaitGroup
	codes := make([]int, writers)
	for i, b := range bodies {
		wg.Go(func() {
			<-gate
			codes[i] = st.call("PATCH", "/api/v1/calls/mag-2027", sec, b).Code
		})
	}
	close(gate)
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Fatalf("writer %d (%v): status %d", i, bodies[i], c)
		}
	}

	// Every change committed as one revision, in an unbroken sequence.
	ctx := context.Background()
	cur, err := st.db.Collection("call_revisions").Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var revs []struct {
		ID   string `bson:"_id"`
		Call struct {
			Title   string `bson:"title"`
			Version int    `bson:"version"`
		} `bson:"call"`
	}
	if err := cur.All(ctx, &revs); err != nil {
		t.Fatal(err)
	}
	versions, titles := map[int]bool{}, map[string]int{}
	for _, r := range revs {
		versions[r.Call.Version] = true
		titles[r.Call.Title]++
	}
	for v := 2; v <= writers+1; v++ {
		if !versions[v] {
			t.Errorf("no revision %d: a change was lost (revisions %v)", v, versions)
		}
	}
	for _, b := range bodies[2:] {
		if titles[b["title"].(string)] == 0 {
			t.Errorf("the change to %q is in no revision: it was lost", b["title"])
		}
	}
	c, err := st.store.Nominations().GetCall(ctx, "mag-2027")
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != writers+1 || c.Seats != 42 || !c.ClosesAt.Equal(closes) || titles[c.Title] == 0 {
		t.Fatalf("a change was lost: version %d (want %d), seats %d, closes %v (want %v), title %q",
			c.Version, writers+1, c.Seats, c.ClosesAt, closes, c.Title)
	}

	// Bad changes are refused and change nothing.
	for _, b := range []string{`{"seats":0}`, `{"closes_at":"2000-01-01T00:00:00Z"}`, `{"workflow":"leadership-panel"}`, `{"slug":"other"}`, `{"colour":"red"}`} {
		rec := st.call("PATCH", "/api/v1/calls/mag-2027", sec, b)
		if rec.Code != 422 && rec.Code != 400 {
			t.Errorf("%s: %d", b, rec.Code)
		}
	}
	after, err := st.store.Nominations().GetCall(ctx, "mag-2027")
	if err != nil || after.Version != c.Version || after.Seats != 42 {
		t.Fatalf("a refused change was stored: %+v %v", after, err)
	}
}
