package mongostore

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/igf/nomina/internal/nomination"
)

// Every listing the embedded store answers from its file walks an index:
// no query scans the nominations table, and the sorted ones need no
// sorting of their own; the counts per state walk the (call, state) index in order.
func TestNominationQueriesUseIndexes(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	c, err := Connect(ctx, Options{DataDir: dir, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if err := c.Prepare(ctx, "nomina"); err != nil {
		t.Fatal(err)
	}
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
		q, args, _ := nominationQuery(table, nomination.ListFilter{Call: "c"}, sqlPath("state")+", count(*)")
		p := plan(q+" GROUP BY "+sqlPath("state"), args)
		if !strings.Contains(p, "USING INDEX "+table+"_nomina_call_state") || strings.Contains(p, "TEMP B-TREE") {
			t.Fatalf("plan %s", p)
		}
		got, ok, err := s.sql.countStates(ctx, "c")
		if !ok || err != nil || got["draft"] != 1 || len(got) != 1 {
			t.Fatalf("counts %v, ok %v, %v", got, ok, err)
		}
	})
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
