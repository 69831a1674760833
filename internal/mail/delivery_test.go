package mail_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/igf/nomina/internal/mail"
	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// The store's queue is what workers run on.
var _ mail.Queue = (*mongostore.MailQueue)(nil)

const (
	testFrom = "Nomina <nomina@example.org>"
	testBase = "https://nomina.example.org"
)

var t0 = time.Date(2026, 2, 2, 9, 0, 0, 0, time.UTC)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testJob(i int, to string, at time.Time) nomination.MailJob {
	return nomination.MailJob{
		ID:              fmt.Sprintf("n-%d/000002/notice/u-%d", i, i),
		Template:        "notice",
		To:              to,
		Name:            fmt.Sprintf("Person %d", i),
		NominationID:    fmt.Sprintf("n-%d", i),
		CallSlug:        "mag-2026",
		CallTitle:       "MAG 2026",
		CallClosesAt:    time.Date(2026, 3, 31, 23, 59, 0, 0, time.UTC),
		NominationState: "submitted",
		NomineeName:     "Grace Hopper",
		Fields:          map[string]any{"organization": "Example Foundation"},
		Links:           map[string]string{"nomination": fmt.Sprintf("/nominations/n-%d", i)},
		CreatedAt:       at,
	}
}

func mustEnqueue(tb testing.TB, q *mongostore.MailQueue, jobs ...nomination.MailJob) {
	tb.Helper()
	for _, j := range jobs {
		if err := q.Enqueue(context.Background(), j); err != nil {
			tb.Fatalf("enqueue %s: %v", j.ID, err)
		}
	}
}

func mustRecord(tb testing.TB, q *mongostore.MailQueue, id string) nomination.MailRecord {
	tb.Helper()
	r, err := q.Get(context.Background(), id)
	if err != nil {
		tb.Fatalf("get %s: %v", id, err)
	}
	return r
}

type workerSetup struct {
	opts  mail.WorkerOptions
	sopts mail.SenderOptions
	host  string
}

// mustWorker returns a worker on q sending to srv, with its own connection.
func mustWorker(tb testing.TB, q mail.Queue, srv *smtpServer, clock func() time.Time, seed uint64, change ...func(*workerSetup)) *mail.Worker {
	tb.Helper()
	ws := workerSetup{
		opts: mail.WorkerOptions{
			ID: fmt.Sprintf("w%d", seed), From: testFrom, BaseURL: testBase,
			Clock: clock, Float64: rand.New(rand.NewPCG(seed, 99)).Float64,
			Lease: 5 * time.Minute, Logger: quiet(),
		},
		sopts: mail.SenderOptions{Timeout: 10 * time.Second},
		host:  "127.0.0.1",
	}
	for _, c := range change {
		c(&ws)
	}
	port := 0
	fmt.Sscanf(srv.port(), "%d", &port)
	s, err := mail.NewSender(mail.SMTPServer{Host: ws.host, Port: port}, ws.sopts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	w, err := mail.NewWorker(q, mustTemplates(tb), s, ws.opts)
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

// drain polls until a poll attempts nothing, and returns the attempts.
func drain(tb testing.TB, w *mail.Worker) int {
	tb.Helper()
	total := 0
	for i := 0; i < 100; i++ {
		n, err := w.RunOnce(context.Background())
		if err != nil {
			tb.Fatalf("poll: %v", err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
	tb.Fatal("the queue never drained")
	return total
}

func TestDeliverySendsEachJobOnceWithItsMessageID(t *testing.T) {
	srv := startSMTP(t)
	q := storetest.NewStore(t).MailQueue()
	clock := newClock()
	var jobs []nomination.MailJob
	for i := range 5 {
		jobs = append(jobs, testJob(i, fmt.Sprintf("p%d@example.org", i), t0))
	}
	mustEnqueue(t, q, jobs...)
	w := mustWorker(t, q, srv, clock.Now, 1)
	if n := drain(t, w); n != 5 {
		t.Fatalf("attempted %d, want 5", n)
	}
	got := srv.messages()
	if len(got) != 5 {
		t.Fatalf("server received %d messages, want 5", len(got))
	}
	byID := map[string]received{}
	for _, m := range got {
		byID[m.MessageID] = m
	}
	for _, j := range jobs {
		rec := mustRecord(t, q, j.ID)
		if rec.Status != nomination.MailSent || rec.Attempts != 1 || !rec.SentAt.Equal(t0) {
			t.Errorf("%s: %+v, want sent at %v after 1 attempt", j.ID, rec, t0)
		}
		id := mail.MessageID(j.ID)
		if rec.MessageID != id {
			t.Errorf("%s: stored Message-ID %q, want %q", j.ID, rec.MessageID, id)
		}
		m, ok := byID[id]
		if !ok {
			t.Errorf("%s: no message with Message-ID %s", j.ID, id)
			continue
		}
		if len(m.To) != 1 || m.To[0] != j.To {
			t.Errorf("%s: envelope recipients %v", j.ID, m.To)
		}
		if got := m.Header.Get("Subject"); got != "MAG 2026: the nomination of Grace Hopper is submitted" {
			t.Errorf("%s: subject %q", j.ID, got)
		}
		if !bytes.Contains(m.Data, []byte(testBase+"/nominations/"+j.NominationID)) {
			t.Errorf("%s: message lacks its absolute link:\n%s", j.ID, m.Data)
		}
		if !strings.HasPrefix(m.Header.Get("Content-Type"), "multipart/alternative") {
			t.Errorf("%s: content type %q, want text and HTML alternatives", j.ID, m.Header.Get("Content-Type"))
		}
	}
	srv.mu.Lock()
	sessions := srv.sessions
	srv.mu.Unlock()
	if sessions != 1 {
		t.Errorf("worker opened %d connections for 5 messages, want 1", sessions)
	}
}

func TestDeliveryFaults(t *testing.T) {
	t.Run("451 is retried after a backoff and delivered once", func(t *testing.T) {
		srv := startSMTP(t)
		q := storetest.NewStore(t).MailQueue()
		clock := newClock()
		j := testJob(1, "busy@example.org", t0)
		mustEnqueue(t, q, j)
		srv.inject(j.To, reply451)
		w := mustWorker(t, q, srv, clock.Now, 2)
		if n := drain(t, w); n != 1 {
			t.Fatalf("attempted %d, want 1", n)
		}
		rec := mustRecord(t, q, j.ID)
		if rec.Status != nomination.MailQueued || rec.Attempts != 1 || !strings.Contains(rec.LastError, "451") {
			t.Fatalf("after 451: %+v", rec)
		}
		if wait := rec.NextAttemptAt.Sub(t0); wait < 30*time.Second || wait > time.Minute {
			t.Fatalf("next attempt in %v, want 30s to 1m", wait)
		}
		if n := drain(t, w); n != 0 {
			t.Fatalf("retried %d before the backoff ran out", n)
		}
		clock.Advance(time.Minute)
		if n := drain(t, w); n != 1 {
			t.Fatalf("attempted %d after the backoff, want 1", n)
		}
		if got := srv.countByMessageID()[mail.MessageID(j.ID)]; got != 1 || len(srv.messages()) != 1 {
			t.Fatalf("delivered %d times (%d messages), want once", got, len(srv.messages()))
		}
		if rec := mustRecord(t, q, j.ID); rec.Status != nomination.MailSent || rec.Attempts != 2 {
			t.Fatalf("after retry: %+v", rec)
		}
	})

	t.Run("550 makes the job dead with the reply, until retried by hand", func(t *testing.T) {
		srv := startSMTP(t)
		q := storetest.NewStore(t).MailQueue()
		clock := newClock()
		j := testJob(2, "gone@example.org", t0)
		mustEnqueue(t, q, j)
		srv.inject(j.To, reply550)
		w := mustWorker(t, q, srv, clock.Now, 3)
		drain(t, w)
		rec := mustRecord(t, q, j.ID)
		if rec.Status != nomination.MailDead || !strings.Contains(rec.LastError, "550") || !strings.Contains(rec.LastError, "Mailbox unavailable") {
			t.Fatalf("after 550: %+v", rec)
		}
		clock.Advance(24 * time.Hour)
		if n := drain(t, w); n != 0 || len(srv.messages()) != 0 {
			t.Fatalf("a dead job was attempted again (%d) or delivered (%d)", n, len(srv.messages()))
		}
		log, err := q.MailLog(context.Background(), j.NominationID, nomination.MailDead, 0)
		if err != nil || len(log) != 1 || log[0].Job.ID != j.ID || log[0].LastError != rec.LastError {
			t.Fatalf("mail log of dead jobs = %+v, %v", log, err)
		}
		if err := q.RetryDead(context.Background(), j.ID, clock.Now()); err != nil {
			t.Fatalf("retry: %v", err)
		}
		if n := drain(t, w); n != 1 {
			t.Fatalf("attempted %d after the retry, want 1", n)
		}
		if got := srv.countByMessageID()[mail.MessageID(j.ID)]; got != 1 {
			t.Fatalf("delivered %d times, want once", got)
		}
	})

	t.Run("a connection dropped mid-send is retried on a new connection", func(t *testing.T) {
		srv := startSMTP(t)
		q := storetest.NewStore(t).MailQueue()
		clock := newClock()
		jobs := []nomination.MailJob{testJob(1, "a@example.org", t0), testJob(2, "drop@example.org", t0), testJob(3, "c@example.org", t0)}
		mustEnqueue(t, q, jobs...)
		srv.inject("drop@example.org", dropConn)
		w := mustWorker(t, q, srv, clock.Now, 4)
		drain(t, w)
		rec := mustRecord(t, q, jobs[1].ID)
		if rec.Status != nomination.MailQueued || rec.Attempts != 1 || rec.LastError == "" {
			t.Fatalf("after the drop: %+v", rec)
		}
		clock.Advance(time.Minute)
		drain(t, w)
		counts := srv.countByMessageID()
		for _, j := range jobs {
			if counts[mail.MessageID(j.ID)] != 1 {
				t.Errorf("%s delivered %d times, want once", j.ID, counts[mail.MessageID(j.ID)])
			}
			if rec := mustRecord(t, q, j.ID); rec.Status != nomination.MailSent {
				t.Errorf("%s: %+v", j.ID, rec)
			}
		}
		if len(srv.messages()) != 3 {
			t.Fatalf("server holds %d messages, want 3", len(srv.messages()))
		}
	})

	t.Run("too many temporary failures make the job dead", func(t *testing.T) {
		srv := startSMTP(t)
		q := storetest.NewStore(t).MailQueue()
		clock := newClock()
		j := testJob(1, "busy@example.org", t0)
		mustEnqueue(t, q, j)
		srv.inject(j.To, reply451, reply451, reply451, reply451)
		w := mustWorker(t, q, srv, clock.Now, 5, func(ws *workerSetup) { ws.opts.MaxAttempts = 3 })
		for range 5 {
			drain(t, w)
			clock.Advance(time.Hour)
		}
		rec := mustRecord(t, q, j.ID)
		if rec.Status != nomination.MailDead || rec.Attempts != 3 || !strings.Contains(rec.LastError, "451") {
			t.Fatalf("after 3 temporary failures: %+v", rec)
		}
		if len(srv.messages()) != 0 {
			t.Fatalf("delivered %d", len(srv.messages()))
		}
	})

	t.Run("a template that fails to render makes the job dead", func(t *testing.T) {
		srv := startSMTP(t)
		q := storetest.NewStore(t).MailQueue()
		j := testJob(1, "a@example.org", t0)
		j.Links = nil
		k := testJob(2, "b@example.org", t0)
		k.Template = "no_such_template"
		mustEnqueue(t, q, j, k)
		drain(t, mustWorker(t, q, srv, newClock().Now, 6))
		for _, id := range []string{j.ID, k.ID} {
			if rec := mustRecord(t, q, id); rec.Status != nomination.MailDead || rec.LastError == "" {
				t.Errorf("%s: %+v", id, rec)
			}
		}
	})
}

func TestDeliveryOutageThenRecovery(t *testing.T) {
	srv := startSMTP(t)
	q := storetest.NewStore(t).MailQueue()
	clock := newClock()
	w := mustWorker(t, q, srv, clock.Now, 7)
	first := testJob(0, "first@example.org", t0)
	mustEnqueue(t, q, first)
	drain(t, w) // the worker now holds an open connection

	srv.stop()
	var jobs []nomination.MailJob
	for i := 1; i <= 20; i++ {
		jobs = append(jobs, testJob(i, fmt.Sprintf("p%d@example.org", i), clock.Now()))
	}
	mustEnqueue(t, q, jobs...)
	for range 5 {
		_, err := w.RunOnce(context.Background())
		if err == nil {
			t.Fatal("poll succeeded with the server down")
		}
		clock.Advance(time.Minute)
	}
	spent := 0
	for _, j := range jobs {
		spent += mustRecord(t, q, j.ID).Attempts
	}
	// At most the message that found the old connection dead spent an
	// attempt; the others were never claimed while the server was down.
	if spent > 1 {
		t.Fatalf("%d attempts spent while the server was down, want at most 1", spent)
	}

	srv.restart()
	for range 3 {
		drain(t, w)
		clock.Advance(time.Hour)
	}
	counts := srv.countByMessageID()
	for _, j := range append(jobs, first) {
		if counts[mail.MessageID(j.ID)] != 1 {
			t.Errorf("%s delivered %d times, want once", j.ID, counts[mail.MessageID(j.ID)])
		}
	}
	if len(srv.messages()) != 21 {
		t.Fatalf("server holds %d messages, want 21", len(srv.messages()))
	}
}

// The server goes down in the middle of a batch: the message it was
// receiving is tried again after a backoff, those it accepted are recorded
// as sent, and the rest are given back unmade, due at once; once the
// server is back every message is delivered, and none twice.
func TestDeliveryOutageMidBatchLosesNothingAndDoublesNothing(t *testing.T) {
	srv := startSMTP(t)
	q := storetest.NewStore(t).MailQueue()
	clock := newClock()
	var jobs []nomination.MailJob
	for i := range 10 {
		jobs = append(jobs, testJob(i, fmt.Sprintf("p%d@example.org", i), t0))
	}
	mustEnqueue(t, q, jobs...)
	srv.goDownAt(5)
	w := mustWorker(t, q, srv, clock.Now, 31)
	if _, err := w.RunOnce(context.Background()); err == nil {
		t.Fatal("the batch went on as if the server were up")
	}
	accepted := srv.countByMessageID()
	if len(accepted) != 4 {
		t.Fatalf("%d messages accepted before the outage, want 4", len(accepted))
	}
	released, cut := 0, 0
	for _, j := range jobs {
		rec := mustRecord(t, q, j.ID)
		switch {
		case rec.LastError != "":
			cut++
			if rec.Status != nomination.MailQueued || rec.Attempts != 1 || !rec.NextAttemptAt.After(t0) {
				t.Errorf("the message cut off: %+v, want queued for a later try", rec)
			}
		case accepted[mail.MessageID(j.ID)] == 1:
			if rec.Status != nomination.MailSent {
				t.Errorf("%s accepted but recorded %+v", j.ID, rec)
			}
		default:
			released++
			if rec.Status != nomination.MailQueued || rec.Attempts != 1 || !rec.NextAttemptAt.Equal(t0) {
				t.Errorf("%s not sent: %+v, want given back, due at once", j.ID, rec)
			}
		}
	}
	if cut != 1 || released != 5 {
		t.Fatalf("%d messages cut off and %d given back, want 1 and 5", cut, released)
	}
	srv.restart()
	drain(t, w)
	clock.Advance(time.Hour)
	drain(t, w)
	counts := srv.countByMessageID()
	for _, j := range jobs {
		if counts[mail.MessageID(j.ID)] != 1 {
			t.Errorf("%s delivered %d times, want once", j.ID, counts[mail.MessageID(j.ID)])
		}
		if rec := mustRecord(t, q, j.ID); rec.Status != nomination.MailSent {
			t.Errorf("%s: %+v", j.ID, rec)
		}
	}
	if len(srv.messages()) != len(jobs) {
		t.Fatalf("server holds %d messages, want %d", len(srv.messages()), len(jobs))
	}
}

// crashingQueue loses the outcomes of the batch that holds one job's
// attempt, as a process killed between the server's acceptance and the
// store's write would.
type crashingQueue struct {
	mail.Queue
	jobID string
	lost  []string // the jobs whose outcomes were lost
}

var errCrash = errors.New("process killed")

func (c *crashingQueue) Record(ctx context.Context, outcomes []nomination.MailOutcome) error {
	for _, o := range outcomes {
		if o.JobID == c.jobID {
			for _, o := range outcomes {
				c.lost = append(c.lost, o.JobID)
			}
			return errCrash
		}
	}
	return c.Queue.Record(ctx, outcomes)
}

func TestDeliveryCrashAfterAcceptanceResendsOnlyTheUnrecordedMessagesOnce(t *testing.T) {
	srv := startSMTP(t)
	db := storetest.NewDatabase(t)
	q := mongostore.New(db, nil).MailQueue()
	clock := newClock()
	var jobs []nomination.MailJob
	for i := range 6 {
		jobs = append(jobs, testJob(i, fmt.Sprintf("p%d@example.org", i), t0))
	}
	mustEnqueue(t, q, jobs...)
	victim := jobs[2]

	// Batches of two: the crash loses one batch's outcomes, not all.
	cq := &crashingQueue{Queue: q, jobID: victim.ID}
	w1 := mustWorker(t, cq, srv, clock.Now, 8, func(ws *workerSetup) { ws.opts.Batch = 2 })
	for range 10 {
		if _, err := w1.RunOnce(context.Background()); errors.Is(err, errCrash) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if len(cq.lost) != 2 {
		t.Fatalf("the crash lost the outcomes of %v, want a batch of two", cq.lost)
	}
	lost := map[string]bool{}
	for _, id := range cq.lost {
		lost[id] = true
		if got := srv.countByMessageID()[mail.MessageID(id)]; got != 1 {
			t.Fatalf("%s was accepted %d times before the crash, want 1", id, got)
		}
	}

	// A new instance with its own store client starts.
	q2 := mongostore.New(storetest.Connect(t, db.Name()), nil).MailQueue()
	w2 := mustWorker(t, q2, srv, clock.Now, 9)
	drain(t, w2)
	for id := range lost {
		if got := srv.countByMessageID()[mail.MessageID(id)]; got != 1 {
			t.Fatalf("%s resent before the crashed attempt's lease ran out (%d copies)", id, got)
		}
	}
	clock.Advance(5*time.Minute + time.Second)
	drain(t, w2)
	clock.Advance(time.Hour)
	drain(t, w2)

	counts := srv.countByMessageID()
	for _, j := range jobs {
		want, attempts := 1, 1
		if lost[j.ID] {
			want, attempts = 2, 2
		}
		if counts[mail.MessageID(j.ID)] != want {
			t.Errorf("%s delivered %d times, want %d", j.ID, counts[mail.MessageID(j.ID)], want)
		}
		if rec := mustRecord(t, q2, j.ID); rec.Status != nomination.MailSent || rec.Attempts != attempts || rec.MessageID != mail.MessageID(j.ID) {
			t.Errorf("%s: %+v, want sent after %d attempts", j.ID, rec, attempts)
		}
	}
	if len(srv.messages()) != len(jobs)+len(lost) {
		t.Fatalf("server holds %d messages, want %d", len(srv.messages()), len(jobs)+len(lost))
	}
}

func TestDeliveryThreeInstancesDeliverEachJobExactlyOnce(t *testing.T) {
	srv := startSMTP(t)
	db := storetest.NewDatabase(t)
	q := mongostore.New(db, nil).MailQueue()
	const total = 300
	want := map[string]bool{}
	now := time.Now()
	for i := range total {
		j := testJob(i, fmt.Sprintf("p%d@example.org", i), now)
		mustEnqueue(t, q, j)
		want[mail.MessageID(j.ID)] = true
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	workers := make([]*mail.Worker, 3)
	for i := range workers {
		wq := mongostore.New(storetest.Connect(t, db.Name()), nil).MailQueue()
		w := mustWorker(t, wq, srv, time.Now, uint64(10+i), func(ws *workerSetup) {
			ws.opts.PollInterval = 20 * time.Millisecond
			ws.opts.Batch = 25
		})
		workers[i] = w
		wg.Go(func() {
			if err := w.Run(ctx); err != nil {
				t.Errorf("worker: %v", err)
			}
		})
	}
	// Every job delivered and recorded as sent.
	waitUntil(t, 3*time.Minute, "every job recorded as sent", func() bool {
		if len(srv.messages()) < total {
			return false // the store is asked only once the server has them all
		}
		sent, err := q.MailLog(context.Background(), "", nomination.MailSent, 1000)
		return err == nil && len(sent) == total
	})
	cancel()
	wg.Wait()
	// Each worker polls once more: there is nothing left to send.
	for i, w := range workers {
		if n, err := w.RunOnce(context.Background()); n != 0 || err != nil {
			t.Errorf("worker %d sent %d more (%v) after every job was sent", i, n, err)
		}
	}

	counts := srv.countByMessageID()
	for id, n := range counts {
		if !want[id] {
			t.Errorf("unexpected message %s", id)
		}
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	if len(counts) != total || len(srv.messages()) != total {
		t.Fatalf("%d distinct messages, %d in all; want %d each", len(counts), len(srv.messages()), total)
	}
	sent, err := q.MailLog(context.Background(), "", nomination.MailSent, 1000)
	if err != nil || len(sent) != total {
		t.Fatalf("%d jobs marked sent (%v), want %d", len(sent), err, total)
	}
}

func TestDeliveryHeaderInjection(t *testing.T) {
	cases := []struct {
		name    string
		to      string
		rcpt    string
		nominee string
		dead    bool
	}{
		{name: "CR LF and Bcc in the display name", to: "eve@example.org", rcpt: "Eve\r\nBcc: victim@example.org"},
		{name: "LF alone and a header in the display name", to: "eve@example.org", rcpt: "Eve\nX-Evil: 1\nBcc: victim@example.org"},
		{name: "Bcc text without a line break", to: "eve@example.org", rcpt: "Bcc: victim@example.org"},
		{name: "quotes and angle brackets in the name", to: "eve@example.org", rcpt: `"Eve" <victim@example.org>, x`},
		{name: "CR LF and Bcc in the subject", to: "eve@example.org", rcpt: "Eve", nominee: "Grace\r\nBcc: victim@example.org\r\nX-Evil: 1"},
		{name: "CR LF in the address", to: "eve@example.org\r\nBcc: victim@example.org", rcpt: "Eve", dead: true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := startSMTP(t)
			q := storetest.NewStore(t).MailQueue()
			j := testJob(i, c.to, t0)
			j.Name = c.rcpt
			if c.nominee != "" {
				j.NomineeName = c.nominee
			}
			mustEnqueue(t, q, j)
			drain(t, mustWorker(t, q, srv, newClock().Now, uint64(20+i)))
			got := srv.messages()
			if c.dead {
				if len(got) != 0 {
					t.Fatalf("sent %d messages to a bad address", len(got))
				}
				if rec := mustRecord(t, q, j.ID); rec.Status != nomination.MailDead {
					t.Fatalf("job with a bad address: %+v", rec)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("server received %d messages, want 1", len(got))
			}
			m := got[0]
			if len(m.To) != 1 || m.To[0] != c.to {
				t.Fatalf("envelope recipients %v, want [%s]", m.To, c.to)
			}
			for _, h := range []string{"Bcc", "Cc", "X-Evil"} {
				if v, ok := m.Header[h]; ok {
					t.Errorf("injected header %s: %v", h, v)
				}
			}
			if len(m.Header["To"]) != 1 || len(m.Header["Subject"]) != 1 || len(m.Header["From"]) != 1 {
				t.Errorf("headers repeated: %v", m.Header)
			}
			to, err := m.Header.AddressList("To")
			if err != nil || len(to) != 1 || to[0].Address != c.to {
				t.Errorf("To header %q parses as %v (%v), want one address %s", m.Header.Get("To"), to, err, c.to)
			}
			subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
			if err != nil || strings.ContainsAny(subject, "\r\n") {
				t.Errorf("subject %q (%v)", subject, err)
			}
			head, _, _ := bytes.Cut(m.Data, []byte("\r\n\r\n"))
			for _, line := range strings.Split(string(head), "\r\n") {
				if strings.HasPrefix(strings.ToLower(line), "bcc:") || strings.HasPrefix(strings.ToLower(line), "x-evil:") {
					t.Errorf("raw header line %q", line)
				}
			}
		})
	}
}

func TestSenderTLSAndAuth(t *testing.T) {
	cert, roots := mustCert(t)
	// redirect dials mail.example.org to the local test server, so the
	// client applies its rules for a host that is not loopback.
	redirect := func(srv *smtpServer) func(ctx context.Context, network, address string) (net.Conn, error) {
		return func(ctx context.Context, network, address string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, srv.addr)
		}
	}
	msg := func(t *testing.T) *gomail.Msg {
		m := gomail.NewMsg()
		if err := m.From("nomina@example.org"); err != nil {
			t.Fatal(err)
		}
		if err := m.To("ada@example.org"); err != nil {
			t.Fatal(err)
		}
		m.Subject("hello")
		m.SetBodyString(gomail.TypeTextPlain, "hello")
		return m
	}
	cases := []struct {
		name      string
		server    []serverOption
		host      string
		user      string
		pass      string
		opts      mail.SenderOptions
		wantErr   string
		wantAuths int
	}{
		{name: "remote host without STARTTLS is refused", host: "mail.example.org", wantErr: "STARTTLS"},
		{name: "remote host with STARTTLS", host: "mail.example.org", server: []serverOption{withTLS(cert)}, opts: mail.SenderOptions{TLSConfig: &tls.Config{RootCAs: roots}}},
		{name: "remote host with an untrusted certificate is refused", host: "mail.example.org", server: []serverOption{withTLS(cert)}, wantErr: "certificate"},
		{name: "remote host in plaintext when allowed", host: "mail.example.org", opts: mail.SenderOptions{InsecurePlaintext: true}},
		{name: "loopback without STARTTLS", host: "127.0.0.1"},
		{name: "loopback uses STARTTLS when offered", host: "localhost", server: []serverOption{withTLS(cert)}, opts: mail.SenderOptions{TLSConfig: &tls.Config{RootCAs: roots}}},
		{
			name: "a password is never sent in plaintext to a remote host", host: "mail.example.org",
			server: []serverOption{withAuth("nomina", "s3cret")}, user: "nomina", pass: "s3cret",
			opts: mail.SenderOptions{InsecurePlaintext: true}, wantErr: "AUTH",
		},
		{
			name: "password over STARTTLS", host: "mail.example.org",
			server: []serverOption{withTLS(cert), withAuth("nomina", "s3cret")}, user: "nomina", pass: "s3cret",
			opts: mail.SenderOptions{TLSConfig: &tls.Config{RootCAs: roots}}, wantAuths: 1,
		},
		{
			name: "wrong password", host: "mail.example.org",
			server: []serverOption{withTLS(cert), withAuth("nomina", "s3cret")}, user: "nomina", pass: "nope",
			opts: mail.SenderOptions{TLSConfig: &tls.Config{RootCAs: roots}}, wantErr: "535", wantAuths: 1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := startSMTP(t, c.server...)
			opts := c.opts
			opts.Timeout = 5 * time.Second
			opts.DialContext = redirect(srv)
			s, err := mail.NewSender(mail.SMTPServer{Host: c.host, Port: 587, Username: c.user, Password: c.pass}, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			err = s.Send(context.Background(), msg(t))
			srv.mu.Lock()
			auths := len(srv.authSeen)
			srv.mu.Unlock()
			if auths != c.wantAuths {
				t.Errorf("server saw %d authentications, want %d", auths, c.wantAuths)
			}
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("send: %v", err)
				}
				if len(srv.messages()) != 1 {
					t.Fatalf("server received %d messages", len(srv.messages()))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want one mentioning %q", err, c.wantErr)
			}
			var de *mail.DeliveryError
			if !errors.As(err, &de) || de.Permanent() {
				t.Fatalf("a connection failure must be a temporary *DeliveryError, got %#v", err)
			}
			if len(srv.messages()) != 0 {
				t.Fatal("the message went out anyway")
			}
		})
	}
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunWorkersWithoutSMTPKeepsMailQueuedUntilConfigured(t *testing.T) {
	q := storetest.NewStore(t).MailQueue()
	j := testJob(1, "ada@example.org", time.Now())
	mustEnqueue(t, q, j)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cfg := mail.Config{From: testFrom, BaseURL: testBase, Workers: 2}
	opts := mail.WorkerOptions{Logger: log, PollInterval: 20 * time.Millisecond}

	done := make(chan error, 1)
	go func() {
		done <- mail.RunWorkers(context.Background(), cfg, q, mustTemplates(t), opts, mail.SenderOptions{})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunWorkers without SMTP: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunWorkers without SMTP did not return")
	}
	if n := strings.Count(logs.String(), "mail delivery is off"); n != 1 {
		t.Fatalf("warned %d times, want once:\n%s", n, logs.String())
	}
	if rec := mustRecord(t, q, j.ID); rec.Status != nomination.MailQueued || rec.Attempts != 0 {
		t.Fatalf("job without SMTP: %+v", rec)
	}

	// Once a server is configured, the backlog goes out.
	srv := startSMTP(t)
	cfg.SMTPURL = srv.url()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- mail.RunWorkers(ctx, cfg, q, mustTemplates(t), opts, mail.SenderOptions{}) }()
	waitUntil(t, 30*time.Second, "the backlog sent", func() bool { return len(srv.messages()) > 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunWorkers: %v", err)
	}
	if got := srv.countByMessageID()[mail.MessageID(j.ID)]; got != 1 {
		t.Fatalf("backlog delivered %d times, want once", got)
	}
	if strings.Contains(logs.String(), "level=WARN") && strings.Count(logs.String(), "level=WARN") != 1 {
		t.Fatalf("unexpected warnings:\n%s", logs.String())
	}
}

func TestRunWorkersRejectsBadSettings(t *testing.T) {
	q := storetest.NewStore(t).MailQueue()
	cases := []struct {
		name string
		cfg  mail.Config
	}{
		{"bad sender", mail.Config{SMTPURL: "smtp://127.0.0.1:1", From: "not an address", BaseURL: testBase}},
		{"relative base URL", mail.Config{SMTPURL: "smtp://127.0.0.1:1", From: testFrom, BaseURL: "/nomina"}},
		{"bad SMTP URL", mail.Config{SMTPURL: "ftp://127.0.0.1", From: testFrom, BaseURL: testBase}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := mail.RunWorkers(context.Background(), c.cfg, q, mustTemplates(t), mail.WorkerOptions{Logger: quiet()}, mail.SenderOptions{}); err == nil {
				t.Fatal("RunWorkers accepted bad settings")
			}
		})
	}
}

// A message whose recipient is no longer addressed when it comes to be sent
// (a reviewer who declared a conflict meanwhile) is not sent: it is parked
// with the reason. A failing check is retried, not taken as a no.
func TestDeliveryChecksTheAudienceAtSendTime(t *testing.T) {
	srv := startSMTP(t)
	q := storetest.NewStore(t).MailQueue()
	clock := newClock()
	keep, drop, unsure := testJob(1, "keep@example.org", t0), testJob(2, "drop@example.org", t0), testJob(3, "later@example.org", t0)
	mustEnqueue(t, q, keep, drop, unsure)
	checkFails := true
	w := mustWorker(t, q, srv, clock.Now, 7, func(ws *workerSetup) {
		ws.opts.StillAddressed = func(_ context.Context, j nomination.MailJob) (bool, error) {
			switch j.ID {
			case drop.ID:
				return false, nil
			case unsure.ID:
				if checkFails {
					return false, fmt.Errorf("store unavailable")
				}
			}
			return true, nil
		}
	})
	drain(t, w)
	if got := srv.messages(); len(got) != 1 || got[0].To[0] != "keep@example.org" {
		t.Fatalf("sent %+v, want only keep@example.org", got)
	}
	if r := mustRecord(t, q, drop.ID); r.Status != nomination.MailDead || !strings.Contains(r.LastError, "no longer") {
		t.Fatalf("dropped job: %+v", r)
	}
	if r := mustRecord(t, q, unsure.ID); r.Status != nomination.MailQueued {
		t.Fatalf("a failed check gave up the message: %+v", r)
	}
	checkFails = false
	clock.Advance(2 * time.Hour)
	drain(t, w)
	if r := mustRecord(t, q, unsure.ID); r.Status != nomination.MailSent {
		t.Fatalf("the message was not sent once the check passed: %+v", r)
	}
}

// A job keeps a secret link sealed: the worker signs its token when it
// sends the message, so the message carries a working link while the
// queue never held one; without a signer the job cannot be sent. Names
// reach the message as plain text, never a link.
func TestDeliverySignsSealedLinksAtSendTime(t *testing.T) {
	srv := startSMTP(t)
	q := storetest.NewStore(t).MailQueue()
	clock := newClock()
	signer := nomination.NewLinkSigner([]byte("the link secret of the mail tests"))
	claims := nomination.LinkClaims{Kind: "consent", NominationID: "n-1", Expires: t0.Add(time.Hour).Unix()}
	sealed := testJob(1, "nia@example.org", t0)
	sealed.Links = nil
	sealed.Sealed = map[string]nomination.SealedLink{"nomination": {Path: "/consent/", Claims: claims}}
	sealed.Name = "Visit https://evil.example/claim now"
	unsigned := testJob(2, "other@example.org", t0)
	unsigned.Links = nil
	unsigned.Sealed = sealed.Sealed
	mustEnqueue(t, q, sealed)
	w := mustWorker(t, q, srv, clock.Now, 3, func(ws *workerSetup) { ws.opts.Links = signer })
	drain(t, w)
	got := srv.messages()
	if len(got) != 1 {
		t.Fatalf("sent %d messages", len(got))
	}
	body, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(got[0].Data)))
	if err != nil {
		t.Fatal(err)
	}
	want := testBase + "/consent/" + signer.Sign(claims)
	if !bytes.Contains(body, []byte(want)) {
		t.Fatalf("the message lacks the signed link %s:\n%s", want, body)
	}
	if c, err := signer.Verify(signer.Sign(claims), "consent", t0); err != nil || c.NominationID != "n-1" {
		t.Fatalf("the link does not verify: %v", err)
	}
	if bytes.Contains(body, []byte("evil.example")) || bytes.Contains(body, []byte("https://evil")) || !bytes.Contains(body, []byte("Dear Visit https:")) {
		t.Fatalf("a name reached the message as a link:\n%s", body)
	}
	if rec := mustRecord(t, q, sealed.ID); len(rec.Job.Links) != 0 {
		t.Fatalf("the queue holds links after sending: %v", rec.Job.Links)
	}
	mustEnqueue(t, q, unsigned)
	drain(t, mustWorker(t, q, srv, clock.Now, 4))
	if r := mustRecord(t, q, unsigned.ID); r.Status != nomination.MailDead {
		t.Fatalf("a sealed link went out unsigned: %+v", r)
	}
}

// The server accepts a message and the connection breaks before its reply
// reaches the worker (an outage at that moment): the worker cannot know
// the message went out. It tries again, as it must not lose the message,
// so the server gets a second copy with the same Message-ID, but the
// first attempt is recorded as possibly accepted, so the second copy is
// told apart from a message sent twice for no reason.
func TestDeliveryReplyLostAfterAcceptanceIsRecordedAsPossiblySent(t *testing.T) {
	srv := startSMTP(t)
	db := storetest.NewDatabase(t)
	q := mongostore.New(db, nil).MailQueue()
	clock := newClock()
	j := testJob(1, "lost-reply@example.org", t0)
	mustEnqueue(t, q, j)
	srv.inject(j.To, acceptThenDrop)
	w := mustWorker(t, q, srv, clock.Now, 41)
	if _, err := w.RunOnce(context.Background()); err != nil {
		t.Fatalf("poll: %v", err)
	}
	if n := srv.countByMessageID()[mail.MessageID(j.ID)]; n != 1 {
		t.Fatalf("server holds %d copies after the first attempt, want 1", n)
	}
	rec := mustRecord(t, q, j.ID)
	if rec.Status != nomination.MailQueued || rec.Attempts != 1 || !strings.Contains(rec.LastError, "may have been accepted") {
		t.Fatalf("after the lost reply: %+v, want queued for a retry, recorded as possibly accepted", rec)
	}
	// The mark the simulator's exactly-once check reads.
	var res struct {
		MaybeSent bool `bson:"maybe_sent"`
	}
	if err := db.Collection("mail_results").FindOne(context.Background(), bson.D{{Key: "job_id", Value: j.ID}, {Key: "attempt", Value: 1}}).Decode(&res); err != nil || !res.MaybeSent {
		t.Fatalf("result of the first attempt: %+v (%v), want it marked as possibly sent", res, err)
	}
	clock.Advance(time.Hour)
	drain(t, w)
	if rec := mustRecord(t, q, j.ID); rec.Status != nomination.MailSent || rec.Attempts != 2 {
		t.Fatalf("after the retry: %+v", rec)
	}
	if n := srv.countByMessageID()[mail.MessageID(j.ID)]; n != 2 {
		t.Fatalf("server holds %d copies, want 2 (the same Message-ID)", n)
	}
}
