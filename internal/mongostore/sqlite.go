package mongostore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	_ "modernc.org/sqlite" // the driver FerretDB's SQLite backend uses
)

// indexIDPaths adds to every collection table of the embedded store's
// database an index on the expression FerretDB's SQLite backend filters _id
// with. FerretDB v1.24 creates its unique _id index on a different spelling
// of the same expression (_ferretdb_sjson->"_id"), which SQLite cannot use
// for lookups by _ferretdb_sjson->'$._id': without this, every lookup,
// update and delete by _id scans its table. SQLite's own locking makes it
// safe while FerretDB has the file open.
func indexIDPaths(ctx context.Context, dir, database string) error {
	path := filepath.Join(dir, database+".sqlite")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	dsn := (&url.URL{Scheme: "file", Path: path, RawQuery: "_pragma=busy_timeout(10000)"}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM "_ferretdb_collections"`)
	if err != nil {
		return fmt.Errorf("list tables of %s: %w", path, err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, t+"_id_path", t)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("index _id of %s: %w", t, err)
		}
	}
	if err := indexNominationPaths(ctx, db); err != nil {
		return err
	}
	if err := indexMailPaths(ctx, db); err != nil {
		return err
	}
	return indexUserPaths(ctx, db)
}

// collections lists every collection the store uses, so they exist (and
// are indexed) before the first request; the attachments bucket included.
var collections = []string{
	colCalls, colCallRevisions, colEvents, colNominations, colTimers, colTimerClaims,
	colUsers, colUserRevisions, colRefreshTokens, colRefreshSpent, colRevokedFamily, colLinkTokens, colLinkUsed, colAttempts, colUserIDs, colAuthLog,
	mailJobs, mailDue, mailClaims, mailResults,
	colMembers, colMemberChanges, colWorkflowVersions, colSecrets, colReaderProbes,
	"attachments.files", "attachments.chunks",
}

// Prepare makes the database ready for the service: every collection
// created, its indexes ensured, and on the embedded store its _id lookups
// indexed. It is idempotent.
func (c *Client) Prepare(ctx context.Context, database string) error {
	db := c.client.Database(database)
	existing, err := db.ListCollectionNames(ctx, map[string]any{})
	if err != nil {
		return translate("list collections", err)
	}
	have := map[string]bool{}
	for _, n := range existing {
		have[n] = true
	}
	for _, n := range collections {
		if have[n] {
			continue
		}
		if err := db.CreateCollection(ctx, n); err != nil && !isNamespaceExists(err) {
			return translate("create collection "+n, err)
		}
	}
	if err := New(db, c.log).EnsureIndexes(ctx); err != nil {
		return err
	}
	if c.embedded != nil {
		return indexIDPaths(ctx, c.embedded.dir, database)
	}
	return nil
}

// idProbeChunk bounds the ids one query of existingIDs asks for (SQLite
// limits the parameters of a statement).
const idProbeChunk = 500

// idProbeQuery is the SELECT of the stored ids among n, through the index
// indexIDPaths creates (the same expression, compared with the ids
// spelled as JSON by SQLite itself, as the expression yields them).
func idProbeQuery(table string, n int) string {
	return fmt.Sprintf(`SELECT _ferretdb_sjson->>'$._id' FROM %q WHERE _ferretdb_sjson->'$._id' IN (%s)`,
		table, strings.TrimSuffix(strings.Repeat("json_quote(?), ", n), ", "))
}

// existingIDs adds to found those of ids stored in collection; ok false
// when the collection is not in the file (yet).
func (r *sqlReader) existingIDs(ctx context.Context, collection string, ids []string, found map[string]bool) (ok bool, err error) {
	t, err := r.table(ctx, collection)
	if err != nil || t == "" {
		return false, nil
	}
	for chunk := range slices.Chunk(ids, idProbeChunk) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := r.db.QueryContext(ctx, idProbeQuery(t, len(chunk)), args...)
		if err != nil {
			return true, fmt.Errorf("probe ids of %s: %w", collection, err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return true, fmt.Errorf("probe ids of %s: %w", collection, err)
			}
			found[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return true, fmt.Errorf("probe ids of %s: %w", collection, err)
		}
	}
	return true, nil
}
