package mongostore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/igf/nomina/internal/nomination"
)

// planOf returns the steps of SQLite's plan for q.
func planOf(t *testing.T, db *sql.DB, q string, args ...any) string {
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

// The mail queue's reads from the file seek their indexes: the due list
// walks the schedule's (at, _id) index in order and looks into results
// and claims by _id; the claimed jobs are read by _id; results by
// (job_id, attempt); none scans a collection that grows with the mail
// log (only the clean-up reads the schedule, which holds pending
// attempts only).
func TestMailQueriesUseIndexes(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	c := preparedClient(t, dir)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "nomina.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	table := func(coll string) string {
		t.Helper()
		tb, err := tableOf(ctx, db, coll)
		if err != nil || tb == "" {
			t.Fatalf("table of %s %q: %v", coll, tb, err)
		}
		return tb
	}
	due, results, claims, jobs := table(mailDue), table(mailResults), table(mailClaims), table(mailJobs)
	for _, x := range []struct {
		name, q string
		args    []any
		want    []string
		scans   []string
	}{
		{"due", dueQuery(due, results, claims), []any{1, 1, 10},
			[]string{"USING INDEX " + due + "_nomina_at__id", "USING INDEX " + results + "_id_path", "USING INDEX " + claims + "_id_path"},
			[]string{results, claims}},
		{"finished", finishedDueQuery(due, results), []any{10},
			[]string{"USING INDEX " + results + "_id_path"}, []string{results}},
		{"jobs", mailJobsQuery(jobs, 3), []any{"a", "b", "c"},
			[]string{"USING INDEX " + jobs + "_id_path"}, []string{jobs}},
		{"results", mailResultsQuery(results, 2), []any{"a", "b"},
			[]string{"USING INDEX " + results + "_nomina_job_id_attempt"}, []string{results}},
	} {
		p := planOf(t, db, x.q, x.args...)
		for _, w := range x.want {
			if !strings.Contains(p, w) {
				t.Errorf("%s: plan %s lacks %s", x.name, p, w)
			}
		}
		for _, s := range x.scans {
			if strings.Contains(p, "SCAN "+s+" ") || strings.HasSuffix(p, "SCAN "+s) || strings.Contains(p, "SCAN "+s+";") {
				t.Errorf("%s: plan %s scans %s", x.name, p, s)
			}
		}
	}
	_ = c
}

// Record leaves the schedule entries of finished attempts on the embedded
// store (the due list passes them by); a poll whose list is short removes
// them in one delete (at most once a tidyInterval per instance), with those a crash left (a result inserted and its
// entry never removed), but not the marker of a dropped chain nor any
// entry still pending.
func TestMailFinishedEntriesAreTidied(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	c := preparedClient(t, dir)
	s := c.NewStore("nomina", discardLogger())
	q := s.MailQueue()
	t0 := time.Date(2026, 2, 2, 9, 0, 0, 0, time.UTC)
	for i := range 5 {
		job := nomination.MailJob{ID: fmt.Sprintf("j%d", i), Template: "notice", To: fmt.Sprintf("p%d@x", i), CreatedAt: t0}
		if err := q.Enqueue(ctx, job); err != nil {
			t.Fatal(err)
		}
	}
	refs, err := q.Due(ctx, t0, 100)
	if err != nil || len(refs) != 5 {
		t.Fatalf("due %v, %v", refs, err)
	}
	as, err := q.ClaimAll(ctx, refs[:3], "w", t0, time.Minute)
	if err != nil || len(as) != 3 {
		t.Fatalf("claimed %d, %v", len(as), err)
	}
	var outs []nomination.MailOutcome
	for _, a := range as {
		outs = append(outs, nomination.MailOutcome{JobID: a.Record.Job.ID, Attempt: a.Number, Status: nomination.MailSent, MessageID: "<" + a.Record.Job.ID + ">", At: t0})
	}
	if err := q.Record(ctx, outs); err != nil {
		t.Fatal(err)
	}
	// A crash after a result of j3, before its entry was removed; and the
	// marker of a dropped chain of j4 (far in the future, with a result).
	if _, err := q.results.InsertOne(ctx, mailResultDoc{ID: attemptID("j3", 1), JobID: "j3", Attempt: 1, Outcome: outcomeSent, At: t0, Status: nomination.MailSent, NextAttemptAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.results.InsertOne(ctx, mailResultDoc{ID: attemptID("j4", 1), JobID: "j4", Attempt: 1, Outcome: outcomeReleased, At: t0, Status: nomination.MailQueued, NextAttemptAt: t0, RetryBase: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.due.UpdateOne(ctx, bson.D{{Key: "_id", Value: attemptID("j4", 1)}}, bson.D{{Key: "$set", Value: bson.D{{Key: "at", Value: droppedAt}, {Key: "dropped", Value: true}}}}); err != nil {
		t.Fatal(err)
	}
	entries := func() []string {
		t.Helper()
		cur, err := q.due.Find(ctx, bson.D{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var ds []mailDueDoc
		if err := cur.All(ctx, &ds); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, d := range ds {
			ids = append(ids, d.ID)
		}
		return ids
	}
	if got := len(entries()); got != 5 {
		t.Fatalf("%d entries before the clean-up, want 5 (Record removes none here)", got)
	}
	// The poll of a queue whose last clean-up is older than tidyInterval
	// (here, another instance's).
	if refs, err := c.NewStore("nomina", discardLogger()).MailQueue().Due(ctx, t0.Add(time.Hour), 100); err != nil || len(refs) != 0 {
		t.Fatalf("due %v, %v: want none (finished, or a marker)", refs, err)
	}
	if got := strings.Join(entries(), ","); got != "j4/0001" {
		t.Fatalf("entries after the clean-up: %s, want the marker only", got)
	}
	for _, id := range []string{"j0", "j1", "j2", "j3"} {
		if rec, err := q.Get(ctx, id); err != nil || rec.Status != nomination.MailSent {
			t.Fatalf("%s: %+v, %v", id, rec, err)
		}
	}
}
