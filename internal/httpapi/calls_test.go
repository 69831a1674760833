package httpapi

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// Secretariat members changing one call at the same moment: every change
// is kept, none overwrites another.
func TestConcurrentCallChangesAreKept(t *testing.T) {
	st := newStack(t)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	var wg sync.WaitGroup
	codes := make(chan int, 2)
	for _, body := range []map[string]any{{"seats": 42}, {"title": "MAG 2027 renewal"}} {
		wg.Add(1)
		go func(b map[string]any) {
			defer wg.Done()
			codes <- st.call("PATCH", "/api/v1/calls/mag-2027", sec, b).Code
		}(body)
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusOK {
			t.Fatalf("status %d", c)
		}
	}
	var call struct {
		Title string `json:"title"`
		Seats int    `json:"seats"`
	}
	mustStatus(t, st.call("GET", "/api/v1/calls/mag-2027", sec, nil), 200, &call)
	if call.Seats != 42 || call.Title != "MAG 2027 renewal" {
		t.Fatalf("a change was lost: %+v", call)
	}
	// Bad changes are refused and change nothing.
	for _, b := range []string{`{"seats":0}`, `{"closes_at":"2000-01-01T00:00:00Z"}`, `{"workflow":"leadership-panel"}`, `{"slug":"other"}`, `{"colour":"red"}`} {
		rec := st.call("PATCH", "/api/v1/calls/mag-2027", sec, b)
		if rec.Code != 422 && rec.Code != 400 {
			t.Errorf("%s: %d", b, rec.Code)
		}
	}
	mustStatus(t, st.call("GET", "/api/v1/calls/mag-2027", sec, nil), 200, &call)
	if fmt.Sprint(call.Seats) != "42" {
		t.Fatalf("a refused change was stored: %+v", call)
	}
}
