package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// nominationInMail finds the nomination a message is about: its link, or
// the id the text gives in brackets.
var nominationInMail = regexp.MustCompile(`/(?:api/v1/nominations|nominations|review|secretariat/nominations)/(n[a-z0-9]{8,40})\b|\((n[a-z0-9]{8,40})\)`)

func nominationOf(m *mailMsg) string {
	sm := nominationInMail.FindStringSubmatch(m.Text)
	if sm == nil {
		return ""
	}
	if sm[1] != "" {
		return sm[1]
	}
	return sm[2]
}

// workItem is a nomination someone is to look at: from a mail (round
// unknown, 0) or from a list, with its round.
type workItem struct {
	ID     string
	Round  int
	Listed bool
	item   nominationBody // what the list said of it
}

// desk is the work waiting on one person: the nominations their mail is
// about and, when their mail has been quiet for a while, those a look at
// their queue shows (mail that is late, or never comes). They take the
// next piece of work at random, as people do not all work in the order
// mail arrives: reviewers of one panel spread over the nominations
// rather than all voting on one at the same moment. Work that someone
// else waits on (urgent, when set, says which) comes first: a reviewer
// who finds a nomination incomplete asks for the changes at once, rather
// than after the hundreds of others on their desk.
type desk struct {
	mu      sync.Mutex
	pending map[string]workItem
	ready   chan struct{}
	rnd     *lockedRand
	urgent  func(id string) bool
}

func newDesk(seed uint64, urgent func(id string) bool) *desk {
	return &desk{pending: map[string]workItem{}, ready: make(chan struct{}, 1), rnd: newLockedRand(seed), urgent: urgent}
}

func (d *desk) put(w workItem) {
	d.mu.Lock()
	if old, ok := d.pending[w.ID]; !ok || w.Listed || !old.Listed {
		d.pending[w.ID] = w
	}
	d.mu.Unlock()
	select {
	case d.ready <- struct{}{}:
	default:
	}
}

// take returns a piece of work, waiting for one.
func (d *desk) take(ctx context.Context) (workItem, bool) {
	for {
		d.mu.Lock()
		if d.urgent != nil {
			for id, w := range d.pending {
				if d.urgent(id) {
					delete(d.pending, id)
					d.mu.Unlock()
					return w, true
				}
			}
		}
		if n := len(d.pending); n > 0 {
			k := int(d.rnd.Float64() * float64(n))
			for id, w := range d.pending {
				if k == 0 {
					delete(d.pending, id)
					d.mu.Unlock()
					return w, true
				}
				k--
			}
		}
		d.mu.Unlock()
		select {
		case <-ctx.Done():
			return workItem{}, false
		case <-d.ready:
		}
	}
}

// inbox fills the desk from the person's mail (messages whose subject
// contains word) and, once no such mail has come for quiet, from list
// (a look at their queue), until ctx ends. A look that finds nothing the
// mail had not brought makes the next wait twice as long, up to
// lookBackoff times quiet; one that finds something brings it back to
// quiet. A look costs the service a listing (on an instance without the
// store's file, a read of every nomination per page): people who looked
// every half minute while their mail was merely quiet made most of what
// a full renewal asked of the service in its submission window (2.4
// listings a second, each over a second on the two other instances).
func (s *scenario) inbox(ctx context.Context, addr, word string, quiet time.Duration, list func() []workItem, d *desk) {
	var lastMail atomic.Int64
	lastMail.Store(time.Now().UnixNano())
	var mu sync.Mutex
	known := map[string]int{} // nomination id: the latest round the mail or a look brought
	learn := func(id string, round int) bool {
		mu.Lock()
		defer mu.Unlock()
		if known[id] >= round {
			return false
		}
		known[id] = round
		return true
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			m, err := s.sink.next(ctx, addr, i)
			if err != nil {
				return
			}
			if !strings.Contains(strings.ToLower(m.Subject), word) {
				continue
			}
			if id := nominationOf(m); id != "" {
				lastMail.Store(time.Now().UnixNano())
				round := 1
				if c := s.candidateOf(id); c != nil {
					round = s.roundOf(c)
				}
				learn(id, round)
				d.put(workItem{ID: id})
			}
		}
	})
	wg.Go(func() {
		lastList := time.Now().Add(-time.Duration(chance(s.p.seed, addr, "list") * float64(quiet)))
		wait := quiet
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(quiet / 4):
			}
			if time.Since(time.Unix(0, lastMail.Load())) < quiet || time.Since(lastList) < wait {
				continue
			}
			lastList = time.Now()
			found := false
			for _, it := range list() {
				found = learn(it.ID, max(it.Round, 1)) || found
				d.put(it)
			}
			if found {
				wait = quiet
			} else {
				wait = min(2*wait, lookBackoff*quiet)
			}
		}
	})
	wg.Wait()
}

// lookBackoff bounds the wait between looks at a queue that keep finding
// nothing new, in multiples of the person's quiet time.
const lookBackoff = 4

// How long a secretariat member's and a reviewer's mail about work stays
// quiet before they look at their queue, and how often at most they look.
// Mail held up (an SMTP outage, a job leased by a killed instance until
// its lease ends) is found there: the longer the wait, the longer the end
// of the review waits on the last such nomination. Reviewers wait longer:
// a review request goes only to reviewers who have not voted yet when it
// is sent, so reviewers who vote from their queue before their mail
// comes leave the check that no review mail reaches a conflicted
// reviewer or another panel little to check (a run with 10 s had 6 such
// messages to check instead of about 600).
const (
	screenQuiet = 5 * time.Second
	reviewQuiet = 30 * time.Second
)

// screen is one secretariat member screening submissions: the mail about
// each new submission, and a look at the list now and then, hand their
// share (by nomination id) to three workers, who admit or reject each as
// the plan says.
func (s *scenario) screen(ctx context.Context, who *session, member, members int) {
	d := newDesk(s.p.seed+uint64(member), nil)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		s.inbox(ctx, who.email, "screen", screenQuiet, func() []workItem {
			var out []workItem
			for _, slug := range []string{magCall, lpCall} {
				items, _ := s.list(ctx, who, "call", slug, "state", "submitted")
				for _, it := range items {
					if share(it.ID, members) == member {
						out = append(out, workItem{ID: it.ID, Round: it.Round, Listed: true})
					}
				}
			}
			return out
		}, d)
	})
	for w := 0; w < 3; w++ {
		wg.Go(func() {
			for {
				it, ok := d.take(ctx)
				if !ok {
					return
				}
				if share(it.ID, members) == member {
					s.screenOne(ctx, who, it.ID, it.Listed)
				}
			}
		})
	}
}

// share assigns a nomination to one of n members.
func share(id string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// screenOne admits or rejects one nomination; one that comes from a mail
// is opened first, one from the list of submissions is known to wait.
func (s *scenario) screenOne(ctx context.Context, who *session, id string, listed bool) {
	c := s.candidateOf(id)
	if c == nil {
		return // not one of the scenario's (a draft a lost answer made twice is never submitted)
	}
	if !listed {
		n, err := s.get(ctx, who, id)
		if err != nil || n.State != "submitted" {
			return
		}
	}
	action := "admit"
	body := map[string]any{}
	ref := s.c.ref()
	if c.ScreenReject {
		action = "reject"
		body["reason"] = "Not eligible: the candidate's organisation is not of the stakeholder group given. Ref " + ref
	} else {
		body["comment"] = "Eligible. Ref " + ref
	}
	resp := who.call(ctx, request{Method: "POST", Path: "/api/v1/nominations/" + id + "/actions/" + action, Route: "POST /api/v1/nominations/:id/actions/:action",
		Body: body, Cuttable: true, Key: ref, Nomination: id, What: action})
	switch {
	case resp.Status == http.StatusOK:
		s.screened.Add(1)
	case resp.Status == http.StatusConflict, resp.Status == 0, resp.Status >= 500:
		// Moved on meanwhile, or no answer: the next look shows whether
		// it still waits.
	default:
		if ctx.Err() == nil {
			s.problem("%s %s: %s", action, id, resp)
		}
	}
}

// review is one reviewer at work until the reviews are over: each review
// request mailed, and each nomination of a look at the panel's queue now
// and then, is opened; the reviewer declares the conflicts the plan gives
// them, asks for changes where they are the one to, and votes.
func (s *scenario) review(ctx context.Context, rv *reviewer) {
	sess := s.revs[rv.Index]
	slug := magCall
	if rv.Panel == "lp_committee" {
		slug = lpCall
	}
	// The nominations this reviewer is to send back for changes: their
	// nominators, and the end of the submission window, wait on it.
	d := newDesk(s.p.seed+uint64(rv.Index)+17, func(id string) bool {
		c := s.candidateOf(id)
		return c != nil && c.RequestChanges && c.ChangesBy == rv.Index && s.roundOf(c) == 1
	})
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		s.inbox(ctx, rv.Email, "review", reviewQuiet, func() []workItem {
			items, _ := s.list(ctx, sess, "call", slug, "state", "panel_review", "panel", rv.Panel)
			var out []workItem
			for _, it := range items {
				out = append(out, workItem{ID: it.ID, Round: it.Round, Listed: true, item: it})
			}
			return out
		}, d)
	})
	handled := map[string]bool{} // "<id>/<round>"
	conflicts := map[string]bool{}
	for {
		w, ok := d.take(ctx)
		if !ok {
			return
		}
		c := s.candidateOf(w.ID)
		if c == nil {
			continue
		}
		round := w.Round
		if !w.Listed {
			// What the reviewer knows of the nomination's round without
			// opening it (the round after changes once they are made).
			round = s.roundOf(c)
		}
		if handled[w.ID+"/"+strconv.Itoa(round)] {
			continue
		}
		it := w.item
		if !w.Listed {
			var err error
			if it, err = s.get(ctx, sess, w.ID); err != nil || it.State != "panel_review" {
				continue
			}
		}
		key := it.ID + "/" + strconv.Itoa(it.Round)
		if handled[key] {
			continue
		}
		if done, _ := s.reviewOne(ctx, sess, rv, c, it, conflicts); done {
			handled[key] = true
		}
	}
}

// reviewOne does what rv does about one nomination in its current round.
// done says the nomination needs nothing more from rv in this round;
// acted that a change was asked for.
func (s *scenario) reviewOne(ctx context.Context, sess *session, rv *reviewer, c *candidate, it nominationBody, conflicts map[string]bool) (done, acted bool) {
	path := "/api/v1/nominations/" + it.ID
	ref := s.c.ref()
	switch {
	case s.p.excluded(rv, c):
		// Same organisation as the candidate: refused without asking.
		resp := sess.call(ctx, request{Method: "POST", Path: path + "/votes", Route: "POST /api/v1/nominations/:id/votes",
			Body: map[string]any{"decision": "approve", "comment": "Ref " + ref}, Key: ref, Nomination: it.ID, What: "vote (excluded)"})
		if resp.Status != http.StatusForbidden && resp.Status != http.StatusConflict && resp.Status != 0 && ctx.Err() == nil {
			s.problem("a reviewer of the candidate's organisation voted on %s: %s", it.ID, resp)
		}
		return resp.Status != 0, true
	case s.p.conflicted(rv, c):
		if conflicts[it.ID] {
			return true, false
		}
		resp := sess.call(ctx, request{Method: "POST", Path: path + "/conflicts", Route: "POST /api/v1/nominations/:id/conflicts",
			Body: map[string]any{"reason": "I advised the candidate's organisation last year. Ref " + ref}, Cuttable: true, Key: ref, Nomination: it.ID, What: "conflict"})
		switch {
		case resp.Status == http.StatusCreated, resp.Status == http.StatusConflict:
			conflicts[it.ID] = true
			return true, true
		case resp.Status == 0 || resp.Status >= 500:
			return false, true
		}
		if ctx.Err() == nil {
			s.problem("declare a conflict on %s: %s", it.ID, resp)
		}
		return true, true
	case c.RequestChanges && it.Round == 1 && rv.Index != c.ChangesBy:
		return false, false // the round's changes are asked for first
	}
	body := map[string]any{}
	what := "vote"
	if c.Call == lpCall {
		sc := s.p.score(rv, c)
		d := "approve"
		if sc < 3 {
			d = "reject"
		}
		body["decision"], body["score"], body["comment"] = d, sc, "Score "+strconv.Itoa(sc)+". Ref "+ref
	} else if c.RequestChanges && it.Round == 1 {
		body["decision"], body["comment"] = "request_changes", "Please say how the candidate would take part in the intersessional work. Ref "+ref
		what = "request changes"
	} else {
		body["decision"], body["comment"] = s.p.vote(rv, c, it.Round), "Ref "+ref
	}
	resp := sess.call(ctx, request{Method: "POST", Path: path + "/votes", Route: "POST /api/v1/nominations/:id/votes",
		Body: body, Cuttable: true, Key: ref, Nomination: it.ID, What: what})
	switch {
	case resp.Status == http.StatusCreated:
		s.votes.Add(1)
		return true, true
	case resp.Status == http.StatusConflict:
		return true, true // decided already, or this vote landed before its answer was lost
	case resp.Status == 0 || resp.Status >= 500:
		return false, true
	}
	if ctx.Err() == nil {
		s.problem("vote on %s: %s", it.ID, resp)
	}
	return true, true
}

// selection is the secretariat's final choice for each call: the balance
// of what the panels recommend, the suggested shortlist, shortlisting it,
// and recording the appointments (the Secretary-General declines a few).
func (s *scenario) selection(ctx context.Context) error {
	for _, call := range []struct {
		slug     string
		seats    int
		declines int
	}{{magCall, s.o.MAGSeats, 2}, {lpCall, s.o.LPSeats, 1}} {
		sec := s.staff[0]
		waiting, err := s.list(ctx, sec, "call", call.slug, "state", "secretariat_review")
		if err != nil {
			return err
		}
		resp := sec.call(ctx, request{Method: "GET", Path: query("/api/v1/calls/"+call.slug+"/balance", "state", "secretariat_review"), Route: "GET /api/v1/calls/:slug/balance"})
		if resp.Status != http.StatusOK {
			return fmt.Errorf("balance of %s: %s", call.slug, resp)
		}
		seats := min(call.seats, len(waiting))
		if seats == 0 {
			continue
		}
		resp = sec.call(ctx, request{Method: "GET", Path: query("/api/v1/calls/"+call.slug+"/balance/suggest", "state", "secretariat_review", "seats", strconv.Itoa(seats)),
			Route: "GET /api/v1/calls/:slug/balance/suggest"})
		var sug struct {
			Picks []struct {
				ID string `json:"id"`
			} `json:"picks"`
		}
		if resp.Status != http.StatusOK || resp.decode(&sug) != nil {
			return fmt.Errorf("suggested shortlist of %s: %s", call.slug, resp)
		}
		picked := map[string]bool{}
		for _, p := range sug.Picks {
			picked[p.ID] = true
		}
		var jobs []func() error
		for i, n := range waiting {
			who := s.staff[i%len(s.staff)]
			c := s.candidateOf(n.ID)
			if picked[n.ID] {
				jobs = append(jobs, func() error { return s.act(ctx, who, c, n.ID, "shortlist", "shortlisted") })
			} else {
				jobs = append(jobs, func() error { return s.act(ctx, who, c, n.ID, "not_select", "not_selected") })
			}
		}
		if err := parallelBounded(jobs, 16); err != nil {
			return err
		}
		jobs = nil
		declined := map[string]bool{}
		for i := len(sug.Picks) - 1; i >= 0 && len(declined) < call.declines && len(sug.Picks) > call.declines; i-- {
			declined[sug.Picks[i].ID] = true
		}
		for i, p := range sug.Picks {
			who := s.staff[i%len(s.staff)]
			c := s.candidateOf(p.ID)
			if declined[p.ID] {
				jobs = append(jobs, func() error { return s.act(ctx, who, c, p.ID, "not_select", "not_selected") })
				continue
			}
			s.mu.Lock()
			s.appointed[p.ID] = true
			s.mu.Unlock()
			jobs = append(jobs, func() error { return s.act(ctx, who, c, p.ID, "appoint", "appointed") })
		}
		if err := parallelBounded(jobs, 16); err != nil {
			return err
		}
	}
	return nil
}

// parallelBounded runs jobs, at most n at a time.
func parallelBounded(jobs []func() error, n int) error {
	sem := make(chan struct{}, n)
	wrapped := make([]func() error, len(jobs))
	for i, j := range jobs {
		wrapped[i] = func() error {
			sem <- struct{}{}
			defer func() { <-sem }()
			return j()
		}
	}
	return parallel(wrapped)
}

// startFaults starts the faults of the review phase: the SMTP outage at
// once, and the kill of the last instance once about a third of the
// reviews waiting have been decided. The function returned waits for
// them to end.
func (s *scenario) startFaults(ctx context.Context) func() error {
	var wg sync.WaitGroup
	var errs [2]error
	if s.o.Faults[faultOutage] {
		wg.Go(func() { errs[0] = s.sink.outage(ctx, s.o.OutageFor) })
	}
	if s.o.Faults[faultKill] {
		wg.Go(func() { errs[1] = s.killOne(ctx) })
	}
	return func() error {
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
}

// killOne SIGKILLs the last instance in the middle of the voting and
// starts it again.
func (s *scenario) killOne(ctx context.Context) error {
	waiting := func() int {
		c, err := s.counts(ctx, magCall)
		if err != nil {
			return -1
		}
		return c["panel_review"] + c["submitted"]
	}
	start, begun := waiting(), time.Now()
	for {
		now := waiting()
		if now >= 0 && start > 0 && now*10 <= start*7 || time.Since(begun) > 20*time.Second {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.reviewOver:
			return nil
		case <-time.After(time.Second):
		}
	}
	victim := s.cl.instances[len(s.cl.instances)-1]
	from := time.Now()
	victim.keepServed()
	victim.kill()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(2 * time.Second):
	}
	if err := victim.start(s.cl.bin); err != nil {
		return err
	}
	if err := victim.waitReady(ctx, 2*time.Minute); err != nil {
		return err
	}
	s.mu.Lock()
	// Requests that reached the victim before it died are answered by
	// nobody; those are not 5xx. The window also holds the restart.
	s.killed = append(s.killed, window{from, time.Now().Add(2 * time.Second)})
	s.mu.Unlock()
	return nil
}
