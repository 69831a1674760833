package mail_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/igf/nomina/internal/mail"
	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

// overloadedQueue is the store's queue under a load that makes recording
// more than most outcomes at once outlast its time limit: such a try
// writes the first half of its outcomes (a command cut off part-way), then
// runs out of time, and the store then answers it with its own error for
// the expired deadline.
type overloadedQueue struct {
	*mongostore.MailQueue
	most  int
	mu    sync.Mutex
	sizes []int
}

func (o *overloadedQueue) Record(ctx context.Context, outcomes []nomination.MailOutcome) error {
	o.mu.Lock()
	o.sizes = append(o.sizes, len(outcomes))
	o.mu.Unlock()
	// What the store records, it records whatever the worker's time limit
	// (a loaded machine must not change which tries run out of time).
	if len(outcomes) <= o.most {
		return o.MailQueue.Record(context.WithoutCancel(ctx), outcomes)
	}
	if err := o.MailQueue.Record(context.WithoutCancel(ctx), outcomes[:len(outcomes)/2]); err != nil {
		return err
	}
	<-ctx.Done()
	return o.MailQueue.Record(ctx, outcomes)
}

func (o *overloadedQueue) tries() []int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.sizes)
}

// A batch whose recording runs out of time is recorded in halves, down to
// pieces the store can record in time: every outcome is recorded, each
// message sent once, and nothing is sent again after the lease.
func TestDeliveryRecordsInSmallerPiecesAfterATimeout(t *testing.T) {
	srv := startSMTP(t)
	q := storetest.NewStore(t).MailQueue()
	clock := newClock()
	var jobs []nomination.MailJob
	for i := range 12 {
		jobs = append(jobs, testJob(i, fmt.Sprintf("p%d@example.org", i), t0))
	}
	mustEnqueue(t, q, jobs...)
	oq := &overloadedQueue{MailQueue: q, most: 3}
	w := mustWorker(t, oq, srv, clock.Now, 3, func(ws *workerSetup) { ws.opts.Batch = 12 })
	mail.SetRecordTimeout(w, 300*time.Millisecond)
	if n, err := w.RunOnce(context.Background()); n != 12 || err != nil {
		t.Fatalf("attempted %d, %v; want 12 recorded without an error", n, err)
	}
	if got, want := fmt.Sprint(oq.tries()), "[12 6 3 3 6 3 3]"; got != want {
		t.Fatalf("tries of %s outcomes, want %s", got, want)
	}
	clock.Advance(5*time.Minute + time.Second)
	if n := drain(t, w); n != 0 {
		t.Fatalf("%d attempted again after the lease", n)
	}
	counts := srv.countByMessageID()
	for _, j := range jobs {
		if n := counts[mail.MessageID(j.ID)]; n != 1 {
			t.Errorf("%s delivered %d times", j.ID, n)
		}
		if rec := mustRecord(t, q, j.ID); rec.Status != nomination.MailSent || rec.Attempts != 1 {
			t.Errorf("%s: %+v, want sent after 1 attempt", j.ID, rec)
		}
	}
	if len(srv.messages()) != len(jobs) {
		t.Fatalf("server holds %d messages, want %d", len(srv.messages()), len(jobs))
	}
}

// An outcome that cannot be recorded even on its own is left, with the
// store's error for the poll (its attempt is taken over after its lease),
// and the others are still tried.
func TestDeliveryRecordGivesUpOnASingleOutcome(t *testing.T) {
	srv := startSMTP(t)
	q := storetest.NewStore(t).MailQueue()
	clock := newClock()
	mustEnqueue(t, q, testJob(1, "p1@example.org", t0), testJob(2, "p2@example.org", t0))
	oq := &overloadedQueue{MailQueue: q, most: 0}
	w := mustWorker(t, oq, srv, clock.Now, 4)
	mail.SetRecordTimeout(w, 100*time.Millisecond)
	_, err := w.RunOnce(context.Background())
	if err == nil || !strings.Contains(err.Error(), "record mail outcomes") || nomination.ErrorCode(err) != nomination.EUNAVAILABLE {
		t.Fatalf("poll: %v, want the store's timeout recording outcomes", err)
	}
	if got, want := fmt.Sprint(oq.tries()), "[2 1 1]"; got != want {
		t.Fatalf("tries of %s outcomes, want %s", got, want)
	}
}

// leaseEater is an overloaded queue whose slow tries also take the rest of
// the lease (by the worker's clock).
type leaseEater struct {
	*overloadedQueue
	clock *fakeClock
}

func (l *leaseEater) Record(ctx context.Context, outcomes []nomination.MailOutcome) error {
	if len(outcomes) > l.most {
		l.clock.Advance(5 * time.Minute)
	}
	return l.overloadedQueue.Record(ctx, outcomes)
}

// Recording stops when the lease (less the clocks' margin) has run out:
// the outcomes left are not tried, and the poll says how many.
func TestDeliveryRecordStopsWhenTheLeaseRunsOut(t *testing.T) {
	srv := startSMTP(t)
	q := storetest.NewStore(t).MailQueue()
	clock := newClock()
	var jobs []nomination.MailJob
	for i := range 4 {
		jobs = append(jobs, testJob(i, fmt.Sprintf("p%d@example.org", i), t0))
	}
	mustEnqueue(t, q, jobs...)
	oq := &leaseEater{overloadedQueue: &overloadedQueue{MailQueue: q, most: 1}, clock: clock}
	w := mustWorker(t, oq, srv, clock.Now, 5)
	mail.SetRecordTimeout(w, 100*time.Millisecond)
	_, err := w.RunOnce(context.Background())
	if err == nil || !strings.Contains(err.Error(), "4 outcomes not recorded: their lease ran out") {
		t.Fatalf("poll: %v, want the lease run out with 4 outcomes left", err)
	}
	if got, want := fmt.Sprint(oq.tries()), "[4]"; got != want {
		t.Fatalf("tries of %s outcomes, want %s", got, want)
	}
}
