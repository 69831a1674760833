package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/igf/nomina/internal/export"
)

// Phases of the scenario, in order.
const (
	phaseSetup = iota
	phaseWindow
	phaseRush
	phaseReview
	phaseSelection
	phaseDrain
	phaseCount
)

var phaseNames = [phaseCount]string{"setup", "window", "rush", "review", "selection", "drain"}

// workflowInfo is what the scenario reads of a workflow: its form.
type workflowInfo struct {
	ID     string `json:"id"`
	Fields []struct {
		Name     string   `json:"name"`
		Type     string   `json:"type"`
		Required bool     `json:"required"`
		MinLen   int      `json:"min_len"`
		Choices  []string `json:"choices"`
	} `json:"fields"`
}

// nominationBody is the part of a nomination the scenario reads.
type nominationBody struct {
	ID           string                           `json:"id"`
	Call         string                           `json:"call"`
	State        string                           `json:"state"`
	Version      int                              `json:"version"`
	Round        int                              `json:"round"`
	Consent      string                           `json:"consent"`
	Fields       map[string]any                   `json:"fields"`
	Attachments  []struct{ Filename string }      `json:"attachments"`
	Endorsements []struct{ Email, Status string } `json:"endorsements"`
}

// scenario plays the plan against the cluster.
type scenario struct {
	o    options
	p    *plan
	c    *client
	sink *sink
	cl   *cluster
	rec  *recorder

	workflows map[string]workflowInfo // by call
	admin     *session
	staff     []*session
	revs      map[int]*session

	mu        sync.Mutex
	byID      map[string]*candidate
	ids       map[*candidate]string
	problems  []string // what went against the scenario's expectations
	phaseAt   [phaseCount + 1]time.Duration
	killed    []window
	appointed map[string]bool
	notSel    map[string]bool
	adopted   map[string]bool // refs of creates answered ambiguously whose nomination was found and used
	rounds    map[*candidate]int

	// counters for the progress bar and the end of the review
	registered, submitted, screened, votes, finished atomic.Int64
	rushSubmitted                                    atomic.Int64
	earlyLeft, rushLeft                              atomic.Int64
	rushGate, closed, reviewOver                     chan struct{}
}

func newScenario(o options, p *plan, c *client, sk *sink, cl *cluster, rec *recorder) *scenario {
	return &scenario{o: o, p: p, c: c, sink: sk, cl: cl, rec: rec, workflows: map[string]workflowInfo{}, revs: map[int]*session{},
		byID: map[string]*candidate{}, ids: map[*candidate]string{}, appointed: map[string]bool{}, notSel: map[string]bool{}, adopted: map[string]bool{}, rounds: map[*candidate]int{},
		rushGate: make(chan struct{}), closed: make(chan struct{}), reviewOver: make(chan struct{})}
}

// problem records something that went against the scenario's
// expectations (an unexpected status, a step that could not be done).
func (s *scenario) problem(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.problems) < 10000 {
		s.problems = append(s.problems, fmt.Sprintf(format, args...))
	}
}

func (s *scenario) enterPhase(ph int) {
	s.mu.Lock()
	s.phaseAt[ph] = time.Since(s.rec.start)
	s.mu.Unlock()
	s.rec.phase.Store(int32(ph))
}

func (s *scenario) setID(c *candidate, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID[id], s.ids[c] = c, id
}

// roundOf is the review round c's nominator last submitted it for: 1, and
// 2 once changes are made.
func (s *scenario) roundOf(c *candidate) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(s.rounds[c], 1)
}

func (s *scenario) setRound(c *candidate, r int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rounds[c] = r
}

func (s *scenario) candidateOf(id string) *candidate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byID[id]
}

func (s *scenario) anon(addr string) *session { return &session{c: s.c, addr: addr} }

func (s *scenario) sessionOf(p person) *session {
	return &session{c: s.c, email: p.Email, password: s.p.password, addr: p.Addr}
}

// staffSessionOf is the session of someone who works the calls: the
// administrator, the secretariat, a reviewer.
func (s *scenario) staffSessionOf(p person) *session {
	sess := s.sessionOf(p)
	sess.staff = true
	return sess
}

// play runs the scenario, phase by phase.
func (s *scenario) play(ctx context.Context) error {
	s.enterPhase(phaseSetup)
	if err := s.setup(ctx); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	s.enterPhase(phaseWindow)
	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	var workers sync.WaitGroup
	for i, st := range s.staff {
		workers.Go(func() { s.screen(bg, st, i, len(s.staff)) })
	}
	for _, rv := range append(append([]*reviewer(nil), s.p.reviewers...), s.p.committee...) {
		workers.Go(func() { s.review(bg, rv) })
	}
	var flows sync.WaitGroup
	for _, c := range s.p.all() {
		if c.submits() {
			if c.Rush {
				s.rushLeft.Add(1)
			}
			s.earlyLeft.Add(1)
		}
	}
	pipelines := make(chan struct{}, 400) // people starting at once
	for _, c := range s.p.all() {
		flows.Go(func() {
			pipelines <- struct{}{}
			var release sync.Once
			park := func() { release.Do(func() { <-pipelines }) }
			err := s.candidateFlow(ctx, c, park)
			park()
			if err != nil && ctx.Err() == nil {
				s.problem("%s %d: %v", c.Call, c.Index, err)
			}
			s.finished.Add(1)
		})
	}
	// The window ends when every early nomination is in (changes asked
	// for and made included) and every rush nomination is ready.
	if err := s.waitUntil(ctx, func() bool { return s.earlyLeft.Load() == 0 }); err != nil {
		return err
	}
	s.enterPhase(phaseRush)
	close(s.rushGate)
	if err := s.waitUntil(ctx, func() bool { return s.rushLeft.Load() == 0 }); err != nil {
		return err
	}
	if err := s.closeCalls(ctx); err != nil {
		return err
	}
	s.enterPhase(phaseReview)
	faults := s.startFaults(ctx)
	if err := s.waitReviewDone(ctx); err != nil {
		return err
	}
	close(s.reviewOver)
	stopBG()
	workers.Wait()
	flows.Wait()
	if err := faults(); err != nil {
		return err
	}
	s.enterPhase(phaseSelection)
	if err := s.selection(ctx); err != nil {
		return fmt.Errorf("selection: %w", err)
	}
	s.enterPhase(phaseDrain)
	return nil
}

// waitUntil polls cond every 50 ms.
func (s *scenario) waitUntil(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// setup signs the admin in, creates the secretariat and the panels, and
// opens the two calls.
func (s *scenario) setup(ctx context.Context) error {
	s.admin = s.staffSessionOf(s.p.admin)
	s.admin.password = s.p.adminPass
	if err := s.admin.login(ctx); err != nil {
		return err
	}
	create := func(p person, roles []string, panels []string, org string) error {
		body := map[string]any{"email": p.Email, "name": p.Name, "roles": roles, "panels": panels, "organization": org, "password": s.p.password}
		for attempt := 0; ; attempt++ {
			resp := s.admin.call(ctx, request{Method: "POST", Path: "/api/v1/users", Route: "POST /api/v1/users", Body: body})
			switch {
			case resp.Status == http.StatusCreated:
				return nil
			case resp.Status == http.StatusConflict && attempt > 0:
				return nil // an earlier attempt whose answer was lost made it
			case resp.Status == 0 && attempt < 3:
				continue
			}
			return fmt.Errorf("create %s: %s", p.Email, resp)
		}
	}
	var jobs []func() error
	for _, p := range s.p.staff {
		jobs = append(jobs, func() error { return create(p, []string{"secretariat"}, []string{}, "IGF Secretariat") })
	}
	for _, rv := range append(append([]*reviewer(nil), s.p.reviewers...), s.p.committee...) {
		jobs = append(jobs, func() error { return create(rv.person, []string{"reviewer"}, []string{rv.Panel}, rv.Organization) })
	}
	if err := parallel(jobs); err != nil {
		return err
	}
	jobs = nil
	for _, p := range s.p.staff {
		sess := s.staffSessionOf(p)
		s.staff = append(s.staff, sess)
		jobs = append(jobs, func() error { return sess.login(ctx) })
	}
	for _, rv := range append(append([]*reviewer(nil), s.p.reviewers...), s.p.committee...) {
		sess := s.staffSessionOf(rv.person)
		s.revs[rv.Index] = sess
		jobs = append(jobs, func() error { return sess.login(ctx) })
	}
	if err := parallel(jobs); err != nil {
		return err
	}
	now := time.Now().UTC()
	targets := export.MAGTargets(10)
	calls := []map[string]any{
		{"slug": magCall, "title": "MAG 2027 renewal", "workflow": "mag", "seats": s.o.MAGSeats, "targets": targets,
			"opens_at": now.Add(-time.Minute), "closes_at": now.Add(30 * 24 * time.Hour), "term_start": "2027-01-01T00:00:00Z"},
		{"slug": lpCall, "title": "Leadership Panel 2027", "workflow": "leadership-panel", "seats": s.o.LPSeats,
			"opens_at": now.Add(-time.Minute), "closes_at": now.Add(30 * 24 * time.Hour), "term_start": "2027-01-01T00:00:00Z"},
	}
	for _, body := range calls {
		resp := s.staff[0].call(ctx, request{Method: "POST", Path: "/api/v1/calls", Route: "POST /api/v1/calls", Body: body})
		if resp.Status != http.StatusCreated {
			return fmt.Errorf("open call %s: %s", body["slug"], resp)
		}
		wfID := body["workflow"].(string)
		resp = s.staff[0].call(ctx, request{Method: "GET", Path: "/api/v1/workflows/" + wfID, Route: "GET /api/v1/workflows/:id"})
		var wf workflowInfo
		if resp.Status != http.StatusOK || resp.decode(&wf) != nil {
			return fmt.Errorf("read workflow %s: %s", wfID, resp)
		}
		s.workflows[body["slug"].(string)] = wf
	}
	return nil
}

// parallel runs jobs at once and returns their errors joined.
func parallel(jobs []func() error) error {
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() { errs[i] = j() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// closeCalls ends the submission window: the secretariat moves each
// call's deadline to now.
func (s *scenario) closeCalls(ctx context.Context) error {
	now := time.Now().UTC()
	for _, slug := range []string{magCall, lpCall} {
		var resp response
		for attempt := 0; attempt < 5; attempt++ {
			resp = s.staff[0].call(ctx, request{Method: "PATCH", Path: "/api/v1/calls/" + slug, Route: "PATCH /api/v1/calls/:slug",
				Body: map[string]any{"closes_at": now}})
			if resp.Status == http.StatusOK {
				break
			}
		}
		if resp.Status != http.StatusOK {
			return fmt.Errorf("close call %s: %s", slug, resp)
		}
	}
	close(s.closed)
	return nil
}

// counts returns the number of nominations of a call per state.
func (s *scenario) counts(ctx context.Context, slug string) (map[string]int, error) {
	resp := s.staff[0].call(ctx, request{Method: "GET", Path: "/api/v1/calls/" + slug + "/counts", Route: "GET /api/v1/calls/:slug/counts"})
	var body struct {
		Counts map[string]int `json:"counts"`
	}
	if resp.Status != http.StatusOK {
		return nil, fmt.Errorf("counts of %s: %s", slug, resp)
	}
	// Decoded before the map is read: a return of both would leave the
	// order of the two to the compiler.
	if err := resp.decode(&body); err != nil {
		return nil, err
	}
	return body.Counts, nil
}

// waitReviewDone waits until every pipeline has ended and no nomination
// waits on screening or a panel, looking once a second: each look is a
// count the service makes, and the end is not worth more of them.
func (s *scenario) waitReviewDone(ctx context.Context) error {
	total := int64(len(s.p.all()))
	for {
		if s.finished.Load() == total {
			open := 0
			for _, slug := range []string{magCall, lpCall} {
				c, err := s.counts(ctx, slug)
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					continue
				}
				open += c["submitted"] + c["panel_review"]
			}
			if open == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

var tokenIn = map[string]*regexp.Regexp{
	"confirm": regexp.MustCompile(`/confirm-email/([A-Za-z0-9_.=-]+)`),
	"endorse": regexp.MustCompile(`/(?:api/v1/)?(?:endorsements|endorse)/([A-Za-z0-9_.=-]+)`),
	"consent": regexp.MustCompile(`/(?:api/v1/)?consent/([A-Za-z0-9_.=-]+)`),
}

// mailedToken waits for a message to addr carrying a link of kind and
// returns the link's token, as its reader would follow it.
func (s *scenario) mailedToken(ctx context.Context, addr, kind string, nth int) (string, error) {
	re := tokenIn[kind]
	seen := 0
	m, err := s.sink.waitFor(ctx, addr, func(m *mailMsg) bool {
		if re.MatchString(m.Text) {
			seen++
			return seen > nth
		}
		return false
	})
	if err != nil {
		return "", err
	}
	return re.FindStringSubmatch(m.Text)[1], nil
}

// query builds a path with a query string.
func query(path string, kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// listPage is one page of the nomination list.
type listPage struct {
	Items      []nominationBody `json:"items"`
	NextCursor string           `json:"next_cursor"`
}

// list reads every page of a nomination list as who.
func (s *scenario) list(ctx context.Context, who *session, kv ...string) ([]nominationBody, error) {
	var out []nominationBody
	cursor := ""
	for {
		resp := who.call(ctx, request{Method: "GET", Path: query("/api/v1/nominations", append(kv, "limit", "100", "cursor", cursor)...), Route: "GET /api/v1/nominations"})
		var page listPage
		if resp.Status != http.StatusOK {
			return out, fmt.Errorf("list: %s", resp)
		}
		if err := resp.decode(&page); err != nil {
			return out, err
		}
		out = append(out, page.Items...)
		if page.NextCursor == "" {
			return out, nil
		}
		cursor = page.NextCursor
	}
}

// expectedStates returns the state every nomination the scenario made
// should end in, by id.
func (s *scenario) expectedStates() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for c, id := range s.ids {
		st := s.p.outcomeBeforeSelection(c)
		if st == "secretariat_review" {
			switch {
			case s.appointed[id]:
				st = "appointed"
			default:
				st = "not_selected"
			}
		}
		out[id] = st
	}
	return out
}

// progressLine says where the scenario is, for the progress bar.
func (s *scenario) progressLine(elapsed time.Duration, rate float64) string {
	total := len(s.p.all())
	ph := phaseNames[min(int(s.rec.phase.Load()), phaseCount-1)]
	return fmt.Sprintf("%-9s %s  %6.0f req/s (%d in flight)  registered %d/%d  submitted %d  screened %d  votes %d  mail %d",
		ph, elapsed.Round(time.Second), rate, s.rec.inFlight.Load(), s.registered.Load(), total, s.submitted.Load(), s.screened.Load(), s.votes.Load(), len(s.sink.accepted()))
}
