package mongostore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/igf/nomina/internal/nomination"
)

// The mail queue keeps four collections:
//
//   - mail_jobs: one document per job (_id = job ID): the message's data, as
//     enqueued (and a BSON copy of it, for reads from the embedded store's
//     file); it is never rewritten;
//   - mail_due: the schedule, one entry per attempt to be made
//     (_id = "<job id>/<attempt>", due time); only pending attempts have one,
//     so polling for due mail reads a small collection however long the mail
//     log grows;
//   - mail_claims: one document per attempt taken (same _id), inserted by
//     the worker that takes it, with a lease;
//   - mail_results: one document per finished attempt (same _id), inserted
//     only by the claim's winner, holding the job's state after it.
//
// A job's delivery state (status, attempts, next attempt, last reply, sent
// time, Message-ID) is the fold of its results in attempt order over the
// job as enqueued (foldResults): every change of state is a result, so
// the queue only ever inserts, except for the removal of schedule entries.
// Unique inserts are the only atomic writes on the embedded store, so
// attempt n of a job belongs to whoever inserted claim n, and only that
// worker inserts result n. Listing due attempts leaves out those under a
// live claim or with a result on the embedded store (read from its file);
// elsewhere the winner of a single claim moves its schedule entry to the
// end of its lease, so other pollers pass it by, and a batch
// (mailbatch.go) leaves it, a loser paying one failed insert and one read
// of the claim. The entries of finished attempts are removed by the
// driver in bulk (on the embedded store, after a while: tidyDue). An attempt is
// scheduled before anything that depends on it commits (a job's first
// entry before the job, a retry's entry before the failed attempt's
// result), so a crash leaves at most an entry too many, removed when met,
// never a job nothing schedules. A worker that claims a job's first
// attempt between those two writes finds no job: it gives the attempt back
// at once (a released result, the next attempt due at once, then after
// waits that double while the job stays missing, measured from the first
// time it was found missing), so the mail goes out as soon as the job is
// written rather than a lease later; a chain of such attempts older than
// orphanAge (an enqueue that stopped half-way) is dropped, its first
// entry left as a marker far in the future so that an enqueue that comes
// after all picks the chain up again (Enqueue). An entry still
// there when the lease has
// run out is looked into: with a result, its worker stopped before tidying
// up (the entry is removed); without one,
// the attempt was abandoned (its worker stopped, perhaps after the server
// accepted the message): the schedule passes to attempt n+1, which exactly
// one worker claims, and the message goes out again with the same
// Message-ID.
const (
	mailJobs    = "mail_jobs"
	mailDue     = "mail_due"
	mailClaims  = "mail_claims"
	mailResults = "mail_results"
)

// Outcomes of an attempt, as kept in mail_results.
const (
	outcomeSent     = "sent"
	outcomeRetry    = "retry"
	outcomeDead     = "dead"
	outcomeRequeued = "requeued" // a dead job retried by hand
	outcomeReleased = "released" // given back unmade by its worker
)

const (
	// maxSkip bounds how many abandoned attempts one claim, or finished
	// ones one manual retry, steps over.
	maxSkip = 100
	// maxReply bounds the stored server reply.
	maxReply = 2000
	// retryLease is the lease of the claim a manual retry takes.
	retryLease = time.Minute
	// orphanAge is how old a schedule entry without a job (its enqueue
	// stopped half-way) must be before it is removed; younger ones may
	// belong to an enqueue still in progress.
	orphanAge = time.Hour
)

// withoutBlob leaves a job's BSON copy out of what the driver reads.
var withoutBlob = bson.D{{Key: "blob", Value: 0}}

// droppedAt is the due time of the marker of a dropped chain: never.
var droppedAt = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

func init() {
	registerIndexes(
		Index{Collection: mailJobs, Keys: bson.D{{Key: "nomination_id", Value: 1}, {Key: "created_at", Value: -1}}},
		Index{Collection: mailJobs, Keys: bson.D{{Key: "status", Value: 1}, {Key: "created_at", Value: -1}}},
		Index{Collection: mailDue, Keys: bson.D{{Key: "at", Value: 1}}},
		Index{Collection: mailDue, Keys: bson.D{{Key: "job_id", Value: 1}}},
		Index{Collection: mailResults, Keys: bson.D{{Key: "job_id", Value: 1}, {Key: "attempt", Value: 1}}},
	)
}

// MailQueue is the mail outbox in the store: producers enqueue jobs,
// workers claim and record attempts, the secretariat reads the log and
// retries dead jobs.
type MailQueue struct {
	jobs, due, claims, results *mongo.Collection
	wake                       chan struct{}
	// sql, on the embedded store, reads its file (mailsql.go).
	sql  *sqlReader
	tidy *mailTidy
}

var _ nomination.Outbox = (*MailQueue)(nil)

// MailQueue returns the store's mail queue.
func (s *Store) MailQueue() *MailQueue {
	return &MailQueue{
		wake:    s.mailWake,
		sql:     s.sql,
		tidy:    s.mailTidy,
		jobs:    s.db.Collection(mailJobs),
		due:     s.db.Collection(mailDue),
		claims:  s.db.Collection(mailClaims),
		results: s.db.Collection(mailResults),
	}
}

type mailJobDoc struct {
	ID           string            `bson:"_id"`
	Template     string            `bson:"template"`
	To           string            `bson:"to"`
	Name         string            `bson:"name,omitempty"`
	NominationID string            `bson:"nomination_id,omitempty"`
	CallSlug     string            `bson:"call_slug,omitempty"`
	Data         map[string]string `bson:"data,omitempty"`
	Links        map[string]string `bson:"links,omitempty"`
	// Sealed links are kept as claims: no token is ever stored.
	Sealed          map[string]sealedLinkDoc `bson:"sealed,omitempty"`
	NominationState string                   `bson:"nomination_state,omitempty"`
	NomineeName     string                   `bson:"nominee_name,omitempty"`
	Fields          map[string]any           `bson:"fields,omitempty"`
	CallTitle       string                   `bson:"call_title,omitempty"`
	CallClosesAt    time.Time                `bson:"call_closes_at"`
	Comment         string                   `bson:"comment,omitempty"`
	Reason          string                   `bson:"reason,omitempty"`
	Audience        string                   `bson:"audience,omitempty"`
	RecipientID     string                   `bson:"recipient_id,omitempty"`
	Language        string                   `bson:"language,omitempty"`
	CreatedAt       time.Time                `bson:"created_at"`
	NotBefore       time.Time                `bson:"not_before"`

	Status   string `bson:"status"`
	Attempts int    `bson:"attempts"`
	// RetryBase is the attempt number of the last manual retry: the tries of
	// the current round are counted from it.
	RetryBase     int       `bson:"retry_base"`
	NextAttemptAt time.Time `bson:"next_attempt_at"`
	LastError     string    `bson:"last_error,omitempty"`
	SentAt        time.Time `bson:"sent_at"`
	MessageID     string    `bson:"message_id,omitempty"`
	UpdatedAt     time.Time `bson:"updated_at"`
	// Blob is a BSON copy of the job as enqueued (without Blob), read from
	// the embedded store's file in one query for a batch of claims.
	Blob []byte `bson:"blob,omitempty"`
}

// sealedLinkDoc is a nomination.SealedLink: a page and the claims of the
// token the mail worker signs at send time.
type sealedLinkDoc struct {
	Path         string `bson:"path"`
	Kind         string `bson:"kind"`
	NominationID string `bson:"nomination_id,omitempty"`
	Ref          string `bson:"ref,omitempty"`
	Nonce        string `bson:"nonce,omitempty"`
	Issued       int64  `bson:"issued,omitempty"`
	Address      string `bson:"address,omitempty"`
	Expires      int64  `bson:"expires"`
}

func toSealedDocs(in map[string]nomination.SealedLink) map[string]sealedLinkDoc {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]sealedLinkDoc, len(in))
	for k, l := range in {
		c := l.Claims
		out[k] = sealedLinkDoc{Path: l.Path, Kind: c.Kind, NominationID: c.NominationID, Ref: c.Ref, Nonce: c.Nonce,
			Issued: c.Issued, Address: c.Address, Expires: c.Expires}
	}
	return out
}

func fromSealedDocs(in map[string]sealedLinkDoc) map[string]nomination.SealedLink {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]nomination.SealedLink, len(in))
	for k, d := range in {
		out[k] = nomination.SealedLink{Path: d.Path, Claims: nomination.LinkClaims{Kind: d.Kind, NominationID: d.NominationID,
			Ref: d.Ref, Nonce: d.Nonce, Issued: d.Issued, Address: d.Address, Expires: d.Expires}}
	}
	return out
}

// mailDueDoc schedules one attempt of a job.
type mailDueDoc struct {
	ID      string    `bson:"_id"`
	JobID   string    `bson:"job_id"`
	Attempt int       `bson:"attempt"`
	At      time.Time `bson:"at"`
	// Since, on an attempt after one given back because the job was not
	// written yet, is when a worker first found the job missing.
	Since time.Time `bson:"since,omitempty"`
	// Dropped marks the first entry of a chain given back for a missing
	// job and dropped (see releaseMissing), kept far in the future.
	Dropped bool `bson:"dropped,omitempty"`
}

type mailClaimDoc struct {
	ID         string    `bson:"_id"`
	JobID      string    `bson:"job_id"`
	Attempt    int       `bson:"attempt"`
	Worker     string    `bson:"worker"`
	ClaimedAt  time.Time `bson:"claimed_at"`
	LeaseUntil time.Time `bson:"lease_until"`
}

// mailResultDoc is a finished attempt and the job's delivery state after it.
type mailResultDoc struct {
	ID            string    `bson:"_id"`
	JobID         string    `bson:"job_id"`
	Attempt       int       `bson:"attempt"`
	Outcome       string    `bson:"outcome"`
	Reply         string    `bson:"reply,omitempty"`
	At            time.Time `bson:"at"`
	Status        string    `bson:"status"`
	NextAttemptAt time.Time `bson:"next_attempt_at"`
	MessageID     string    `bson:"message_id,omitempty"`
	// MaybeSent marks a failed attempt whose message the server may have
	// accepted (its reply was lost): a later copy is not a second send
	// for no reason.
	MaybeSent bool `bson:"maybe_sent,omitempty"`
	// RetryBase, for a released attempt, is the job's new retry base: the
	// next attempt makes the same try.
	RetryBase int `bson:"retry_base,omitempty"`
}

func attemptID(jobID string, attempt int) string {
	return fmt.Sprintf("%s/%04d", jobID, attempt)
}

func conflict(format string, args ...any) error {
	return nomination.Errorf(nomination.ECONFLICT, format, args...)
}

func toMailJobDoc(j nomination.MailJob) mailJobDoc {
	next := j.CreatedAt
	if j.NotBefore.After(next) {
		next = j.NotBefore
	}
	return mailJobDoc{
		ID: j.ID, Template: j.Template, To: j.To, Name: j.Name,
		NominationID: j.NominationID, CallSlug: j.CallSlug,
		Data: j.Data, Links: j.Links, Sealed: toSealedDocs(j.Sealed),
		NominationState: j.NominationState, NomineeName: j.NomineeName, Fields: j.Fields,
		CallTitle: j.CallTitle, CallClosesAt: j.CallClosesAt,
		Comment: j.Comment, Reason: j.Reason, Audience: j.Audience, RecipientID: j.RecipientID, Language: j.Language,
		CreatedAt: j.CreatedAt, NotBefore: j.NotBefore,
		Status: nomination.MailQueued, NextAttemptAt: next, UpdatedAt: j.CreatedAt,
	}
}

func fromMailJobDoc(d mailJobDoc) nomination.MailRecord {
	fields, _ := plainValue(d.Fields).(map[string]any)
	return nomination.MailRecord{
		Job: nomination.MailJob{
			ID: d.ID, Template: d.Template, To: d.To, Name: d.Name,
			NominationID: d.NominationID, CallSlug: d.CallSlug,
			Data: d.Data, Links: d.Links, Sealed: fromSealedDocs(d.Sealed),
			NominationState: d.NominationState, NomineeName: d.NomineeName, Fields: fields,
			CallTitle: d.CallTitle, CallClosesAt: d.CallClosesAt,
			Comment: d.Comment, Reason: d.Reason, Audience: d.Audience, RecipientID: d.RecipientID, Language: d.Language,
			CreatedAt: d.CreatedAt, NotBefore: d.NotBefore,
		},
		Status:        d.Status,
		Attempts:      d.Attempts,
		NextAttemptAt: d.NextAttemptAt,
		LastError:     d.LastError,
		SentAt:        d.SentAt,
		MessageID:     d.MessageID,
		UpdatedAt:     d.UpdatedAt,
	}
}

// plainValue turns what the driver decodes into an interface (bson.D,
// bson.A, bson.DateTime) back into maps, slices and times, so templates see
// the form fields as they were enqueued.
func plainValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if v == nil {
			return v
		}
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = plainValue(e)
		}
		return m
	case bson.D:
		m := make(map[string]any, len(v))
		for _, e := range v {
			m[e.Key] = plainValue(e.Value)
		}
		return m
	case bson.M:
		return plainValue(map[string]any(v))
	case bson.A:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = plainValue(e)
		}
		return s
	case bson.DateTime:
		return v.Time().UTC()
	default:
		return v
	}
}

// Enqueue adds job to the queue, due at its NotBefore or CreatedAt time. A
// job whose ID is queued already is accepted without a second copy. It
// returns a *nomination.Error with EINVALID when the ID, template,
// recipient or creation time is missing.
func (q *MailQueue) Enqueue(ctx context.Context, job nomination.MailJob) error {
	switch {
	case job.ID == "":
		return nomination.Invalid(nomination.FieldError{Field: "id", Message: "a mail job needs an ID"})
	case job.Template == "":
		return nomination.Invalid(nomination.FieldError{Field: "template", Message: "a mail job needs a template"})
	case job.To == "":
		return nomination.Invalid(nomination.FieldError{Field: "to", Message: "a mail job needs a recipient"})
	case job.CreatedAt.IsZero():
		return nomination.Invalid(nomination.FieldError{Field: "created_at", Message: "a mail job needs its creation time"})
	}
	d := toMailJobDoc(job)
	blob, err := bson.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode mail job %s: %w", job.ID, err)
	}
	d.Blob = blob
	// The schedule entry first: see the comment at the top of the file. For
	// a job enqueued and delivered before, the entry is stale, and the first
	// worker to meet it removes it.
	_, err = q.due.InsertOne(ctx, mailDueDoc{ID: attemptID(job.ID, 1), JobID: job.ID, Attempt: 1, At: d.NextAttemptAt})
	scheduledBefore := mongo.IsDuplicateKeyError(err)
	if err != nil && !scheduledBefore {
		return translate("schedule mail job", err)
	}
	_, err = q.jobs.InsertOne(ctx, d)
	if mongo.IsDuplicateKeyError(err) {
		return nil
	}
	if err == nil && scheduledBefore {
		// Written at last after its first entry was met: the chain of
		// attempts given back meanwhile may have been dropped.
		err = q.resume(ctx, job.ID, d.NextAttemptAt)
	}
	if err == nil {
		select {
		case q.wake <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
	return translate("enqueue mail job", err)
}

// resume picks up the attempts of a job just written whose chain of
// attempts given back while it was missing was dropped (its first entry
// is the marker releaseMissing leaves): the attempt after its last result
// is scheduled at once (taken over as abandoned if it was claimed), and
// the marker removed.
func (q *MailQueue) resume(ctx context.Context, jobID string, at time.Time) error {
	var first mailDueDoc
	if found, err := byID(ctx, q.due, attemptID(jobID, 1), &first); err != nil || !found || !first.Dropped {
		return err
	}
	d, err := q.job(ctx, jobID)
	if err != nil {
		return err
	}
	if d.Attempts == 0 {
		// No attempt was given back (not a chain releaseMissing drops):
		// the marker becomes the first attempt's entry.
		_, err := q.due.UpdateOne(ctx, bson.D{{Key: "_id", Value: attemptID(jobID, 1)}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "at", Value: at}}}, {Key: "$unset", Value: bson.D{{Key: "dropped", Value: ""}}}})
		return translate("reschedule mail job", err)
	}
	if err := q.schedule(ctx, jobID, d.Attempts+1, at); err != nil {
		return err
	}
	return q.unschedule(ctx, jobID, 1)
}

// Wake gives a value when a job was enqueued through this store (this
// instance) since the last value was taken: a worker waiting for its next
// poll polls at once. Jobs enqueued by other instances are found by
// polling.
func (q *MailQueue) Wake() <-chan struct{} { return q.wake }

// schedule makes attempt of the job due at at, unless it is scheduled
// already.
func (q *MailQueue) schedule(ctx context.Context, jobID string, attempt int, at time.Time) error {
	_, err := q.due.InsertOne(ctx, mailDueDoc{ID: attemptID(jobID, attempt), JobID: jobID, Attempt: attempt, At: at})
	if mongo.IsDuplicateKeyError(err) {
		return nil
	}
	return translate("schedule mail job", err)
}

// unschedule removes the entry of an attempt that finished or was passed on.
func (q *MailQueue) unschedule(ctx context.Context, jobID string, attempt int) error {
	_, err := q.due.DeleteOne(ctx, bson.D{{Key: "_id", Value: attemptID(jobID, attempt)}})
	return translate("unschedule mail job", err)
}

// reschedule moves the due time of a scheduled attempt.
func (q *MailQueue) reschedule(ctx context.Context, jobID string, attempt int, at time.Time) error {
	_, err := q.due.UpdateOne(ctx, bson.D{{Key: "_id", Value: attemptID(jobID, attempt)}}, bson.D{{Key: "$set", Value: bson.D{{Key: "at", Value: at}}}})
	return translate("reschedule mail job", err)
}

// Get returns the job with that ID and its delivery state, or a
// *nomination.Error with ENOTFOUND.
func (q *MailQueue) Get(ctx context.Context, jobID string) (nomination.MailRecord, error) {
	d, err := q.job(ctx, jobID)
	if err != nil {
		return nomination.MailRecord{}, err
	}
	return fromMailJobDoc(d), nil
}

// job reads the job with that ID and folds its results into it.
func (q *MailQueue) job(ctx context.Context, jobID string) (mailJobDoc, error) {
	var d mailJobDoc
	if err := q.jobs.FindOne(ctx, bson.D{{Key: "_id", Value: jobID}}, options.FindOne().SetProjection(withoutBlob)).Decode(&d); err != nil {
		return d, translate("read mail job", err)
	}
	rs, err := q.resultsOf(ctx, []string{jobID})
	if err != nil {
		return d, err
	}
	foldResults(&d, rs[jobID])
	return d, nil
}

// foldResults brings d, a job as stored, to its delivery state: each of
// its results, in attempt order, sets the state the job had after that
// attempt. Results the document already holds (a job rewritten by an
// earlier version of the queue) change nothing.
func foldResults(d *mailJobDoc, rs []mailResultDoc) {
	slices.SortFunc(rs, func(a, b mailResultDoc) int { return a.Attempt - b.Attempt })
	for _, r := range rs {
		if r.Attempt < d.Attempts {
			continue
		}
		d.Status, d.Attempts, d.NextAttemptAt, d.UpdatedAt = r.Status, r.Attempt, r.NextAttemptAt, r.At
		switch r.Outcome {
		case outcomeSent:
			d.SentAt, d.MessageID = r.At, r.MessageID
		case outcomeRequeued:
			d.RetryBase = r.Attempt
		case outcomeReleased:
			d.RetryBase = r.RetryBase
		default:
			d.LastError = r.Reply
		}
	}
}

// resultsOf reads the results of the jobs with those ids, by job: from
// the embedded store's file through its (job_id, attempt) index, or by
// job_id through the driver (indexed on MongoDB).
func (q *MailQueue) resultsOf(ctx context.Context, jobIDs []string) (map[string][]mailResultDoc, error) {
	if len(jobIDs) == 0 {
		return map[string][]mailResultDoc{}, nil
	}
	if q.sql != nil {
		if out, ok, err := q.sql.mailResults(ctx, jobIDs); ok || err != nil {
			return out, translate("read mail results", err)
		}
	}
	out := map[string][]mailResultDoc{}
	for chunk := range slices.Chunk(jobIDs, 1000) {
		cur, err := q.results.Find(ctx, bson.D{{Key: "job_id", Value: bson.D{{Key: "$in", Value: chunk}}}})
		if err != nil {
			return nil, translate("read mail results", err)
		}
		var rs []mailResultDoc
		if err := cur.All(ctx, &rs); err != nil {
			return nil, translate("read mail results", err)
		}
		for _, r := range rs {
			out[r.JobID] = append(out[r.JobID], r)
		}
	}
	return out, nil
}

// foldBefore folds into each job of docs, read for its claimed attempt n
// (attempts[id]), the results of its attempts before n: from the file in
// one query, or by _id (every backend answers those from an index).
func (q *MailQueue) foldBefore(ctx context.Context, docs map[string]mailJobDoc, attempts map[string]int) error {
	var ids, resultIDs []string
	for id, n := range attempts {
		if _, ok := docs[id]; !ok || n <= 1 {
			continue
		}
		ids = append(ids, id)
		for a := 1; a < n; a++ {
			resultIDs = append(resultIDs, attemptID(id, a))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var byJob map[string][]mailResultDoc
	if q.sql != nil {
		var ok bool
		var err error
		if byJob, ok, err = q.sql.mailResults(ctx, ids); err != nil {
			return translate("read mail results", err)
		} else if !ok {
			byJob = nil
		}
	}
	if byJob == nil {
		rs, err := readByID[mailResultDoc](ctx, q.results, resultIDs)
		if err != nil {
			return err
		}
		byJob = map[string][]mailResultDoc{}
		for _, r := range rs {
			byJob[r.JobID] = append(byJob[r.JobID], r)
		}
	}
	for _, id := range ids {
		d := docs[id]
		var before []mailResultDoc
		for _, r := range byJob[id] {
			if r.Attempt < attempts[id] {
				before = append(before, r)
			}
		}
		foldResults(&d, before)
		docs[id] = d
	}
	return nil
}

// byID reads the document with that _id from c into v and reports whether
// there was one.
func byID(ctx context.Context, c *mongo.Collection, id string, v any) (bool, error) {
	err := c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(v)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, translate("read "+c.Name(), err)
	}
	return true, nil
}

// Due returns references to up to limit attempts due at now, the longest
// waiting first, to be passed to Claim.
func (q *MailQueue) Due(ctx context.Context, now time.Time, limit int) ([]string, error) {
	if q.sql != nil {
		refs, ok, err := q.sql.mailDue(ctx, now, max(limit, 1))
		if err != nil {
			return nil, translate("list due mail", err)
		}
		if ok {
			if err := q.tidyDue(ctx, len(refs) < limit); err != nil {
				return nil, err
			}
			return refs, nil
		}
	}
	opts := options.Find().
		SetSort(bson.D{{Key: "at", Value: 1}, {Key: "_id", Value: 1}}).
		SetLimit(int64(max(limit, 1))).
		SetProjection(bson.D{{Key: "_id", Value: 1}})
	cur, err := q.due.Find(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lte", Value: now}}}}, opts)
	if err != nil {
		return nil, translate("list due mail", err)
	}
	var docs []mailDueDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate("list due mail", err)
	}
	refs := make([]string, len(docs))
	for i, d := range docs {
		refs[i] = d.ID
	}
	return refs, nil
}

// parseAttemptID splits "<job id>/<attempt>".
func parseAttemptID(ref string) (jobID string, attempt int, ok bool) {
	i := strings.LastIndexByte(ref, '/')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(ref[i+1:])
	if err != nil || n < 1 {
		return "", 0, false
	}
	return ref[:i], n, true
}

// Claim takes the attempt due names (a reference from Due) for worker
// until now+lease, by inserting the attempt's claim, and returns the job
// with the attempt's number and try. Losing the race costs one insert. An
// attempt met claimed but still due is looked into: one whose worker
// stopped without a result is passed on to the next attempt, which Claim
// then takes; one that finished has its schedule entry removed. It returns
// a *nomination.Error with ECONFLICT when the attempt is not to be made now
// (another worker holds it, or it finished), ENOTFOUND when there is no
// such job and EINVALID for a malformed reference.
func (q *MailQueue) Claim(ctx context.Context, due, worker string, now time.Time, lease time.Duration) (nomination.MailAttempt, error) {
	jobID, n, ok := parseAttemptID(due)
	if !ok {
		return nomination.MailAttempt{}, nomination.Invalid(nomination.FieldError{Field: "due", Message: "not a reference to a due mail attempt"})
	}
	for last := n + maxSkip; n < last; n++ {
		a, abandoned, err := q.claim(ctx, jobID, n, worker, now, lease)
		if !abandoned {
			return a, err
		}
	}
	return nomination.MailAttempt{}, conflict("mail job %s has more than %d abandoned attempts", jobID, maxSkip)
}

// claim tries to take attempt n of the job; see Claim. It reports whether
// the attempt was abandoned and passed on to attempt n+1.
func (q *MailQueue) claim(ctx context.Context, jobID string, n int, worker string, now time.Time, lease time.Duration) (a nomination.MailAttempt, abandoned bool, err error) {
	id := attemptID(jobID, n)
	_, err = q.claims.InsertOne(ctx, mailClaimDoc{
		ID: id, JobID: jobID, Attempt: n, Worker: worker, ClaimedAt: now, LeaseUntil: now.Add(lease),
	})
	if err == nil {
		// Other pollers skip the attempt while the lease lasts; after it, a
		// stopped worker's attempt is due again and found abandoned.
		if err := q.reschedule(ctx, jobID, n, now.Add(lease)); err != nil {
			return a, false, err
		}
		d, err := q.job(ctx, jobID) // its results are those of attempts before n
		if nomination.ErrorCode(err) == nomination.ENOTFOUND {
			// The enqueue has not written the job (yet): the attempt is
			// given back at once rather than held for the lease.
			if rerr := q.releaseMissing(ctx, jobID, n, now, lease); rerr != nil {
				return a, false, rerr
			}
			return a, false, err
		}
		if err != nil {
			return a, false, err
		}
		return nomination.MailAttempt{Record: fromMailJobDoc(d), Number: n, Try: n - d.RetryBase}, false, nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return a, false, translate("claim mail job", err)
	}
	var entry mailDueDoc
	scheduled, err := byID(ctx, q.due, id, &entry)
	if err != nil {
		return a, false, err
	}
	if !scheduled || entry.At.After(now) {
		return a, false, conflict("attempt %d of mail job %s is taken", n, jobID)
	}
	var c mailClaimDoc
	if _, err := byID(ctx, q.claims, id, &c); err != nil {
		return a, false, err
	}
	if c.LeaseUntil.After(now) {
		return a, false, conflict("attempt %d of mail job %s is in progress", n, jobID)
	}
	var res mailResultDoc
	finished, err := byID(ctx, q.results, id, &res)
	if err != nil {
		return a, false, err
	}
	d, jerr := q.job(ctx, jobID)
	missing := nomination.ErrorCode(jerr) == nomination.ENOTFOUND
	if jerr != nil && !missing {
		return a, false, jerr
	}
	switch {
	case finished:
		// Its worker stopped after recording the result but before tidying
		// up, or the job was enqueued again after it was delivered.
		if !missing && d.Attempts <= n && (res.Outcome == outcomeRetry || res.Outcome == outcomeReleased) {
			// The result's next attempt was scheduled before it; it is
			// gone when a chain given back for a missing job was dropped
			// and the job enqueued again since. Inserting an entry again
			// is harmless: one met finished is removed.
			if err := q.schedule(ctx, jobID, n+1, res.NextAttemptAt); err != nil {
				return a, false, err
			}
		}
		if err := q.unschedule(ctx, jobID, n); err != nil {
			return a, false, err
		}
		return a, false, conflict("attempt %d of mail job %s is finished", n, jobID)
	case missing:
		// An enqueue that stopped before writing the job: give it time to
		// be repeated, then forget the entry.
		if c.ClaimedAt.Add(orphanAge).After(now) {
			err = q.reschedule(ctx, jobID, n, c.ClaimedAt.Add(orphanAge))
		} else {
			err = q.unschedule(ctx, jobID, n)
		}
		if err != nil {
			return a, false, err
		}
		return a, false, jerr
	}
	// Abandoned: its worker stopped without a result, perhaps after the
	// server accepted the message. The next attempt is due at once.
	if err := q.schedule(ctx, jobID, n+1, now); err != nil {
		return a, false, err
	}
	if err := q.unschedule(ctx, jobID, n); err != nil {
		return a, false, err
	}
	return a, true, nil
}

// releaseMissing gives back attempt n of a job, just claimed by this
// worker, whose job document is not there: its schedule entry is written
// before the job (Enqueue), so the enqueue may be in progress. The next
// attempt is scheduled (due at once the first time, then after as long as
// the job has been missing, at most lease), a released result inserted for
// n, and n's entry removed; the next attempt makes the job's first try. A
// job missing for orphanAge since it was first found missing belongs to an
// enqueue that stopped half-way: its entry is removed, nothing scheduled.
// Only the winner of n's claim calls it, so n is made by nobody.
func (q *MailQueue) releaseMissing(ctx context.Context, jobID string, n int, now time.Time, lease time.Duration) error {
	var entry mailDueDoc
	if _, err := byID(ctx, q.due, attemptID(jobID, n), &entry); err != nil {
		return err
	}
	since := entry.Since
	if since.IsZero() || since.After(now) {
		since = now
	}
	if now.Sub(since) >= orphanAge {
		// The chain is dropped; its first entry is kept far in the future
		// as its marker, for an enqueue that comes after all (resume).
		_, err := q.due.InsertOne(ctx, mailDueDoc{ID: attemptID(jobID, 1), JobID: jobID, Attempt: 1, At: droppedAt, Dropped: true})
		if err != nil && !mongo.IsDuplicateKeyError(err) {
			return translate("mark dropped mail job", err)
		}
		return q.unschedule(ctx, jobID, n)
	}
	next := now.Add(min(now.Sub(since), lease))
	_, err := q.due.InsertOne(ctx, mailDueDoc{ID: attemptID(jobID, n+1), JobID: jobID, Attempt: n + 1, At: next, Since: since})
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return translate("schedule mail job", err)
	}
	_, err = q.results.InsertOne(ctx, mailResultDoc{
		ID: attemptID(jobID, n), JobID: jobID, Attempt: n, Outcome: outcomeReleased, Reply: "not attempted: the job was not written yet",
		At: now, Status: nomination.MailQueued, NextAttemptAt: next, RetryBase: n,
	})
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return translate("record mail result", err)
	}
	return q.unschedule(ctx, jobID, n)
}

// record inserts the result of a claimed attempt and removes the
// attempt's schedule entry. A result recorded already (a repeated call
// after a lost reply) stays as it was stored.
func (q *MailQueue) record(ctx context.Context, r mailResultDoc) error {
	r.ID = attemptID(r.JobID, r.Attempt)
	if len(r.Reply) > maxReply {
		r.Reply = r.Reply[:maxReply]
	}
	_, err := q.results.InsertOne(ctx, r)
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return translate("record mail result", err)
	}
	return q.unschedule(ctx, r.JobID, r.Attempt)
}

func checkAttempt(jobID string, attempt int) error {
	if jobID == "" || attempt < 1 {
		return nomination.Invalid(nomination.FieldError{Field: "attempt", Message: "a result needs a job and an attempt number"})
	}
	return nil
}

// MarkSent records that the server accepted attempt of the job, with the
// message's Message-ID: Record with one outcome.
func (q *MailQueue) MarkSent(ctx context.Context, jobID string, attempt int, messageID string, at time.Time) error {
	return q.Record(ctx, []nomination.MailOutcome{{JobID: jobID, Attempt: attempt, Status: nomination.MailSent, MessageID: messageID, At: at}})
}

// MarkRetry records that attempt of the job failed for now with the
// server's reply, and schedules the next attempt at next: Record with one
// outcome.
func (q *MailQueue) MarkRetry(ctx context.Context, jobID string, attempt int, reply string, at, next time.Time) error {
	return q.Record(ctx, []nomination.MailOutcome{{JobID: jobID, Attempt: attempt, Status: nomination.MailQueued, Reply: reply, At: at, Next: next}})
}

// MarkDead records that attempt of the job failed for good with the
// server's reply; the job waits for a manual retry: Record with one
// outcome.
func (q *MailQueue) MarkDead(ctx context.Context, jobID string, attempt int, reply string, at time.Time) error {
	return q.Record(ctx, []nomination.MailOutcome{{JobID: jobID, Attempt: attempt, Status: nomination.MailDead, Reply: reply, At: at}})
}

// RetryDead puts a dead job back in the queue, due at now, with a fresh
// allowance of attempts; it keeps its Message-ID. The retry takes an
// attempt number of its own, so that of several retries at once exactly one
// counts. It returns a *nomination.Error with ENOTFOUND when there is no
// such job and ECONFLICT when the job is not dead (or is being retried at
// that moment).
func (q *MailQueue) RetryDead(ctx context.Context, jobID string, now time.Time) error {
	d, err := q.job(ctx, jobID)
	if err != nil {
		return err
	}
	if d.Status != nomination.MailDead {
		return conflict("mail job %s is %s, not dead", jobID, d.Status)
	}
	for n := d.Attempts + 1; n <= d.Attempts+maxSkip; n++ {
		id := attemptID(jobID, n)
		var res mailResultDoc
		found, err := byID(ctx, q.results, id, &res)
		if err != nil {
			return err
		}
		if found {
			// Recorded since the job was read.
			if res.Status != nomination.MailDead {
				return conflict("mail job %s is %s, not dead", jobID, res.Status)
			}
			continue
		}
		_, err = q.claims.InsertOne(ctx, mailClaimDoc{
			ID: id, JobID: jobID, Attempt: n, Worker: "manual retry", ClaimedAt: now, LeaseUntil: now.Add(retryLease),
		})
		if err == nil {
			if err := q.schedule(ctx, jobID, n+1, now); err != nil {
				return err
			}
			return q.record(ctx, mailResultDoc{
				JobID: jobID, Attempt: n, Outcome: outcomeRequeued, At: now,
				Status: nomination.MailQueued, NextAttemptAt: now,
			})
		}
		if !mongo.IsDuplicateKeyError(err) {
			return translate("claim mail job", err)
		}
		var c mailClaimDoc
		if _, err := byID(ctx, q.claims, id, &c); err != nil {
			return err
		}
		if c.LeaseUntil.After(now) {
			return conflict("mail job %s is being retried", jobID)
		}
	}
	return conflict("mail job %s has more than %d attempts to step over", jobID, maxSkip)
}

// MailLog returns up to limit jobs (100 when limit is 0, at most 1000), the
// newest first, of one nomination when nominationID is set and in one
// status when status is set. It returns a *nomination.Error with EINVALID
// for a status other than queued, sent or dead.
func (q *MailQueue) MailLog(ctx context.Context, nominationID, status string, limit int) ([]nomination.MailRecord, error) {
	filter := bson.D{}
	if nominationID != "" {
		filter = append(filter, bson.E{Key: "nomination_id", Value: nominationID})
	}
	switch status {
	case "", nomination.MailQueued, nomination.MailSent, nomination.MailDead:
	default:
		return nil, nomination.Invalid(nomination.FieldError{Field: "status", Message: "must be queued, sent or dead"})
	}
	switch {
	case limit <= 0:
		limit = 100
	case limit > 1000:
		limit = 1000
	}
	// The status is the fold's: the jobs are read newest first, a page at
	// a time, until limit of them are in it.
	page := limit
	if status != "" {
		page = max(limit, 500)
	}
	opts := options.Find().
		SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: 1}}).
		SetProjection(withoutBlob).
		SetBatchSize(int32(page))
	cur, err := q.jobs.Find(ctx, filter, opts)
	if err != nil {
		return nil, translate("read mail log", err)
	}
	defer cur.Close(ctx)
	var out []nomination.MailRecord
	for len(out) < limit {
		docs := make([]mailJobDoc, 0, page)
		for len(docs) < page && cur.Next(ctx) {
			var d mailJobDoc
			if err := cur.Decode(&d); err != nil {
				return nil, translate("read mail log", err)
			}
			docs = append(docs, d)
		}
		if err := cur.Err(); err != nil {
			return nil, translate("read mail log", err)
		}
		if len(docs) == 0 {
			break
		}
		recs, err := q.folded(ctx, docs)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if (status == "" || r.Status == status) && len(out) < limit {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// folded returns the records of docs, each with its results folded in.
func (q *MailQueue) folded(ctx context.Context, docs []mailJobDoc) ([]nomination.MailRecord, error) {
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	rs, err := q.resultsOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]nomination.MailRecord, len(docs))
	for i, d := range docs {
		foldResults(&d, rs[d.ID])
		out[i] = fromMailJobDoc(d)
	}
	return out, nil
}

// Jobs returns every job with its delivery state, in no set order: for
// checks of a whole run (the simulator's), not for pages.
func (q *MailQueue) Jobs(ctx context.Context) ([]nomination.MailRecord, error) {
	cur, err := q.jobs.Find(ctx, bson.D{}, options.Find().SetProjection(withoutBlob))
	if err != nil {
		return nil, translate("read mail jobs", err)
	}
	var docs []mailJobDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate("read mail jobs", err)
	}
	cur, err = q.results.Find(ctx, bson.D{})
	if err != nil {
		return nil, translate("read mail results", err)
	}
	var rs []mailResultDoc
	if err := cur.All(ctx, &rs); err != nil {
		return nil, translate("read mail results", err)
	}
	byJob := map[string][]mailResultDoc{}
	for _, r := range rs {
		byJob[r.JobID] = append(byJob[r.JobID], r)
	}
	out := make([]nomination.MailRecord, len(docs))
	for i, d := range docs {
		foldResults(&d, byJob[d.ID])
		out[i] = fromMailJobDoc(d)
	}
	return out, nil
}

// Queued returns how many jobs wait for delivery (their state is queued).
func (q *MailQueue) Queued(ctx context.Context) (int, error) {
	jobs, err := q.Jobs(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, j := range jobs {
		if j.Status == nomination.MailQueued {
			n++
		}
	}
	return n, nil
}
