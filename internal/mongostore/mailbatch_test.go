package mongostore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

// claimAllAt has n workers, half of them over their own client, claim every
// due attempt at once, each in its own order, and returns who took which.
func claimAllAt(t *testing.T, db string, q *mongostore.MailQueue, n int, now time.Time, lease time.Duration) map[string][]string {
	t.Helper()
	refs, err := q.Due(context.Background(), now, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	takenBy := map[string][]string{}
	for i := range n {
		wq := q
		if i%2 == 1 {
			wq = mongostore.New(storetest.Connect(t, db), nil).MailQueue()
		}
		mine := append([]string(nil), refs...)
		rand.New(rand.NewPCG(uint64(i), 7)).Shuffle(len(mine), func(a, b int) { mine[a], mine[b] = mine[b], mine[a] })
		wg.Go(func() {
			worker := fmt.Sprintf("w%d", i)
			got, err := wq.ClaimAll(context.Background(), mine, worker, now, lease)
			if err != nil {
				t.Errorf("%s: claim all: %v", worker, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, a := range got {
				key := fmt.Sprintf("%s/%d", a.Record.Job.ID, a.Number)
				takenBy[key] = append(takenBy[key], worker)
			}
		})
	}
	wg.Wait()
	return takenBy
}

// Ten workers claim the same forty due attempts at once, in batches, on
// the embedded store whose conditional updates are not atomic: each
// attempt goes to exactly one of them; while the leases last nobody takes
// one again; once they ran out (the workers stopped), each is taken over
// as the job's next attempt by exactly one worker.
func TestMailClaimAllIsExclusive(t *testing.T) {
	forMailPaths(t, func(t *testing.T, path string) {
		db := storetest.NewDatabase(t)
		q := mailQueueOver(t, path, db)
		const jobs = 40
		for i := range jobs {
			mustMailEnqueue(t, q, mailJob(fmt.Sprintf("j%02d", i), mailT0))
		}
		check := func(takenBy map[string][]string, attempt int) {
			t.Helper()
			if len(takenBy) != jobs {
				t.Fatalf("%d attempts taken, want %d", len(takenBy), jobs)
			}
			for i := range jobs {
				key := fmt.Sprintf("j%02d/%d", i, attempt)
				if len(takenBy[key]) != 1 {
					t.Errorf("attempt %s taken by %v, want exactly one worker", key, takenBy[key])
				}
			}
		}
		check(claimAllAt(t, db.Name(), q, 10, mailT0, time.Minute), 1)
		if again := claimAllAt(t, db.Name(), q, 4, mailT0.Add(59*time.Second), time.Minute); len(again) != 0 {
			t.Fatalf("attempts taken again while their leases lasted: %v", again)
		}
		check(claimAllAt(t, db.Name(), q, 10, mailT0.Add(61*time.Second), time.Minute), 2)
		rec := mustMailGet(t, q, "j00")
		if rec.Status != nomination.MailQueued {
			t.Fatalf("taken-over job: %+v", rec)
		}
	})
}

// One Record call writes the outcomes of a batch: sent, failed for now,
// failed for good, and given back unmade (the next attempt makes the same
// try). Recording the same outcomes again changes nothing.
func TestMailRecordBatch(t *testing.T) {
	forMailPaths(t, func(t *testing.T, path string) {
		q := newMailQueue(t, path)
		ctx := context.Background()
		ids := []string{"sent", "retry", "dead", "released"}
		for _, id := range ids {
			mustMailEnqueue(t, q, mailJob(id, mailT0))
		}
		refs, err := q.Due(ctx, mailT0, 100)
		if err != nil {
			t.Fatal(err)
		}
		as, err := q.ClaimAll(ctx, refs, "w", mailT0, time.Minute)
		if err != nil || len(as) != 4 {
			t.Fatalf("claimed %d (%v), want 4", len(as), err)
		}
		at, next := mailT0.Add(time.Second), mailT0.Add(time.Hour)
		outcomes := []nomination.MailOutcome{
			{JobID: "sent", Attempt: 1, Try: 1, Status: nomination.MailSent, MessageID: "<s@nomina>", At: at},
			{JobID: "retry", Attempt: 1, Try: 1, Status: nomination.MailQueued, Reply: "451 later", At: at, Next: next},
			{JobID: "dead", Attempt: 1, Try: 1, Status: nomination.MailDead, Reply: "550 no such user", At: at},
			{JobID: "released", Attempt: 1, Try: 1, Status: nomination.MailQueued, Released: true, Reply: "not attempted", At: at, Next: at},
		}
		for round := range 2 {
			if err := q.Record(ctx, outcomes); err != nil {
				t.Fatalf("record (round %d): %v", round, err)
			}
			if r := mustMailGet(t, q, "sent"); r.Status != nomination.MailSent || r.Attempts != 1 || r.MessageID != "<s@nomina>" || !r.SentAt.Equal(at) {
				t.Fatalf("sent: %+v", r)
			}
			if r := mustMailGet(t, q, "retry"); r.Status != nomination.MailQueued || !r.NextAttemptAt.Equal(next) || !strings.Contains(r.LastError, "451") {
				t.Fatalf("retry: %+v", r)
			}
			if r := mustMailGet(t, q, "dead"); r.Status != nomination.MailDead || !strings.Contains(r.LastError, "550") {
				t.Fatalf("dead: %+v", r)
			}
			if r := mustMailGet(t, q, "released"); r.Status != nomination.MailQueued || r.Attempts != 1 {
				t.Fatalf("released: %+v", r)
			}
			mustMailDue(t, q, at, "released/0002")
			mustMailDue(t, q, next, "released/0002", "retry/0002")
		}
		as, err = q.ClaimAll(ctx, []string{"released/0002"}, "w", at, time.Minute)
		if err != nil || len(as) != 1 || as[0].Number != 2 || as[0].Try != 1 {
			t.Fatalf("the released job's next attempt: %+v (%v), want attempt 2, try 1", as, err)
		}
		if err := q.Record(ctx, []nomination.MailOutcome{{JobID: "x", Attempt: 1, Status: "lost"}}); nomination.ErrorCode(err) != nomination.EINVALID {
			t.Fatalf("unknown status: %v, want EINVALID", err)
		}
	})
}

// A worker gives a batch back unmade while another worker, as fast as it
// can, takes each job's next attempt and records it sent. The slower
// record of the first batch must never write its older state over the
// newer one: every job ends sent, with nothing due, and none is left
// looking queued with no attempt scheduled (a mail that would never go).
func TestMailReleasedBatchDoesNotOverwriteLaterAttempts(t *testing.T) {
	forMailPaths(t, func(t *testing.T, path string) {
		db := storetest.NewDatabase(t)
		q := mailQueueOver(t, path, db)
		other := mongostore.New(storetest.Connect(t, db.Name()), nil).MailQueue()
		ctx := context.Background()
		const jobs = 60
		released, at := claimToRelease(t, q, jobs)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		sent := map[string]bool{}
		wg.Go(func() {
			later := at.Add(time.Second)
			for len(sent) < jobs {
				select {
				case <-stop:
					return
				default:
				}
				refs, err := other.Due(ctx, later, 1000)
				if err != nil {
					t.Errorf("due: %v", err)
					return
				}
				if len(refs) == 0 {
					continue
				}
				// One at a time, the last of the slow batch first: its record
				// reaches that job last.
				got, err := other.ClaimAll(ctx, refs[len(refs)-1:], "fast", later, time.Minute)
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				out := make([]nomination.MailOutcome, 0, len(got))
				for _, a := range got {
					out = append(out, nomination.MailOutcome{JobID: a.Record.Job.ID, Attempt: a.Number, Try: a.Try,
						Status: nomination.MailSent, MessageID: "<" + a.Record.Job.ID + "@nomina>", At: later})
				}
				if err := other.Record(ctx, out); err != nil {
					t.Errorf("record sent: %v", err)
					return
				}
				for _, a := range got {
					sent[a.Record.Job.ID] = true
				}
			}
		})
		if err := q.Record(ctx, released); err != nil {
			t.Fatalf("record released: %v", err)
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			close(stop)
			wg.Wait()
			t.Fatalf("%d of %d jobs taken again and sent", len(sent), jobs)
		}
		for i := range jobs {
			id := fmt.Sprintf("r%02d", i)
			if r := mustMailGet(t, q, id); r.Status != nomination.MailSent || r.Attempts != 2 {
				t.Errorf("%s: status %s after %d attempt(s), want sent after 2", id, r.Status, r.Attempts)
			}
		}
		mustMailDue(t, q, at.Add(time.Hour))
	})
}

// claimToRelease enqueues jobs r00, r01, … due at mailT0, claims them all
// as worker "slow" and returns the outcomes that give every attempt back
// unmade (due again at once), and when they were made.
func claimToRelease(t *testing.T, q *mongostore.MailQueue, jobs int) ([]nomination.MailOutcome, time.Time) {
	t.Helper()
	ctx := context.Background()
	for i := range jobs {
		mustMailEnqueue(t, q, mailJob(fmt.Sprintf("r%02d", i), mailT0))
	}
	refs, err := q.Due(ctx, mailT0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	as, err := q.ClaimAll(ctx, refs, "slow", mailT0, time.Minute)
	if err != nil || len(as) != jobs {
		t.Fatalf("claimed %d (%v), want %d", len(as), err, jobs)
	}
	at := mailT0.Add(time.Second)
	released := make([]nomination.MailOutcome, len(as))
	for i, a := range as {
		released[i] = nomination.MailOutcome{JobID: a.Record.Job.ID, Attempt: a.Number, Try: a.Try,
			Status: nomination.MailQueued, Released: true, Reply: "not attempted", At: at, Next: at}
	}
	return released, at
}
