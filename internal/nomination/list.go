package nomination

import (
	"context"
	"slices"
	"sort"
)

// ListQuery is what a caller asks of the nomination list.
type ListQuery struct {
	Call   string
	State  string
	Panel  string
	Query  string
	Limit  int
	Cursor string
	// Fields filters by form answers (secretariat only), such as
	// stakeholder_group, region or gender.
	Fields map[string]string
	// Sort is "" (creation order), "name", "submitted" or "score".
	Sort string
}

// Page is one page of a list; Next is the cursor of the following page, ""
// at the end.
type Page struct {
	Items []*View
	Next  string
}

// MaxPageSize bounds a page of nominations.
const MaxPageSize = 100

// List returns the nominations actor may see, scoped to the caller: all of
// them for the secretariat, the panels' queue for a reviewer (those waiting
// on the caller's vote first), the own ones for anyone else. A page
// resumes after the last row of the page before (see cursor.go): a row
// that stays in the list with the same sort key is returned once however
// the list changes while it is read; one whose key changes meanwhile may
// be met at its old and its new place, or at neither. Errors: EINVALID
// for a bad limit, sort or parameter and for a cursor this list did not
// make, EFORBIDDEN for a panel the caller is not on.
func (s *Service) List(ctx context.Context, actor Actor, q ListQuery) (Page, error) {
	if q.Limit == 0 {
		q.Limit = 50
	}
	if q.Limit < 1 || q.Limit > MaxPageSize {
		return Page{}, Invalid(Problem("limit", "LimitRange", "between 1 and 100"))
	}
	for _, p := range []struct {
		field, value string
		max          int
	}{{"q", q.Query, 200}, {"state", q.State, 64}, {"call", q.Call, 64}, {"panel", q.Panel, 64}} {
		if len(p.value) > p.max {
			return Page{}, Invalid(Problem(p.field, "TooLong", "too long"))
		}
	}
	if _, ok := sortCodes[q.Sort]; !ok {
		return Page{}, Invalid(Problem("sort", "SortOptions", "one of name, submitted, score"))
	}
	f := ListFilter{Call: q.Call, Query: q.Query, Limit: q.Limit + 1, Sort: q.Sort}
	if q.Cursor != "" {
		after, err := decodeCursor(q, q.Cursor)
		if err != nil {
			return Page{}, err
		}
		f.After = after
	}
	if len(q.Fields) > 0 {
		if !actor.IsStaff() {
			return Page{}, Fail(EFORBIDDEN, "SecretariatFiltersAnswers", "only the secretariat filters by form answers")
		}
		if len(q.Fields) > 8 {
			return Page{}, Invalid(Problem("fields", "AtMost8Filters", "at most 8 filters"))
		}
		f.FieldEquals = q.Fields
	}
	if q.State != "" {
		f.States = []string{q.State}
	}
	reviewerQueue := false
	switch {
	case actor.IsStaff():
		if q.Panel != "" {
			f.Panels = []string{q.Panel}
		}
	case actor.HasRole("reviewer") && (q.Panel != "" || len(actor.Panels) > 0):
		if q.Panel != "" && !actor.OnPanel(q.Panel) {
			return Page{}, Fail(EFORBIDDEN, "NotOnPanelNamed", "you are not on panel \"{{.Panel}}\"", "Panel", q.Panel)
		}
		f.Panels = actor.Panels
		if q.Panel != "" {
			f.Panels = []string{q.Panel}
		} else {
			// A reviewer may also have nominations of their own.
			f.Owner, f.OwnerOrPanels = actor.UserID, true
		}
		reviewerQueue = true
	default:
		f.Owner = actor.UserID
	}
	rows, err := s.Store.ListNominations(ctx, f)
	if err != nil {
		return Page{}, err
	}
	var page Page
	if len(rows) > q.Limit {
		page.Next = encodeCursor(q, rows[q.Limit-1].At)
		rows = rows[:q.Limit]
	}
	for _, row := range rows {
		v, err := s.viewListed(ctx, actor, row.Nomination)
		if err != nil {
			if ErrorCode(err) == ENOTFOUND {
				continue // not visible to this caller after all
			}
			return Page{}, err
		}
		page.Items = append(page.Items, v)
	}
	if reviewerQueue {
		// What waits on the caller's vote comes first, soonest due first.
		waiting := func(v *View) bool {
			if v.Panel == "" || !actor.OnPanel(v.Panel) {
				return false
			}
			return !slices.ContainsFunc(v.Nomination.CurrentVotes(v.Nomination.State), func(x Vote) bool { return x.Reviewer == actor.UserID })
		}
		sort.SliceStable(page.Items, func(i, j int) bool {
			wi, wj := waiting(page.Items[i]), waiting(page.Items[j])
			if wi != wj {
				return wi
			}
			return page.Items[i].Nomination.StageDue.Before(page.Items[j].Nomination.StageDue)
		})
	}
	return page, nil
}

// viewListed builds a list item: what the caller may see, without the
// actions (the detail view lists them, and repairs a projection that is
// behind its events).
func (s *Service) viewListed(ctx context.Context, actor Actor, n *Nomination) (*View, error) {
	def, err := s.definition(n)
	if err != nil {
		return nil, err
	}
	return s.viewOf(ctx, actor, n, def, false)
}
