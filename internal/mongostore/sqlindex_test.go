package mongostore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/nomination"
)

// Every listing the embedded store answers from its file walks an index:
// no query scans the nominations table, and the sorted ones need no
// sorting of their own; the counts per state seek the (call, state) entries of the index.
func TestNominationQueriesUseIndexes(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	c := preparedClient(t, dir)
	s := c.NewStore("nomina", discardLogger())
	if s.sql == nil {
		t.Fatal("the embedded store has no reader of its file")
	}
	// One nomination, so the listing really goes through the file.
	if err := s.Nominations().PutNomination(ctx, &nomination.Nomination{ID: "n1", CallSlug: "c", State: "draft", OwnerID: "u1",
		Nominee: nomination.Person{Name: "Ana"}, Fields: map[string]any{"region": "african"}, UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "nomina.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	table, err := tableOf(ctx, db, colNominations)
	if err != nil || table == "" {
		t.Fatalf("nominations table %q: %v", table, err)
	}
	plan := func(q string, args []any) string {
		t.Helper()
		return planOf(t, db, q, args...)
	}
	// Positions to resume after: a key, a missing key (both directions),
	// and in id order the id alone.
	name := &nomination.Position{ID: "n0001", Key: nomination.SortKey{Text: "ana"}}
	submitted := &nomination.Position{ID: "n0001", Key: nomination.SortKey{Time: time.Unix(1e9, 0)}}
	score := &nomination.Position{ID: "n0001", Key: nomination.SortKey{Number: 2.5}}
	missing := &nomination.Position{ID: "n0001", Key: nomination.SortKey{Missing: true}}
	byID := &nomination.Position{ID: "n0001"}
	cases := []struct {
		name string
		f    nomination.ListFilter
	}{
		{"call", nomination.ListFilter{Call: "c", Limit: 51}},
		{"call by name", nomination.ListFilter{Call: "c", Sort: "name", Limit: 51}},
		{"call by submission", nomination.ListFilter{Call: "c", Sort: "submitted", Limit: 51}},
		{"call by score", nomination.ListFilter{Call: "c", Sort: "score", Limit: 51}},
		{"call and state", nomination.ListFilter{Call: "c", States: []string{"submitted"}, Limit: 51}},
		{"call and state by name, with answers and text", nomination.ListFilter{Call: "c", States: []string{"submitted"}, Sort: "name", Limit: 51,
			FieldEquals: map[string]string{"stakeholder_group": "civil_society", "region": "african"}, Query: "ana"}},
		{"call and state by submission", nomination.ListFilter{Call: "c", States: []string{"submitted"}, Sort: "submitted", Limit: 51}},
		{"call and state by score", nomination.ListFilter{Call: "c", States: []string{"submitted"}, Sort: "score", Limit: 51}},
		{"call, next page by id", nomination.ListFilter{Call: "c", After: byID, Limit: 51}},
		{"call and state, next page by id", nomination.ListFilter{Call: "c", States: []string{"submitted"}, After: byID, Limit: 51}},
		{"call, next page by name", nomination.ListFilter{Call: "c", Sort: "name", After: name, Limit: 51}},
		{"call and state, next page by name, with answers", nomination.ListFilter{Call: "c", States: []string{"submitted"}, Sort: "name", After: name, Limit: 51,
			FieldEquals: map[string]string{"stakeholder_group": "civil_society"}}},
		{"call and state, next page by name after a missing name", nomination.ListFilter{Call: "c", States: []string{"submitted"}, Sort: "name", After: missing, Limit: 51}},
		{"call, next page by submission", nomination.ListFilter{Call: "c", Sort: "submitted", After: submitted, Limit: 51}},
		{"call and state, next page by submission", nomination.ListFilter{Call: "c", States: []string{"draft"}, Sort: "submitted", After: submitted, Limit: 51}},
		{"call, next page by score", nomination.ListFilter{Call: "c", Sort: "score", After: score, Limit: 51}},
		{"call and state, next page by score", nomination.ListFilter{Call: "c", States: []string{"submitted"}, Sort: "score", After: score, Limit: 51}},
		{"call and state, next page by score after a missing score", nomination.ListFilter{Call: "c", States: []string{"submitted"}, Sort: "score", After: missing, Limit: 51}},
		{"owner", nomination.ListFilter{Owner: "u1", Limit: 11}},
		{"owner, next page", nomination.ListFilter{Owner: "u1", After: &nomination.Position{ID: "n1"}, Limit: 11}},
		{"every call by id", nomination.ListFilter{Limit: 51}},
		{"every call, next page by id", nomination.ListFilter{After: byID, Limit: 51}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			qs, ok := listQueries(table, tc.f)
			if !ok {
				t.Fatal("not expressed in SQL")
			}
			if tc.f.After != nil && tc.f.Sort != "" && len(qs) < 2 && !tc.f.After.Key.Missing {
				t.Fatalf("%d queries after a key: want the rest of the key, then what follows", len(qs))
			}
			for _, q := range qs {
				p := plan(q.q+" LIMIT 51", q.args)
				// An index walked in the listing's order: nothing sorted,
				// and, where the listing is narrowed or resumed, sought
				// rather than read from the start.
				sought := tc.f.Call != "" || tc.f.Owner != "" || tc.f.After != nil
				if !strings.Contains(p, "USING INDEX") || strings.Contains(p, "TEMP B-TREE") ||
					sought && (strings.Contains(p, "SCAN "+table) || !strings.Contains(p, "SEARCH "+table)) {
					t.Fatalf("plan %s\nfor %s", p, q.q)
				}
			}
			// And the reader answers it (the nomination, or nothing).
			if _, ok, err := s.sql.listNominations(ctx, tc.f); !ok || err != nil {
				t.Fatalf("listing: ok %v, %v", ok, err)
			}
		})
	}
	t.Run("counts per state", func(t *testing.T) {
		base, _, _ := nominationQuery(table, nomination.ListFilter{Call: "c"}, "count(*)")
		p := plan(base+" AND "+sqlPath("state")+" = ?", []any{"c", "draft"})
		if !strings.Contains(p, "INDEX "+table+"_nomina_call_state") || !strings.Contains(p, "(<expr>=? AND <expr>=?)") {
			t.Fatalf("plan %s", p)
		}
		got, ok, err := s.sql.countStates(ctx, "c")
		if !ok || err != nil || got["draft"] != 1 || len(got) != 1 {
			t.Fatalf("counts %v, ok %v, %v", got, ok, err)
		}
	})
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// preparedClient starts an embedded store of its own in dir (its SQLite
// file is what these tests read), with the database "nomina" prepared as
// the service prepares it; the store stops when the test ends.
func preparedClient(t *testing.T, dir string) *Client {
	t.Helper()
	ctx := context.Background()
	c, err := Connect(ctx, Options{DataDir: dir, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	if err := c.Prepare(ctx, "nomina"); err != nil {
		t.Fatal(err)
	}
	return c
}

// The directory finds accounts by role and by panel through the users
// table's indexes (one per array position, and the length), never by a
// scan, and finds every account that holds the value, wherever it is.
func TestUserQueriesUseIndexes(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	c := preparedClient(t, dir)
	s := c.NewStore("nomina", discardLogger())
	users := s.Users()
	add := func(email string, roles []auth.Role, panels []string) {
		t.Helper()
		// Every field a directory entry carries is set, so an answer from
		// the file that drops one differs from the driver's below.
		u := &auth.User{ID: "u-" + email, EmailKey: email, Email: email, Name: email, Organization: "Org of " + email, Language: "ru",
			Roles: roles, Panels: panels, CreatedAt: time.Now(), UpdatedAt: time.Now()}
		if err := users.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	add("sec@x", []auth.Role{auth.RoleCandidate, auth.RoleSecretariat}, nil)
	add("rev@x", []auth.Role{auth.RoleReviewer}, []string{"a", "b", "c", "d", "e", "civil_society"})
	add("rev2@x", []auth.Role{auth.RoleReviewer}, []string{"civil_society"})
	add("cand@x", []auth.Role{auth.RoleCandidate}, nil)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "nomina.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	table, err := tableOf(ctx, db, colUsers)
	if err != nil || table == "" {
		t.Fatalf("users table %q: %v", table, err)
	}
	p := planOf(t, db, "SELECT 1 FROM \""+table+"\" WHERE "+arrayHolds("panels", 1), "x", "x", "x", "x")
	if !strings.Contains(p, "MULTI-INDEX OR") || strings.Contains(p, "SCAN "+table) {
		t.Fatalf("plan %s", p)
	}
	at, err := tableOf(ctx, db, colAttempts)
	if err != nil || at == "" {
		t.Fatalf("attempts table %q: %v", at, err)
	}
	var detail string
	if err := db.QueryRow("EXPLAIN QUERY PLAN "+attemptsQuery(at), "k", 0, 10).Scan(new(int), new(int), new(int), &detail); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(detail, "USING INDEX "+at+"_nomina_key_at") {
		t.Fatalf("attempts plan %s", detail)
	}
	if err := users.AddAttempt(ctx, auth.Attempt{ID: "a1", Key: "account:x", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if got, err := users.Attempts(ctx, "account:x", time.Now().Add(-time.Minute), 10); err != nil || len(got) != 1 {
		t.Fatalf("attempts %v, %v", got, err)
	}
	dirs := s.Directory()
	names := func(ms []nomination.Member, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			out = append(out, m.Email)
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	if got := names(dirs.PanelMembers(ctx, "civil_society")); got != "rev2@x,rev@x" {
		t.Fatalf("panel members %s", got)
	}
	if got := names(dirs.Staff(ctx)); got != "sec@x" {
		t.Fatalf("staff %s", got)
	}
	viaDriver := New(c.Database("nomina"), nil).Directory()
	sorted := func(ms []nomination.Member, err error) []nomination.Member {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		sort.Slice(ms, func(i, j int) bool { return ms[i].UserID < ms[j].UserID })
		return ms
	}
	if a, b := sorted(dirs.PanelMembers(ctx, "civil_society")), sorted(viaDriver.PanelMembers(ctx, "civil_society")); !reflect.DeepEqual(a, b) {
		t.Fatalf("panel members from the file %+v, from the driver %+v", a, b)
	}
	if a, b := sorted(dirs.Staff(ctx)), sorted(viaDriver.Staff(ctx)); !reflect.DeepEqual(a, b) {
		t.Fatalf("staff from the file %+v, from the driver %+v", a, b)
	}
}

// The file answers every listing, count and scan exactly as the driver
// does over the same nominations, each row at the same position; and a
// listing read a page at a time, each page after the last row of the one
// before, is the whole listing, in every order, with ties, drafts never
// submitted and projections stored before the sort keys existed.
func TestSQLAnswersAsTheDriver(t *testing.T) {
	ctx := context.Background()
	c := preparedClient(t, t.TempDir())
	viaSQL := c.NewStore("nomina", nil).Nominations()
	viaDriver := New(c.Database("nomina"), nil).Nominations()
	if viaSQL.sql == nil || viaDriver.sql != nil {
		t.Fatal("both paths are the same")
	}
	names := []string{"Ana López", "ana lopez", "Émile Zola", "Bob", "", "Zoë", "bob"}
	states := []string{"draft", "submitted", "panel_review"}
	panels := [][]string{nil, {"civil_society"}, {"government", "civil_society"}}
	const count = 1100 // more than two chunks of a scan
	for i := 0; i < count; i++ {
		score := float64(i % 4)
		if i%7 == 0 {
			score = float64(i%11) / 3 // scores with no short decimal form
		}
		n := &nomination.Nomination{ID: fmt.Sprintf("n%05d", (i*7919)%count), CallSlug: []string{"mag", "lp"}[i%2], State: states[i%3],
			OwnerID: fmt.Sprintf("u%d", i%5), Nominee: nomination.Person{Name: names[i%len(names)]}, ReviewPanels: panels[i%3],
			Fields:    map[string]any{"region": []string{"african", "weog"}[i%2], "organization": fmt.Sprint("Org ", i%9), "topics": []any{"a", fmt.Sprint(i % 3)}},
			MeanScore: score, UpdatedAt: time.Unix(int64(i), 0)}
		if i%5 != 0 {
			n.SubmittedAt = time.Unix(int64(1e9+i%13), 0).UTC() // the rest are drafts never submitted: the zero time
		}
		if err := viaSQL.PutNomination(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	// Projections stored before the sort keys existed: no sort_name,
	// submitted_at or mean_score at all.
	for i := 0; i < 30; i++ {
		n := nomination.Nomination{ID: fmt.Sprintf("m%03d", (i*17)%30), CallSlug: []string{"mag", "lp"}[i%2], State: states[i%3],
			OwnerID: fmt.Sprintf("u%d", i%5), Nominee: nomination.Person{Name: names[i%len(names)]}, Fields: map[string]any{"region": "african"}}
		body, _ := json.Marshal(n)
		if _, err := c.Database("nomina").Collection(colNominations).InsertOne(ctx, bson.D{{Key: "_id", Value: n.ID}, {Key: "call", Value: n.CallSlug},
			{Key: "state", Value: n.State}, {Key: "owner", Value: n.OwnerID}, {Key: "nominee_name", Value: n.Nominee.Name}, {Key: "review_panels", Value: bson.A{}},
			{Key: "fields", Value: bson.D{{Key: "region", Value: "african"}}}, {Key: "body", Value: string(body)}}); err != nil {
			t.Fatal(err)
		}
	}
	// And one with no state: counted under "".
	if _, err := c.Database("nomina").Collection(colNominations).InsertOne(ctx, bson.D{{Key: "_id", Value: "m999"}, {Key: "call", Value: "mag"},
		{Key: "review_panels", Value: bson.A{}}, {Key: "fields", Value: bson.D{}}, {Key: "body", Value: `{"id":"m999","call":"mag"}`}}); err != nil {
		t.Fatal(err)
	}
	ids := func(ls []nomination.Listed) string {
		out := make([]string, len(ls))
		for i, l := range ls {
			out[i] = l.Nomination.ID
		}
		return strings.Join(out, ",")
	}
	positions := func(ls []nomination.Listed) string {
		out := make([]string, len(ls))
		for i, l := range ls {
			out[i] = fmt.Sprintf("%s:%v/%q/%d/%v", l.At.ID, l.At.Key.Missing, l.At.Key.Text, l.At.Key.Time.UnixMilli(), l.At.Key.Number)
		}
		return strings.Join(out, "\n")
	}
	list := func(s *Nominations, f nomination.ListFilter) []nomination.Listed {
		t.Helper()
		out, err := s.ListNominations(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// after is the position of row i of the whole listing f (the
	// driver's).
	after := func(f nomination.ListFilter, i int) *nomination.Position {
		f.Limit, f.After = 0, nil
		all := list(viaDriver, f)
		if len(all) <= i {
			t.Fatalf("listing of %d, no row %d", len(all), i)
		}
		return &all[i].At
	}
	filters := map[string]nomination.ListFilter{
		"all":                 {},
		"call":                {Call: "mag", Limit: 51},
		"call by name":        {Call: "mag", Sort: "name", Limit: 51},
		"call by name, after": {Call: "mag", Sort: "name", Limit: 51, After: after(nomination.ListFilter{Call: "mag", Sort: "name"}, 19)},
		"by submission":       {Call: "lp", Sort: "submitted", Limit: 80},
		"by submission, after a draft": {Call: "lp", Sort: "submitted", Limit: 80,
			After: after(nomination.ListFilter{Call: "lp", Sort: "submitted"}, 30)},
		"by score":                      {Sort: "score", Limit: 70},
		"by score, after":               {Sort: "score", Limit: 70, After: after(nomination.ListFilter{Sort: "score"}, 2)},
		"by score, after a missing one": {Sort: "score", After: after(nomination.ListFilter{Sort: "score"}, count+3)},
		"by name, after a missing one":  {Call: "mag", Sort: "name", Limit: 40, After: after(nomination.ListFilter{Call: "mag", Sort: "name"}, 3)},
		"states":                        {Call: "mag", States: []string{"draft", "panel_review"}, Sort: "name"},
		"state and field":               {Call: "mag", States: []string{"submitted"}, FieldEquals: map[string]string{"region": "african"}, Sort: "name", Limit: 51},
		"array field":                   {FieldEquals: map[string]string{"topics": "2"}, Limit: 40},
		"text":                          {Query: "LÓPEZ", Sort: "name"},
		"text in org":                   {Query: "org 3", Limit: 30},
		"owner":                         {Owner: "u3", Limit: 11, After: &nomination.Position{ID: "n00500"}},
		"panels":                        {Panels: []string{"civil_society"}, Limit: 60},
		"owner or panels":               {Owner: "u1", Panels: []string{"government"}, OwnerOrPanels: true, Limit: 90},
		"ids":                           {IDs: []string{"n00001", "n00002", "n01000", "nope"}},
	}
	for name, f := range filters {
		t.Run(name, func(t *testing.T) {
			want, got := list(viaDriver, f), list(viaSQL, f)
			if len(want) == 0 && name != "ids" {
				t.Fatal("the case selects nothing")
			}
			if ids(got) != ids(want) {
				t.Fatalf("file:   %s\ndriver: %s", ids(got), ids(want))
			}
			if positions(got) != positions(want) {
				t.Fatalf("positions from the file:\n%s\nfrom the driver:\n%s", positions(got), positions(want))
			}
			if f.Limit == 0 && f.After == nil {
				var scanned []nomination.Listed
				for n, err := range viaSQL.ScanNominations(ctx, f) {
					if err != nil {
						t.Fatal(err)
					}
					scanned = append(scanned, nomination.Listed{Nomination: n})
				}
				sort.Slice(scanned, func(i, j int) bool { return scanned[i].Nomination.ID < scanned[j].Nomination.ID })
				byID := slices.Clone(want)
				sort.Slice(byID, func(i, j int) bool { return byID[i].Nomination.ID < byID[j].Nomination.ID })
				if ids(scanned) != ids(byID) {
					t.Fatalf("scan found %d, the driver %d", len(scanned), len(byID))
				}
			}
		})
	}
	for _, sortBy := range []string{"", "name", "submitted", "score"} {
		for _, f := range []nomination.ListFilter{{Call: "lp", States: []string{"draft"}}, {Call: "mag", FieldEquals: map[string]string{"region": "african"}}} {
			f.Sort = sortBy
			t.Run(fmt.Sprintf("pages of %q %s %v", sortBy, f.Call, f.States), func(t *testing.T) {
				whole := list(viaDriver, f)
				if len(whole) < 20 {
					t.Fatalf("a listing of %d", len(whole))
				}
				if !slices.ContainsFunc(whole, func(l nomination.Listed) bool { return l.At.Key.Missing }) && sortBy != "" {
					t.Fatal("no row without a key")
				}
				// Pages end on ties, of names, times and scores alike.
				// (The driver's are larger: the embedded store reads the
				// whole collection for each.)
				for path, s := range map[string]*Nominations{"file": viaSQL, "driver": viaDriver} {
					var paged []nomination.Listed
					page := f
					page.Limit = 13
					if s == viaDriver {
						page.Limit = 97
					}
					for {
						p := list(s, page)
						paged = append(paged, p...)
						if len(p) < page.Limit {
							break
						}
						if len(paged) > len(whole) {
							t.Fatalf("%s: %d rows and counting, of %d; the last page after %+v:\n%s", path, len(paged), len(whole), page.After, positions(p))
						}
						page.After = &p[len(p)-1].At
					}
					if ids(paged) != ids(whole) {
						t.Fatalf("%s, a page at a time:\n%s\nwhole:\n%s", path, ids(paged), ids(whole))
					}
				}
			})
		}
	}
	for _, call := range []string{"mag", "lp", "none"} {
		want, err := viaDriver.CountStates(ctx, call)
		if err != nil {
			t.Fatal(err)
		}
		got, err := viaSQL.CountStates(ctx, call)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("counts of %s: file %v, driver %v", call, got, want)
		}
		if call == "mag" && (got[""] != 1 || got["draft"] == 0) {
			t.Fatalf("counts of mag: %v, want one without a state", got)
		}
	}
}
