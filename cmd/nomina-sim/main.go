// Command nomina-sim plays a whole MAG renewal, with a Leadership Panel call
// alongside, against real running instances of the service on one store,
// under faults, and then checks from the store and the SMTP sink that
// nothing was lost or doubled.
//
//	go run ./cmd/nomina-sim --instances 3 --faults all
//
// It builds the service binary once, starts the instances as processes
// (the first owns the embedded store and opens it to the others over TLS
// with client certificates; they read its URI file), starts an SMTP sink
// (Mailpit when --mailpit or $NOMINA_TEST_MAILPIT names its binary, else
// an SMTP server in this process), measures the store's raw insert and
// _id read rates, plays the scenario through the HTTP API with concurrent
// clients, checks the invariants and prints a report (--json for
// machines). It exits 1 when a check fails, 2 on bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Fault names, as --faults takes them.
const (
	faultKill       = "kill"        // SIGKILL of an instance in the middle of the voting, then its restart
	faultOutage     = "smtp-outage" // the SMTP server away for OutageFor
	faultSMTPErrors = "smtp-errors" // 4xx then success for some recipients, 4xx then 5xx for others
	faultDisconnect = "disconnect"  // clients that go away mid-request
	faultSkew       = "skew"        // instances' clocks seconds apart
)

var allFaults = []string{faultKill, faultOutage, faultSMTPErrors, faultDisconnect, faultSkew}

// options are the simulation's settings.
type options struct {
	Instances    int
	Candidates   int // MAG nominations
	LPCandidates int // Leadership Panel nominations
	Reviewers    int // on the four MAG panels together
	LPCommittee  int
	MAGSeats     int
	LPSeats      int
	Faults       map[string]bool
	OutageFor    time.Duration
	Seed         uint64
	Concurrency  int // the crowd's requests in flight at most, and the staff's
	Mailpit      string
	Nomina       string // a built service binary; empty builds one
	Dir          string // working directory; empty: a temporary one, removed unless Keep
	Keep         bool
	JSON         bool
	Progress     string // auto, on, off
	Timeout      time.Duration

	// Instances run by someone else (--targets): the simulator starts
	// none, reads StoreURI and receives mail on SMTPListen.
	Targets       []string // host:port of each instance's HTTP listener
	StoreURI      string
	Database      string
	SMTPListen    string
	AdminEmail    string
	AdminPassword string
}

func defaultOptions() options {
	return options{Instances: 3, Candidates: 2000, LPCandidates: -1, Reviewers: 60, LPCommittee: 7, MAGSeats: 40, LPSeats: 10,
		OutageFor: 30 * time.Second, Seed: 2027, Concurrency: 48, Progress: "auto", Timeout: 2 * time.Hour,
		Database: "nomina", SMTPListen: "127.0.0.1:2525"}
}

// parseFlags reads the command line into options; an error is a usage
// error (exit 2).
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	o := defaultOptions()
	fs := flag.NewFlagSet("nomina-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	faults := fs.String("faults", "none", "faults to inject: all, none, or a comma-separated list of "+strings.Join(allFaults, ", "))
	fs.IntVar(&o.Instances, "instances", o.Instances, "service instances on the one store")
	fs.IntVar(&o.Candidates, "candidates", o.Candidates, "MAG nominations")
	fs.IntVar(&o.LPCandidates, "lp-candidates", o.LPCandidates, "Leadership Panel nominations (default: a tenth of --candidates, at least 12)")
	fs.IntVar(&o.Reviewers, "reviewers", o.Reviewers, "reviewers on the four MAG panels together")
	fs.IntVar(&o.LPCommittee, "lp-committee", o.LPCommittee, "members of the Leadership Panel's selection committee")
	fs.IntVar(&o.MAGSeats, "mag-seats", o.MAGSeats, "MAG seats to fill")
	fs.IntVar(&o.LPSeats, "lp-seats", o.LPSeats, "Leadership Panel seats to fill")
	fs.DurationVar(&o.OutageFor, "outage", o.OutageFor, "length of the SMTP outage")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the scenario (who is nominated, how reviewers vote)")
	fs.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "HTTP requests of the crowd (candidates, nominees, endorsers) in flight at most; the staff (secretariat, reviewers) have as many of their own")
	fs.StringVar(&o.Mailpit, "mailpit", getenv("NOMINA_TEST_MAILPIT"), "Mailpit binary to use as the SMTP sink (default $NOMINA_TEST_MAILPIT; empty: an SMTP server in this process)")
	fs.StringVar(&o.Nomina, "nomina", "", "service binary to run (default: built from ./cmd/nomina)")
	fs.StringVar(&o.Dir, "dir", "", "working directory for data and logs (default: a temporary one)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the working directory (data, logs) afterwards")
	fs.BoolVar(&o.JSON, "json", false, "print the report as JSON")
	fs.StringVar(&o.Progress, "progress", o.Progress, "progress bar: auto (on a terminal), on, off")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "give up after this long")
	targets := fs.String("targets", "", "comma-separated http://host:port of instances already running, on an empty store, instead of starting them")
	fs.StringVar(&o.StoreURI, "store-uri", getenv("NOMINA_MONGODB_URI"), "with --targets: the store the instances share, for the checks (default $NOMINA_MONGODB_URI)")
	fs.StringVar(&o.Database, "database", o.Database, "with --targets: the instances' database (NOMINA_DATABASE)")
	fs.StringVar(&o.SMTPListen, "smtp-listen", o.SMTPListen, "with --targets: where the SMTP sink listens (the instances' NOMINA_SMTP_URL)")
	o.AdminEmail, o.AdminPassword = getenv("NOMINA_ADMIN_EMAIL"), getenv("NOMINA_ADMIN_PASSWORD")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	f, err := parseFaults(*faults)
	if err != nil {
		return o, err
	}
	o.Faults = f
	if err := o.readTargets(*targets); err != nil {
		return o, err
	}
	if len(o.Targets) == 0 { // the simulator makes its own administrator
		o.AdminEmail, o.AdminPassword = "", ""
	}
	if o.LPCandidates < 0 {
		o.LPCandidates = max(o.Candidates/10, 12)
	}
	switch {
	case o.Instances < 1 || o.Instances > 16:
		return o, errors.New("--instances: 1 to 16")
	case o.Candidates < 20:
		return o, errors.New("--candidates: at least 20")
	case o.Reviewers < 8 || o.Reviewers%4 != 0:
		return o, errors.New("--reviewers: a multiple of 4, at least 8 (the four MAG panels are the same size)")
	case o.LPCommittee < 3:
		return o, errors.New("--lp-committee: at least 3 (the committee decides on three scores or more)")
	case o.Concurrency < 1:
		return o, errors.New("--concurrency: at least 1")
	case o.Progress != "auto" && o.Progress != "on" && o.Progress != "off":
		return o, errors.New("--progress: auto, on or off")
	}
	if o.Faults[faultKill] && o.Instances < 2 {
		return o, errors.New("--faults kill needs --instances 2 or more: the first instance owns the store and is not the one killed")
	}
	return o, nil
}

// readTargets checks the settings of a run against instances someone
// else started.
func (o *options) readTargets(list string) error {
	if strings.TrimSpace(list) == "" {
		return nil
	}
	for _, t := range strings.Split(list, ",") {
		u, err := url.Parse(strings.TrimSpace(t))
		if err != nil || u.Scheme != "http" || u.Host == "" || strings.Trim(u.Path, "/") != "" {
			return fmt.Errorf("--targets: %q is not http://host:port", t)
		}
		o.Targets = append(o.Targets, u.Host)
	}
	o.Instances = len(o.Targets)
	switch {
	case o.StoreURI == "":
		return errors.New("--targets needs --store-uri (or $NOMINA_MONGODB_URI): the checks read the store")
	case o.AdminEmail == "" || o.AdminPassword == "":
		return errors.New("--targets needs $NOMINA_ADMIN_EMAIL and $NOMINA_ADMIN_PASSWORD: the instances' first administrator")
	case o.Faults[faultKill] || o.Faults[faultSkew]:
		return errors.New("--targets: the faults kill and skew need instances the simulator starts")
	case o.Mailpit != "":
		return errors.New("--targets: the sink is the simulator's own SMTP server (--smtp-listen); leave --mailpit and $NOMINA_TEST_MAILPIT unset")
	}
	return nil
}

func parseFaults(s string) (map[string]bool, error) {
	out := map[string]bool{}
	switch strings.TrimSpace(s) {
	case "", "none":
		return out, nil
	case "all":
		for _, f := range allFaults {
			out[f] = true
		}
		return out, nil
	}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		known := false
		for _, k := range allFaults {
			known = known || k == f
		}
		if !known {
			return nil, fmt.Errorf("--faults: unknown fault %q (know %s)", f, strings.Join(allFaults, ", "))
		}
		out[f] = true
	}
	return out, nil
}

// faultList names the faults switched on, in a fixed order.
func (o options) faultList() []string {
	var out []string
	for _, f := range allFaults {
		if o.Faults[f] {
			out = append(out, f)
		}
	}
	return out
}

// run plays the simulation and returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, getenv, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "nomina-sim:", err)
		}
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	rep, err := simulate(ctx, o, stderr)
	if rep != nil {
		if o.JSON {
			if err := rep.writeJSON(stdout); err != nil {
				fmt.Fprintln(stderr, "nomina-sim:", err)
			}
		} else {
			rep.writeText(stdout)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "nomina-sim:", err)
		return 1
	}
	if !rep.Passed() {
		return 1
	}
	return 0
}

// simulate runs one simulation with o and returns its report; an error is
// a simulation that could not be carried out (a report may still come
// with it, holding what was measured).
func simulate(ctx context.Context, o options, stderr io.Writer) (*Report, error) {
	env, err := newEnvironment(ctx, o, stderr)
	if env != nil {
		defer env.Close()
	}
	if err != nil {
		return nil, err
	}
	return env.Run(ctx)
}

// cores is reported with the figures: they depend on it.
func cores() int { return runtime.NumCPU() }
