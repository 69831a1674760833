package mongostore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

var mailT0 = time.Date(2026, 2, 2, 9, 0, 0, 0, time.UTC)

func mailJob(id string, at time.Time) nomination.MailJob {
	return nomination.MailJob{
		ID: id, Template: "notice", To: "ada@example.org", Name: "Ada Lovelace",
		NominationID: "n-1", CallSlug: "mag-2026", CreatedAt: at,
	}
}

func mustMailEnqueue(tb testing.TB, q *mongostore.MailQueue, jobs ...nomination.MailJob) {
	tb.Helper()
	for _, j := range jobs {
		if err := q.Enqueue(context.Background(), j); err != nil {
			tb.Fatalf("enqueue %s: %v", j.ID, err)
		}
	}
}

func mustMailGet(tb testing.TB, q *mongostore.MailQueue, id string) nomination.MailRecord {
	tb.Helper()
	r, err := q.Get(context.Background(), id)
	if err != nil {
		tb.Fatalf("get %s: %v", id, err)
	}
	return r
}

// dueRef returns the reference Due gives for the job at now, if any.
func dueRef(tb testing.TB, q *mongostore.MailQueue, jobID string, now time.Time) (string, bool) {
	tb.Helper()
	refs, err := q.Due(context.Background(), now, 1000)
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range refs {
		if strings.HasPrefix(r, jobID+"/") {
			return r, true
		}
	}
	return "", false
}

// mustMailClaim claims the job's due attempt at now with a one-minute lease.
func mustMailClaim(tb testing.TB, q *mongostore.MailQueue, jobID string, now time.Time) (attempt, try int) {
	tb.Helper()
	ref, ok := dueRef(tb, q, jobID, now)
	if !ok {
		tb.Fatalf("%s is not due at %v", jobID, now)
	}
	a, err := q.Claim(context.Background(), ref, "test", now, time.Minute)
	if err != nil {
		tb.Fatalf("claim %s: %v", ref, err)
	}
	if a.Record.Job.ID != jobID {
		tb.Fatalf("claim %s returned job %s", ref, a.Record.Job.ID)
	}
	return a.Number, a.Try
}

func mustMailDue(tb testing.TB, q *mongostore.MailQueue, now time.Time, want ...string) {
	tb.Helper()
	got, err := q.Due(context.Background(), now, 100)
	if err != nil {
		tb.Fatal(err)
	}
	if len(got) == 0 {
		got = nil
	}
	if len(want) == 0 {
		want = nil
	}
	if !reflect.DeepEqual(got, want) {
		tb.Fatalf("due at %v = %v, want %v", now, got, want)
	}
}

func wantConflict(tb testing.TB, err error, what string) {
	tb.Helper()
	if nomination.ErrorCode(err) != nomination.ECONFLICT {
		tb.Fatalf("%s: %v, want ECONFLICT", what, err)
	}
}

func TestMailEnqueueKeepsTheJobAndIsIdempotent(t *testing.T) {
	forMailPaths(t, func(t *testing.T, path string) {
		q := newMailQueue(t, path)
		ctx := context.Background()
		j := mailJob("n-1/000003/notice/u-1", mailT0)
		j.Data = map[string]string{"ref": "x"}
		j.Links = map[string]string{"nomination": "/nominations/n-1"}
		j.Sealed = map[string]nomination.SealedLink{"consent": {Path: "/consent/",
			Claims: nomination.LinkClaims{Kind: "consent", NominationID: "n-1", Ref: "e-1", Nonce: "x1", Issued: 1, Address: "ab", Expires: 99}}}
		j.NominationState, j.NomineeName, j.CallTitle = "submitted", "Grace Hopper", "MAG 2026"
		j.CallClosesAt = mailT0.Add(30 * 24 * time.Hour)
		j.Comment, j.Reason = "c", "r"
		j.Fields = map[string]any{
			"organization": "Example Foundation",
			"consent":      true,
			"languages":    []any{"en", "fr"},
			"address":      map[string]any{"city": "Nairobi"},
			"born":         time.Date(1980, 5, 1, 0, 0, 0, 0, time.UTC),
		}
		mustMailEnqueue(t, q, j)
		second := j
		second.To = "someone.else@example.org"
		if err := q.Enqueue(ctx, second); err != nil {
			t.Fatalf("second enqueue of the same ID: %v", err)
		}
		rec := mustMailGet(t, q, j.ID)
		if rec.Job.To != j.To {
			t.Fatalf("the second enqueue replaced the job: to = %s", rec.Job.To)
		}
		// Fields come back as plain Go values, not driver types.
		j.Fields["consent"], j.Fields["languages"] = true, []any{"en", "fr"}
		if !reflect.DeepEqual(rec.Job, j) {
			t.Fatalf("job round trip:\n got %#v\nwant %#v", rec.Job, j)
		}
		if rec.Status != nomination.MailQueued || rec.Attempts != 0 || !rec.NextAttemptAt.Equal(mailT0) {
			t.Fatalf("new job state: %+v", rec)
		}
		all, err := q.MailLog(ctx, "", "", 0)
		if err != nil || len(all) != 1 {
			t.Fatalf("%d jobs after two enqueues (%v), want 1", len(all), err)
		}
	})
}

func TestMailEnqueueRejectsIncompleteJobs(t *testing.T) {
	forMailPaths(t, func(t *testing.T, path string) {
		q := newMailQueue(t, path)
		cases := []struct {
			name  string
			edit  func(*nomination.MailJob)
			field string
		}{
			{"no id", func(j *nomination.MailJob) { j.ID = "" }, "id"},
			{"no template", func(j *nomination.MailJob) { j.Template = "" }, "template"},
			{"no recipient", func(j *nomination.MailJob) { j.To = "" }, "to"},
			{"no creation time", func(j *nomination.MailJob) { j.CreatedAt = time.Time{} }, "created_at"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				j := mailJob("j", mailT0)
				c.edit(&j)
				err := q.Enqueue(context.Background(), j)
				var e *nomination.Error
				if !errors.As(err, &e) || e.Code != nomination.EINVALID || len(e.Fields) == 0 || e.Fields[0].Field != c.field {
					t.Fatalf("error %v, want EINVALID on %s", err, c.field)
				}
			})
		}
	})
}

func TestMailDueHonoursNotBeforeAndOrder(t *testing.T) {
	forMailPaths(t, func(t *testing.T, path string) {
		q := newMailQueue(t, path)
		late := mailJob("late", mailT0)
		late.NotBefore = mailT0.Add(time.Hour)
		mustMailEnqueue(t, q, mailJob("b", mailT0.Add(2*time.Second)), mailJob("a", mailT0.Add(time.Second)), late)
		cases := []struct {
			name string
			now  time.Time
			want []string
		}{
			{"before anything", mailT0, nil},
			{"first two, oldest first", mailT0.Add(time.Minute), []string{"a/0001", "b/0001"}},
			{"after not-before", mailT0.Add(time.Hour), []string{"a/0001", "b/0001", "late/0001"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) { mustMailDue(t, q, c.now, c.want...) })
		}
	})
}

func TestMailClaimRejectsBadReferences(t *testing.T) {
	forMailPaths(t, func(t *testing.T, path string) {
		q := newMailQueue(t, path)
		for _, ref := range []string{"", "j", "j/", "/0001", "j/x", "j/0"} {
			t.Run(ref, func(t *testing.T) {
				if _, err := q.Claim(context.Background(), ref, "w", mailT0, time.Minute); nomination.ErrorCode(err) != nomination.EINVALID {
					t.Fatalf("claim %q: %v, want EINVALID", ref, err)
				}
			})
		}
	})
}

// Twenty workers, half of them over their own client, claim one attempt at
// once: exactly one gets it, and the others pass it by until its lease ends.
func TestMailClaimIsExclusive(t *testing.T) {
	forMailPaths(t, func(t *testing.T, path string) {
		db := storetest.NewDatabase(t)
		q := mailQueueOver(t, path, db)
		mustMailEnqueue(t, q, mailJob("j", mailT0))
		ref, ok := dueRef(t, q, "j", mailT0)
		if !ok {
			t.Fatal("new job not due")
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, conflicts := 0, 0
		for i := range 20 {
			wq := q
			if i%2 == 1 {
				wq = mongostore.New(storetest.Connect(t, db.Name()), nil).MailQueue()
			}
			wg.Go(func() {
				a, err := wq.Claim(context.Background(), ref, fmt.Sprintf("w%d", i), mailT0, time.Minute)
				mu.Lock()
				defer mu.Unlock()
				switch nomination.ErrorCode(err) {
				case "":
					won++
					if a.Number != 1 || a.Try != 1 {
						t.Errorf("won attempt %d try %d, want 1 and 1", a.Number, a.Try)
					}
				case nomination.ECONFLICT:
					conflicts++
				default:
					t.Errorf("claim: %v", err)
				}
			})
		}
		wg.Wait()
		if won != 1 || conflicts != 19 {
			t.Fatalf("%d claims won, %d conflicts; want 1 and 19", won, conflicts)
		}
		mustMailDue(t, q, mailT0.Add(59*time.Second))
	})
}

// An attempt whose worker stopped without recording an outcome is taken
// over once its lease ran out, by exactly one of several workers.
func TestMailAbandonedAttemptIsTakenOverOnce(t *testing.T) {
	forMailPaths(t, func(t *testing.T, path string) {
		q := newMailQueue(t, path)
		ctx := context.Background()
		mustMailEnqueue(t, q, mailJob("j", mailT0))
		if a, _ := mustMailClaim(t, q, "j", mailT0); a != 1 {
			t.Fatalf("first attempt %d", a)
		}
		_, err := q.Claim(ctx, "j/0001", "other", mailT0.Add(59*time.Second), time.Minute)
		wantConflict(t, err, "claim during the lease")
		later := mailT0.Add(61 * time.Second)
		mustMailDue(t, q, later, "j/0001")
		var wg sync.WaitGroup
		var mu sync.Mutex
		var attempts []int
		for i := range 10 {
			wg.Go(func() {
				a, err := q.Claim(ctx, "j/0001", fmt.Sprintf("w%d", i), later, time.Minute)
				if err == nil {
					mu.Lock()
					attempts = append(attempts, a.Number, a.Try)
					mu.Unlock()
				} else if nomination.ErrorCode(err) != nomination.ECONFLICT {
					t.Errorf("claim: %v", err)
				}
			})
		}
		wg.Wait()
		if !reflect.DeepEqual(attempts, []int{2, 2}) {
			t.Fatalf("takeover claims (attempt, try) = %v, want one of [2 2]", attempts)
		}
		mustMailDue(t, q, later)
	})
}

func TestMailOutcomes(t *testing.T) {
	forMailPaths(t, func(t *testing.T, path string) {
		ctx := context.Background()
		t.Run("sent", func(t *testing.T) {
			q := newMailQueue(t, path)
			mustMailEnqueue(t, q, mailJob("j", mailT0))
			a, _ := mustMailClaim(t, q, "j", mailT0)
			if err := q.MarkSent(ctx, "j", a, "<abc@nomina>", mailT0.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			rec := mustMailGet(t, q, "j")
			if rec.Status != nomination.MailSent || rec.Attempts != 1 || rec.MessageID != "<abc@nomina>" || !rec.SentAt.Equal(mailT0.Add(time.Second)) {
				t.Fatalf("after sent: %+v", rec)
			}
			mustMailDue(t, q, mailT0.Add(time.Hour))
			_, err := q.Claim(ctx, "j/0001", "w", mailT0.Add(time.Hour), time.Minute)
			wantConflict(t, err, "claim of a sent attempt")
			// A repeated call (its first reply was lost) changes nothing.
			if err := q.MarkSent(ctx, "j", a, "<abc@nomina>", mailT0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if again := mustMailGet(t, q, "j"); !again.SentAt.Equal(rec.SentAt) {
				t.Fatalf("repeated MarkSent moved sent_at to %v", again.SentAt)
			}
		})
		t.Run("retry then sent", func(t *testing.T) {
			q := newMailQueue(t, path)
			mustMailEnqueue(t, q, mailJob("j", mailT0))
			a, _ := mustMailClaim(t, q, "j", mailT0)
			next := mailT0.Add(time.Minute)
			if err := q.MarkRetry(ctx, "j", a, "451 4.3.0 Try again later", mailT0, next); err != nil {
				t.Fatal(err)
			}
			rec := mustMailGet(t, q, "j")
			if rec.Status != nomination.MailQueued || rec.Attempts != 1 || rec.LastError != "451 4.3.0 Try again later" || !rec.NextAttemptAt.Equal(next) {
				t.Fatalf("after retry: %+v", rec)
			}
			mustMailDue(t, q, next.Add(-time.Second))
			mustMailDue(t, q, next, "j/0002")
			if a, try := mustMailClaim(t, q, "j", next); a != 2 || try != 2 {
				t.Fatalf("second claim: attempt %d try %d", a, try)
			}
			if err := q.MarkSent(ctx, "j", 2, "<id@nomina>", next); err != nil {
				t.Fatal(err)
			}
			if rec := mustMailGet(t, q, "j"); rec.Status != nomination.MailSent || rec.Attempts != 2 || rec.LastError == "" {
				t.Fatalf("after sent: %+v (the last error is kept for the log)", rec)
			}
			mustMailDue(t, q, next.Add(time.Hour))
		})
		t.Run("dead, retried by hand, sent", func(t *testing.T) {
			q := newMailQueue(t, path)
			mustMailEnqueue(t, q, mailJob("j", mailT0))
			a, _ := mustMailClaim(t, q, "j", mailT0)
			if err := q.MarkDead(ctx, "j", a, "550 5.1.1 Mailbox unavailable", mailT0); err != nil {
				t.Fatal(err)
			}
			rec := mustMailGet(t, q, "j")
			if rec.Status != nomination.MailDead || rec.LastError != "550 5.1.1 Mailbox unavailable" {
				t.Fatalf("after dead: %+v", rec)
			}
			later := mailT0.Add(time.Hour)
			mustMailDue(t, q, later)
			if err := q.RetryDead(ctx, "j", later); err != nil {
				t.Fatal(err)
			}
			rec = mustMailGet(t, q, "j")
			if rec.Status != nomination.MailQueued || !rec.NextAttemptAt.Equal(later) {
				t.Fatalf("after retry by hand: %+v", rec)
			}
			wantConflict(t, q.RetryDead(ctx, "j", later), "retry of a queued job")
			a, try := mustMailClaim(t, q, "j", later)
			if a != 3 || try != 1 {
				t.Fatalf("claim after retry by hand: attempt %d try %d, want 3 and 1", a, try)
			}
		})
	})
}

func TestMailRetryDeadErrors(t *testing.T) {
	forMailPaths(t, func(t *testing.T, path string) {
		q := newMailQueue(t, path)
		ctx := context.Background()
		if err := q.RetryDead(ctx, "missing", mailT0); nomination.ErrorCode(err) != nomination.ENOTFOUND {
			t.Fatalf("retry of a missing job: %v", err)
		}
		mustMailEnqueue(t, q, mailJob("j", mailT0))
		a, _ := mustMailClaim(t, q, "j", mailT0)
		if err := q.MarkDead(ctx, "j", a, "550", mailT0); err != nil {
			t.Fatal(err)
		}
		// Ten secretaries press retry at once: one succeeds.
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for range 10 {
			wg.Go(func() {
				err := q.RetryDead(ctx, "j", mailT0)
				mu.Lock()
				defer mu.Unlock()
				switch nomination.ErrorCode(err) {
				case "":
					ok++
				case nomination.ECONFLICT:
				default:
					t.Errorf("retry: %v", err)
				}
			})
		}
		wg.Wait()
		if ok != 1 {
			t.Fatalf("%d retries succeeded, want 1", ok)
		}
		mustMailDue(t, q, mailT0, "j/0003")
	})
}

// A worker that inserted its result but stopped before removing the
// attempt's schedule entry: the job's state is the result's at once (the
// fold of its results), and the next worker to meet the attempt sends
// nothing and removes the entry.
func TestMailClaimCatchesUpALaggingJob(t *testing.T) {
	forMailPaths(t, func(t *testing.T, path string) {
		db := storetest.NewDatabase(t)
		q := mailQueueOver(t, path, db)
		ctx := context.Background()
		mustMailEnqueue(t, q, mailJob("j", mailT0))
		a, _ := mustMailClaim(t, q, "j", mailT0)
		// What MarkSent inserts first, without what follows it.
		_, err := db.Collection("mail_results").InsertOne(ctx, bson.D{
			{Key: "_id", Value: fmt.Sprintf("j/%04d", a)}, {Key: "job_id", Value: "j"}, {Key: "attempt", Value: a},
			{Key: "outcome", Value: "sent"}, {Key: "at", Value: mailT0}, {Key: "status", Value: "sent"},
			{Key: "next_attempt_at", Value: mailT0}, {Key: "message_id", Value: "<x@nomina>"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if rec := mustMailGet(t, q, "j"); rec.Status != nomination.MailSent || rec.MessageID != "<x@nomina>" || rec.Attempts != 1 {
			t.Fatalf("job before the entry is met: %+v", rec)
		}
		later := mailT0.Add(time.Hour)
		if path == "driver" {
			mustMailDue(t, q, later, "j/0001") // the file's list passes it by
		}
		_, err = q.Claim(ctx, "j/0001", "w", later, time.Minute)
		wantConflict(t, err, "claim of an attempt that was sent")
		if as := mustClaimAll(t, q, later); len(as) != 0 {
			t.Fatalf("claimed %+v of a sent job", as)
		}
		rec := mustMailGet(t, q, "j")
		if rec.Status != nomination.MailSent || rec.MessageID != "<x@nomina>" || rec.Attempts != 1 {
			t.Fatalf("job not caught up: %+v", rec)
		}
		mustMailDue(t, q, later)
	})
}

// Only pending attempts are in the schedule: a finished job no longer
// shows up when workers poll, however many jobs the log holds.
func TestMailScheduleHoldsOnlyPendingAttempts(t *testing.T) {
	forMailPaths(t, func(t *testing.T, path string) {
		q := newMailQueue(t, path)
		ctx := context.Background()
		mustMailEnqueue(t, q, mailJob("sent", mailT0), mailJob("dead", mailT0), mailJob("retry", mailT0))
		now := mailT0.Add(time.Second)
		mustMailDue(t, q, now, "dead/0001", "retry/0001", "sent/0001")
		for _, id := range []string{"sent", "dead", "retry"} {
			a, _ := mustMailClaim(t, q, id, now)
			var err error
			switch id {
			case "sent":
				err = q.MarkSent(ctx, id, a, "<m@nomina>", now)
			case "dead":
				err = q.MarkDead(ctx, id, a, "550", now)
			case "retry":
				err = q.MarkRetry(ctx, id, a, "451", now, now.Add(time.Minute))
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		mustMailDue(t, q, now)
		mustMailDue(t, q, now.Add(time.Minute), "retry/0002")
		if err := q.RetryDead(ctx, "dead", now.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		mustMailDue(t, q, now.Add(2*time.Minute), "retry/0002", "dead/0003")
	})
}

// Enqueueing a delivered job again (its event derived twice) sends nothing:
// the stale schedule entry is passed by (the embedded store's list of due
// attempts leaves out finished ones) or removed by the first worker that
// meets it (elsewhere).
func TestMailEnqueueAgainAfterDeliveryIsHarmless(t *testing.T) {
	for name, q := range map[string]*mongostore.MailQueue{
		"file":   storetest.NewStore(t).MailQueue(),
		"driver": mongostore.New(storetest.NewDatabase(t), nil).MailQueue(),
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			j := mailJob("j", mailT0)
			mustMailEnqueue(t, q, j)
			a, _ := mustMailClaim(t, q, "j", mailT0)
			if err := q.MarkSent(ctx, "j", a, "<m@nomina>", mailT0); err != nil {
				t.Fatal(err)
			}
			mustMailEnqueue(t, q, j)
			later := mailT0.Add(time.Hour)
			for _, ref := range mustRefs(t, q, later) {
				_, err := q.Claim(ctx, ref, "w", later, time.Minute)
				wantConflict(t, err, "claim of a delivered job")
			}
			if as := mustClaimAll(t, q, later); len(as) != 0 {
				t.Fatalf("claimed %+v of a delivered job", as)
			}
			mustMailDue(t, q, later)
			if rec := mustMailGet(t, q, "j"); rec.Status != nomination.MailSent || rec.Attempts != 1 {
				t.Fatalf("job after a second enqueue: %+v", rec)
			}
		})
	}
}

// A schedule entry whose job was never written (the enqueue stopped half
// way) is given back at once, then after waits that double, and dropped
// once the job has been missing for an hour; a few dozen attempts at most.
// Should the job be enqueued after all, later, it is still delivered.
func TestMailOrphanScheduleEntryIsRemoved(t *testing.T) {
	forMailPaths(t, func(t *testing.T, path string) {
		db := storetest.NewDatabase(t)
		q := mailQueueOver(t, path, db)
		ctx := context.Background()
		_, err := db.Collection("mail_due").InsertOne(ctx, bson.D{
			{Key: "_id", Value: "ghost/0001"}, {Key: "job_id", Value: "ghost"}, {Key: "attempt", Value: 1}, {Key: "at", Value: mailT0},
		})
		if err != nil {
			t.Fatal(err)
		}
		now, polls := mailT0, 0
		for ; polls < 100; polls++ {
			refs := mustRefs(t, q, now)
			if len(refs) == 0 {
				break
			}
			if now.After(mailT0.Add(2 * time.Hour)) {
				t.Fatalf("at %v the orphan is still due: %v", now, refs)
			}
			for _, ref := range refs {
				if _, err := q.Claim(ctx, ref, "w", now, time.Minute); nomination.ErrorCode(err) != nomination.ENOTFOUND {
					t.Fatalf("claim %s of a missing job at %v: %v, want ENOTFOUND", ref, now, err)
				}
			}
			now = now.Add(2 * time.Second)
			if refs := mustRefs(t, q, now); len(refs) == 0 {
				now = now.Add(time.Minute) // the next is due later: poll on
			}
		}
		if polls < 2 || polls >= 100 {
			t.Fatalf("the orphan took %d polls to be dropped", polls)
		}
		if now.Before(mailT0.Add(time.Hour)) {
			t.Fatalf("the orphan was dropped at %v, before it was an hour old", now)
		}
		mustMailDue(t, q, now.Add(24*time.Hour))
		// The enqueue repeated at last (its event derived again): the job goes
		// out, once.
		later := now.Add(24 * time.Hour)
		mustMailEnqueue(t, q, mailJob("ghost", mailT0))
		sent := 0
		for range 100 {
			for _, a := range mustClaimAll(t, q, later) {
				sent++
				if err := q.MarkSent(ctx, "ghost", a.Number, "<g@nomina>", later); err != nil {
					t.Fatal(err)
				}
			}
			later = later.Add(2 * time.Minute)
		}
		if rec := mustMailGet(t, q, "ghost"); sent != 1 || rec.Status != nomination.MailSent {
			t.Fatalf("the job enqueued again was sent %d time(s): %+v", sent, rec)
		}
	})
}

func mustClaimAll(tb testing.TB, q *mongostore.MailQueue, now time.Time) []nomination.MailAttempt {
	tb.Helper()
	as, err := q.ClaimAll(context.Background(), mustRefs(tb, q, now), "w", now, time.Minute)
	if err != nil {
		tb.Fatal(err)
	}
	return as
}

// A worker that decided to retry but stopped before recording it leaves
// the retry scheduled: the job is attempted again, not lost, and its first
// attempt is not repeated.
func TestMailRetryScheduledBeforeItsResult(t *testing.T) {
	forMailPaths(t, func(t *testing.T, path string) {
		db := storetest.NewDatabase(t)
		q := mailQueueOver(t, path, db)
		ctx := context.Background()
		mustMailEnqueue(t, q, mailJob("j", mailT0))
		mustMailClaim(t, q, "j", mailT0)
		// What MarkRetry writes first, and nothing after it.
		_, err := db.Collection("mail_due").InsertOne(ctx, bson.D{
			{Key: "_id", Value: "j/0002"}, {Key: "job_id", Value: "j"}, {Key: "attempt", Value: 2}, {Key: "at", Value: mailT0.Add(30 * time.Second)},
		})
		if err != nil {
			t.Fatal(err)
		}
		mustMailDue(t, q, mailT0.Add(29*time.Second))
		if a, try := mustMailClaim(t, q, "j", mailT0.Add(30*time.Second)); a != 2 || try != 2 {
			t.Fatalf("claim of the retry: attempt %d try %d, want 2 and 2", a, try)
		}
		if err := q.MarkSent(ctx, "j", 2, "<m@nomina>", mailT0.Add(30*time.Second)); err != nil {
			t.Fatal(err)
		}
		// The first attempt's entry is met after its lease: passed on to
		// attempt 2, which is finished; nothing is claimed.
		later := mailT0.Add(time.Hour)
		for range 3 {
			for _, ref := range mustRefs(t, q, later) {
				if a, err := q.Claim(ctx, ref, "w", later, time.Minute); err == nil {
					t.Fatalf("claimed %s as attempt %d after the job was sent", ref, a.Number)
				}
			}
		}
		mustMailDue(t, q, later)
		if rec := mustMailGet(t, q, "j"); rec.Status != nomination.MailSent || rec.Attempts != 2 {
			t.Fatalf("job: %+v", rec)
		}
	})
}

func mustRefs(tb testing.TB, q *mongostore.MailQueue, now time.Time) []string {
	tb.Helper()
	refs, err := q.Due(context.Background(), now, 100)
	if err != nil {
		tb.Fatal(err)
	}
	return refs
}

func TestMailLog(t *testing.T) {
	forMailPaths(t, func(t *testing.T, path string) {
		q := newMailQueue(t, path)
		ctx := context.Background()
		a := mailJob("a", mailT0)
		b := mailJob("b", mailT0.Add(time.Minute))
		c := mailJob("c", mailT0.Add(2*time.Minute))
		c.NominationID = "n-2"
		mustMailEnqueue(t, q, a, b, c)
		at, _ := mustMailClaim(t, q, "a", mailT0.Add(time.Hour))
		if err := q.MarkDead(ctx, "a", at, "550 no", mailT0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		bt, _ := mustMailClaim(t, q, "b", mailT0.Add(time.Hour))
		if err := q.MarkSent(ctx, "b", bt, "<b@nomina>", mailT0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			nomination, status string
			limit              int
			want               []string
		}{
			{"", "", 0, []string{"c", "b", "a"}},
			{"n-1", "", 0, []string{"b", "a"}},
			{"", nomination.MailDead, 0, []string{"a"}},
			{"", nomination.MailSent, 0, []string{"b"}},
			{"n-1", nomination.MailQueued, 0, nil},
			{"n-2", nomination.MailQueued, 0, []string{"c"}},
			{"", "", 2, []string{"c", "b"}},
		}
		for _, c := range cases {
			t.Run(fmt.Sprintf("nomination=%q status=%q limit=%d", c.nomination, c.status, c.limit), func(t *testing.T) {
				recs, err := q.MailLog(ctx, c.nomination, c.status, c.limit)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, r := range recs {
					got = append(got, r.Job.ID)
				}
				if !reflect.DeepEqual(got, c.want) {
					t.Fatalf("log = %v, want %v", got, c.want)
				}
			})
		}
		t.Run("unknown status", func(t *testing.T) {
			if _, err := q.MailLog(ctx, "", "lost", 0); nomination.ErrorCode(err) != nomination.EINVALID {
				t.Fatalf("error %v, want EINVALID", err)
			}
		})
	})
}

// forMailPaths runs test on the queue as the embedded store's own
// instance has it (reading the store's file) and as every other has it
// (the driver alone).
func forMailPaths(t *testing.T, test func(t *testing.T, path string)) {
	for _, path := range []string{"file", "driver"} {
		t.Run(path, func(t *testing.T) { test(t, path) })
	}
}

// mailQueueOver returns the queue over db on path.
func mailQueueOver(t *testing.T, path string, db *mongo.Database) *mongostore.MailQueue {
	t.Helper()
	if path == "driver" {
		return mongostore.New(db, nil).MailQueue()
	}
	return storetest.Store(t, db, nil).MailQueue()
}

// newMailQueue returns the queue over a fresh database on path.
func newMailQueue(t *testing.T, path string) *mongostore.MailQueue {
	t.Helper()
	return mailQueueOver(t, path, storetest.NewDatabase(t))
}

// Jobs gives every job with its delivery state, the fold of its results
// (a result its job document does not show yet included), and Queued
// counts those waiting for delivery.
func TestMailJobsAndQueued(t *testing.T) {
	st := storetest.NewStore(t)
	q := st.MailQueue()
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		mustMailEnqueue(t, q, mailJob(id, mailT0))
	}
	now := mailT0.Add(time.Second)
	marks := map[string]func(a int) error{
		"a": func(a int) error { return q.MarkSent(ctx, "a", a, "<a@nomina>", now) },
		"b": func(a int) error { return q.MarkDead(ctx, "b", a, "550 no", now) },
		"c": func(a int) error { return q.MarkRetry(ctx, "c", a, "451 later", now, now.Add(time.Hour)) },
	}
	for id, mark := range marks {
		a, _ := mustMailClaim(t, q, id, now)
		if err := mark(a); err != nil {
			t.Fatal(err)
		}
	}
	// e's result is stored, and nothing after it.
	if _, err := st.DB().Collection("mail_results").InsertOne(ctx, bson.D{
		{Key: "_id", Value: "e/0001"}, {Key: "job_id", Value: "e"}, {Key: "attempt", Value: 1},
		{Key: "outcome", Value: "sent"}, {Key: "at", Value: now}, {Key: "status", Value: "sent"},
		{Key: "next_attempt_at", Value: now}, {Key: "message_id", Value: "<e@nomina>"},
	}); err != nil {
		t.Fatal(err)
	}
	recs, err := q.Jobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range recs {
		got[r.Job.ID] = fmt.Sprintf("%s %d %s %s", r.Status, r.Attempts, r.MessageID, r.LastError)
	}
	want := map[string]string{
		"a": "sent 1 <a@nomina> ", "b": "dead 1  550 no", "c": "queued 1  451 later", "d": "queued 0  ", "e": "sent 1 <e@nomina> ",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("jobs %v, want %v", got, want)
	}
	if n, err := q.Queued(ctx); err != nil || n != 2 {
		t.Fatalf("%d queued, %v; want 2", n, err)
	}
	if err := q.RetryDead(ctx, "b", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n, err := q.Queued(ctx); err != nil || n != 3 {
		t.Fatalf("%d queued after a retry, %v; want 3", n, err)
	}
}
