package mongostore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// On the embedded store the mail queue's reads go to its SQLite file (see
// sqlindex.go), through expression indexes on the paths they seek:
//
//   - the due attempts: the schedule in (at, _id) order, leaving out those
//     with a result (finished: their entries are removed later, many at
//     once, see tidyDue) and those under a live claim (being made);
//   - the claimed jobs: one query by _id, each read from the BSON copy of
//     the job kept in its document (blob);
//   - the results of jobs, whose fold is their delivery state: by
//     (job_id, attempt).
//
// Every write still goes through the driver.

// mailSQLIndexes are the expression indexes of the mail tables.
var mailSQLIndexes = map[string][]string{
	mailDue:     {"at", "_id"},
	mailResults: {"job_id", "attempt"},
}

// indexMailPaths creates the mail tables' expression indexes.
func indexMailPaths(ctx context.Context, db *sql.DB) error {
	for _, coll := range []string{mailDue, mailResults} {
		cols := mailSQLIndexes[coll]
		t, err := tableOf(ctx, db, coll)
		if err != nil || t == "" {
			return err
		}
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (%s)`, t+"_nomina_"+strings.Join(cols, "_"), t, indexColumns(cols))
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("index %s: %w", coll, err)
		}
	}
	return nil
}

const idJSON = `_ferretdb_sjson->'$._id'`

// mailTables returns the tables of the mail collections, ok false when
// one is not in the file (yet).
func (r *sqlReader) mailTables(ctx context.Context, colls ...string) (tables []string, ok bool, err error) {
	for _, c := range colls {
		t, err := r.table(ctx, c)
		if err != nil || t == "" {
			return nil, false, err
		}
		tables = append(tables, t)
	}
	return tables, true, nil
}

// dueQuery lists the due attempts at a time (ms), with neither a result
// nor a claim whose lease lasts past a time (ms), up to a limit.
func dueQuery(due, results, claims string) string {
	return fmt.Sprintf(`SELECT %s FROM %q d
WHERE %s <= ?
AND NOT EXISTS (SELECT 1 FROM %q r WHERE r.%s = d.%s)
AND NOT EXISTS (SELECT 1 FROM %q c WHERE c.%s = d.%s AND c.%s > ?)
ORDER BY %s, %s LIMIT ?`,
		sqlPath("_id"), due, sqlPath("at"), results, idJSON, idJSON, claims, idJSON, idJSON, sqlPath("lease_until"),
		sqlPath("at"), sqlPath("_id"))
}

// mailDue answers MailQueue.Due from the file.
func (r *sqlReader) mailDue(ctx context.Context, now time.Time, limit int) ([]string, bool, error) {
	ts, ok, err := r.mailTables(ctx, mailDue, mailResults, mailClaims)
	if !ok {
		return nil, false, err
	}
	ms := now.UnixMilli()
	rows, err := r.db.QueryContext(ctx, dueQuery(ts[0], ts[1], ts[2]), ms, ms, limit)
	if err != nil {
		return nil, true, fmt.Errorf("list due mail: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, true, fmt.Errorf("list due mail: %w", err)
		}
		out = append(out, id)
	}
	return out, true, rows.Err()
}

// finishedDueQuery lists schedule entries whose attempt has a result,
// but for the markers of dropped chains.
func finishedDueQuery(due, results string) string {
	return fmt.Sprintf(`SELECT %s FROM %q d WHERE %s IS NULL AND EXISTS (SELECT 1 FROM %q r WHERE r.%s = d.%s) LIMIT ?`,
		sqlPath("_id"), due, sqlPath("dropped"), results, idJSON, idJSON)
}

// finishedDue returns up to limit schedule entries of finished attempts.
func (r *sqlReader) finishedDue(ctx context.Context, limit int) ([]string, error) {
	ts, ok, err := r.mailTables(ctx, mailDue, mailResults)
	if !ok {
		return nil, err
	}
	rows, err := r.db.QueryContext(ctx, finishedDueQuery(ts[0], ts[1]), limit)
	if err != nil {
		return nil, fmt.Errorf("list finished mail attempts: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// mailJobsQuery reads the BSON copies of n jobs by _id.
func mailJobsQuery(jobs string, n int) string {
	return fmt.Sprintf(`SELECT %s, %s FROM %q WHERE %s IN (%s)`, sqlPath("_id"), sqlPath("blob"), jobs, idJSON,
		strings.TrimSuffix(strings.Repeat("json_quote(?), ", n), ", "))
}

// mailJobs reads the jobs with those ids from their BSON copies; ids of
// jobs not there, or kept without a copy (enqueued before it was kept),
// are returned in rest, for the driver.
func (r *sqlReader) mailJobs(ctx context.Context, ids []string) (out map[string]mailJobDoc, rest []string, err error) {
	ts, ok, err := r.mailTables(ctx, mailJobs)
	if !ok {
		return nil, ids, err
	}
	out = make(map[string]mailJobDoc, len(ids))
	for chunk := range slices.Chunk(ids, idProbeChunk) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := r.db.QueryContext(ctx, mailJobsQuery(ts[0], len(chunk)), args...)
		if err != nil {
			return nil, ids, fmt.Errorf("read mail jobs: %w", err)
		}
		for rows.Next() {
			var id string
			var blob sql.NullString
			if err := rows.Scan(&id, &blob); err != nil {
				rows.Close()
				return nil, ids, fmt.Errorf("read mail jobs: %w", err)
			}
			if !blob.Valid {
				continue
			}
			raw, err := base64.StdEncoding.DecodeString(blob.String)
			if err != nil {
				rows.Close()
				return nil, ids, fmt.Errorf("mail job %s: %w", id, err)
			}
			var d mailJobDoc
			if err := bson.Unmarshal(raw, &d); err != nil {
				rows.Close()
				return nil, ids, fmt.Errorf("mail job %s: %w", id, err)
			}
			out[id] = d
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, ids, err
		}
	}
	for _, id := range ids {
		if _, ok := out[id]; !ok {
			rest = append(rest, id)
		}
	}
	return out, rest, nil
}

// mailResultsQuery reads the results of n jobs through the (job_id,
// attempt) index.
func mailResultsQuery(results string, n int) string {
	return fmt.Sprintf(`SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s FROM %q WHERE %s IN (%s) ORDER BY %s, %s`,
		sqlPath("_id"), sqlPath("job_id"), sqlPath("attempt"), sqlPath("outcome"), sqlPath("reply"), sqlPath("at"),
		sqlPath("status"), sqlPath("next_attempt_at"), sqlPath("message_id"), sqlPath("maybe_sent"), sqlPath("retry_base"),
		results, sqlPath("job_id"), strings.TrimSuffix(strings.Repeat("?, ", n), ", "), sqlPath("job_id"), sqlPath("attempt"))
}

// mailResults reads the results of the jobs with those ids, by job.
func (r *sqlReader) mailResults(ctx context.Context, jobIDs []string) (map[string][]mailResultDoc, bool, error) {
	ts, ok, err := r.mailTables(ctx, mailResults)
	if !ok {
		return nil, false, err
	}
	out := map[string][]mailResultDoc{}
	for chunk := range slices.Chunk(jobIDs, idProbeChunk) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := r.db.QueryContext(ctx, mailResultsQuery(ts[0], len(chunk)), args...)
		if err != nil {
			return nil, true, fmt.Errorf("read mail results: %w", err)
		}
		for rows.Next() {
			var d mailResultDoc
			var reply, msgID sql.NullString
			var at, next, maybe, base sql.NullInt64
			if err := rows.Scan(&d.ID, &d.JobID, &d.Attempt, &d.Outcome, &reply, &at, &d.Status, &next, &msgID, &maybe, &base); err != nil {
				rows.Close()
				return nil, true, fmt.Errorf("read mail results: %w", err)
			}
			d.Reply, d.MessageID, d.MaybeSent, d.RetryBase = reply.String, msgID.String, maybe.Int64 != 0, int(base.Int64)
			d.At, d.NextAttemptAt = time.UnixMilli(at.Int64).UTC(), time.UnixMilli(next.Int64).UTC()
			out[d.JobID] = append(out[d.JobID], d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, true, err
		}
	}
	return out, true, nil
}

// mailTidy paces the removal of finished attempts' schedule entries on
// the embedded store, shared by the store's queues (one per instance).
type mailTidy struct {
	mu       sync.Mutex
	last     time.Time
	recorded atomic.Int64 // results recorded since the last removal
}

const (
	// tidyEvery is how many recorded results make a poll remove the
	// finished entries however long its list is.
	tidyEvery = 1000
	// tidyInterval is the least time between two removals of a queue
	// whose lists are short.
	tidyInterval = time.Second
	// tidyBatch bounds the entries one removal deletes.
	tidyBatch = 1000
)

// tidyDue removes, in one delete, the schedule entries of attempts that
// have a result: those Record leaves on the embedded store (the list of
// due attempts passes them by), and those a worker stopped before
// removing. It runs when a poll found less than it asked for (the queue
// keeps up) at most once a tidyInterval, or after tidyEvery results. The
// marker of a dropped chain stays.
func (q *MailQueue) tidyDue(ctx context.Context, short bool) error {
	if q.sql == nil || q.tidy == nil {
		return nil
	}
	t := q.tidy
	if !short && t.recorded.Load() < tidyEvery {
		return nil
	}
	if !t.mu.TryLock() {
		return nil // another poll of this instance is at it
	}
	defer t.mu.Unlock()
	if t.recorded.Load() < tidyEvery && time.Since(t.last) < tidyInterval {
		return nil
	}
	t.last = time.Now()
	t.recorded.Store(0)
	ids, err := q.sql.finishedDue(ctx, tidyBatch)
	if err != nil || len(ids) == 0 {
		return translate("list finished mail attempts", err)
	}
	_, err = q.due.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	return translate("unschedule mail jobs", err)
}
