package mongostore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/nomination"
)

// The embedded store (FerretDB v1.24, SQLite backend) passes no filter
// but {_id: value} down to SQLite: every other query reads and decodes the
// whole collection, so a listing costs time in proportion to everything
// stored. The nominations' listings and counts are therefore answered on
// the embedded store straight from its SQLite file, read-only, through
// expression indexes on the JSON paths they filter and sort by (the same
// paths the MongoDB indexes in nominations.go cover). Writes still go
// through the driver only; SQLite's WAL gives these reads the last
// committed state, exactly what a find through FerretDB would see.

// sqlPath is the SQL expression of a top-level or nested field of a
// collection's documents, as indexed below; queries must spell it the same
// way for SQLite to use the index.
func sqlPath(field string) string { return `_ferretdb_sjson->>'$.` + field + `'` }

// nominationSQLIndexes are the expression indexes of the nominations
// table: the call's listing in each sort order, with and without a state,
// the counts per state (index-only), an owner's list, and id order.
var nominationSQLIndexes = map[string][]string{
	"call_state_id":        {"call", "state", "_id"},
	"call_state_name":      {"call", "state", "sort_name", "_id"},
	"call_state_submitted": {"call", "state", "submitted_at", "_id"},
	"call_state_score":     {"call", "state", "mean_score DESC", "_id"},
	"call_id":              {"call", "_id"},
	"call_name":            {"call", "sort_name", "_id"},
	"call_submitted":       {"call", "submitted_at", "_id"},
	"call_score":           {"call", "mean_score DESC", "_id"},
	"owner_id":             {"owner", "_id"},
	"id_text":              {"_id"},
}

func indexColumns(cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		name, desc, _ := strings.Cut(c, " ")
		out[i] = sqlPath(name)
		if desc != "" {
			out[i] += " " + desc
		}
	}
	return strings.Join(out, ", ")
}

// tableOf returns the SQLite table holding collection, "" when it does not
// exist (yet).
func tableOf(ctx context.Context, db *sql.DB, collection string) (string, error) {
	var t string
	err := db.QueryRowContext(ctx, `SELECT table_name FROM "_ferretdb_collections" WHERE name = ?`, collection).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return t, err
}

// indexNominationPaths creates the nominations table's expression indexes.
// It is idempotent; on a table that already holds many nominations the
// first run builds them (once).
func indexNominationPaths(ctx context.Context, db *sql.DB) error {
	t, err := tableOf(ctx, db, colNominations)
	if err != nil || t == "" {
		return err
	}
	names := make([]string, 0, len(nominationSQLIndexes))
	for n := range nominationSQLIndexes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (%s)`, t+"_nomina_"+n, t, indexColumns(nominationSQLIndexes[n]))
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("index nominations %s: %w", n, err)
		}
	}
	// The account change log is read by _id range.
	if t, err = tableOf(ctx, db, colAuthLog); err != nil || t == "" {
		return err
	}
	q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (%s)`, t+"_nomina_id_text", t, indexColumns([]string{"_id"}))
	if _, err := db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("index account changes: %w", err)
	}
	return nil
}

// revocations answers Users.Revocations from the file.
func (r *sqlReader) revocations(ctx context.Context, after string) ([]auth.Revocation, bool, error) {
	t, err := r.table(ctx, colAuthLog)
	if err != nil || t == "" {
		return nil, false, nil
	}
	q := fmt.Sprintf(`SELECT %s, %s FROM %q WHERE %s > ? ORDER BY %s LIMIT 100000`, sqlPath("key"), sqlPath("at"), t, sqlPath("_id"), sqlPath("_id"))
	rows, err := r.db.QueryContext(ctx, q, after)
	if err != nil {
		return nil, true, fmt.Errorf("read account changes: %w", err)
	}
	defer rows.Close()
	var out []auth.Revocation
	for rows.Next() {
		var key string
		var ms int64
		if err := rows.Scan(&key, &ms); err != nil {
			return nil, true, fmt.Errorf("read account changes: %w", err)
		}
		out = append(out, auth.Revocation{Key: key, At: time.UnixMilli(ms).UTC()})
	}
	return out, true, rows.Err()
}

// containsFold is nomina_contains(haystack, needle): whether needle is a
// case-insensitive substring of haystack, as the driver path's regular
// expression with the "i" option finds it.
func containsFold(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	h, _ := args[0].(string)
	n, _ := args[1].(string)
	if strings.Contains(strings.ToLower(h), strings.ToLower(n)) {
		return int64(1), nil
	}
	return int64(0), nil
}

var registerFunctions = sync.OnceValue(func() error {
	return sqlite.RegisterDeterministicScalarFunction("nomina_contains", 2, containsFold)
})

// sqlReader reads one embedded database's file.
type sqlReader struct {
	db *sql.DB
	// proof, when set, must show the file is the store's before it is
	// read (a file found beside another instance's URI; see
	// sharedreader.go); until it has, table finds no tables.
	proof *fileProof
}

// table returns the SQLite table holding collection, "" when it does not
// exist (yet) or the file is not (yet) known to be the store's: the
// caller asks the driver then.
func (r *sqlReader) table(ctx context.Context, collection string) (string, error) {
	if r.proof != nil && !r.proof.holds(ctx) {
		return "", nil
	}
	return tableOf(ctx, r.db, collection)
}

// openSQLReader opens path read-only (query_only) with a small pool whose
// idle connections close, so a dropped database's file is not held open.
func openSQLReader(path string) (*sqlReader, error) {
	if err := registerFunctions(); err != nil {
		return nil, fmt.Errorf("register sqlite functions: %w", err)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "query_only(1)")
	q.Add("mode", "rw") // never create the file: FerretDB does
	dsn := (&url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(30 * time.Second)
	return &sqlReader{db: db}, nil
}

var fieldName = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// nominationQuery builds the SELECT of f on table t, with the conditions
// of more; ok false when f asks for something it does not express (the
// driver answers then).
func nominationQuery(t string, f nomination.ListFilter, what string, more ...segment) (q string, args []any, ok bool) {
	var where []string
	in := func(expr string, vals []string) {
		ph := make([]string, len(vals))
		for i, v := range vals {
			ph[i] = "?"
			args = append(args, v)
		}
		where = append(where, expr+" IN ("+strings.Join(ph, ", ")+")")
	}
	if f.Call != "" {
		where = append(where, sqlPath("call")+" = ?")
		args = append(args, f.Call)
	}
	switch len(f.States) {
	case 0:
	case 1:
		where = append(where, sqlPath("state")+" = ?")
		args = append(args, f.States[0])
	default:
		in(sqlPath("state"), f.States)
	}
	panels := func() string {
		ph := make([]string, len(f.Panels))
		for i, p := range f.Panels {
			ph[i] = "?"
			args = append(args, p)
		}
		return `EXISTS (SELECT 1 FROM json_each(_ferretdb_sjson, '$.review_panels') WHERE value IN (` + strings.Join(ph, ", ") + `))`
	}
	switch {
	case f.OwnerOrPanels:
		args = append(args, f.Owner)
		where = append(where, "("+sqlPath("owner")+" = ? OR "+panels()+")")
	default:
		if f.Owner != "" {
			where = append(where, sqlPath("owner")+" = ?")
			args = append(args, f.Owner)
		}
		if len(f.Panels) > 0 {
			where = append(where, panels())
		}
	}
	if len(f.IDs) > 0 {
		in(sqlPath("_id"), f.IDs)
	}
	keys := make([]string, 0, len(f.FieldEquals))
	for k := range f.FieldEquals {
		if !fieldName.MatchString(k) {
			return "", nil, false
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		// As the driver's {fields.k: v}: the value, or an array holding it.
		p := sqlPath("fields." + k)
		where = append(where, "("+p+" = ? OR (json_type(_ferretdb_sjson, '$.fields."+k+"') = 'array' AND EXISTS (SELECT 1 FROM json_each(_ferretdb_sjson, '$.fields."+k+"') WHERE value = ?)))")
		args = append(args, f.FieldEquals[k], f.FieldEquals[k])
	}
	if f.Query != "" {
		where = append(where, "(nomina_contains("+sqlPath("nominee_name")+", ?) OR nomina_contains("+sqlPath("organization")+", ?))")
		args = append(args, f.Query, f.Query)
	}
	for _, m := range more {
		if m.cond != "" {
			where = append(where, m.cond)
			args = append(args, m.args...)
		}
	}
	q = "SELECT " + what + " FROM " + fmt.Sprintf("%q", t)
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	return q, args, true
}

// orderBy is the ORDER BY of a listing, matching the driver path's sort
// (missing values first ascending, last descending, as both engines do).
func orderBy(sortBy string) string {
	k, ok := sortKeys[sortBy]
	if !ok {
		return " ORDER BY " + sqlPath("_id")
	}
	dir := ""
	if k.desc {
		dir = " DESC"
	}
	return " ORDER BY " + sqlPath(k.field) + dir + ", " + sqlPath("_id")
}

// segment is one range of a listing's order, after a position: a
// condition, its arguments, and whether all its rows share one key (they
// are then read in id order: SQLite does not see that an equality on an
// indexed expression makes it constant, and would sort them).
type segment struct {
	cond    string
	args    []any
	sameKey bool
}

// afterSegments splits what follows position p in the order sortBy into
// ranges SQLite seeks in its index one after the other (each an equality
// prefix and one range, so it walks the index from the position on and
// sorts nothing): first the rest of p's key (same key, greater id), then
// the keys beyond it, then, highest first, the rows without a key. An
// OR of these, or a row value compared across columns sorted in
// different directions, would make it read the list from its start or
// sort it. One segment without a condition when p is nil.
func afterSegments(sortBy string, p *nomination.Position) []segment {
	if p == nil {
		return []segment{{}}
	}
	id := sqlPath("_id")
	k, ok := sortKeys[sortBy]
	if !ok {
		return []segment{{id + " > ?", []any{p.ID}, false}}
	}
	key := sqlPath(k.field)
	missing := segment{key + " IS NULL AND " + id + " > ?", []any{p.ID}, true}
	switch {
	case p.Key.Missing && k.desc:
		return []segment{missing}
	case p.Key.Missing:
		return []segment{missing, {key + " IS NOT NULL", nil, false}}
	}
	var v any
	switch sortBy {
	case "name":
		v = p.Key.Text
	case "submitted":
		v = p.Key.Time.UnixMilli() // the embedded store keeps dates as milliseconds
	case "score":
		v = p.Key.Number
	}
	out := []segment{{key + " = ? AND " + id + " > ?", []any{v, p.ID}, true}}
	if k.desc {
		return append(out, segment{key + " < ?", []any{v}, false}, segment{key + " IS NULL", nil, true})
	}
	return append(out, segment{key + " > ?", []any{v}, false})
}

// sqlKey is a listing's sort key as SQLite reads it from the file: TEXT,
// an INTEGER of milliseconds, or a number, NULL when missing.
func sqlKey(sortBy string, v any) (nomination.SortKey, error) {
	if v == nil {
		if _, ok := sortKeys[sortBy]; ok {
			return nomination.SortKey{Missing: true}, nil
		}
		return nomination.SortKey{}, nil
	}
	switch x := v.(type) {
	case string:
		if sortBy == "name" {
			return nomination.SortKey{Text: x}, nil
		}
	case int64:
		switch sortBy {
		case "submitted":
			return nomination.SortKey{Time: time.UnixMilli(x).UTC()}, nil
		case "score":
			return nomination.SortKey{Number: float64(x)}, nil
		}
	case float64:
		if sortBy == "score" {
			return nomination.SortKey{Number: x}, nil
		}
	}
	return nomination.SortKey{}, fmt.Errorf("sort key of %q is a %T", sortBy, v)
}

// sqlQuery is one SELECT and its arguments.
type sqlQuery struct {
	q    string
	args []any
}

// listQueries returns the SELECTs of a listing, without their LIMIT: one
// per segment after f.After (see afterSegments), read in order until the
// page is full. ok false when f is beyond the file.
func listQueries(t string, f nomination.ListFilter) (qs []sqlQuery, ok bool) {
	keyCol := "NULL"
	if k, ok := sortKeys[f.Sort]; ok {
		keyCol = sqlPath(k.field)
	}
	for _, seg := range afterSegments(f.Sort, f.After) {
		q, args, ok := nominationQuery(t, f, sqlPath("body")+", "+sqlPath("_id")+", "+keyCol, seg)
		if !ok {
			return nil, false
		}
		order := orderBy(f.Sort)
		if seg.sameKey {
			order = orderBy("")
		}
		qs = append(qs, sqlQuery{q + order, args})
	}
	return qs, true
}

// listNominations answers ListNominations from the file; ok false when the
// collection or the query is beyond it.
func (r *sqlReader) listNominations(ctx context.Context, f nomination.ListFilter) (out []nomination.Listed, ok bool, err error) {
	t, err := r.table(ctx, colNominations)
	if err != nil || t == "" {
		return nil, false, nil // no file or table yet: the driver answers
	}
	qs, ok := listQueries(t, f)
	if !ok {
		return nil, false, nil
	}
	for _, q := range qs {
		if f.Limit > 0 {
			q.q += " LIMIT ?"
			q.args = append(q.args, int64(f.Limit-len(out)))
		}
		if out, err = r.appendListed(ctx, out, f.Sort, q.q, q.args); err != nil {
			return nil, true, err
		}
		if f.Limit > 0 && len(out) >= f.Limit {
			break
		}
	}
	return out, true, nil
}

func (r *sqlReader) appendListed(ctx context.Context, out []nomination.Listed, sortBy, q string, args []any) ([]nomination.Listed, error) {
	rows, err := r.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list nominations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var body, id string
		var key any
		if err := rows.Scan(&body, &id, &key); err != nil {
			return nil, fmt.Errorf("list nominations: %w", err)
		}
		var n nomination.Nomination
		if err := json.Unmarshal([]byte(body), &n); err != nil {
			return nil, fmt.Errorf("decode listed nomination: %w", err)
		}
		k, err := sqlKey(sortBy, key)
		if err != nil {
			return nil, fmt.Errorf("list nominations: %s: %w", id, err)
		}
		out = append(out, nomination.Listed{Nomination: &n, At: nomination.Position{ID: id, Key: k}})
	}
	return out, rows.Err()
}

// countStates counts a call's nominations by state from the (call, state,
// _id) index alone: it steps from one state to the next (one row read per
// state) and counts each state's entries, a count SQLite answers from the
// index without reading the nominations. A GROUP BY would read every one.
func (r *sqlReader) countStates(ctx context.Context, call string) (map[string]int, bool, error) {
	t, err := r.table(ctx, colNominations)
	if err != nil || t == "" {
		return nil, false, nil
	}
	base, _, _ := nominationQuery(t, nomination.ListFilter{Call: "?"}, "%s")
	next := fmt.Sprintf(base, sqlPath("state")) + " AND " + sqlPath("state") + " %s ? ORDER BY " + sqlPath("state") + " LIMIT 1"
	count := fmt.Sprintf(base, "count(*)") + " AND " + sqlPath("state") + " = ?"
	out := map[string]int{}
	var n int
	if err := r.db.QueryRowContext(ctx, fmt.Sprintf(base, "count(*)")+" AND "+sqlPath("state")+" IS NULL", call).Scan(&n); err != nil {
		return nil, true, fmt.Errorf("count states: %w", err)
	}
	if n > 0 {
		out[""] = n
	}
	op, last := ">=", ""
	for {
		var state string
		err := r.db.QueryRowContext(ctx, fmt.Sprintf(next, op), call, last).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return out, true, nil
		}
		if err != nil {
			return nil, true, fmt.Errorf("count states: %w", err)
		}
		if err := r.db.QueryRowContext(ctx, count, call, state).Scan(&n); err != nil {
			return nil, true, fmt.Errorf("count states: %w", err)
		}
		out[state] += n
		op, last = ">", state
	}
}

// Accounts are found by role and by panel (mail audiences, quorums): both
// are arrays, which SQLite indexes by position. The first arrayPositions
// entries are indexed one by one, and the length, so the few accounts with
// more entries are found through it and checked by the caller.
const arrayPositions = 4

var userArrays = []string{"roles", "panels"}

// indexUserPaths creates the expression indexes of the users table and of
// the sign-in attempts (counted per key since a time by the throttle).
func indexUserPaths(ctx context.Context, db *sql.DB) error {
	if t, err := tableOf(ctx, db, colAttempts); err != nil {
		return err
	} else if t != "" {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (%s)`, t+"_nomina_key_at", t, indexColumns([]string{"key", "at", "_id"}))
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("index attempts: %w", err)
		}
	}
	t, err := tableOf(ctx, db, colUsers)
	if err != nil || t == "" {
		return err
	}
	for _, a := range userArrays {
		for i := 0; i < arrayPositions; i++ {
			q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (%s)`, fmt.Sprintf("%s_nomina_%s%d", t, a, i), t, sqlPath(fmt.Sprintf("%s[%d]", a, i)))
			if _, err := db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("index users %s[%d]: %w", a, i, err)
			}
		}
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (%s)`, t+"_nomina_"+a+"_len", t, arrayLength(a))
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("index users %s length: %w", a, err)
		}
	}
	return nil
}

func arrayLength(field string) string { return `json_array_length(_ferretdb_sjson, '$.` + field + `')` }

// arrayHolds is the condition "field holds one of n values" over the
// indexed positions, true also for every array longer than those.
func arrayHolds(field string, n int) string {
	ph := strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
	terms := make([]string, 0, arrayPositions+1)
	for i := 0; i < arrayPositions; i++ {
		terms = append(terms, sqlPath(fmt.Sprintf("%s[%d]", field, i))+" IN ("+ph+")")
	}
	terms = append(terms, fmt.Sprintf("%s > %d", arrayLength(field), arrayPositions))
	return "(" + strings.Join(terms, " OR ") + ")"
}

// usersHolding returns the accounts whose field (roles or panels) may hold
// one of values: every one that does, and possibly others, for the caller
// to check. Only what a directory entry needs is read.
func (r *sqlReader) usersHolding(ctx context.Context, field string, values []string) ([]userDoc, bool, error) {
	t, err := r.table(ctx, colUsers)
	if err != nil || t == "" {
		return nil, false, nil
	}
	q := fmt.Sprintf(`SELECT %s, %s, %s, %s, %s, %s, _ferretdb_sjson->'$.roles', _ferretdb_sjson->'$.panels', %s, %s FROM %q WHERE %s`,
		sqlPath("_id"), sqlPath("uid"), sqlPath("email"), sqlPath("name"), sqlPath("organization"), sqlPath("language"), sqlPath("disabled"), sqlPath("version"),
		t, arrayHolds(field, len(values)))
	var args []any
	for range arrayPositions {
		for _, v := range values {
			args = append(args, v)
		}
	}
	rows, err := r.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, true, fmt.Errorf("find accounts: %w", err)
	}
	defer rows.Close()
	var out []userDoc
	for rows.Next() {
		var d userDoc
		var uid, email, name, org, lang, roles, panels sql.NullString
		var disabled, version sql.NullInt64
		if err := rows.Scan(&d.EmailKey, &uid, &email, &name, &org, &lang, &roles, &panels, &disabled, &version); err != nil {
			return nil, true, fmt.Errorf("find accounts: %w", err)
		}
		d.ID, d.Email, d.Name, d.Organization, d.Language = uid.String, email.String, name.String, org.String, lang.String
		d.Disabled, d.Version = disabled.Int64 != 0, version.Int64
		for _, a := range []struct {
			raw sql.NullString
			to  *[]string
		}{{roles, &d.Roles}, {panels, &d.Panels}} {
			if a.raw.Valid && a.raw.String != "null" {
				if err := json.Unmarshal([]byte(a.raw.String), a.to); err != nil {
					return nil, true, fmt.Errorf("decode account %s: %w", d.EmailKey, err)
				}
			}
		}
		out = append(out, d)
	}
	return out, true, rows.Err()
}

// attempts answers Users.Attempts from the file, through the (key, at)
// index.
func (r *sqlReader) attempts(ctx context.Context, key string, since time.Time, limit int) ([]time.Time, bool, error) {
	t, err := r.table(ctx, colAttempts)
	if err != nil || t == "" {
		return nil, false, nil
	}
	rows, err := r.db.QueryContext(ctx, attemptsQuery(t), key, since.UnixMilli(), limit)
	if err != nil {
		return nil, true, fmt.Errorf("count attempts: %w", err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var ms int64
		if err := rows.Scan(&ms); err != nil {
			return nil, true, fmt.Errorf("count attempts: %w", err)
		}
		out = append(out, time.UnixMilli(ms).UTC())
	}
	return out, true, rows.Err()
}

func attemptsQuery(t string) string {
	return fmt.Sprintf(`SELECT %s FROM %q WHERE %s = ? AND %s > ? ORDER BY %s, %s LIMIT ?`,
		sqlPath("at"), t, sqlPath("key"), sqlPath("at"), sqlPath("at"), sqlPath("_id"))
}

// scanChunk is how many projections one query of a scan reads: each chunk
// is a short read, so a slow consumer (an export streamed to a client)
// holds no read transaction open on the file.
const scanChunk = 500

// scanNominations streams the projections matching f in _id order, a
// chunk per query, each resuming after the last _id read; ok false when
// f is beyond the file (nothing was yielded then).
func (r *sqlReader) scanNominations(ctx context.Context, f nomination.ListFilter, yield func(*nomination.Nomination, error) bool) (ok bool) {
	t, err := r.table(ctx, colNominations)
	if err != nil || t == "" {
		return false
	}
	if _, _, ok := nominationQuery(t, f, sqlPath("body")); !ok {
		return false
	}
	f.Sort, f.Limit = "", scanChunk
	for {
		page, _, err := r.listNominations(ctx, f)
		if err != nil {
			yield(nil, err)
			return true
		}
		for _, l := range page {
			if !yield(l.Nomination, nil) {
				return true
			}
		}
		if len(page) < scanChunk {
			return true
		}
		f.After = &page[len(page)-1].At
	}
}
