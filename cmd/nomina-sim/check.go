package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/igf/nomina/internal/mail"
	"github.com/igf/nomina/internal/membership"
	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/workflow"
)

// Check is one invariant, checked against the store and the SMTP sink.
type Check struct {
	Name    string   `json:"name"`
	OK      bool     `json:"ok"`
	Checked int      `json:"checked"`
	Note    string   `json:"note,omitempty"`
	Faults  []string `json:"failures,omitempty"` // the first failures, each naming what broke
	Failed  int      `json:"failed"`
}

func (c *Check) fail(format string, args ...any) {
	c.Failed++
	if len(c.Faults) < 20 {
		c.Faults = append(c.Faults, fmt.Sprintf(format, args...))
	}
}

// checkInput is what the checker compares the store and the sink with:
// what the simulator asked for and was answered, and what the plan
// expects. Everything it checks is read from the store and the sink.
type checkInput struct {
	Ledger   []ledgerEntry
	Adopted  map[string]bool   // ambiguous creates whose nomination the simulator found and used
	Expected map[string]string // nomination id -> final state
	Records  []record
	Start    time.Time
	Killed   []window
	Bounced  map[string]bool // recipients whose mail the sink refuses for good
	Problems []string
	Registry *workflow.Registry
	// Operator names the account made at start from the settings, which
	// has its address confirmed without a mail.
	Operator string
	// Served is what each instance recorded answering the API during the
	// scenario, by status, from its metrics (nil: unknown).
	Served []map[string]float64
}

var refPattern = regexp.MustCompile(`simref-[0-9a-f]{16}`)

// storedNomination is one nomination as the store holds it.
type storedNomination struct {
	ID     string
	Proj   *nomination.Nomination
	Events []nomination.Event
}

// checker reads the store and the sink once and checks every invariant.
type checker struct {
	in    checkInput
	db    *mongo.Database
	store *mongostore.Store
	noms  []storedNomination
	jobs  []jobDoc
	sent  []deliveredMsg
}

// jobDoc is a mail job with its delivery state, as the queue folds it
// from the job and its results.
type jobDoc struct {
	ID           string
	Template     string
	To           string
	NominationID string
	Audience     string
	RecipientID  string
	Status       string
	Attempts     int
	LastError    string
	MessageID    string
	SentAt       time.Time
	CreatedAt    time.Time
}

// runChecks reads everything and returns the checks, in a fixed order.
func runChecks(ctx context.Context, db *mongo.Database, sk *sink, in checkInput) ([]Check, error) {
	ch := &checker{in: in, db: db, store: mongostore.New(db, nil)}
	if err := ch.load(ctx, sk); err != nil {
		return nil, err
	}
	checks := []Check{
		ch.historyChains(ctx),
		ch.acceptedOnce(),
		ch.states(),
		ch.decisions(),
		ch.mailOnce(ctx),
		ch.mailExpected(ctx),
		ch.mailPrivacy(ctx),
		ch.members(ctx),
		ch.no5xx(),
		ch.serverFailures(),
		ch.asExpected(),
	}
	return checks, nil
}

func (ch *checker) load(ctx context.Context, sk *sink) error {
	noms := ch.store.Nominations()
	ids, err := noms.NominationIDs(ctx)
	if err != nil {
		return fmt.Errorf("list nominations: %w", err)
	}
	events := map[string][]nomination.Event{}
	if err := noms.AllEvents(ctx, func(e nomination.Event) error {
		events[e.NominationID] = append(events[e.NominationID], e)
		return nil
	}); err != nil {
		return err
	}
	for _, id := range ids {
		p, err := noms.GetNomination(ctx, id)
		if err != nil && nomination.ErrorCode(err) != nomination.ENOTFOUND {
			return err
		}
		evs := events[id]
		sort.Slice(evs, func(a, b int) bool { return evs[a].Seq < evs[b].Seq })
		ch.noms = append(ch.noms, storedNomination{ID: id, Proj: p, Events: evs})
	}
	// A job's delivery state is the fold of its results: read through the queue.
	recs, err := ch.store.MailQueue().Jobs(ctx)
	if err != nil {
		return err
	}
	for _, r := range recs {
		ch.jobs = append(ch.jobs, jobDoc{ID: r.Job.ID, Template: r.Job.Template, To: r.Job.To,
			NominationID: r.Job.NominationID, Audience: r.Job.Audience, RecipientID: r.Job.RecipientID,
			Status: r.Status, Attempts: r.Attempts, LastError: r.LastError, MessageID: r.MessageID,
			SentAt: r.SentAt, CreatedAt: r.Job.CreatedAt})
	}
	ch.sent, err = sk.delivered(ctx)
	return err
}

// readStore is the store as the checker read it: the histories and
// projections loaded once, for nomination.Service.Verify, which would
// otherwise read each history with a scan of its own.
type readStore struct {
	*mongostore.Nominations
	noms map[string]storedNomination
}

func (r readStore) Events(_ context.Context, id string) ([]nomination.Event, error) {
	return slices.Clone(r.noms[id].Events), nil
}

func (r readStore) GetNomination(_ context.Context, id string) (*nomination.Nomination, error) {
	n, ok := r.noms[id]
	if !ok || n.Proj == nil {
		return nil, nomination.Errorf(nomination.ENOTFOUND, "no nomination %s", id)
	}
	cp := *n.Proj
	return &cp, nil
}

// historyChains: for every nomination, seqs without gaps, every hash
// covering its event and the previous hash, and the stored nomination
// equal to the replay of its events (nomination.Service.Verify).
func (ch *checker) historyChains(ctx context.Context) Check {
	c := Check{Name: "history: seqs without gaps, hash chains valid, state equals the replay"}
	noms := ch.store.Nominations()
	loaded := readStore{Nominations: noms, noms: map[string]storedNomination{}}
	for _, n := range ch.noms {
		loaded.noms[n.ID] = n
	}
	svc := nomination.New(nomination.Config{Store: loaded, Files: noms, Workflows: ch.in.Registry, BaseURL: "http://nomina.sim.test"})
	for _, n := range ch.noms {
		c.Checked++
		v, err := svc.Verify(ctx, n.ID)
		if err != nil {
			c.fail("nomination %s: %v", n.ID, err)
			continue
		}
		if !v.OK() {
			c.fail("nomination %s: event %d: %s", n.ID, v.FirstBad, v.Problem)
		}
	}
	return c.done()
}

func (c Check) done() Check {
	c.OK = c.Failed == 0
	return c
}

// acceptedOnce: every change answered 2xx is in the history exactly once,
// one answered 4xx (or cut off before its body was sent) not at all, one
// without an answer at most once; nothing is there that nobody asked for.
func (ch *checker) acceptedOnce() Check {
	c := Check{Name: "history: every accepted request exactly once, refused ones never"}
	stored := map[string]int{}
	storedIn := map[string]string{}
	for _, n := range ch.noms {
		for _, e := range n.Events {
			// A ref counts once per event: a decision repeats the comment
			// of the vote that made it.
			seen := map[string]bool{}
			for _, ref := range refPattern.FindAllString(string(e.Data), -1) {
				if !seen[ref] {
					seen[ref] = true
					stored[ref]++
					storedIn[ref] = n.ID
				}
			}
			if e.Type == nomination.EvConsent {
				stored["consent/"+n.ID]++
				storedIn["consent/"+n.ID] = n.ID
			}
		}
	}
	type agg struct {
		acc, amb, ref int
		nom, what     string
	}
	byKey := map[string]*agg{}
	for _, e := range ch.in.Ledger {
		a := byKey[e.Key]
		if a == nil {
			a = &agg{nom: e.Nomination, what: e.What}
			byKey[e.Key] = a
		}
		switch e.Outcome {
		case accepted:
			a.acc++
		case ambiguous:
			a.amb++
		case refused:
			a.ref++
		}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a := byKey[k]
		c.Checked++
		n := stored[k]
		switch {
		case n < a.acc:
			c.fail("%s %s (nomination %s): accepted %d time(s), in the history %d time(s)", a.what, k, nonEmpty(a.nom), a.acc, n)
		case n > a.acc+a.amb:
			c.fail("%s %s (nomination %s): in the history %d time(s), accepted %d, unanswered %d, refused %d", a.what, k, nonEmpty(a.nom), n, a.acc, a.amb, a.ref)
		case n > 0 && a.nom != "" && storedIn[k] != a.nom:
			c.fail("%s %s: asked of nomination %s, recorded in %s", a.what, k, a.nom, storedIn[k])
		}
	}
	for k, n := range stored {
		if _, ok := byKey[k]; !ok {
			c.fail("%s in nomination %s (%d time(s)): recorded, never asked for", k, storedIn[k], n)
		}
	}
	return c.done()
}

func nonEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// states: every nomination is in the state the scenario expects (the
// plan, and the secretariat's final choice), and the scenario's every
// nomination is there; a draft that a lost answer created twice stays a
// draft.
func (ch *checker) states() Check {
	c := Check{Name: "state: every nomination ends where the scenario expects"}
	orphans := map[string]bool{}
	for _, e := range ch.in.Ledger {
		if e.What == "create" && e.Outcome == ambiguous && !ch.in.Adopted[e.Key] {
			orphans[e.Key] = true
		}
	}
	seen := map[string]bool{}
	for _, n := range ch.noms {
		c.Checked++
		seen[n.ID] = true
		state := ""
		if n.Proj != nil {
			state = n.Proj.State
		}
		want, ok := ch.in.Expected[n.ID]
		if !ok {
			if len(n.Events) > 0 && n.Events[0].Type == nomination.EvCreated {
				for _, ref := range refPattern.FindAllString(string(n.Events[0].Data), -1) {
					if orphans[ref] {
						want, ok = "draft", true
					}
				}
			}
			if !ok {
				c.fail("nomination %s (state %s): the scenario made no such nomination", n.ID, state)
				continue
			}
		}
		if state != want {
			c.fail("nomination %s: state %s, expected %s", n.ID, state, want)
		}
	}
	for id, want := range ch.in.Expected {
		if !seen[id] {
			c.fail("nomination %s (expected %s): not in the store", id, want)
		}
	}
	return c.done()
}

// eventFacts reads what the checks need from an event's data.
type eventFacts struct {
	Action   string `json:"action"`
	Round    int    `json:"round"`
	Panel    string `json:"panel"`
	Reviewer string `json:"reviewer"`
	Outcome  *struct {
		Action string `json:"action"`
		Round  int    `json:"round"`
		Panel  string `json:"panel"`
	} `json:"outcome"`
}

func facts(e nomination.Event) eventFacts {
	var f eventFacts
	_ = json.Unmarshal(e.Data, &f)
	if f.Outcome != nil {
		f.Action, f.Round, f.Panel = f.Outcome.Action, f.Outcome.Round, f.Outcome.Panel
	}
	return f
}

// decisions: each review round opened is closed by exactly one event.
func (ch *checker) decisions() Check {
	c := Check{Name: "review: exactly one decision per review round"}
	for _, n := range ch.noms {
		open := 0
		closes := map[int]int{}
		for _, e := range n.Events {
			if e.To == "" || e.To == e.From {
				continue
			}
			if isReview(ch.in.Registry, n.Proj, e.From) {
				closes[open]++
			}
			if isReview(ch.in.Registry, n.Proj, e.To) {
				open = facts(e).Round
				c.Checked++
				closes[open] = 0
			}
		}
		for round, k := range closes {
			still := n.Proj != nil && isReview(ch.in.Registry, n.Proj, n.Proj.State) && round == open
			switch {
			case k == 0 && !still:
				c.fail("nomination %s round %d: never decided", n.ID, round)
			case k > 1:
				c.fail("nomination %s round %d: %d decisions", n.ID, round, k)
			}
		}
	}
	return c.done()
}

// isReview reports whether state holds a review in n's workflow.
func isReview(reg *workflow.Registry, n *nomination.Nomination, state string) bool {
	if n == nil || state == "" {
		return false
	}
	def, ok := reg.Get(n.Workflow.ID, n.Workflow.Version, n.Workflow.Hash)
	if !ok {
		def, ok = reg.Latest(n.Workflow.ID)
	}
	if !ok {
		return false
	}
	st, ok := def.State(state)
	return ok && st.Review != nil
}

// abandoned returns the jobs with an attempt that was claimed and never
// finished (its worker died), or that failed after the server may have
// accepted its message (the reply to it was lost with the connection, as
// in the SMTP outage): their message may have gone out before.
func (ch *checker) abandoned(ctx context.Context) map[string]bool {
	out := map[string]bool{}
	finished := map[string]bool{}
	cur, err := ch.db.Collection("mail_results").Find(ctx, bson.D{})
	if err == nil {
		var rs []struct {
			ID        string `bson:"_id"`
			JobID     string `bson:"job_id"`
			MaybeSent bool   `bson:"maybe_sent"`
		}
		_ = cur.All(ctx, &rs)
		for _, r := range rs {
			finished[r.ID] = true
			if r.MaybeSent {
				out[r.JobID] = true
			}
		}
	}
	cur, err = ch.db.Collection("mail_claims").Find(ctx, bson.D{})
	if err == nil {
		var cs []struct {
			ID    string `bson:"_id"`
			JobID string `bson:"job_id"`
		}
		_ = cur.All(ctx, &cs)
		for _, c := range cs {
			if !finished[c.ID] {
				out[c.JobID] = true
			}
		}
	}
	return out
}

// mailOnce: every message the store says was sent reached the sink
// exactly once by its Message-ID (a second copy only after an attempt cut
// off by the crash, or one whose reply the outage cut off after the server
// had the message, which carries the same Message-ID); nothing reached it
// that no job sent; no job is still waiting; a job given up on was given
// up for a reason the scenario causes.
func (ch *checker) mailOnce(ctx context.Context) Check {
	c := Check{Name: "mail: every sent message delivered exactly once by Message-ID"}
	got := map[string]int{}
	gotTo := map[string][]string{}
	for _, m := range ch.sent {
		got[m.MessageID]++
		gotTo[m.MessageID] = m.To
	}
	cut := ch.abandoned(ctx)
	known := map[string]bool{}
	resent := 0
	for _, j := range ch.jobs {
		c.Checked++
		mid := strings.Trim(mail.MessageID(j.ID), "<>")
		known[mid] = true
		n := got[mid]
		switch j.Status {
		case nomination.MailSent:
			switch {
			case n == 0:
				c.fail("job %s (%s to %s): recorded as sent, not in the sink", j.ID, j.Template, j.To)
			case n > 1 && cut[j.ID]:
				resent++
			case n > 1:
				c.fail("job %s (%s to %s): Message-ID %s delivered %d times", j.ID, j.Template, j.To, mid, n)
			}
			if n > 0 && !slices.Contains(gotTo[mid], strings.ToLower(j.To)) {
				c.fail("job %s: delivered to %v, meant for %s", j.ID, gotTo[mid], j.To)
			}
		case nomination.MailDead:
			switch {
			case n > 0 && !cut[j.ID]:
				c.fail("job %s (%s to %s): given up on, yet delivered %d time(s)", j.ID, j.Template, j.To, n)
			case strings.Contains(j.LastError, "no longer among those addressed"):
			case ch.in.Bounced[strings.ToLower(j.To)]:
			default:
				c.fail("job %s (%s to %s): given up on: %s", j.ID, j.Template, j.To, j.LastError)
			}
		default:
			c.fail("job %s (%s to %s): still %s after %d attempt(s) at the end: %s", j.ID, j.Template, j.To, j.Status, j.Attempts, j.LastError)
		}
	}
	for mid, n := range got {
		if !known[mid] {
			c.fail("Message-ID %s (to %v) delivered %d time(s): no job sent it", mid, gotTo[mid], n)
		}
	}
	var notes []string
	if resent > 0 {
		notes = append(notes, fmt.Sprintf("%d message(s) sent again, same Message-ID, after an attempt cut off by the crash or a reply lost in the outage", resent))
	}
	if slow := ch.slowestMail(ctx); slow != "" {
		notes = append(notes, slow)
	}
	c.Note = strings.Join(notes, "; ")
	return c.done()
}

// slowestMail names the message sent longest after it was queued, which
// the end of a run (the drain) waits on: a lease running out, retries.
func (ch *checker) slowestMail(ctx context.Context) string {
	var results []struct {
		JobID   string    `bson:"job_id"`
		Attempt int       `bson:"attempt"`
		At      time.Time `bson:"at"`
	}
	cur, err := ch.db.Collection("mail_results").Find(ctx, bson.D{{Key: "status", Value: nomination.MailSent}})
	if err != nil || cur.All(ctx, &results) != nil {
		return ""
	}
	queued := map[string]jobDoc{}
	for _, j := range ch.jobs {
		queued[j.ID] = j
	}
	best, wait := "", time.Duration(-1)
	for _, r := range results {
		j, ok := queued[r.JobID]
		if !ok || r.At.Sub(j.CreatedAt) <= wait {
			continue
		}
		wait = r.At.Sub(j.CreatedAt)
		best = fmt.Sprintf("slowest: %s (%s) sent %.1f s after it was queued, at attempt %d", j.ID, j.Template, wait.Seconds(), r.Attempt)
	}
	return best
}

// mailExpected: the messages the events call for were all queued: on
// entering a state, its notifications to the candidate, the nominator and
// the secretariat, and the review request to exactly the panel members
// eligible then; the nominee's consent request and the endorsement
// requests; every account's address confirmation.
func (ch *checker) mailExpected(ctx context.Context) Check {
	c := Check{Name: "mail: every message the events call for was queued, to exactly its audience"}
	byPrefix := map[string][]jobDoc{}
	for _, j := range ch.jobs {
		parts := strings.Split(j.ID, "/")
		if len(parts) >= 4 {
			p := strings.Join(parts[:len(parts)-1], "/") // "<nomination>/<seq>/<template>"
			byPrefix[p] = append(byPrefix[p], j)
		}
	}
	dir := ch.store.Directory()
	panels := map[string][]nomination.Member{}
	panelOf := func(name string) []nomination.Member {
		if m, ok := panels[name]; ok {
			return m
		}
		m, _ := dir.PanelMembers(ctx, name)
		panels[name] = m
		return m
	}
	staff, _ := dir.Staff(ctx)
	for _, n := range ch.noms {
		if n.Proj == nil {
			continue
		}
		def, ok := ch.in.Registry.Get(n.Proj.Workflow.ID, n.Proj.Workflow.Version, n.Proj.Workflow.Hash)
		if !ok {
			c.fail("nomination %s: workflow %s version %d not loaded", n.ID, n.Proj.Workflow.ID, n.Proj.Workflow.Version)
			continue
		}
		conflicted := map[string]bool{}
		for _, e := range n.Events {
			src := nomination.EventID(n.ID, e.Seq)
			want := func(template string, to ...string) {
				c.Checked++
				jobs := byPrefix[src+"/"+template]
				var have []string
				for _, j := range jobs {
					have = append(have, strings.ToLower(j.To))
				}
				for _, t := range to {
					if !slices.Contains(have, strings.ToLower(t)) {
						c.fail("nomination %s event %d: no %s message to %s", n.ID, e.Seq, template, t)
					}
				}
			}
			switch e.Type {
			case nomination.EvCreated:
				if !n.Proj.SelfNominated {
					want("nominee_consent", n.Proj.Nominee.Email)
				}
			case nomination.EvEndorsementRequested:
				var en nomination.Endorsement
				_ = json.Unmarshal(e.Data, &en)
				want("endorsement_request", en.Email)
			case nomination.EvConflict:
				conflicted[facts(e).Reviewer] = true
			}
			if e.To == "" || e.To == e.From {
				continue
			}
			var notes []workflow.Notify
			if a, ok := def.Action(facts(e).Action); ok {
				notes = append(notes, a.Notify...)
			}
			if st, ok := def.State(e.To); ok {
				notes = append(notes, st.OnEnter...)
			}
			for _, nt := range notes {
				switch nt.Audience {
				case workflow.AudienceNominator:
					want(nt.Template, n.Proj.Nominator.Email)
				case workflow.AudienceCandidate:
					want(nt.Template, n.Proj.Nominee.Email)
				case workflow.AudienceSecretariat:
					var to []string
					for _, m := range staff {
						to = append(to, m.Email)
					}
					want(nt.Template, to...)
				case workflow.AudiencePanel:
					panel := facts(e).Panel
					org, _ := n.Proj.Fields["organization"].(string)
					var to []string
					for _, m := range panelOf(panel) {
						if conflicted[m.UserID] || m.UserID == n.Proj.OwnerID || strings.EqualFold(m.Email, n.Proj.Nominee.Email) ||
							(org != "" && strings.EqualFold(strings.TrimSpace(m.Organization), strings.TrimSpace(org))) {
							continue
						}
						to = append(to, m.Email)
					}
					want(nt.Template, to...)
					for _, j := range byPrefix[src+"/"+nt.Template] {
						if !slices.ContainsFunc(to, func(a string) bool { return strings.EqualFold(a, j.To) }) {
							c.fail("nomination %s event %d: %s queued for %s, who is not an eligible member of panel %s", n.ID, e.Seq, nt.Template, j.To, panel)
						}
					}
				}
			}
		}
	}
	// Every account confirms its address by the link in its first mail.
	var users []struct {
		Email string `bson:"email"`
	}
	if cur, err := ch.db.Collection("users").Find(ctx, bson.D{}); err == nil {
		_ = cur.All(ctx, &users)
	}
	confirm := map[string]bool{}
	for _, j := range ch.jobs {
		if j.Template == "confirm_email" {
			confirm[strings.ToLower(j.To)] = true
		}
	}
	for _, u := range users {
		if strings.EqualFold(u.Email, ch.in.Operator) {
			continue
		}
		c.Checked++
		if !confirm[strings.ToLower(u.Email)] {
			c.fail("account %s: no address confirmation queued", u.Email)
		}
	}
	return c.done()
}

// mailPrivacy: no message about a review went to anyone but an eligible
// member of the nomination's panel: never to another panel, to a reviewer
// of the candidate's organisation, or to a reviewer who had declared a
// conflict before it was sent.
func (ch *checker) mailPrivacy(ctx context.Context) Check {
	c := Check{Name: "mail: none to a conflicted reviewer or another panel"}
	noms := map[string]storedNomination{}
	for _, n := range ch.noms {
		noms[n.ID] = n
	}
	delivered := map[string]bool{}
	for _, m := range ch.sent {
		delivered[m.MessageID] = true
	}
	dir := ch.store.Directory()
	users := map[string]nomination.Member{}
	userOf := func(id string) nomination.Member {
		if u, ok := users[id]; ok {
			return u
		}
		u, _ := dir.User(ctx, id)
		users[id] = u
		return u
	}
	var reviewers []struct {
		ID     string   `bson:"uid"`
		Email  string   `bson:"email"`
		Panels []string `bson:"panels"`
	}
	cur, err := ch.db.Collection("users").Find(ctx, bson.D{{Key: "roles", Value: "reviewer"}})
	if err == nil {
		err = cur.All(ctx, &reviewers)
	}
	switch {
	case err != nil:
		c.Note = "reviewers not read, nothing checked: " + err.Error()
	case len(reviewers) == 0:
		c.Note = "no reviewer found in the store, nothing checked"
	}
	panelsOf := map[string][]string{}
	for _, r := range reviewers {
		panelsOf[strings.ToLower(r.Email)] = r.Panels
	}
	// A conflict declared this long before the send should have stopped
	// it: the send-time check and the instances' clocks leave that margin.
	const margin = 10 * time.Second
	for _, j := range ch.jobs {
		if !delivered[strings.Trim(mail.MessageID(j.ID), "<>")] {
			continue
		}
		to := strings.ToLower(j.To)
		n, isNom := noms[j.NominationID]
		if _, isReviewer := panelsOf[to]; !isReviewer || !isNom || n.Proj == nil {
			continue
		}
		c.Checked++
		if j.Audience != workflow.AudiencePanel && j.Audience != workflow.AudiencePendingReviewers {
			if j.Audience != workflow.AudienceSecretariat {
				c.fail("job %s: a reviewer (%s) got %s, meant for %s", j.ID, j.To, j.Template, j.Audience)
			}
			continue
		}
		// The panel of the round the message is about.
		panel := ""
		if _, seq, ok := nomination.ParseEventID(strings.Join(strings.Split(j.ID, "/")[:2], "/")); ok {
			for _, e := range n.Events {
				if e.Seq <= seq && facts(e).Panel != "" {
					panel = facts(e).Panel
				}
			}
		}
		if panel == "" || !slices.Contains(panelsOf[to], panel) {
			c.fail("job %s: %s to %s, who is not on panel %q of nomination %s", j.ID, j.Template, j.To, panel, n.ID)
			continue
		}
		u := userOf(j.RecipientID)
		org, _ := n.Proj.Fields["organization"].(string)
		if org != "" && strings.EqualFold(strings.TrimSpace(u.Organization), strings.TrimSpace(org)) {
			c.fail("job %s: %s to %s, of the candidate's organisation", j.ID, j.Template, j.To)
		}
		for _, e := range n.Events {
			if e.Type == nomination.EvConflict && facts(e).Reviewer == j.RecipientID && e.At.Add(margin).Before(j.SentAt) {
				c.fail("job %s: %s sent to %s at %s, who declared a conflict at %s", j.ID, j.Template, j.To,
					j.SentAt.Format(time.RFC3339), e.At.Format(time.RFC3339))
			}
		}
	}
	return c.done()
}

// members: the members of each body are exactly the appointed.
func (ch *checker) members(ctx context.Context) Check {
	c := Check{Name: "members: exactly the appointed"}
	appointed := map[string]string{} // nomination -> nominee email
	for _, n := range ch.noms {
		if n.Proj != nil && n.Proj.State == "appointed" {
			appointed[n.ID] = strings.ToLower(n.Proj.Nominee.Email)
		}
	}
	found := map[string]bool{}
	for _, body := range []string{"mag", "lp"} {
		ms, err := ch.store.Members().ListMembers(ctx, membershipFilter(body))
		if err != nil {
			c.fail("list members of %s: %v", body, err)
			continue
		}
		for _, m := range ms {
			c.Checked++
			from := ""
			for _, t := range m.Terms {
				if id, ok := strings.CutPrefix(t.Source, "nomination:"); ok {
					from = id
				}
			}
			email, ok := appointed[from]
			switch {
			case from == "":
				c.fail("member %s (%s) of %s: no appointment made them one", m.ID, m.Email, body)
			case !ok:
				c.fail("member %s (%s) of %s: from nomination %s, which is not appointed", m.ID, m.Email, body, from)
			case email != strings.ToLower(m.Email):
				c.fail("member %s is %s, nomination %s appointed %s", m.ID, m.Email, from, email)
			default:
				found[from] = true
			}
		}
	}
	for id, email := range appointed {
		c.Checked++
		if !found[id] {
			c.fail("nomination %s appointed %s, who is no member", id, email)
		}
	}
	return c.done()
}

// no5xx: no request was answered 5xx, except around the kill.
func (ch *checker) no5xx() Check {
	c := Check{Name: "http: zero 5xx outside the kill window"}
	inside := 0
	for _, r := range ch.in.Records {
		c.Checked++
		if r.Status < 500 {
			continue
		}
		at := ch.in.Start.Add(r.Start)
		killed := false
		for _, w := range ch.in.Killed {
			if !at.Before(w.From.Add(-time.Second)) && !at.After(w.To) {
				killed = true
			}
		}
		if killed {
			inside++
			continue
		}
		c.fail("%s answered %d by instance %d at +%s", r.Route, r.Status, r.Instance+1, r.Start.Round(time.Millisecond))
	}
	if inside > 0 {
		c.Note = fmt.Sprintf("%d inside the kill window", inside)
	}
	return c.done()
}

// serverFailures: every 5xx an instance recorded answering was received
// by a client, so no5xx, which counts what the clients received, misses
// none. A request whose client went away before the answer (the
// disconnect fault, a client's timeout) is recorded as 499 by the
// instance and is no failure; a store that fails or times out is a 5xx,
// client there or not.
func (ch *checker) serverFailures() Check {
	c := Check{Name: "http: every 5xx the instances recorded reached a client"}
	received := map[int]int{}
	for _, r := range ch.in.Records {
		if r.Status >= 500 {
			received[r.Instance]++
		}
	}
	closed := 0
	var unknown []string
	for i, st := range ch.in.Served {
		if st == nil {
			unknown = append(unknown, fmt.Sprint(i+1))
			continue
		}
		c.Checked++
		failed := 0
		for status, n := range st {
			if strings.HasPrefix(status, "5") {
				failed += int(n)
			}
		}
		closed += int(st["499"])
		if failed > received[i] {
			c.fail("instance %d recorded %d answers 5xx, its clients received %d", i+1, failed, received[i])
		}
	}
	c.Note = fmt.Sprintf("%d request(s) closed by their client before the answer (499)", closed)
	if len(unknown) > 0 {
		c.Note += "; no metrics from instance(s) " + strings.Join(unknown, ", ")
	}
	return c.done()
}

// asExpected: every answer was one the scenario expects (no 429 from
// limits that do not fit, no step that could not be taken).
func (ch *checker) asExpected() Check {
	c := Check{Name: "scenario: every step answered as expected"}
	c.Checked = len(ch.in.Records)
	for _, p := range ch.in.Problems {
		c.fail("%s", p)
	}
	return c.done()
}

func membershipFilter(body string) membership.MemberFilter {
	return membership.MemberFilter{Body: body}
}
