package mongostore

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/igf/nomina/internal/nomination"
)

// Batches: a worker claims the attempts of one poll, and records their
// outcomes, in a few store commands whatever their number. Each attempt is
// still taken by the unique insert of its own claim (an insert of many
// documents is one command, and each document in it is accepted or
// refused as a duplicate on its own), and each result is still inserted
// only by its claim's winner: the rules at the top of mailqueue.go hold
// for every attempt of a batch as for one.

// parallelReads bounds the reads by _id a claim makes at once.
const parallelReads = 8

// isDuplicate reports whether one write of a bulk write failed on a
// unique key.
func isDuplicate(we mongo.BulkWriteError) bool {
	return we.Code == 11000 || we.Code == 11001 || we.Code == 12582
}

// insertAll inserts docs in one unordered command and returns the indexes
// of those refused as duplicates; any other failure is an error.
func insertAll(ctx context.Context, c *mongo.Collection, op string, docs []any) (map[int]bool, error) {
	dup := map[int]bool{}
	if len(docs) == 0 {
		return dup, nil
	}
	_, err := c.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) && bwe.WriteConcernError == nil {
		for _, we := range bwe.WriteErrors {
			if !isDuplicate(we) {
				return nil, translate(op, err)
			}
			dup[we.Index] = true
		}
		return dup, nil
	}
	return dup, translate(op, err)
}

// ClaimAll takes the attempts refs name (references from Due) for worker
// until now+lease, as Claim takes one, and returns those it took with
// their jobs. It costs one insert of every claim, one update of the won
// attempts' schedule entries and a read of their jobs (by _id, a few at a
// time); attempts another worker took cost one read of their schedule
// entries, and only those still due then (found abandoned, or claimed a
// moment ago) are looked into one by one as Claim does. Attempts it does
// not take are left out silently: another worker holds them, they are
// finished, or their job is not there (yet; such an attempt it won is
// given back at once, the next one due at once, see releaseMissing). It
// returns a
// *nomination.Error with EINVALID for a malformed reference, and store
// errors; claims it won before an error run out after the lease and are
// then taken over as abandoned attempts.
func (q *MailQueue) ClaimAll(ctx context.Context, refs []string, worker string, now time.Time, lease time.Duration) ([]nomination.MailAttempt, error) {
	type attemptRef struct {
		job string
		n   int
	}
	parsed := make([]attemptRef, len(refs))
	docs := make([]any, len(refs))
	for i, ref := range refs {
		jobID, n, ok := parseAttemptID(ref)
		if !ok {
			return nil, nomination.Invalid(nomination.FieldError{Field: "due", Message: "not a reference to a due mail attempt"})
		}
		parsed[i] = attemptRef{jobID, n}
		docs[i] = mailClaimDoc{ID: attemptID(jobID, n), JobID: jobID, Attempt: n, Worker: worker, ClaimedAt: now, LeaseUntil: now.Add(lease)}
	}
	taken, err := insertAll(ctx, q.claims, "claim mail jobs", docs)
	if err != nil {
		return nil, err
	}
	var won []attemptRef
	var ids, lost []string
	for i, r := range parsed {
		if taken[i] {
			lost = append(lost, attemptID(r.job, r.n))
			continue
		}
		won = append(won, r)
		ids = append(ids, r.job)
	}
	// The won attempts' schedule entries stay where they are: moving them
	// would cost the embedded store a commit per document (it commits
	// every updated document on its own). Other pollers list them no more
	// (from the embedded store's file), or lose the insert and look into
	// the claim (reads only, below).
	jobs, err := q.claimedJobs(ctx, ids)
	if err != nil {
		return nil, err
	}
	attempts := make(map[string]int, len(won))
	for _, r := range won {
		if n, ok := attempts[r.job]; !ok || r.n < n {
			attempts[r.job] = r.n
		}
	}
	if err := q.foldBefore(ctx, jobs, attempts); err != nil {
		return nil, err
	}
	out := make([]nomination.MailAttempt, 0, len(refs))
	for _, r := range won {
		d, ok := jobs[r.job]
		if !ok {
			// The enqueue has not written the job (yet): the attempt is
			// given back at once rather than held for the lease (rare:
			// one by one).
			if err := q.releaseMissing(ctx, r.job, r.n, now, lease); err != nil {
				return out, err
			}
			continue
		}
		out = append(out, nomination.MailAttempt{Record: fromMailJobDoc(d), Number: r.n, Try: r.n - d.RetryBase})
	}
	if len(lost) == 0 {
		return out, nil
	}
	// Another worker holds these, most likely at work under its lease
	// (one read of the claim says so); one that stopped left its claim to
	// run out, and Claim looks into it.
	var claims map[string]mailClaimDoc
	claims, err = readByID[mailClaimDoc](ctx, q.claims, lost)
	if err != nil {
		return out, err
	}
	for _, id := range lost {
		if c, ok := claims[id]; ok && c.LeaseUntil.After(now) {
			continue
		}
		a, err := q.Claim(ctx, id, worker, now, lease)
		switch nomination.ErrorCode(err) {
		case "":
			out = append(out, a)
		case nomination.ECONFLICT, nomination.ENOTFOUND:
		default:
			return out, err
		}
	}
	return out, nil
}

// claimedJobs reads the jobs with those ids as enqueued: from the
// embedded store's file in one query, else (and for jobs kept without
// their copy) by _id, a few at a time.
func (q *MailQueue) claimedJobs(ctx context.Context, ids []string) (map[string]mailJobDoc, error) {
	rest := ids
	var jobs map[string]mailJobDoc
	if q.sql != nil && len(ids) > 0 {
		var err error
		if jobs, rest, err = q.sql.mailJobs(ctx, ids); err != nil {
			return nil, translate("read mail jobs", err)
		}
	}
	if jobs == nil {
		jobs = map[string]mailJobDoc{}
	}
	if len(rest) > 0 {
		more, err := readByID[mailJobDoc](ctx, q.jobs, rest)
		if err != nil {
			return nil, err
		}
		for id, d := range more {
			jobs[id] = d
		}
	}
	return jobs, nil
}

// readByID reads the documents of c with those _ids by _id, the one
// lookup the embedded store answers from an index (a filter on many _ids
// reads the whole collection there), parallelReads at a time. Documents
// not there are left out.
func readByID[T any](ctx context.Context, c *mongo.Collection, ids []string) (map[string]T, error) {
	out := make(map[string]T, len(ids))
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, parallelReads)
	var wg sync.WaitGroup
	for _, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var d T
			found, err := byID(ctx, c, id, &d)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil && firstErr == nil:
				firstErr = err
			case found:
				out[id] = d
			}
		})
	}
	wg.Wait()
	return out, firstErr
}

// Record records the outcomes of claimed attempts, which only the worker
// that claimed each may do, with inserts only: the next attempts of those
// tried again scheduled (one insert), then the results (one insert), each
// the job's state after its attempt. Elsewhere than on the embedded store
// the finished attempts' schedule entries are then removed (one delete);
// there they are left to tidyDue, the list of due attempts passing them
// by. A result recorded already (a repeated call after a lost reply)
// stays as it was stored. It returns a *nomination.Error with EINVALID for
// an outcome without a job, attempt or known status, and store errors;
// after one, recording again is safe.
func (q *MailQueue) Record(ctx context.Context, outcomes []nomination.MailOutcome) error {
	results := make([]any, 0, len(outcomes))
	var next []any
	done := make([]string, 0, len(outcomes))
	for _, o := range outcomes {
		if err := checkAttempt(o.JobID, o.Attempt); err != nil {
			return err
		}
		r := mailResultDoc{ID: attemptID(o.JobID, o.Attempt), JobID: o.JobID, Attempt: o.Attempt, At: o.At, Reply: o.Reply, Status: o.Status,
			MaybeSent: o.MaybeSent && o.Status != nomination.MailSent}
		if len(r.Reply) > maxReply {
			r.Reply = r.Reply[:maxReply]
		}
		switch o.Status {
		case nomination.MailSent:
			r.Outcome, r.NextAttemptAt, r.MessageID, r.Reply = outcomeSent, o.At, o.MessageID, ""
		case nomination.MailDead:
			r.Outcome, r.NextAttemptAt = outcomeDead, o.At
		case nomination.MailQueued:
			r.Outcome, r.NextAttemptAt = outcomeRetry, o.Next
			if o.Released {
				// The next attempt makes the same try.
				r.Outcome, r.RetryBase = outcomeReleased, o.Attempt-o.Try+1
			}
			// Scheduled before the result commits, so a crash in between
			// cannot lose the job.
			next = append(next, mailDueDoc{ID: attemptID(o.JobID, o.Attempt+1), JobID: o.JobID, Attempt: o.Attempt + 1, At: o.Next})
		default:
			return nomination.Invalid(nomination.FieldError{Field: "status", Message: "must be sent, queued or dead"})
		}
		results = append(results, r)
		done = append(done, r.ID)
	}
	if _, err := insertAll(ctx, q.due, "schedule mail jobs", next); err != nil {
		return err
	}
	if _, err := insertAll(ctx, q.results, "record mail results", results); err != nil {
		return err
	}
	if q.sql != nil && q.tidy != nil {
		q.tidy.recorded.Add(int64(len(done)))
		return nil
	}
	// One delete of many documents is one commit.
	_, err := q.due.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: done}}}})
	return translate("unschedule mail jobs", err)
}
