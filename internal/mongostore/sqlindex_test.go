package mongostore

import (
	"context"
	"database/sql"
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
		rows, err := db.Query("EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		var steps []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			steps = append(steps, detail)
		}
		return strings.Join(steps, "; ")
	}
	cases := []struct {
		name string
		f    nomination.ListFilter
	}{
		{"call", nomination.ListFilter{Call: "c", Limit: 51}},
		{"call by name", nomination.ListFilter{Call: "c", Sort: "name", Limit: 51}},
		{"call by submission", nomination.ListFilter{Call: "c", Sort: "submitted", Limit: 51}},
		{"call by score", nomination.ListFilter{Call: "c", Sort: "score", Limit: 51, Offset: 50}},
		{"call and state", nomination.ListFilter{Call: "c", States: []string{"submitted"}, Limit: 51}},
		{"call and state by name, with answers and text", nomination.ListFilter{Call: "c", States: []string{"submitted"}, Sort: "name", Limit: 51,
			FieldEquals: map[string]string{"stakeholder_group": "civil_society", "region": "african"}, Query: "ana"}},
		{"call and state by submission", nomination.ListFilter{Call: "c", States: []string{"submitted"}, Sort: "submitted", Limit: 51}},
		{"call and state by score", nomination.ListFilter{Call: "c", States: []string{"submitted"}, Sort: "score", Limit: 51}},
		{"call, next page by id", nomination.ListFilter{Call: "c", After: "n0001", Limit: 51}},
		{"owner", nomination.ListFilter{Owner: "u1", Limit: 11}},
		{"owner, next page", nomination.ListFilter{Owner: "u1", After: "n1", Limit: 11}},
		{"every call by id", nomination.ListFilter{Limit: 51}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, args, ok := nominationQuery(table, tc.f, sqlPath("body"))
			if !ok {
				t.Fatal("not expressed in SQL")
			}
			q += orderBy(tc.f.Sort) + " LIMIT 51"
			p := plan(q, args)
			if !strings.Contains(p, "USING INDEX") || strings.Contains(p, "TEMP B-TREE") {
				t.Fatalf("plan %s\nfor %s", p, q)
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
	rows, err := db.Query("EXPLAIN QUERY PLAN SELECT 1 FROM \""+table+"\" WHERE "+arrayHolds("panels", 1), "x", "x", "x", "x")
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, detail)
	}
	rows.Close()
	if p := strings.Join(steps, "; "); !strings.Contains(p, "MULTI-INDEX OR") || strings.Contains(p, "SCAN "+table) {
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
// does over the same nominations.
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
		n := &nomination.Nomination{ID: fmt.Sprintf("n%05d", (i*7919)%count), CallSlug: []string{"mag", "lp"}[i%2], State: states[i%3],
			OwnerID: fmt.Sprintf("u%d", i%5), Nominee: nomination.Person{Name: names[i%len(names)]}, ReviewPanels: panels[i%3],
			Fields:    map[string]any{"region": []string{"african", "weog"}[i%2], "organization": fmt.Sprint("Org ", i%9), "topics": []any{"a", fmt.Sprint(i % 3)}},
			MeanScore: score, UpdatedAt: time.Unix(int64(i), 0)}
		if i%5 != 0 {
			n.SubmittedAt = time.Unix(int64(1e9+i%13), 0).UTC()
		}
		if err := viaSQL.PutNomination(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(ns []*nomination.Nomination) string {
		out := make([]string, len(ns))
		for i, n := range ns {
			out[i] = n.ID
		}
		return strings.Join(out, ",")
	}
	filters := map[string]nomination.ListFilter{
		"all":             {},
		"call":            {Call: "mag", Limit: 51},
		"call by name":    {Call: "mag", Sort: "name", Limit: 51, Offset: 20},
		"by submission":   {Call: "lp", Sort: "submitted", Limit: 80},
		"by score":        {Sort: "score", Limit: 70, Offset: 3},
		"states":          {Call: "mag", States: []string{"draft", "panel_review"}, Sort: "name"},
		"state and field": {Call: "mag", States: []string{"submitted"}, FieldEquals: map[string]string{"region": "african"}, Sort: "name", Limit: 51},
		"array field":     {FieldEquals: map[string]string{"topics": "2"}, Limit: 40},
		"text":            {Query: "LÓPEZ", Sort: "name"},
		"text in org":     {Query: "org 3", Limit: 30},
		"owner":           {Owner: "u3", Limit: 11, After: "n00500"},
		"panels":          {Panels: []string{"civil_society"}, Limit: 60},
		"owner or panels": {Owner: "u1", Panels: []string{"government"}, OwnerOrPanels: true, Limit: 90},
		"ids":             {IDs: []string{"n00001", "n00002", "n01000", "nope"}},
	}
	for name, f := range filters {
		t.Run(name, func(t *testing.T) {
			want, err := viaDriver.ListNominations(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := viaSQL.ListNominations(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 && name != "ids" {
				t.Fatal("the case selects nothing")
			}
			if ids(got) != ids(want) {
				t.Fatalf("file:   %s\ndriver: %s", ids(got), ids(want))
			}
			if f.Limit == 0 && f.Offset == 0 && f.After == "" {
				var scanned []*nomination.Nomination
				for n, err := range viaSQL.ScanNominations(ctx, f) {
					if err != nil {
						t.Fatal(err)
					}
					scanned = append(scanned, n)
				}
				sort.Slice(scanned, func(i, j int) bool { return scanned[i].ID < scanned[j].ID })
				byID := slices.Clone(want)
				sort.Slice(byID, func(i, j int) bool { return byID[i].ID < byID[j].ID })
				if ids(scanned) != ids(byID) {
					t.Fatalf("scan found %d, the driver %d", len(scanned), len(byID))
				}
			}
		})
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
	}
}
