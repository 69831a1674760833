package httpapi

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/igf/nomina/internal/nomination"
)

// The secretariat's table read a page at a time through the API, in
// every order: each nomination once. A cursor of another list (another
// order or filter), one changed by hand or one too long is a 422 problem
// naming the cursor (the document accepts any short string: the request
// is well formed, its cursor is not one of this list); the list, and the
// cursor it made, are as they were.
func TestListingCursorsOverHTTP(t *testing.T) {
	st := newStack(t)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	st.seedDrafts("mag-2027", []string{"government", "civil_society"}, []string{"female", "male"}, 9, nil)
	type page struct {
		Items      []nominationBody `json:"items"`
		NextCursor string           `json:"next_cursor"`
	}
	get := func(query url.Values) page {
		t.Helper()
		var p page
		mustStatus(t, st.call("GET", "/api/v1/nominations?"+query.Encode(), sec, nil), http.StatusOK, &p)
		return p
	}
	walk := func(query url.Values) (ids []string) {
		t.Helper()
		query.Set("limit", "2")
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("the cursors never end")
			}
			p := get(query)
			for _, n := range p.Items {
				ids = append(ids, n.ID)
			}
			if p.NextCursor == "" {
				return ids
			}
			query.Set("cursor", p.NextCursor)
		}
	}
	all := walk(url.Values{"call": {"mag-2027"}})
	if len(all) != 9 || len(slices.Compact(slices.Sorted(slices.Values(all)))) != 9 {
		t.Fatalf("in id order: %v", all)
	}
	for _, sortBy := range []string{"name", "submitted", "score"} {
		got := walk(url.Values{"call": {"mag-2027"}, "sort": {sortBy}})
		if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(all))) {
			t.Errorf("by %s: %v, want each of %v once", sortBy, got, all)
		}
	}

	table := url.Values{"call": {"mag-2027"}, "stakeholder_group": {"government"}, "sort": {"name"}, "limit": {"2"}}
	first := get(table)
	if first.NextCursor == "" {
		t.Fatal("one page only")
	}
	next := func(query url.Values, cursor string) url.Values {
		q := url.Values{}
		for k, v := range query {
			q[k] = slices.Clone(v)
		}
		q.Set("cursor", cursor)
		return q
	}
	second := get(next(table, first.NextCursor))
	tampered := []byte(first.NextCursor)
	if i := len(tampered) / 2; tampered[i] == 'A' { // another character of base64url
		tampered[i] = 'B'
	} else {
		tampered[i] = 'A'
	}
	idOrder := get(url.Values{"call": {"mag-2027"}, "limit": {"2"}})
	for name, query := range map[string]url.Values{
		"another order":    next(url.Values{"call": {"mag-2027"}, "stakeholder_group": {"government"}, "sort": {"score"}}, first.NextCursor),
		"another filter":   next(url.Values{"call": {"mag-2027"}, "stakeholder_group": {"civil_society"}, "sort": {"name"}}, first.NextCursor),
		"no filter":        next(url.Values{"call": {"mag-2027"}, "sort": {"name"}}, first.NextCursor),
		"another state":    next(url.Values{"call": {"mag-2027"}, "stakeholder_group": {"government"}, "sort": {"name"}, "state": {"draft"}}, first.NextCursor),
		"changed by hand":  next(table, string(tampered)),
		"an older offset":  next(table, "o2"),
		"too long":         next(table, strings.Repeat("A", nomination.MaxCursorLength+1)),
		"not even base64":  next(table, "%%%"),
		"the creation id":  next(url.Values{"call": {"mag-2027"}}, all[1]),
		"an id-order page": next(table, idOrder.NextCursor),
	} {
		t.Run(name, func(t *testing.T) {
			p := mustProblem(t, st.call("GET", "/api/v1/nominations?"+query.Encode(), sec, nil), http.StatusUnprocessableEntity)
			if len(p.Errors) != 1 || p.Errors[0].Field != "cursor" {
				t.Fatalf("problem %+v, want one error naming the cursor", p)
			}
		})
	}
	again := get(next(table, first.NextCursor))
	ids := func(p page) (out []string) {
		for _, n := range p.Items {
			out = append(out, n.ID)
		}
		return out
	}
	if !slices.Equal(ids(again), ids(second)) || again.NextCursor != second.NextCursor {
		t.Fatalf("the page after the refusals: %v (next %q), before them %v (next %q)", ids(again), again.NextCursor, ids(second), second.NextCursor)
	}
}
