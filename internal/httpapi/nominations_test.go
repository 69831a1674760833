package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

type callBody struct {
	Slug     string `json:"slug"`
	Workflow string `json:"workflow"`
	Open     bool   `json:"open"`
}

type nominationBody struct {
	ID      string         `json:"id"`
	State   string         `json:"state"`
	Version int            `json:"version"`
	Round   int            `json:"round"`
	Fields  map[string]any `json:"fields"`
	Panel   string         `json:"panel"`
	Actions []struct {
		Name    string   `json:"name"`
		Allowed bool     `json:"allowed"`
		Reasons []string `json:"reasons"`
	} `json:"actions"`
	Attachments []nomination.Attachment `json:"attachments"`
	LastComment string                  `json:"last_comment"`
	Votes       []voteResponse          `json:"votes"`
}

func (n nominationBody) allowed(action string) bool {
	for _, a := range n.Actions {
		if a.Name == action {
			return a.Allowed
		}
	}
	return false
}

type historyBody struct {
	Items []eventResponse `json:"items"`
}

// mustCall opens a call of workflow, open from a day ago for thirty days.
func (st *stack) mustCall(sec account, slug, wf string) {
	st.tb.Helper()
	now := st.clock.Now()
	rec := st.call("POST", "/api/v1/calls", sec, map[string]any{
		"slug": slug, "title": "Call " + slug, "workflow": wf, "seats": 40,
		"opens_at": now.Add(-24 * time.Hour), "closes_at": now.Add(30 * 24 * time.Hour), "term_start": time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
	})
	mustStatus(st.tb, rec, http.StatusCreated, nil)
}

func magFields(group string) map[string]any {
	return map[string]any{
		"stakeholder_group": group,
		"nationality":       "KE",
		"gender":            "female",
		"organization":      "Kenya ICT Action Network",
		"declaration":       true,
		"motivation":        strings.Repeat("I have worked on internet governance in East Africa for a decade. ", 4),
	}
}

func (st *stack) mustDraft(who account, slug string, fields map[string]any) nominationBody {
	st.tb.Helper()
	var n nominationBody
	mustStatus(st.tb, st.call("POST", "/api/v1/calls/"+slug+"/nominations", who, map[string]any{"fields": fields}), http.StatusCreated, &n)
	return n
}

var minimalPDF = []byte("%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")

// upload posts a multipart file.
func (st *stack) upload(who account, id, kind, filename string, content []byte) *httptest.ResponseRecorder {
	st.tb.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("kind", kind)
	fw, _ := mw.CreateFormFile("file", filename)
	_, _ = fw.Write(content)
	_ = mw.Close()
	req := httptest.NewRequest("POST", "/api/v1/nominations/"+id+"/attachments", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+who.Token)
	rec := httptest.NewRecorder()
	st.srv.Handler().ServeHTTP(rec, req)
	return rec
}

// mustEndorse asks for an endorsement and confirms it through the link in
// the queued mail, as the endorser would.
func (st *stack) mustEndorse(who account, id string) {
	st.tb.Helper()
	var en nomination.Endorsement
	mustStatus(st.tb, st.call("POST", "/api/v1/nominations/"+id+"/endorsements", who,
		map[string]any{"name": "Eve Endorser", "email": "eve@example.org", "organization": "Civil Society Network"}), http.StatusCreated, &en)
	// The mail leads to the endorser's page; the API takes its token.
	if link := st.mailedLink(id, "endorsement_request", "eve@example.org", "endorse"); !strings.HasPrefix(link, "/endorse/") {
		st.tb.Fatalf("endorsement link = %q", link)
	}
	link := st.apiLink(id, "endorsement_request", "eve@example.org", "endorse")
	mustStatus(st.tb, st.call("GET", link, anonymous, nil), http.StatusOK, nil)
	mustStatus(st.tb, st.call("POST", link, anonymous, map[string]any{"statement": "I support this candidate."}), http.StatusOK, nil)
	// The link is single-use.
	mustProblem(st.tb, st.call("POST", link, anonymous, map[string]any{"statement": "Again."}), http.StatusConflict)
}

// mailedLink returns the link name of the queued mail of template to
// address about nomination id, as the mail worker makes it when it sends
// the message: the queue keeps secret links sealed.
func (st *stack) mailedLink(id, template, to, name string) string {
	st.tb.Helper()
	jobs, err := st.store.MailQueue().MailLog(context.Background(), id, "", 500)
	if err != nil {
		st.tb.Fatal(err)
	}
	for _, j := range jobs {
		if j.Job.Template == template && j.Job.To == to {
			link := st.signer.Unseal(j.Job).Links[name]
			if link == "" {
				st.tb.Fatalf("the %s mail to %s has no %s link", template, to, name)
			}
			return link
		}
	}
	st.tb.Fatalf("no %s mail to %s about %s", template, to, id)
	return ""
}

// apiLink is the API's path for the token of a mailed consent or
// endorsement link, whose page (/consent/{token}, /endorse/{token}) the
// mail leads to.
func (st *stack) apiLink(id, template, to, name string) string {
	st.tb.Helper()
	link := st.mailedLink(id, template, to, name)
	for page, api := range map[string]string{"/consent/": "/api/v1/consent/", "/endorse/": "/api/v1/endorsements/"} {
		if _, tok, ok := strings.Cut(link, page); ok {
			return api + tok
		}
	}
	st.tb.Fatalf("the %s link %q leads to no consent or endorsement page", name, link)
	return ""
}

// mustSubmitted creates a complete MAG nomination and submits it.
func (st *stack) mustSubmitted(who account, slug, group string) nominationBody {
	st.tb.Helper()
	n := st.mustDraft(who, slug, magFields(group))
	mustStatus(st.tb, st.upload(who, n.ID, "cv", "cv.pdf", minimalPDF), http.StatusCreated, nil)
	st.mustEndorse(who, n.ID)
	mustStatus(st.tb, st.call("POST", "/api/v1/nominations/"+n.ID+"/actions/submit", who, nil), http.StatusOK, &n)
	return n
}

func (st *stack) mustHistory(who account, id string) []eventResponse {
	st.tb.Helper()
	var h historyBody
	mustStatus(st.tb, st.call("GET", "/api/v1/nominations/"+id+"/history", who, nil), http.StatusOK, &h)
	return h.Items
}

// mustConsistent checks the stored events: gap-free, an intact chain, and a
// projection equal to their replay.
func (st *stack) mustConsistent(id string) []nomination.Event {
	st.tb.Helper()
	ctx := context.Background()
	store := st.store.Nominations()
	evs, err := store.Events(ctx, id)
	if err != nil {
		st.tb.Fatal(err)
	}
	if seq, err := nomination.VerifyChain(evs); err != nil {
		st.tb.Fatalf("chain broken at %d: %v", seq, err)
	}
	replayed, err := nomination.Replay(id, evs)
	if err != nil {
		st.tb.Fatal(err)
	}
	// A read repairs the projection; then it must equal the replay.
	if _, err := st.noms.Get(ctx, nomination.Actor{Roles: []string{"secretariat"}}, id); err != nil {
		st.tb.Fatal(err)
	}
	stored, err := store.GetNomination(ctx, id)
	if err != nil {
		st.tb.Fatal(err)
	}
	a, _ := json.Marshal(stripDerived(replayed))
	b, _ := json.Marshal(stripDerived(stored))
	if !bytes.Equal(a, b) {
		st.tb.Fatalf("projection differs from replay:\n%s\n%s", b, a)
	}
	return evs
}

func stripDerived(n *nomination.Nomination) *nomination.Nomination {
	cp := *n
	cp.ReviewPanels, cp.DerivedSeq, cp.MeanScore = nil, 0, 0
	return &cp
}

// The MAG path up to the review stage, as a candidate and the secretariat
// drive it.
func TestMAGPathToPanelReview(t *testing.T) {
	st := newStack(t)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	cand := st.candidate("ana@example.org")

	n := st.mustDraft(cand, "mag-2027", map[string]any{"stakeholder_group": "civil_society"})
	if n.State != "draft" || n.Version != 1 {
		t.Fatalf("draft = %+v", n)
	}
	// Submitting an incomplete form names what is missing.
	rec := st.call("POST", "/api/v1/nominations/"+n.ID+"/actions/submit", cand, nil)
	p := mustProblem(t, rec, http.StatusUnprocessableEntity)
	if !strings.Contains(fmt.Sprint(p.Errors), "fields.motivation") || !strings.Contains(fmt.Sprint(p.Errors), "fields.cv") {
		t.Fatalf("missing fields not named: %+v", p.Errors)
	}
	// Save the rest of the form, with the version read.
	rec = st.call("PATCH", "/api/v1/nominations/"+n.ID, cand, map[string]any{"fields": magFields("civil_society")}, "If-Match", `"1"`)
	mustStatus(t, rec, http.StatusOK, &n)
	if n.Fields["region"] != "african" {
		t.Fatalf("region not derived from nationality: %v", n.Fields)
	}
	var att nomination.Attachment
	mustStatus(t, st.upload(cand, n.ID, "cv", "../../etc/passwd.pdf", minimalPDF), http.StatusCreated, &att)
	if att.Size != int64(len(minimalPDF)) || len(att.SHA256) != 64 || strings.Contains(att.Filename, "/") {
		t.Fatalf("attachment = %+v", att)
	}
	// The file comes back byte for byte.
	rec = st.call("GET", "/api/v1/nominations/"+n.ID+"/attachments/"+att.ID, cand, nil)
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), minimalPDF) {
		t.Fatalf("download: %d %q", rec.Code, rec.Body.String())
	}
	// A new CV replaces the old one, whose bytes are removed.
	first := att
	mustStatus(t, st.upload(cand, n.ID, "cv", "cv-2.pdf", minimalPDF), http.StatusCreated, &att)
	if _, _, err := st.store.Nominations().OpenFile(context.Background(), first.ID); nomination.ErrorCode(err) != nomination.ENOTFOUND {
		t.Fatalf("the replaced file is still stored: %v", err)
	}
	st.mustEndorse(cand, n.ID)
	mustStatus(t, st.call("GET", "/api/v1/nominations/"+n.ID, cand, nil), http.StatusOK, &n)
	if !n.allowed("submit") || !n.allowed("withdraw") {
		t.Fatalf("owner's actions = %+v", n.Actions)
	}
	mustStatus(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/actions/submit", cand, nil), http.StatusOK, &n)
	if n.State != "submitted" {
		t.Fatalf("state after submit = %s", n.State)
	}
	// The candidate cannot screen; the secretariat admits it to its panel.
	mustProblem(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/actions/admit", cand, nil), http.StatusForbidden)
	mustStatus(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/actions/admit", sec, nil), http.StatusOK, &n)
	if n.State != "panel_review" || n.Panel != "civil_society" || n.Round != 1 {
		t.Fatalf("after admit: state %s panel %q round %d", n.State, n.Panel, n.Round)
	}
	// Editing is over once submitted.
	mustProblem(t, st.call("PATCH", "/api/v1/nominations/"+n.ID, cand, map[string]any{"fields": map[string]any{"gender": "other"}}, "If-Match", "*"), http.StatusConflict)
	evs := st.mustConsistent(n.ID)
	if len(evs) != 8 {
		t.Fatalf("%d events, want created, fields, 2 attachments, endorsement asked and confirmed, submit, admit", len(evs))
	}
	// Mail derived from the events: the candidate's receipt at least.
	jobs := mustMailJobs(t, st, n.ID)
	if len(jobs) == 0 {
		t.Fatal("no mail jobs enqueued for the nomination")
	}
}

func mustMailJobs(tb testing.TB, st *stack, nominationID string) []string {
	tb.Helper()
	cur, err := st.db.Collection("mail_jobs").Find(context.Background(), bson.D{{Key: "nomination_id", Value: nominationID}})
	if err != nil {
		tb.Fatal(err)
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(context.Background(), &docs); err != nil {
		tb.Fatal(err)
	}
	var ids []string
	for _, d := range docs {
		ids = append(ids, d.ID)
	}
	return ids
}

func TestNominationBadInput(t *testing.T) {
	st := newStack(t)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	cand := st.candidate("ana@example.org")
	n := st.mustDraft(cand, "mag-2027", map[string]any{"stakeholder_group": "civil_society"})
	path := "/api/v1/nominations/" + n.ID

	cases := []struct {
		name   string
		body   string
		status int
		field  string
	}{
		{"state", `{"fields":{},"state":"appointed"}`, 400, "state"},
		{"version", `{"fields":{},"version":9}`, 400, "version"},
		{"owner", `{"fields":{},"owner":"someone"}`, 400, "owner"},
		{"unknown", `{"fields":{},"votes":[]}`, 400, "votes"},
		{"wrong type", `{"fields":"x"}`, 400, "fields"},
		{"unknown form field", `{"fields":{"salary":"1"}}`, 400, "fields.salary"},
		{"bad choice", `{"fields":{"gender":"robot"}}`, 422, "fields.gender"},
		{"region contradicts nationality", `{"fields":{"nationality":"FR","region":"african"}}`, 422, "fields.region"},
		{"invalid utf-8", "{\"fields\":{\"motivation\":\"\xff\xfe\"}}", 400, "body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := mustProblem(t, st.call("PATCH", path, cand, tc.body, "If-Match", "*"), tc.status)
			if len(p.Errors) == 0 || p.Errors[0].Field != tc.field {
				t.Fatalf("errors = %+v, want field %s", p.Errors, tc.field)
			}
		})
	}
	// Nothing was stored by any of them.
	if evs := st.mustConsistent(n.ID); len(evs) != 1 {
		t.Fatalf("%d events after refused changes, want 1", len(evs))
	}
	// Without If-Match: 428; a stale version: 412.
	mustProblem(t, st.call("PATCH", path, cand, map[string]any{"fields": map[string]any{"gender": "female"}}), http.StatusPreconditionRequired)
	mustStatus(t, st.call("PATCH", path, cand, map[string]any{"fields": map[string]any{"gender": "female"}}, "If-Match", `"1"`), 200, nil)
	mustProblem(t, st.call("PATCH", path, cand, map[string]any{"fields": map[string]any{"gender": "male"}}, "If-Match", `"1"`), http.StatusPreconditionFailed)

	// A PNG named .pdf is refused by its content.
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 64)...)
	mustProblem(t, st.upload(cand, n.ID, "cv", "cv.pdf", png), http.StatusUnsupportedMediaType)
	// An upload over the limit is refused with 413.
	big := append(append([]byte{}, minimalPDF...), bytes.Repeat([]byte("x"), 2<<20)...)
	mustProblem(t, st.upload(cand, n.ID, "cv", "cv.pdf", big), http.StatusRequestEntityTooLarge)
	if evs := st.mustConsistent(n.ID); len(evs) != 2 {
		t.Fatalf("%d events after refused uploads, want 2", len(evs))
	}
}

func TestSubmitAfterCloseIsRefused(t *testing.T) {
	st := newStack(t)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	cand := st.candidate("ana@example.org")
	n := st.mustDraft(cand, "mag-2027", magFields("civil_society"))
	mustStatus(t, st.upload(cand, n.ID, "cv", "cv.pdf", minimalPDF), http.StatusCreated, nil)
	st.mustEndorse(cand, n.ID)
	st.clock.Advance(31 * 24 * time.Hour)
	cand = st.login(cand)
	p := mustProblem(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/actions/submit", cand, nil), http.StatusUnprocessableEntity)
	if !strings.Contains(strings.ToLower(p.Detail+fmt.Sprint(p.Errors)), "clos") {
		t.Fatalf("the guard's message does not say the call closed: %+v", p)
	}
}

// Thirty clients change one nomination at once: every accepted change is in
// the history exactly once, seqs have no gaps, and the projection equals the
// replay. Run against one instance and against two sharing the store.
func TestConcurrentChangesAreNeverLost(t *testing.T) {
	for _, instances := range []int{1, 2} {
		t.Run(strconv.Itoa(instances)+" instances", func(t *testing.T) {
			st := newStack(t)
			sec := st.secretariat("sec@igf.example")
			st.mustCall(sec, "mag-2027", "mag")
			cand := st.candidate("ana@example.org")
			n := st.mustDraft(cand, "mag-2027", map[string]any{"stakeholder_group": "civil_society"})
			stacks := []*stack{st}
			if instances == 2 {
				stacks = append(stacks, newStackOn(t, storetest.Connect(t, st.db.Name()), st.clock))
			}
			const clients = 30
			var wg sync.WaitGroup
			accepted := make(chan string, clients)
			statuses := make(chan int, clients)
			for i := 0; i < clients; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					inst := stacks[i%len(stacks)]
					var rec *httptest.ResponseRecorder
					marker := fmt.Sprintf("Organisation %02d", i)
					if i == 29 {
						rec = inst.call("POST", "/api/v1/nominations/"+n.ID+"/actions/withdraw", cand, nil)
						marker = "withdraw"
					} else {
						rec = inst.call("PATCH", "/api/v1/nominations/"+n.ID, cand, map[string]any{"fields": map[string]any{"organization": marker}}, "If-Match", "*")
					}
					statuses <- rec.Code
					if rec.Code == 200 {
						accepted <- marker
					}
				}(i)
			}
			wg.Wait()
			close(accepted)
			close(statuses)
			for code := range statuses {
				if code != 200 && code != 409 {
					t.Errorf("status %d; want 200, or 409 once withdrawn", code)
				}
			}
			evs := st.mustConsistent(n.ID)
			seen := map[string]int{}
			for _, e := range evs[1:] {
				switch e.Type {
				case nomination.EvFieldsUpdated:
					var d struct{ Set map[string]any }
					_ = json.Unmarshal(e.Data, &d)
					seen[d.Set["organization"].(string)]++
				case nomination.EvAction:
					seen["withdraw"]++
				}
			}
			want := map[string]int{}
			for m := range accepted {
				want[m]++
			}
			if !reflect.DeepEqual(seen, want) {
				t.Fatalf("history %v\naccepted %v", seen, want)
			}
		})
	}
}

// A crash after the event is committed and before the projection is
// written loses nothing: the next read shows the change, and its mail jobs
// exist exactly once.
func TestCrashAfterAppendIsRepairedOnRead(t *testing.T) {
	var crash sync.Once
	crashed := false
	st := newStack(t, func(st *stack, cfg *nomination.Config) {
		cfg.AfterAppend = func(e nomination.Event) error {
			err := error(nil)
			if e.Type == nomination.EvAction {
				crash.Do(func() { crashed, err = true, fmt.Errorf("simulated crash") })
			}
			return err
		}
	})
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	cand := st.candidate("ana@example.org")
	n := st.mustDraft(cand, "mag-2027", magFields("civil_society"))
	mustStatus(t, st.upload(cand, n.ID, "cv", "cv.pdf", minimalPDF), http.StatusCreated, nil)
	rec := st.call("POST", "/api/v1/nominations/"+n.ID+"/actions/submit", cand, nil)
	if rec.Code != 500 || !crashed {
		t.Fatalf("the crash was not simulated: %d %s", rec.Code, rec.Body)
	}
	stored, err := st.store.Nominations().GetNomination(context.Background(), n.ID)
	if err != nil || stored.State != "draft" {
		t.Fatalf("projection should still be behind: %v %v", stored, err)
	}
	if jobs := mustMailJobs(t, st, n.ID); len(jobs) != 0 {
		t.Fatalf("mail derived before the crash point: %v", jobs)
	}
	mustStatus(t, st.call("GET", "/api/v1/nominations/"+n.ID, cand, nil), 200, &n)
	if n.State != "submitted" {
		t.Fatalf("the read did not repair the projection: %s", n.State)
	}
	first := mustMailJobs(t, st, n.ID)
	if len(first) == 0 {
		t.Fatal("the repair derived no mail")
	}
	// Reading again, from another instance, derives nothing twice.
	other := newStackOn(t, st.db, st.clock)
	mustStatus(t, other.call("GET", "/api/v1/nominations/"+n.ID, cand, nil), 200, &n)
	if again := mustMailJobs(t, st, n.ID); len(again) != len(first) {
		t.Fatalf("mail jobs %d after second read, want %d", len(again), len(first))
	}
	st.mustConsistent(n.ID)
}
