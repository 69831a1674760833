package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what a simulation measured and checked.
type Report struct {
	Instances    int               `json:"instances"`
	Cores        int               `json:"cores"`
	Candidates   int               `json:"mag_nominations"`
	LPCandidates int               `json:"lp_nominations"`
	Reviewers    int               `json:"reviewers"`
	Faults       []string          `json:"faults"`
	Seed         uint64            `json:"seed"`
	Sink         string            `json:"sink"`
	WallSeconds  float64           `json:"wall_seconds"`
	Settings     map[string]string `json:"settings"`          // what the simulator set for its instances, and why in the text
	Targets      []string          `json:"targets,omitempty"` // instances run by someone else (--targets)
	Store        StoreRates        `json:"store"`
	Phases       []PhaseStats      `json:"phases"`
	Routes       []RouteStats      `json:"routes"`
	Mail         MailStats         `json:"mail"`
	Rush         RushStats         `json:"rush"`
	Kills        []KillStats       `json:"kills,omitempty"`
	Outages      []KillStats       `json:"smtp_outages,omitempty"`
	Checks       []Check           `json:"checks"`
	CPU          CPUStats          `json:"cpu_seconds"`
	// StoreCommands counts the commands the instances sent the store
	// during the run, by name (a killed instance's count before the kill
	// is lost), and per HTTP request.
	StoreCommands      map[string]float64 `json:"store_commands"`
	CommandsPerRequest float64            `json:"store_commands_per_request"`
	Requests           int                `json:"requests"`
	Cut                int                `json:"requests_cut_off"`
}

// CPUStats is the CPU time each process used during the run.
type CPUStats struct {
	Simulator float64   `json:"simulator"`
	Instances []float64 `json:"instances"` // the first includes the embedded store
	Mailpit   float64   `json:"mailpit,omitempty"`
}

// PhaseStats are one phase's requests.
type PhaseStats struct {
	Name     string  `json:"name"`
	Seconds  float64 `json:"seconds"`
	Requests int     `json:"requests"`
	Writes   int     `json:"writes"`
	PerSec   float64 `json:"requests_per_sec"`
	// Ratios are the phase's requests per second over the store's raw
	// insert and _id read rates.
	PerInsert float64 `json:"ratio_to_inserts"`
	PerRead   float64 `json:"ratio_to_id_reads"`
	Status5xx int     `json:"status_5xx"`
}

// RouteStats are the latencies of one route.
type RouteStats struct {
	Route  string  `json:"route"`
	Count  int     `json:"count"`
	P50Ms  float64 `json:"p50_ms"`
	P95Ms  float64 `json:"p95_ms"`
	P99Ms  float64 `json:"p99_ms"`
	Non2xx int     `json:"non_2xx"`
}

// MailStats are the messages the sink received.
type MailStats struct {
	Delivered    int     `json:"delivered"`
	PerSec       float64 `json:"per_sec"`         // over the whole run
	PerSecActive float64 `json:"per_sec_flowing"` // from the first message to the last
	Refused      int     `json:"refused_by_faults"`
}

// RushStats says how much of the submitting happened in the rush.
type RushStats struct {
	Submissions   int     `json:"submissions"`
	InRush        int     `json:"in_rush"`
	WindowSeconds float64 `json:"window_seconds"`
	RushSeconds   float64 `json:"rush_seconds"`
}

// KillStats is a window of a fault, from the start of the run.
type KillStats struct {
	FromSeconds float64 `json:"from_seconds"`
	ToSeconds   float64 `json:"to_seconds"`
}

// Passed reports whether every check held.
func (r *Report) Passed() bool {
	if len(r.Checks) == 0 {
		return false
	}
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// Failed returns the names of the checks that failed.
func (r *Report) Failed() []string {
	var out []string
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c.Name)
		}
	}
	return out
}

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return float64(sorted[i].Microseconds()) / 1000
}

func (e *environment) report(checks []Check, end time.Duration) *Report {
	o := e.o
	r := &Report{Instances: o.Instances, Cores: cores(), Candidates: o.Candidates, LPCandidates: o.LPCandidates, Reviewers: o.Reviewers,
		Faults: o.faultList(), Seed: o.Seed, Sink: "in-process SMTP server (go-smtp)", WallSeconds: end.Seconds(), Store: e.storeAt,
		Settings: map[string]string{}, Checks: checks}
	if e.sink != nil && e.sink.mailpit != nil {
		r.Sink = "Mailpit, behind the fault-injecting SMTP server"
	}
	r.Settings = e.instanceSettings()
	r.Targets = o.Targets
	if r.Faults == nil {
		r.Faults = []string{}
	}
	records, _ := e.rec.snapshot()
	r.Requests = len(records)
	sc := e.sc
	if sc == nil {
		return r
	}
	sc.mu.Lock()
	at := sc.phaseAt
	kills := append([]window(nil), sc.killed...)
	sc.mu.Unlock()
	at[phaseCount] = end
	byRoute := map[string][]time.Duration{}
	non2xx := map[string]int{}
	phases := make([]PhaseStats, phaseCount)
	// A phase lasts until the next one reached, or the end: a run cut
	// short (an interrupt, --timeout) reports the phases it went through.
	reached := func(i int) bool { return i == 0 || at[i] > 0 }
	for i := range phases {
		phases[i].Name = phaseNames[i]
		if !reached(i) {
			continue
		}
		stop := end
		for j := i + 1; j < phaseCount; j++ {
			if reached(j) {
				stop = at[j]
				break
			}
		}
		phases[i].Seconds = (max(stop, at[i]) - at[i]).Seconds()
	}
	for _, rec := range records {
		if rec.Cut {
			r.Cut++
		}
		byRoute[rec.Route] = append(byRoute[rec.Route], rec.Latency)
		if rec.Status < 200 || rec.Status >= 300 {
			non2xx[rec.Route]++
		}
		ph := &phases[rec.Phase]
		ph.Requests++
		if !strings.HasPrefix(rec.Route, "GET ") {
			ph.Writes++
		}
		if rec.Status >= 500 {
			ph.Status5xx++
		}
	}
	for i := range phases {
		if phases[i].Seconds > 0 {
			phases[i].PerSec = float64(phases[i].Requests) / phases[i].Seconds
		}
		if r.Store.InsertsPerSec > 0 {
			phases[i].PerInsert = phases[i].PerSec / r.Store.InsertsPerSec
		}
		if r.Store.ReadsPerSec > 0 {
			phases[i].PerRead = phases[i].PerSec / r.Store.ReadsPerSec
		}
	}
	r.Phases = phases
	for route, lats := range byRoute {
		sort.Slice(lats, func(a, b int) bool { return lats[a] < lats[b] })
		r.Routes = append(r.Routes, RouteStats{Route: route, Count: len(lats), P50Ms: percentile(lats, 0.5), P95Ms: percentile(lats, 0.95),
			P99Ms: percentile(lats, 0.99), Non2xx: non2xx[route]})
	}
	sort.Slice(r.Routes, func(a, b int) bool { return r.Routes[a].Count > r.Routes[b].Count })
	msgs := e.sink.accepted()
	r.Mail.Delivered = len(msgs)
	if len(msgs) > 0 {
		r.Mail.PerSec = float64(len(msgs)) / end.Seconds()
		first, last := msgs[0].At, msgs[0].At
		for _, m := range msgs {
			if m.At.Before(first) {
				first = m.At
			}
			if m.At.After(last) {
				last = m.At
			}
		}
		if d := last.Sub(first); d > 0 {
			r.Mail.PerSecActive = float64(len(msgs)) / d.Seconds()
		}
	}
	e.sink.mu.Lock()
	r.Mail.Refused = len(e.sink.refused)
	for _, w := range e.sink.outages {
		r.Outages = append(r.Outages, KillStats{w.From.Sub(e.rec.start).Seconds(), w.To.Sub(e.rec.start).Seconds()})
	}
	e.sink.mu.Unlock()
	for _, w := range kills {
		r.Kills = append(r.Kills, KillStats{w.From.Sub(e.rec.start).Seconds(), w.To.Sub(e.rec.start).Seconds()})
	}
	r.Rush = RushStats{Submissions: int(sc.submitted.Load()), WindowSeconds: phases[phaseWindow].Seconds + phases[phaseRush].Seconds,
		RushSeconds: phases[phaseRush].Seconds}
	r.Rush.InRush = int(sc.rushSubmitted.Load())
	r.CPU = e.cpu()
	if len(o.Targets) > 0 {
		r.CPU.Instances = nil // not measured: not the simulator's processes
	}
	r.StoreCommands = map[string]float64{}
	total := 0.0
	for i, in := range e.cl.instances {
		for k, v := range in.storeCommands() {
			base := 0.0
			if i < len(e.cmdsAtStart) {
				base = e.cmdsAtStart[i][k]
			}
			if v >= base { // a restarted instance counts from zero
				v -= base
			}
			r.StoreCommands[k] += v
			total += v
		}
	}
	if r.Requests > 0 {
		r.CommandsPerRequest = total / float64(r.Requests)
	}
	return r
}

func (r *Report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *Report) writeText(w io.Writer) {
	fmt.Fprintf(w, "Nomina simulation: %d instance(s) on one store, %d MAG + %d Leadership Panel nominations, %d reviewers, %d cores\n",
		r.Instances, r.Candidates, r.LPCandidates, r.Reviewers, r.Cores)
	faults := "none"
	if len(r.Faults) > 0 {
		faults = strings.Join(r.Faults, ", ")
	}
	fmt.Fprintf(w, "faults: %s; SMTP sink: %s; seed %d\n", faults, r.Sink, r.Seed)
	fmt.Fprintf(w, "wall time: %s (%d requests, %d cut off on purpose)\n\n", time.Duration(r.WallSeconds*float64(time.Second)).Round(100*time.Millisecond), r.Requests, r.Cut)

	fmt.Fprintf(w, "store, raw (%d clients, %d ops, same TLS connection as the instances): %.0f inserts/s (p50 %.2f ms), %.0f _id reads/s (p50 %.2f ms); one client alone: insert %.2f ms, read %.2f ms\n\n",
		r.Store.Clients, r.Store.Ops, r.Store.InsertsPerSec, r.Store.InsertP50Ms, r.Store.ReadsPerSec, r.Store.ReadP50Ms, r.Store.SerialInsertMs, r.Store.SerialReadMs)

	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tseconds\trequests\twrites\treq/s\t÷ inserts/s\t÷ reads/s\t5xx\t")
	for _, p := range r.Phases {
		fmt.Fprintf(tw, "%s\t%.1f\t%d\t%d\t%.1f\t%.3f\t%.3f\t%d\t\n", p.Name, p.Seconds, p.Requests, p.Writes, p.PerSec, p.PerInsert, p.PerRead, p.Status5xx)
	}
	tw.Flush()
	if r.Rush.Submissions > 0 && r.Rush.WindowSeconds > 0 {
		fmt.Fprintf(w, "deadline rush: %d of %d submissions in the last %.1f s of a %.1f s window (%.0f%% of the window)\n",
			r.Rush.InRush, r.Rush.Submissions, r.Rush.RushSeconds, r.Rush.WindowSeconds, 100*r.Rush.RushSeconds/r.Rush.WindowSeconds)
	}
	for _, k := range r.Kills {
		fmt.Fprintf(w, "instance %d killed (SIGKILL) at %.1f s, ready again by %.1f s\n", r.Instances, k.FromSeconds, k.ToSeconds)
	}
	for _, k := range r.Outages {
		fmt.Fprintf(w, "SMTP outage from %.1f s to %.1f s\n", k.FromSeconds, k.ToSeconds)
	}
	cpu := fmt.Sprintf("CPU seconds: simulator %.0f", r.CPU.Simulator)
	sum := r.CPU.Simulator + r.CPU.Mailpit
	for i, c := range r.CPU.Instances {
		label := fmt.Sprintf("instance %d", i+1)
		if i == 0 {
			label += " (with the store)"
		}
		cpu += fmt.Sprintf(", %s %.0f", label, c)
		sum += c
	}
	if r.CPU.Mailpit > 0 {
		cpu += fmt.Sprintf(", Mailpit %.0f", r.CPU.Mailpit)
	}
	if r.WallSeconds > 0 && r.Cores > 0 {
		cpu += fmt.Sprintf("; %.0f%% of %d cores over the run", 100*sum/(r.WallSeconds*float64(r.Cores)), r.Cores)
	}
	fmt.Fprintln(w, cpu)
	if len(r.StoreCommands) > 0 {
		names := make([]string, 0, len(r.StoreCommands))
		for k := range r.StoreCommands {
			names = append(names, k)
		}
		sort.Slice(names, func(a, b int) bool { return r.StoreCommands[names[a]] > r.StoreCommands[names[b]] })
		var parts []string
		for _, k := range names {
			parts = append(parts, fmt.Sprintf("%s %.0f", k, r.StoreCommands[k]))
		}
		fmt.Fprintf(w, "store commands: %.1f per request (%s)\n", r.CommandsPerRequest, strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "mail: %d delivered, %.1f/s over the run, %.1f/s while flowing; %d refused by the faults\n\n",
		r.Mail.Delivered, r.Mail.PerSec, r.Mail.PerSecActive, r.Mail.Refused)

	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "route\tcount\tp50 ms\tp95 ms\tp99 ms\tnot 2xx")
	for _, rt := range r.Routes {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%d\n", rt.Route, rt.Count, rt.P50Ms, rt.P95Ms, rt.P99Ms, rt.Non2xx)
	}
	tw.Flush()
	fmt.Fprintln(w)
	keys := make([]string, 0, len(r.Settings))
	for k := range r.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(r.Targets) > 0 {
		fmt.Fprintln(w, "settings the instances were to be started with:")
	} else {
		fmt.Fprintln(w, "settings the simulator gave its instances:")
	}
	for _, k := range keys {
		fmt.Fprintf(w, "  %s=%s\n", k, r.Settings[k])
	}
	fmt.Fprintln(w, "  (each simulated person sends from an address of their own through X-Forwarded-For, so the per-address and")
	fmt.Fprintln(w, "   per-account limits keep their defaults; only the registrations of everyone together are raised to fit the crowd;")
	fmt.Fprintln(w, "   the mail lease and retry base are cut so an attempt cut off by the kill, or refused with 4xx, is made again within the run)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "checks:")
	for _, c := range r.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		note := ""
		if c.Note != "" {
			note = " — " + c.Note
		}
		fmt.Fprintf(w, "  %s %s (%d checked%s)\n", mark, c.Name, c.Checked, note)
		for _, f := range c.Faults {
			fmt.Fprintf(w, "         %s\n", f)
		}
		if c.Failed > len(c.Faults) {
			fmt.Fprintf(w, "         ... %d more\n", c.Failed-len(c.Faults))
		}
	}
	if len(r.Checks) == 0 {
		fmt.Fprintln(w, "  (not run: the simulation stopped before the checks)")
	}
}
