package nomination

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"
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
// on the caller's vote first), the own ones for anyone else. Errors:
// EINVALID for a bad limit or cursor, EFORBIDDEN for a panel the caller is
// not on.
func (s *Service) List(ctx context.Context, actor Actor, q ListQuery) (Page, error) {
	if q.Limit == 0 {
		q.Limit = 50
	}
	if q.Limit < 1 || q.Limit > MaxPageSize {
		return Page{}, Invalid(Problem("limit", "LimitRange", "between 1 and 100"))
	}
	if len(q.Cursor) > 64 || len(q.Query) > 200 || len(q.State) > 64 || len(q.Call) > 64 || len(q.Panel) > 64 {
		return Page{}, Invalid(Problem("cursor", "TooLong", "too long"))
	}
	f := ListFilter{Call: q.Call, Query: q.Query, Limit: q.Limit + 1, Sort: q.Sort}
	switch q.Sort {
	case "":
		f.After = q.Cursor
	case "name", "submitted", "score":
		if q.Cursor != "" {
			off, err := strconv.Atoi(strings.TrimPrefix(q.Cursor, "o"))
			if err != nil || off < 0 || !strings.HasPrefix(q.Cursor, "o") {
				return Page{}, Invalid(Problem("cursor", "NotACursor", "not a cursor of this list"))
			}
			f.Offset = off
		}
	default:
		return Page{}, Invalid(Problem("sort", "SortOptions", "one of name, submitted, score"))
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
	ns, err := s.Store.ListNominations(ctx, f)
	if err != nil {
		return Page{}, err
	}
	var page Page
	if len(ns) > q.Limit {
		page.Next = ns[q.Limit-1].ID
		if q.Sort != "" {
			page.Next = "o" + strconv.Itoa(f.Offset+q.Limit)
		}
		ns = ns[:q.Limit]
	}
	for _, n := range ns {
		v, err := s.viewListed(ctx, actor, n)
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
