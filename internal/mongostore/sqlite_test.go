package mongostore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/igf/nomina/internal/mongostore"
)

// After Prepare, the embedded store finds documents by _id through an index
// instead of scanning their table.
func TestPrepareIndexesIDLookups(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	c, err := mongostore.Connect(ctx, mongostore.Options{DataDir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for i := 0; i < 2; i++ { // idempotent
		if err := c.Prepare(ctx, "nomina"); err != nil {
			t.Fatalf("prepare %d: %v", i, err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "nomina.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var table string
	if err := db.QueryRow(`SELECT table_name FROM "_ferretdb_collections" WHERE name = 'events'`).Scan(&table); err != nil {
		t.Fatalf("events table: %v", err)
	}
	rows, err := db.Query(`EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM "`+table+`" WHERE _ferretdb_sjson->'$._id' = ?`, `"x"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "USING INDEX") {
		t.Fatalf("lookup by _id still scans: %s", p)
	}
}
