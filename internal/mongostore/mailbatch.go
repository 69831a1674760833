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

// writeAll runs models in one unordered bulk write. Updates by _id are
// written as UpdateMany models: FerretDB v1.24 keeps the read of every
// single-document update of a command open until the command ends, one
// SQLite connection each, and a command with more of them than its pool
// holds never ends. A many-document update reads its match to the end.
func writeAll(ctx context.Context, c *mongo.Collection, op string, models []mongo.WriteModel) error {
	if len(models) == 0 {
		return nil
	}
	_, err := c.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	return translate(op, err)
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
	// every updated document on its own). Other pollers that meet them
	// lose the insert and look into the claim (reads only, below).
	jobs, err := readByID[mailJobDoc](ctx, q.jobs, ids)
	if err != nil {
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
		if err := q.catchUp(ctx, &d, r.n); err != nil {
			return out, err
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

// applyModel rewrites the job's delivery state with what result r says,
// as one statement of a bulk write.
func applyModel(r mailResultDoc) mongo.WriteModel {
	return mongo.NewUpdateManyModel().
		SetFilter(bson.D{{Key: "_id", Value: r.JobID}}).
		SetUpdate(bson.D{{Key: "$set", Value: resultState(r)}})
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
// that claimed each may do: the jobs' delivery state rewritten (one bulk
// update by _id), the next attempts of those tried again scheduled (one
// insert), the results inserted (one insert) and the finished attempts'
// schedule entries removed (one bulk delete by _id). A result
// recorded already (a repeated call after a lost reply) is applied again
// as it was stored. It returns a *nomination.Error with EINVALID for an
// outcome without a job, attempt or known status, and store errors; after
// one, recording again is safe.
func (q *MailQueue) Record(ctx context.Context, outcomes []nomination.MailOutcome) error {
	results := make([]any, 0, len(outcomes))
	var next []any
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
	}
	// The jobs' delivery state first, one statement per job in one
	// command: once the next attempts are scheduled another worker may
	// make them and record a newer state, which this one must not
	// overwrite. A crash before the results commit leaves the attempts
	// unrecorded, taken over after their leases as abandoned.
	applies := make([]mongo.WriteModel, 0, len(results))
	done := make([]string, 0, len(results))
	for _, doc := range results {
		r := doc.(mailResultDoc)
		done = append(done, r.ID)
		applies = append(applies, applyModel(r))
	}
	if err := writeAll(ctx, q.jobs, "update mail jobs", applies); err != nil {
		return err
	}
	if _, err := insertAll(ctx, q.due, "schedule mail jobs", next); err != nil {
		return err
	}
	dup, err := insertAll(ctx, q.results, "record mail results", results)
	if err != nil {
		return err
	}
	// A result recorded already (a repeated call after a lost reply) is
	// applied again as it was stored.
	var again []mongo.WriteModel
	for i, doc := range results {
		if !dup[i] {
			continue
		}
		r := doc.(mailResultDoc)
		if _, err := byID(ctx, q.results, r.ID, &r); err != nil {
			return err
		}
		again = append(again, applyModel(r))
	}
	if err := writeAll(ctx, q.jobs, "update mail jobs", again); err != nil {
		return err
	}
	// One delete of many documents is one commit.
	_, err = q.due.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: done}}}})
	return translate("unschedule mail jobs", err)
}
