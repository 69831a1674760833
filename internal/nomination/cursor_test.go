package nomination

import (
	"encoding/base64"
	"math"
	"strings"
	"testing"
	"time"
)

// A cursor gives back the position it was made from, for every order and
// key, and fits the bound even for the longest name.
func TestCursorRoundTrip(t *testing.T) {
	longest := strings.Repeat("𐐨", 200) // 200 characters of 4 bytes each: the longest name there is
	randomID := "n" + idEncoding.EncodeToString([]byte("0123456789abcdef"))
	cases := []struct {
		name string
		q    ListQuery
		p    Position
	}{
		{"id order", ListQuery{Call: "mag-2027"}, Position{ID: randomID}},
		{"id order, another id", ListQuery{}, Position{ID: "n00042"}},
		{"name", ListQuery{Call: "mag-2027", Sort: "name", State: "submitted", Fields: map[string]string{"region": "african", "gender": "female"}},
			Position{ID: randomID, Key: SortKey{Text: "ana lópez"}}},
		{"empty name", ListQuery{Sort: "name"}, Position{ID: randomID, Key: SortKey{Text: ""}}},
		{"longest name", ListQuery{Sort: "name", Query: strings.Repeat("a", 200)}, Position{ID: randomID, Key: SortKey{Text: longest}}},
		{"missing name", ListQuery{Sort: "name"}, Position{ID: randomID, Key: SortKey{Missing: true}}},
		{"submitted", ListQuery{Sort: "submitted"}, Position{ID: randomID, Key: SortKey{Time: time.UnixMilli(1_700_000_000_123).UTC()}}},
		{"never submitted", ListQuery{Sort: "submitted"}, Position{ID: randomID, Key: SortKey{Time: time.UnixMilli(time.Time{}.UnixMilli()).UTC()}}},
		{"score", ListQuery{Sort: "score", Panel: "civil_society"}, Position{ID: randomID, Key: SortKey{Number: 11.0 / 3}}},
		{"negative zero score", ListQuery{Sort: "score"}, Position{ID: randomID, Key: SortKey{Number: math.Copysign(0, -1)}}},
		{"missing score", ListQuery{Sort: "score"}, Position{ID: "m001", Key: SortKey{Missing: true}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := encodeCursor(tc.q, tc.p)
			if len(c) > MaxCursorLength {
				t.Fatalf("cursor of %d characters, over %d", len(c), MaxCursorLength)
			}
			other := tc.q
			other.Limit, other.Cursor = 7, "x" // the page's size is no part of the list
			got, err := decodeCursor(other, c)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != tc.p.ID || got.Key.Missing != tc.p.Key.Missing || got.Key.Text != tc.p.Key.Text ||
				!got.Key.Time.Equal(tc.p.Key.Time) || math.Float64bits(got.Key.Number) != math.Float64bits(tc.p.Key.Number) {
				t.Fatalf("decoded %+v, made from %+v", *got, tc.p)
			}
		})
	}
	if c := encodeCursor(ListQuery{Sort: "score"}, Position{ID: randomID, Key: SortKey{Number: 4.5}}); len(c) > 64 {
		t.Errorf("a score's cursor takes %d characters", len(c))
	}
}

// A cursor of another list (another order, call, state, panel, words or
// answers), one changed in any byte, cut short or lengthened, or one of
// the offsets and ids of earlier versions, is refused as invalid, naming
// the cursor.
func TestCursorRefused(t *testing.T) {
	q := ListQuery{Call: "mag-2027", State: "submitted", Sort: "name", Fields: map[string]string{"stakeholder_group": "civil_society"}}
	good := encodeCursor(q, Position{ID: "n" + idEncoding.EncodeToString([]byte("0123456789abcdef")), Key: SortKey{Text: "ana"}})
	refused := func(t *testing.T, q ListQuery, c string) {
		t.Helper()
		_, err := decodeCursor(q, c)
		e, ok := err.(*Error)
		if !ok || e.Code != EINVALID || len(e.Fields) != 1 || e.Fields[0].Field != "cursor" {
			t.Fatalf("cursor %q: %v, want the cursor invalid", c, err)
		}
	}
	foreign := map[string]func(ListQuery) ListQuery{
		"another order":  func(q ListQuery) ListQuery { q.Sort = "submitted"; return q },
		"id order":       func(q ListQuery) ListQuery { q.Sort = ""; return q },
		"another call":   func(q ListQuery) ListQuery { q.Call = "lp-2027"; return q },
		"another state":  func(q ListQuery) ListQuery { q.State = ""; return q },
		"a panel":        func(q ListQuery) ListQuery { q.Panel = "civil_society"; return q },
		"words":          func(q ListQuery) ListQuery { q.Query = "ana"; return q },
		"another answer": func(q ListQuery) ListQuery { q.Fields = map[string]string{"stakeholder_group": "government"}; return q },
		"more answers": func(q ListQuery) ListQuery {
			q.Fields = map[string]string{"stakeholder_group": "civil_society", "region": "african"}
			return q
		},
		"no answers": func(q ListQuery) ListQuery { q.Fields = nil; return q },
	}
	for name, change := range foreign {
		t.Run("list with "+name, func(t *testing.T) { refused(t, change(q), good) })
	}
	raw, err := base64.RawURLEncoding.DecodeString(good)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("any byte changed", func(t *testing.T) {
		for i := range raw {
			for _, flip := range []byte{0x01, 0x80, 0xff} {
				b := []byte(string(raw))
				b[i] ^= flip
				refused(t, q, base64.RawURLEncoding.EncodeToString(b))
			}
		}
	})
	t.Run("cut short", func(t *testing.T) {
		for i := range raw {
			refused(t, q, base64.RawURLEncoding.EncodeToString(raw[:i]))
		}
	})
	for name, c := range map[string]string{
		"lengthened":      base64.RawURLEncoding.EncodeToString(append([]byte(string(raw)), 0)),
		"padded":          good + "==",
		"not base64url":   strings.Replace(good, good[:1], "+", 1),
		"an offset":       "o50",
		"an id":           "nabcdefghijklmnopqrstuvwxyz",
		"too long":        strings.Repeat("A", MaxCursorLength+1),
		"empty after all": "AA",
	} {
		t.Run(name, func(t *testing.T) { refused(t, q, c) })
	}
	if _, err := decodeCursor(q, good); err != nil {
		t.Fatalf("the cursor itself: %v", err)
	}
}
