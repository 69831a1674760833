package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	netmail "net/mail"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/igf/nomina/internal/nomination"
)

// Queue is the store side of delivery as a worker needs it. Every change is
// tied to one attempt of one job, and only the worker that claimed the
// attempt records its outcome.
type Queue interface {
	// Due returns references to up to limit attempts due at now, for Claim.
	Due(ctx context.Context, now time.Time, limit int) ([]string, error)
	// Claim takes the attempt a reference from Due names for worker until
	// now+lease. It returns a *nomination.Error with ECONFLICT when the
	// attempt is not to be made now (another worker holds it, or it
	// finished) and ENOTFOUND when its job is not there.
	Claim(ctx context.Context, due, worker string, now time.Time, lease time.Duration) (nomination.MailAttempt, error)
	// MarkSent records that the server accepted the claimed attempt.
	MarkSent(ctx context.Context, jobID string, attempt int, messageID string, at time.Time) error
	// MarkRetry records a temporary failure and schedules the next attempt
	// at next.
	MarkRetry(ctx context.Context, jobID string, attempt int, reply string, at, next time.Time) error
	// MarkDead records a permanent failure; the job is not attempted again
	// unless retried by hand.
	MarkDead(ctx context.Context, jobID string, attempt int, reply string, at time.Time) error
}

// WorkerOptions configure a Worker. Zero values take the defaults given.
type WorkerOptions struct {
	// ID names the worker in its claims (default: host name and process id).
	ID string
	// StillAddressed, when set, is asked just before a message is sent
	// whether its recipient is still meant to get it; a message whose
	// recipient is not is parked as dead, unsent, with the reason.
	StillAddressed func(ctx context.Context, job nomination.MailJob) (bool, error)
	// Links signs the tokens of a job's sealed links when its message is
	// sent (the queue keeps their claims only). A job with sealed links
	// and no signer cannot be rendered and is parked as dead.
	Links *nomination.LinkSigner
	// From is the sender address (required).
	From string
	// BaseURL makes job links absolute (required).
	BaseURL string
	// Clock returns the current time (time.Now).
	Clock func() time.Time
	// Float64 returns a random number in [0, 1): jitter and the order in
	// which due jobs are tried (math/rand/v2's Float64). RunWorkers shares
	// it between its workers, so it must then be safe for concurrent use.
	Float64 func() float64
	// Batch is how many due jobs one poll takes (50).
	Batch int
	// PollInterval is the wait between polls that found nothing to do (2s).
	PollInterval time.Duration
	// Wake, when set, ends that wait early: a value on it means jobs were
	// enqueued (on this instance; the others' are found by polling).
	Wake <-chan struct{}
	// MaxPollInterval bounds the wait after failing polls, which grows
	// exponentially while the SMTP server or the store is down (1m).
	MaxPollInterval time.Duration
	// Lease is how long a claimed attempt is the worker's alone; after it an
	// interrupted attempt is taken over (5m). It must well exceed the time
	// one message takes to send.
	Lease time.Duration
	// MaxAttempts is how many attempts a job gets before it is dead (8).
	MaxAttempts int
	// RetryBase and RetryMax shape the backoff between attempts of a job:
	// RetryBase doubling per attempt, at most RetryMax, half of it random
	// (1m and 1h).
	RetryBase time.Duration
	RetryMax  time.Duration
	// IdleClose closes the SMTP connection when no mail was due for this
	// long (30s).
	IdleClose time.Duration
	// Logger receives delivery failures and outages (slog.Default()).
	Logger *slog.Logger
}

// Worker delivers due mail jobs from a Queue over one SMTP connection.
type Worker struct {
	q         Queue
	templates *Templates
	sender    *Sender
	from      *netmail.Address
	opts      WorkerOptions
	log       *slog.Logger
	lastSend  time.Time
}

// NewWorker returns a worker taking jobs from q, rendering them with
// templates and sending them with sender, which it then owns (Run closes
// it). It returns an error when From is not an address or a dependency is
// missing.
func NewWorker(q Queue, templates *Templates, sender *Sender, opts WorkerOptions) (*Worker, error) {
	if q == nil || templates == nil || sender == nil {
		return nil, errors.New("mail worker needs a queue, templates and a sender")
	}
	from, err := netmail.ParseAddress(opts.From)
	if err != nil {
		return nil, fmt.Errorf("mail sender %q: %w", opts.From, err)
	}
	if opts.ID == "" {
		host, _ := os.Hostname()
		opts.ID = host + "/" + strconv.Itoa(os.Getpid())
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Float64 == nil {
		opts.Float64 = rand.Float64
	}
	setDefault(&opts.Batch, 50)
	setDefault(&opts.MaxAttempts, 8)
	setDefault(&opts.PollInterval, 2*time.Second)
	setDefault(&opts.MaxPollInterval, time.Minute)
	setDefault(&opts.Lease, 5*time.Minute)
	setDefault(&opts.RetryBase, time.Minute)
	setDefault(&opts.RetryMax, time.Hour)
	setDefault(&opts.IdleClose, 30*time.Second)
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Worker{q: q, templates: templates, sender: sender, from: from, opts: opts, log: log.With("worker", opts.ID)}, nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Backoff returns the wait before attempt try+1 after try attempts failed:
// base doubled per failed attempt, capped at ceiling, the upper half of it
// scaled by r (a random number in [0, 1)) so that jobs that failed together
// spread out.
func Backoff(try int, base, ceiling time.Duration, r float64) time.Duration {
	d := base
	for i := 1; i < try && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	return d/2 + time.Duration(r*float64(d/2))
}

// Run delivers mail until ctx is cancelled, then closes the connection and
// returns nil. It polls for due jobs every PollInterval, at once again while
// full batches keep coming and being worked off, and backs off up to MaxPollInterval while the
// SMTP server or the store fails.
func (w *Worker) Run(ctx context.Context) error {
	defer w.sender.Close()
	failures := 0
	for {
		due, attempted, err := w.poll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := w.opts.PollInterval
		switch {
		case err != nil:
			failures++
			wait = Backoff(failures, w.opts.PollInterval, w.opts.MaxPollInterval, w.opts.Float64())
			w.log.Warn("mail delivery paused", "error", err, "failures", failures, "retry_in", wait.Round(time.Millisecond))
		case failures > 0:
			w.log.Info("mail delivery resumed", "after_failures", failures)
			failures = 0
		}
		if err == nil && due >= w.opts.Batch && attempted > 0 {
			continue
		}
		wake := w.opts.Wake
		if failures > 0 {
			wake = nil // while the server or the store fails, back off regardless
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-wake:
			t.Stop()
		}
	}
}

// RunOnce makes one poll: it attempts every due job it can claim (at most
// Batch) and returns how many it attempted. It stops early, with an error,
// when the SMTP server cannot be reached (no job is claimed then, so no
// attempt is spent) or the store fails; it stops without one when ctx is
// cancelled.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	_, attempted, err := w.poll(ctx)
	return attempted, err
}

func (w *Worker) poll(ctx context.Context) (due, attempted int, err error) {
	now := w.opts.Clock()
	refs, err := w.q.Due(ctx, now, w.opts.Batch)
	if err != nil {
		return 0, 0, fmt.Errorf("list due mail: %w", err)
	}
	if len(refs) == 0 {
		if w.sender.Connected() && now.Sub(w.lastSend) >= w.opts.IdleClose {
			_ = w.sender.Close()
		}
		return 0, 0, nil
	}
	// Instances that poll together would otherwise all race for the same
	// first job.
	for i := len(refs) - 1; i > 0; i-- {
		j := int(w.opts.Float64() * float64(i+1))
		refs[i], refs[j] = refs[j], refs[i]
	}
	for _, ref := range refs {
		if ctx.Err() != nil {
			return len(refs), attempted, nil
		}
		// Connect before claiming: with the server down no attempt is spent.
		if err := w.sender.Connect(ctx); err != nil {
			return len(refs), attempted, fmt.Errorf("connect to SMTP server: %w", err)
		}
		a, err := w.q.Claim(ctx, ref, w.opts.ID, w.opts.Clock(), w.opts.Lease)
		switch code := nomination.ErrorCode(err); code {
		case "":
		case nomination.ECONFLICT, nomination.ENOTFOUND:
			continue
		default:
			return len(refs), attempted, fmt.Errorf("claim mail %s: %w", ref, err)
		}
		attempted++
		if err := w.deliver(ctx, a); err != nil {
			return len(refs), attempted, err
		}
	}
	return len(refs), attempted, nil
}

// deliver makes the claimed attempt and records its outcome. It returns an
// error only when the outcome could not be recorded; the attempt is then
// taken over after its lease, and the message possibly sent again with the
// same Message-ID.
func (w *Worker) deliver(ctx context.Context, a nomination.MailAttempt) error {
	job := a.Record.Job
	log := w.log.With("job", job.ID, "attempt", a.Number)
	// The outcome is recorded even when ctx ends meanwhile (a shutdown):
	// an unrecorded attempt is repeated after its lease.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	dead := func(reply string) error {
		log.Warn("mail job is dead", "reply", reply)
		if err := w.q.MarkDead(rctx, job.ID, a.Number, reply, w.opts.Clock()); err != nil {
			return fmt.Errorf("record dead mail job %s: %w", job.ID, err)
		}
		return nil
	}
	if a.Try > w.opts.MaxAttempts {
		// Earlier attempts were abandoned (their workers stopped) without a
		// result; do not go on for ever.
		return dead(fmt.Sprintf("gave up after %d attempts; last reply: %s", a.Try-1, a.Record.LastError))
	}
	if w.opts.StillAddressed != nil {
		still, err := w.opts.StillAddressed(rctx, job)
		if err != nil {
			next := w.opts.Clock().Add(Backoff(a.Try, w.opts.RetryBase, w.opts.RetryMax, w.opts.Float64()))
			if err := w.q.MarkRetry(rctx, job.ID, a.Number, "audience check failed: "+err.Error(), w.opts.Clock(), next); err != nil {
				return fmt.Errorf("record failed mail job %s: %w", job.ID, err)
			}
			return nil
		}
		if !still {
			return dead("not sent: the recipient is no longer among those addressed")
		}
	}
	if w.opts.Links != nil {
		job = w.opts.Links.Unseal(job)
	}
	m, err := w.templates.Render(job.Template, JobData(job, w.opts.BaseURL))
	if err != nil {
		return dead(err.Error())
	}
	msg, err := buildMsg(w.from, job, m, w.opts.Clock())
	if err != nil {
		return dead(err.Error())
	}
	err = w.sender.Send(ctx, msg)
	at := w.opts.Clock()
	w.lastSend = at
	if err == nil {
		if err := w.q.MarkSent(rctx, job.ID, a.Number, MessageID(job.ID), at); err != nil {
			return fmt.Errorf("record sent mail job %s: %w", job.ID, err)
		}
		return nil
	}
	var de *DeliveryError
	if !errors.As(err, &de) {
		de = classify(err)
	}
	if de.Permanent() || a.Try >= w.opts.MaxAttempts {
		return dead(de.Reply)
	}
	next := at.Add(Backoff(a.Try, w.opts.RetryBase, w.opts.RetryMax, w.opts.Float64()))
	log.Info("mail delivery failed; will retry", "reply", de.Reply, "next", next)
	if err := w.q.MarkRetry(rctx, job.ID, a.Number, de.Reply, at, next); err != nil {
		return fmt.Errorf("record failed mail job %s: %w", job.ID, err)
	}
	return nil
}

// RunWorkers runs cfg.Workers workers (at least one) on q until ctx is
// cancelled, each with its own SMTP connection. When cfg has no SMTP URL it
// logs that mail stays queued and returns nil at once. opts sets what cfg
// does not (From and BaseURL come from cfg); each worker's ID gets its
// number appended. It returns an error for invalid settings.
func RunWorkers(ctx context.Context, cfg Config, q Queue, templates *Templates, opts WorkerOptions, sopts SenderOptions) error {
	if DeliveryDisabled(cfg, opts.Logger) {
		return nil
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	server, err := ParseSMTPURL(cfg.SMTPURL)
	if err != nil {
		return err
	}
	sopts.InsecurePlaintext = sopts.InsecurePlaintext || cfg.InsecurePlaintext
	opts.From, opts.BaseURL = cfg.From, cfg.BaseURL
	if opts.ID == "" {
		host, _ := os.Hostname()
		opts.ID = host + "/" + strconv.Itoa(os.Getpid())
	}
	n := max(cfg.Workers, 1)
	workers := make([]*Worker, n)
	for i := range workers {
		s, err := NewSender(server, sopts)
		if err != nil {
			return err
		}
		o := opts
		o.ID = opts.ID + "/" + strconv.Itoa(i+1)
		if workers[i], err = NewWorker(q, templates, s, o); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { _ = w.Run(ctx) })
	}
	wg.Wait()
	return nil
}
