package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	mongooptions "go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/term"

	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/workflow"
)

// environment is everything one simulation runs on: the service
// instances, the SMTP sink, the store connection of the checker, the
// simulated people and their client.
type environment struct {
	o        options
	stderr   io.Writer
	root     string
	dir      string
	ownDir   bool
	sink     *sink
	cl       *cluster
	mongo    *mongo.Client
	db       *mongo.Database
	plan     *plan
	rec      *recorder
	client   *client
	registry *workflow.Registry
	limits   map[string]string
	settings map[string]string
	sc       *scenario
	storeAt  StoreRates

	cmdsAtStart   []map[string]float64
	servedAtStart []map[string]float64
	cpuAtStart    struct {
		sim, mailpit time.Duration
		instances    []time.Duration
	}
}

// limitsFor returns the limits the scenario needs, against the defaults
// of config/nomina.yaml: every simulated person sends from an address of
// their own (X-Forwarded-For from a trusted proxy), so the per-address and
// per-account defaults fit; only the registrations of everyone together
// (500/1h) are too few for a renewal's crowd in minutes.
func limitsFor(o options) map[string]string {
	people := o.Candidates + o.LPCandidates
	return map[string]string{"NOMINA_LIMIT_REGISTRATIONS": strconv.Itoa(2*people+100) + "/1h"}
}

func newEnvironment(ctx context.Context, o options, stderr io.Writer) (*environment, error) {
	e := &environment{o: o, stderr: stderr, rec: newRecorder()}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	e.root = root
	if o.Dir == "" {
		if e.dir, err = os.MkdirTemp("", "nomina-sim-"); err != nil {
			return nil, err
		}
		e.ownDir = true
	} else {
		e.dir = o.Dir
		if entries, err := os.ReadDir(e.dir); err == nil && len(entries) > 0 {
			return nil, fmt.Errorf("--dir %s is not empty: a simulation starts from an empty store", e.dir)
		}
		if err := os.MkdirAll(e.dir, 0o700); err != nil {
			return nil, err
		}
	}
	reg, diags, err := workflow.LoadDir(filepath.Join(root, "workflows"))
	if err != nil || workflow.HasErrors(diags) {
		return e, fmt.Errorf("load the workflows: %v %v", err, diags)
	}
	e.registry = reg
	bin := o.Nomina
	if bin == "" && len(o.Targets) == 0 {
		e.logf("building the service")
		if bin, err = buildService(ctx, root, e.dir); err != nil {
			return e, err
		}
	}
	sinkAt := "127.0.0.1:0"
	if len(o.Targets) > 0 {
		sinkAt = o.SMTPListen
	}
	if e.sink, err = newSink(sinkAt); err != nil {
		return e, err
	}
	if o.Mailpit != "" {
		mp, err := startMailpit(ctx, o.Mailpit, e.dir)
		if err != nil {
			return e, err
		}
		e.sink.mailpit = mp
		e.sink.relay = &relay{addr: mp.smtp}
	}
	e.plan = newPlan(o)
	if o.Faults[faultSMTPErrors] {
		e.sink.setFaults(e.plan.greylisted, e.plan.bounced)
	}
	e.limits = limitsFor(o)
	// An attempt cut off by the kill is taken over after the lease, and a
	// message refused for now is tried again after the retry base: the
	// defaults (five minutes, one minute) would outlast a short run. The
	// lease stays above the longest a live attempt may take (an SMTP
	// command's 30 s timeout, then up to 30 s to record the outcome), or a
	// slow attempt on a loaded machine is taken over while it still sends
	// and the message goes out twice.
	e.settings = map[string]string{"NOMINA_MAIL_LEASE": "75s", "NOMINA_MAIL_RETRY_BASE": "5s"}
	var skews []time.Duration
	if o.Faults[faultSkew] {
		for i := 0; i < o.Instances; i++ {
			// 0, +2.5 s, -3 s, +2.5 s, ...
			switch {
			case i == 0:
				skews = append(skews, 0)
			case i%2 == 1:
				skews = append(skews, 2500*time.Millisecond)
			default:
				skews = append(skews, -3*time.Second)
			}
		}
	}
	if len(o.Targets) > 0 {
		var need []string
		for k, v := range e.instanceSettings() {
			need = append(need, k+"="+v)
		}
		sort.Strings(need)
		e.logf("playing against %d running instance(s), which must send mail to smtp://%s (NOMINA_SMTP_INSECURE_PLAINTEXT=true unless on loopback) and have %s",
			len(o.Targets), e.sink.addr, strings.Join(need, " "))
		if e.cl, err = targetCluster(ctx, o.Targets, o.StoreURI); err != nil {
			return e, err
		}
	} else {
		e.logf("starting %d instance(s)", o.Instances)
		e.cl, err = startCluster(ctx, clusterConfig{Bin: bin, Root: root, Dir: e.dir, SMTPAddr: e.sink.addr,
			AdminEmail: e.plan.admin.Email, AdminPassword: e.plan.adminPass, Limits: e.limits, Extra: e.settings, Skews: skews}, o.Instances)
		if err != nil {
			return e, err
		}
	}
	e.mongo, err = mongo.Connect(mongooptions.Client().ApplyURI(e.cl.storeURI).SetServerSelectionTimeout(10 * time.Second).SetMaxPoolSize(64))
	if err != nil {
		return e, fmt.Errorf("connect to the store: %w", err)
	}
	e.db = e.mongo.Database(o.Database)
	if len(o.Targets) > 0 {
		// The checks take everything in the store for the run's: it must
		// start empty.
		n, err := e.db.Collection("nominations").CountDocuments(ctx, bson.D{})
		if err != nil {
			return e, fmt.Errorf("read the store: %w", err)
		}
		if n > 0 {
			return e, fmt.Errorf("the store at --store-uri holds %d nomination(s): a simulation starts from an empty store", n)
		}
	}
	e.client = newClient(e.cl, e.rec, o.Concurrency, o.Seed)
	if o.Faults[faultDisconnect] {
		e.client.cutRate, e.client.halfRate = 0.02, 0.005
	}
	return e, nil
}

// instanceSettings returns the settings the scenario needs of the
// instances, beyond the defaults.
func (e *environment) instanceSettings() map[string]string {
	out := map[string]string{"NOMINA_TRUSTED_PROXIES": "127.0.0.1"}
	for k, v := range e.limits {
		out[k] = v
	}
	for k, v := range e.settings {
		out[k] = v
	}
	return out
}

func (e *environment) logf(format string, args ...any) {
	fmt.Fprintf(e.stderr, "nomina-sim: "+format+"\n", args...)
}

func (e *environment) progressOn() bool {
	switch e.o.Progress {
	case "on":
		return true
	case "off":
		return false
	}
	f, ok := e.stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Close stops everything and removes the working directory unless kept.
func (e *environment) Close() {
	if e.mongo != nil {
		_ = e.mongo.Disconnect(context.Background())
	}
	if e.cl != nil {
		e.cl.stop()
	}
	if e.sink != nil {
		e.sink.close()
	}
	if e.ownDir && !e.o.Keep {
		_ = os.RemoveAll(e.dir)
	} else if e.dir != "" {
		fmt.Fprintln(e.stderr, "nomina-sim: data and logs kept in", e.dir)
	}
}

// Run measures the store, plays the scenario, waits for the mail to
// settle, checks and reports.
func (e *environment) Run(ctx context.Context) (*Report, error) {
	var err error
	e.logf("measuring the store's raw rates")
	if e.storeAt, err = measureStore(ctx, e.db, 16, 4000); err != nil {
		return nil, fmt.Errorf("measure the store: %w", err)
	}
	e.rec.start = time.Now()
	e.markCPU()
	e.sc = newScenario(e.o, e.plan, e.client, e.sink, e.cl, e.rec)
	stopProgress := e.progress(ctx)
	err = e.sc.play(ctx)
	if err == nil {
		err = e.drain(ctx)
	}
	end := time.Since(e.rec.start)
	stopProgress()
	e.sc.phaseAt[phaseCount] = end
	if err != nil {
		return e.report(nil, end), err
	}
	e.logf("checking the store and the sink")
	checks, err := e.check(ctx)
	return e.report(checks, end), err
}

// check runs the checks on what the store and the sink hold now.
func (e *environment) check(ctx context.Context) ([]Check, error) {
	records, ledger := e.rec.snapshot()
	bounced := map[string]bool{}
	if e.o.Faults[faultSMTPErrors] {
		for _, a := range e.plan.bounced {
			bounced[strings.ToLower(a)] = true
		}
	}
	e.sc.mu.Lock()
	in := checkInput{Ledger: ledger, Adopted: e.sc.adopted, Records: records, Start: e.rec.start, Killed: e.sc.killed,
		Bounced: bounced, Problems: e.sc.problems, Registry: e.registry, Operator: e.plan.admin.Email}
	e.sc.mu.Unlock()
	in.Expected = e.sc.expectedStates()
	in.Served = e.served()
	return runChecks(ctx, e.db, e.sink, in)
}

// served returns what each instance recorded answering the API during the
// scenario, by status, from its metrics: nil for one whose metrics do not
// answer (instances run by someone else).
func (e *environment) served() []map[string]float64 {
	out := make([]map[string]float64, len(e.cl.instances))
	for i, in := range e.cl.instances {
		now := in.servedTotal()
		if now == nil || i >= len(e.servedAtStart) || e.servedAtStart[i] == nil {
			continue
		}
		for k, v := range e.servedAtStart[i] {
			now[k] -= v
		}
		out[i] = now
	}
	return out
}

// drain waits until no mail job waits for delivery any more (the SMTP
// retries and the lease of an attempt cut off by the kill included): none
// queued at three looks half a second apart.
func (e *environment) drain(ctx context.Context) error {
	deadline := time.Now().Add(5 * time.Minute)
	stable := 0
	for {
		n, err := mongostore.New(e.db, nil).MailQueue().Queued(ctx)
		if err != nil {
			return fmt.Errorf("count queued mail: %w", err)
		}
		if n == 0 {
			stable++
			if stable >= 3 {
				return nil
			}
		} else {
			stable = 0
		}
		if time.Now().After(deadline) {
			e.logf("%d mail job(s) still queued after waiting 5 minutes", n)
			return nil // the checks say which
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// statusLines writes where the scenario is every 15 s, where no bar is
// drawn, until the function returned is called.
func (e *environment) statusLines(ctx context.Context) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		last, lastAt := int64(0), time.Now()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-time.After(15 * time.Second):
			}
			n := e.rec.done.Load()
			rate := float64(n-last) / time.Since(lastAt).Seconds()
			last, lastAt = n, time.Now()
			fmt.Fprintln(e.stderr, "nomina-sim:", e.sc.progressLine(time.Since(e.rec.start), rate))
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// cpu returns the CPU time used since the scenario started.
func (e *environment) cpu() CPUStats {
	var out CPUStats
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		out.Simulator = (time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) - e.cpuAtStart.sim).Seconds()
	}
	for i, in := range e.cl.instances {
		base := time.Duration(0)
		if i < len(e.cpuAtStart.instances) {
			base = e.cpuAtStart.instances[i]
		}
		out.Instances = append(out.Instances, (in.cpuTime() - base).Seconds())
	}
	if e.sink.mailpit != nil && e.sink.mailpit.cmd.Process != nil {
		out.Mailpit = (procCPU(e.sink.mailpit.cmd.Process.Pid) - e.cpuAtStart.mailpit).Seconds()
	}
	return out
}

// markCPU notes the CPU time used before the scenario (building, start,
// the store's measurement), so the report counts the scenario's only.
func (e *environment) markCPU() {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		e.cpuAtStart.sim = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	e.cpuAtStart.instances = nil
	e.cmdsAtStart, e.servedAtStart = nil, nil
	for _, in := range e.cl.instances {
		e.cpuAtStart.instances = append(e.cpuAtStart.instances, in.cpuTime())
		e.cmdsAtStart = append(e.cmdsAtStart, in.storeCommands())
		e.servedAtStart = append(e.servedAtStart, in.servedTotal())
	}
	if e.sink.mailpit != nil && e.sink.mailpit.cmd.Process != nil {
		e.cpuAtStart.mailpit = procCPU(e.sink.mailpit.cmd.Process.Pid)
	}
}

// progress shows a bar on the terminal until the function returned is
// called.
func (e *environment) progress(ctx context.Context) func() {
	if !e.progressOn() {
		return e.statusLines(ctx)
	}
	total := len(e.plan.all())
	bar := progressbar.NewOptions(total*3, progressbar.OptionSetWriter(e.stderr), progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish())
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		last, lastAt := int64(0), time.Now()
		rate := 0.0
		for {
			select {
			case <-done:
				_ = bar.Finish()
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			n := e.rec.done.Load()
			if d := time.Since(lastAt); d >= time.Second {
				rate = float64(n-last) / d.Seconds()
				last, lastAt = n, time.Now()
			}
			sc := e.sc
			_ = bar.Set(int(min(sc.registered.Load()+sc.submitted.Load()+sc.screened.Load(), int64(total*3))))
			bar.Describe(sc.progressLine(time.Since(e.rec.start), rate))
		}
	})
	return func() {
		close(done)
		wg.Wait()
		fmt.Fprintln(e.stderr)
	}
}
