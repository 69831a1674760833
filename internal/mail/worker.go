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
	// Due returns references to up to limit attempts due at now, for
	// ClaimAll.
	Due(ctx context.Context, now time.Time, limit int) ([]string, error)
	// ClaimAll takes the attempts references from Due name for worker
	// until now+lease, in a few store commands, and returns those it took
	// (others are held by another worker, finished, or have no job yet).
	ClaimAll(ctx context.Context, refs []string, worker string, now time.Time, lease time.Duration) ([]nomination.MailAttempt, error)
	// Record records the outcomes of claimed attempts, in a few store
	// commands: a sent message, a temporary failure (the next attempt at
	// Next), a permanent one, or an attempt given back unmade.
	Record(ctx context.Context, outcomes []nomination.MailOutcome) error
}

// Time limits of an attempt. A worker claims a batch of attempts for its
// lease and must record every outcome before the lease runs out on any
// instance's clock, or the attempt may be taken over and the message sent
// twice. So it starts a message only while SendTimeout + RecordTimeout +
// ClockMargin remain of the lease: the longest a batch takes is the lease.
const (
	// SendTimeout bounds one message on the SMTP connection, a reconnect
	// included: no command of it runs past this time from its start.
	SendTimeout = 30 * time.Second
	// RecordTimeout bounds the recording of a batch's outcomes.
	RecordTimeout = 30 * time.Second
	// ClockMargin is kept for clocks that differ between instances.
	ClockMargin = 10 * time.Second
	// MinLease is the shortest lease a worker takes: the longest attempt
	// (SendTimeout + RecordTimeout), ClockMargin, and at least 5s in which
	// a batch's messages start.
	MinLease = SendTimeout + RecordTimeout + ClockMargin + 5*time.Second
)

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
	// Batch is how many due jobs one poll claims at most (100).
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
	// interrupted attempt is taken over (5m). At least MinLease: a batch's
	// messages start while SendTimeout + RecordTimeout + ClockMargin
	// remain of it; the others are given back unmade.
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

// Worker delivers due mail jobs from a Queue over one SMTP connection,
// kept open while there is mail to send: it claims the due attempts of one
// poll at once, sends their messages one after the other (go-mail resets
// the session between them) and records their outcomes at once.
type Worker struct {
	q         Queue
	templates *Templates
	sender    *Sender
	from      *netmail.Address
	opts      WorkerOptions
	log       *slog.Logger
	lastSend  time.Time
	// recordTimeout bounds each try of recording outcomes (RecordTimeout).
	recordTimeout time.Duration
}

// NewWorker returns a worker taking jobs from q, rendering them with
// templates and sending them with sender, which it then owns (Run closes
// it). It returns an error when From is not an address, a dependency is
// missing or the lease is shorter than MinLease.
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
	setDefault(&opts.Batch, 100)
	setDefault(&opts.MaxAttempts, 8)
	setDefault(&opts.PollInterval, 2*time.Second)
	setDefault(&opts.MaxPollInterval, time.Minute)
	setDefault(&opts.Lease, 5*time.Minute)
	setDefault(&opts.RetryBase, time.Minute)
	setDefault(&opts.RetryMax, time.Hour)
	setDefault(&opts.IdleClose, 30*time.Second)
	if opts.Lease < MinLease {
		return nil, fmt.Errorf("mail lease %v: at least %v (a message may take %v to send and %v to record, %v are kept for clocks)",
			opts.Lease, MinLease, SendTimeout, RecordTimeout, ClockMargin)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Worker{q: q, templates: templates, sender: sender, from: from, opts: opts, log: log.With("worker", opts.ID), recordTimeout: RecordTimeout}, nil
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
// full batches keep coming, and backs off up to MaxPollInterval while the
// SMTP server or the store fails.
func (w *Worker) Run(ctx context.Context) error {
	defer w.sender.Close()
	failures, idleFull := 0, 0
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
		// A full poll means more may be due; one whose jobs all went to
		// other workers is tried again a few times before waiting.
		if attempted > 0 {
			idleFull = 0
		} else if due >= w.opts.Batch {
			idleFull++
		}
		if err == nil && due >= w.opts.Batch && (attempted > 0 || idleFull <= 3) {
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

// RunOnce makes one poll: it claims the due jobs it can (at most Batch),
// attempts them and records their outcomes, and returns how many it
// attempted. It stops early, with an error, when the SMTP server cannot be
// reached (checked before claiming, so no attempt is spent; one lost in
// the middle of a batch gives the rest back unmade) or the store fails;
// it stops without one when ctx is cancelled.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	_, attempted, err := w.poll(ctx)
	return attempted, err
}

// errUnreachable ends a batch: the SMTP server cannot be reached.
var errUnreachable = errors.New("SMTP server unreachable")

func (w *Worker) poll(ctx context.Context) (due, attempted int, err error) {
	now := w.opts.Clock()
	// More than a batch is listed and a batch of them taken at random, so
	// that workers polling together (here or on other instances) claim
	// different jobs rather than all race for the same first ones.
	refs, err := w.q.Due(ctx, now, 4*w.opts.Batch)
	if err != nil {
		return 0, 0, fmt.Errorf("list due mail: %w", err)
	}
	if len(refs) == 0 {
		if w.sender.Connected() && now.Sub(w.lastSend) >= w.opts.IdleClose {
			_ = w.sender.Close()
		}
		return 0, 0, nil
	}
	for i := len(refs) - 1; i > 0; i-- {
		j := int(w.opts.Float64() * float64(i+1))
		refs[i], refs[j] = refs[j], refs[i]
	}
	due = len(refs)
	refs = refs[:min(len(refs), w.opts.Batch)]
	// Check the connection before claiming: with the server down no
	// attempt is spent.
	cctx, cancel := context.WithTimeout(ctx, SendTimeout)
	err = w.sender.Check(cctx)
	cancel()
	if err != nil {
		return due, 0, fmt.Errorf("connect to SMTP server: %w", err)
	}
	claimedAt := w.opts.Clock()
	attempts, claimErr := w.q.ClaimAll(ctx, refs, w.opts.ID, claimedAt, w.opts.Lease)
	if claimErr != nil {
		claimErr = fmt.Errorf("claim mail: %w", claimErr)
	}
	if len(attempts) == 0 {
		return due, 0, claimErr
	}
	sendBy := claimedAt.Add(w.opts.Lease - SendTimeout - RecordTimeout - ClockMargin)
	outcomes := make([]nomination.MailOutcome, 0, len(attempts))
	var stop error
	for _, a := range attempts {
		switch {
		case stop != nil:
			outcomes = append(outcomes, w.release(a, "not attempted: "+stop.Error()))
		case ctx.Err() != nil:
			outcomes = append(outcomes, w.release(a, "not attempted: the worker stopped"))
		case w.opts.Clock().After(sendBy):
			outcomes = append(outcomes, w.release(a, "not attempted: the batch ran out of time"))
		default:
			o, err := w.deliver(ctx, a)
			outcomes = append(outcomes, o)
			if err != nil {
				stop = err
				continue
			}
			attempted++
		}
	}
	// The outcomes are recorded even when ctx ends meanwhile (a shutdown):
	// an unrecorded attempt is repeated after its lease.
	if err := w.record(ctx, outcomes, claimedAt.Add(w.opts.Lease-ClockMargin)); err != nil {
		return due, attempted, fmt.Errorf("record mail outcomes: %w", err)
	}
	if stop != nil {
		return due, attempted, fmt.Errorf("connect to SMTP server: %w", stop)
	}
	return due, attempted, claimErr
}

// record records outcomes before until (when the lease runs out, less
// the clocks' margin), each try of it within recordTimeout. A try that
// runs out of time, or finds the store unavailable, is made again in two
// halves, and so on down to one outcome, so that a store too busy to
// record a whole batch in time still records it piece by piece rather
// than fail it whole again and again (its attempts would be taken over
// after the lease and their messages sent again). Recording an outcome
// again is harmless (Record keeps the first result of an attempt), so
// pieces a failed try wrote in part are simply recorded again. A piece
// that cannot be recorded (one outcome, or an error other than the
// store's being slow) is left, and the others are still recorded while
// until allows; the errors are returned together, with the count of the
// outcomes left when until passed.
func (w *Worker) record(ctx context.Context, outcomes []nomination.MailOutcome, until time.Time) error {
	var errs []error
	rest := [][]nomination.MailOutcome{outcomes}
	for len(rest) > 0 {
		piece := rest[0]
		left := until.Sub(w.opts.Clock())
		if left <= 0 {
			n := 0
			for _, p := range rest {
				n += len(p)
			}
			return errors.Join(append(errs, fmt.Errorf("%d outcomes not recorded: their lease ran out", n))...)
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(w.recordTimeout, left))
		err := w.q.Record(rctx, piece)
		cancel()
		switch {
		case err == nil:
			rest = rest[1:]
		case len(piece) > 1 && slowStore(err):
			w.log.Warn("recording mail outcomes failed; recording them in two halves", "outcomes", len(piece), "error", err)
			half := len(piece) / 2
			rest = append([][]nomination.MailOutcome{piece[:half], piece[half:]}, rest[1:]...)
		default:
			errs = append(errs, err)
			rest = rest[1:]
		}
	}
	return errors.Join(errs...)
}

// slowStore reports an error of a store that did not answer in time or
// could not be reached.
func slowStore(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || nomination.ErrorCode(err) == nomination.EUNAVAILABLE
}

// release gives a claimed attempt back unmade: the next one is due at once
// and makes the same try.
func (w *Worker) release(a nomination.MailAttempt, reason string) nomination.MailOutcome {
	now := w.opts.Clock()
	return nomination.MailOutcome{JobID: a.Record.Job.ID, Attempt: a.Number, Try: a.Try, Status: nomination.MailQueued,
		Released: true, Reply: reason, At: now, Next: now}
}

// deliver makes the claimed attempt and returns its outcome. It returns an
// error, with the attempt given back unmade, when the server could not be
// reached to send it.
func (w *Worker) deliver(ctx context.Context, a nomination.MailAttempt) (nomination.MailOutcome, error) {
	job := a.Record.Job
	log := w.log.With("job", job.ID, "attempt", a.Number)
	out := nomination.MailOutcome{JobID: job.ID, Attempt: a.Number, Try: a.Try}
	dead := func(reply string) (nomination.MailOutcome, error) {
		log.Warn("mail job is dead", "reply", reply)
		out.Status, out.Reply, out.At = nomination.MailDead, reply, w.opts.Clock()
		return out, nil
	}
	retry := func(reply string) (nomination.MailOutcome, error) {
		out.Status, out.Reply, out.At = nomination.MailQueued, reply, w.opts.Clock()
		out.Next = out.At.Add(Backoff(a.Try, w.opts.RetryBase, w.opts.RetryMax, w.opts.Float64()))
		log.Info("mail delivery failed; will retry", "reply", reply, "next", out.Next)
		return out, nil
	}
	if a.Try > w.opts.MaxAttempts {
		// Earlier attempts were abandoned (their workers stopped) without a
		// result; do not go on for ever.
		return dead(fmt.Sprintf("gave up after %d attempts; last reply: %s", a.Try-1, a.Record.LastError))
	}
	// The check, the rendering and the transaction share SendTimeout (of
	// real time: Clock may be a test's).
	deadline := time.Now().Add(SendTimeout)
	if w.opts.StillAddressed != nil {
		actx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
		still, err := w.opts.StillAddressed(actx, job)
		cancel()
		if err != nil {
			return retry("audience check failed: " + err.Error())
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
	sctx, cancel := context.WithDeadline(ctx, deadline)
	err = w.sender.Send(sctx, msg)
	cancel()
	at := w.opts.Clock()
	w.lastSend = at
	if err == nil {
		out.Status, out.MessageID, out.At = nomination.MailSent, MessageID(job.ID), at
		return out, nil
	}
	var de *DeliveryError
	if !errors.As(err, &de) {
		de = classify(err)
	}
	if de.unsent {
		return w.release(a, "not attempted: "+de.Reply), errUnreachable
	}
	if de.MaybeAccepted() {
		// Tried again rather than lost: the receiver gets a second copy,
		// with the same Message-ID, only if the first did arrive.
		out.MaybeSent = true
		de.Reply = "the server's reply to the message was lost, so it may have been accepted: " + de.Reply
		log.Warn("mail delivery unconfirmed: the message may have been accepted; trying again with the same Message-ID", "reply", de.Reply)
	}
	if de.Permanent() || a.Try >= w.opts.MaxAttempts {
		return dead(de.Reply)
	}
	return retry(de.Reply)
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
