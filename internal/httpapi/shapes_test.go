package httpapi

import (
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/export"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/workflow"
)

// The shipped workflows, each walked through its real rules: the router,
// the nomination and membership services and the store, as cmd/nomina
// wires them.

// openCall opens a call of workflow wf with extra settings, open from a
// day ago for thirty days.
func (st *stack) openCall(sec account, slug, wf string, extra map[string]any) callResponse {
	st.tb.Helper()
	now := st.clock.Now()
	body := map[string]any{
		"slug": slug, "title": "Call " + slug, "workflow": wf, "seats": 20,
		"opens_at": now.Add(-24 * time.Hour), "closes_at": now.Add(30 * 24 * time.Hour), "term_start": time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for k, v := range extra {
		body[k] = v
	}
	var c callResponse
	mustStatus(st.tb, st.call("POST", "/api/v1/calls", sec, body), http.StatusCreated, &c)
	return c
}

// mustImport imports a roster of body through the API.
func (st *stack) mustImport(sec account, body, csv string) {
	st.tb.Helper()
	mustStatus(st.tb, st.postCSV("/api/v1/members/import?body="+body, sec, csv), http.StatusOK, nil)
}

// nominate starts a nomination of someone else in call slug.
func (st *stack) nominate(who account, slug, name, email string, fields map[string]any) *nominationBody {
	st.tb.Helper()
	rec := st.call("POST", "/api/v1/calls/"+slug+"/nominations", who, map[string]any{
		"nominee": map[string]string{"name": name, "email": email}, "fields": fields})
	if rec.Code != http.StatusCreated {
		return nil
	}
	var n nominationBody
	mustStatus(st.tb, rec, http.StatusCreated, &n)
	return &n
}

// mustAct takes an action and checks the status.
func (st *stack) mustAct(who account, id, action string, status int, body map[string]any) *http.Response {
	st.tb.Helper()
	rec := st.call("POST", "/api/v1/nominations/"+id+"/actions/"+action, who, body)
	if rec.Code != status {
		st.tb.Fatalf("%s: status %d, want %d: %s", action, rec.Code, status, rec.Body)
	}
	return rec.Result()
}

// mustCV uploads the CV of a nomination.
func (st *stack) mustCV(who account, id string) {
	st.tb.Helper()
	mustStatus(st.tb, st.upload(who, id, "cv", "cv.pdf", minimalPDF), http.StatusCreated, nil)
}

// magRosters are the MAG's and the WGIG's past members: Maria served on
// the MAG for civil society and still does; Ali and Bea are MAG alumni of
// civil society; Wanda sat on the WGIG for civil society; Gus is a MAG
// alumnus of government.
const (
	magRoster = "email,name,stakeholder_group,nationality,gender,start\n" +
		"maria@example.org,Maria,civil_society,BR,female,2024-01-01\n" +
		"maria@example.org,Maria,civil_society,BR,female,2025-01-01\n" +
		"maria@example.org,Maria,civil_society,BR,female,2026-01-01\n" +
		"ali@example.org,Ali,civil_society,EG,male,2019-01-01\n" +
		"bea@example.org,Bea,civil_society,DE,female,2021-01-01\n" +
		"cleo@example.org,Cleo,civil_society,UA,female,2022-01-01\n" +
		"gus@example.org,Gus,government,FR,male,2020-01-01\n"
	wgigRoster = "email,name,stakeholder_group,nationality,start,end\n" +
		"wanda@example.org,Wanda,civil_society,IN,2004-11-11,2005-06-18\n"
)

// TestShapeMAGAlumni is the 2025 shape, as a secretariat and nominators
// meet it through the API.
func TestShapeMAGAlumni(t *testing.T) {
	st, _ := newMemberStack(t, export.Shortlists{})
	sec := st.secretariat("sec@example.org")
	st.mustImport(sec, "mag", magRoster)
	st.mustImport(sec, "wgig", wgigRoster)
	call := st.openCall(sec, "mag-2025", "mag-alumni", nil)
	if call.EffectiveQuota != 2 {
		t.Fatalf("effective quota %d, want the workflow's 2", call.EffectiveQuota)
	}
	maria := st.candidate("maria@example.org")

	// A past MAG member nominates two alumni of her stakeholder group.
	ali := st.nominate(maria, "mag-2025", "Ali", "ali@example.org", magFields("civil_society"))
	bea := st.nominate(maria, "mag-2025", "Bea", "bea@example.org", magFields("civil_society"))
	if ali == nil || bea == nil {
		t.Fatal("an alumna could not nominate two alumni")
	}
	// A third is refused with the rule's message.
	rec := st.call("POST", "/api/v1/calls/mag-2025/nominations", maria, map[string]any{
		"nominee": map[string]string{"name": "Cleo", "email": "cleo@example.org"}, "fields": magFields("civil_society")})
	if p := mustProblem(t, rec, http.StatusForbidden); p.Detail != "Each nominator may put forward at most two candidates in this call." {
		t.Fatalf("third nomination: %q", p.Detail)
	}

	// A candidate who never served cannot start a nomination in it.
	newcomer := st.candidate("newcomer@example.org")
	rec = st.call("POST", "/api/v1/calls/mag-2025/nominations", newcomer, map[string]any{"fields": magFields("civil_society")})
	if p := mustProblem(t, rec, http.StatusForbidden); !strings.Contains(p.Detail, "Only current and past members of the MAG and former members of the WGIG may nominate in this call.") {
		t.Fatalf("newcomer: %q", p.Detail)
	}
	// Nor may an alumna nominate someone who never served.
	wanda := st.candidate("wanda@example.org")
	rec = st.call("POST", "/api/v1/calls/mag-2025/nominations", wanda, map[string]any{
		"nominee": map[string]string{"name": "Nel", "email": "nel@example.org"}, "fields": magFields("civil_society")})
	if p := mustProblem(t, rec, http.StatusForbidden); p.Detail != "In this call the candidate must be a current or past member of the MAG or a former member of the WGIG." {
		t.Fatalf("nominee who never served: %q", p.Detail)
	}

	// A nominee from another stakeholder group is refused at submission
	// with the rule's message: Wanda (WGIG, civil society) nominates Gus
	// (MAG, government).
	gus := st.nominate(wanda, "mag-2025", "Gus", "gus@example.org", magFields("civil_society"))
	if gus == nil {
		t.Fatal("a WGIG alumna could not start a nomination of a MAG alumnus")
	}
	st.mustCV(wanda, gus.ID)
	p := mustProblem(t, st.call("POST", "/api/v1/nominations/"+gus.ID+"/actions/submit", wanda, nil), http.StatusUnprocessableEntity)
	if p.Detail != "Nominators in this call put forward alumni of their own stakeholder group, and the candidate served for another stakeholder group." {
		t.Fatalf("other stakeholder group: %q", p.Detail)
	}
	// The form must name the nominator's group too.
	st.mustCV(maria, ali.ID)
	mustStatus(t, st.call("PATCH", "/api/v1/nominations/"+ali.ID, maria, map[string]any{"fields": map[string]any{"stakeholder_group": "technical_community"}}, "If-Match", "*"), http.StatusOK, nil)
	p = mustProblem(t, st.call("POST", "/api/v1/nominations/"+ali.ID+"/actions/submit", maria, nil), http.StatusUnprocessableEntity)
	if p.Detail != "Nominators in this call put forward candidates for their own stakeholder group; choose your stakeholder group on the form." {
		t.Fatalf("form group: %q", p.Detail)
	}
	mustStatus(t, st.call("PATCH", "/api/v1/nominations/"+ali.ID, maria, map[string]any{"fields": map[string]any{"stakeholder_group": "civil_society"}}, "If-Match", "*"), http.StatusOK, nil)
	st.mustAct(maria, ali.ID, "submit", http.StatusOK, nil)

	// Withdrawing a nomination frees its place.
	st.mustAct(maria, bea.ID, "withdraw", http.StatusOK, nil)
	if st.nominate(maria, "mag-2025", "Cleo", "cleo@example.org", magFields("civil_society")) == nil {
		t.Fatal("a withdrawn nomination still holds its place")
	}

	// The call may lower the quota, never raise it.
	p = mustProblem(t, st.call("PATCH", "/api/v1/calls/mag-2025", sec, map[string]any{"nominator_quota": 3}), http.StatusUnprocessableEntity)
	if len(p.Errors) != 1 || p.Errors[0].Field != "nominator_quota" {
		t.Fatalf("raising the quota: %+v", p)
	}
	var lowered callResponse
	mustStatus(t, st.call("PATCH", "/api/v1/calls/mag-2025", sec, map[string]any{"nominator_quota": 1}), http.StatusOK, &lowered)
	if lowered.NominatorQuota != 1 || lowered.EffectiveQuota != 1 {
		t.Fatalf("lowered quota: %+v", lowered)
	}
	mustProblem(t, st.call("POST", "/api/v1/calls/mag-2025/nominations", wanda, map[string]any{
		"nominee": map[string]string{"name": "Ali", "email": "ali@example.org"}, "fields": magFields("civil_society")}), http.StatusForbidden)
}

// TestShapeMAG is the standard renewal: anyone nominates; endorsements are
// counted but required only when the call says so; the balance report and
// the suggestion count the economic groups.
func TestShapeMAG(t *testing.T) {
	st, _ := newMemberStack(t, export.Shortlists{})
	sec := st.secretariat("sec@example.org")
	targets := map[string]any{"rules": []map[string]any{
		{"field": "stakeholder_group", "values": []string{"government"}, "max_percent": 40},
		{"field": "region", "min_seats": 1, "values": []string{"african", "latin_american_caribbean"}},
		{"field": "economic_group", "min_seats": 1},
		{"field": "gender", "values": []string{"female", "male"}, "max_percent": 50},
	}}
	st.openCall(sec, "mag-2027", "mag", map[string]any{"seats": 4, "targets": targets})

	type who struct {
		email, group, nationality, gender string
	}
	people := []who{
		{"kamau@example.org", "civil_society", "KE", "male"},         // developing
		{"lea@example.org", "private_sector", "DE", "female"},        // developed
		{"olena@example.org", "technical_community", "UA", "female"}, // transition
		{"joao@example.org", "government", "BR", "male"},             // developing
		{"hans@example.org", "technical_community", "AT", "male"},    // developed
		{"ines@example.org", "civil_society", "PR", "female"},        // not classified: she chooses
		{"nobody@example.org", "civil_society", "KE", "undisclosed"},
	}
	ids := map[string]string{}
	for _, p := range people[:6] {
		a := st.candidate(p.email)
		f := magFields(p.group)
		f["nationality"], f["gender"] = p.nationality, p.gender
		if p.nationality == "PR" {
			f["region"], f["economic_group"] = "latin_american_caribbean", "transition"
		}
		n := st.mustDraft(a, "mag-2027", f)
		if p.nationality == "UA" && n.Fields["economic_group"] != "transition" {
			t.Fatalf("economic group of a Ukrainian nominee: %v", n.Fields["economic_group"])
		}
		st.mustCV(a, n.ID)
		st.mustAct(a, n.ID, "submit", http.StatusOK, nil)
		// No endorsement: screening admits it all the same.
		st.mustAct(sec, n.ID, "admit", http.StatusOK, nil)
		ids[p.email] = n.ID
	}
	// An economic group that contradicts the nationality is refused.
	bad := magFields("civil_society")
	bad["economic_group"] = "developed"
	nobody := st.candidate(people[6].email)
	p := mustProblem(t, st.call("POST", "/api/v1/calls/mag-2027/nominations", nobody, map[string]any{"fields": bad}), http.StatusUnprocessableEntity)
	if len(p.Errors) != 1 || p.Errors[0].Field != "fields.economic_group" {
		t.Fatalf("contradicting economic group: %+v", p)
	}

	// The balance report shows the economic groups beside stakeholder
	// groups, regions and gender, with their targets.
	var report export.Report
	mustStatus(t, st.call("GET", "/api/v1/calls/mag-2027/balance?state=panel_review", sec, nil), http.StatusOK, &report)
	var fields []string
	for _, f := range report.Fields {
		fields = append(fields, f.Field)
		if f.Field != "economic_group" {
			continue
		}
		counts := map[string]int{}
		for _, v := range f.Values {
			counts[v.Value] = v.Count
			if v.Value != "" && (v.MinSeats == nil || *v.MinSeats != 1) {
				t.Errorf("economic group %s has no target of one seat: %+v", v.Value, v)
			}
		}
		if counts["developed"] != 2 || counts["developing"] != 2 || counts["transition"] != 2 {
			t.Errorf("economic groups %v", counts)
		}
	}
	if strings.Join(fields, ",") != "stakeholder_group,region,economic_group,gender" {
		t.Fatalf("report fields %v", fields)
	}
	// The suggested shortlist honours the targets on all four.
	var sg export.Suggestion
	mustStatus(t, st.call("GET", "/api/v1/calls/mag-2027/balance/suggest?state=panel_review", sec, nil), http.StatusOK, &sg)
	if !sg.Feasible || len(sg.Picks) != 4 || len(sg.Report.Broken) != 0 {
		t.Fatalf("suggestion: feasible %v, %d picks, broken %+v", sg.Feasible, len(sg.Picks), sg.Report.Broken)
	}
	seen := map[string]map[string]bool{}
	for _, pk := range sg.Picks {
		for _, f := range []string{"economic_group", "region", "gender", "stakeholder_group"} {
			if seen[f] == nil {
				seen[f] = map[string]bool{}
			}
			seen[f][pk.Fields[f]] = true
		}
	}
	if len(seen["economic_group"]) != 3 || !seen["region"]["african"] || !seen["region"]["latin_american_caribbean"] {
		t.Errorf("picks do not cover the targets: %v", seen)
	}
	// The secretariat filters the list and the export by economic group.
	var page struct {
		Items []nominationBody `json:"items"`
	}
	mustStatus(t, st.call("GET", "/api/v1/nominations?call=mag-2027&economic_group=transition", sec, nil), http.StatusOK, &page)
	if len(page.Items) != 2 {
		t.Fatalf("%d nominations from economies in transition, want 2", len(page.Items))
	}
	rec := st.call("GET", "/api/v1/calls/mag-2027/export?format=csv&economic_group=developed", sec, nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "Economic group") || strings.Count(rec.Body.String(), "\n") != 3 {
		t.Fatalf("export by economic group: %d\n%s", rec.Code, rec.Body)
	}

	// A call that asks for endorsements holds screening until they come.
	st.openCall(sec, "mag-2027-endorsed", "mag", map[string]any{"required_endorsements": 1})
	kamau := st.candidate("kamau2@example.org")
	n := st.mustDraft(kamau, "mag-2027-endorsed", magFields("civil_society"))
	st.mustCV(kamau, n.ID)
	st.mustAct(kamau, n.ID, "submit", http.StatusOK, nil)
	p = mustProblem(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/actions/admit", sec, nil), http.StatusUnprocessableEntity)
	if p.Detail != "This call asks for endorsements, and the nomination has fewer confirmed endorsements than the call requires." {
		t.Fatalf("admit without the endorsement the call asks: %q", p.Detail)
	}
	var got nominationBody
	mustStatus(t, st.call("GET", "/api/v1/nominations/"+n.ID, sec, nil), http.StatusOK, &got)
	if got.allowed("admit") {
		t.Fatal("admit is offered before the endorsement")
	}
	// Endorsements are requested in a draft; the secretariat instead lifts
	// the requirement of this call.
	mustProblem(t, st.call("PATCH", "/api/v1/calls/mag-2027-endorsed", sec, map[string]any{"required_endorsements": 21}), http.StatusUnprocessableEntity)
	mustStatus(t, st.call("PATCH", "/api/v1/calls/mag-2027-endorsed", sec, map[string]any{"required_endorsements": 0}), http.StatusOK, nil)
	st.mustAct(sec, n.ID, "admit", http.StatusOK, nil)

	// A standard call may set a nominator quota of its own.
	st.openCall(sec, "mag-2027-quota", "mag", map[string]any{"nominator_quota": 1})
	lea := st.candidate("lea2@example.org")
	st.mustDraft(lea, "mag-2027-quota", magFields("private_sector"))
	mustProblem(t, st.call("POST", "/api/v1/calls/mag-2027-quota/nominations", lea, map[string]any{"fields": magFields("private_sector")}), http.StatusForbidden)
	mustProblem(t, st.call("POST", "/api/v1/calls", sec, map[string]any{"slug": "mag-bad", "title": "Bad", "workflow": "mag", "seats": 4,
		"opens_at": st.clock.Now(), "closes_at": st.clock.Now().Add(time.Hour), "term_start": st.clock.Now(), "nominator_quota": -1}), http.StatusUnprocessableEntity)
}

// TestShapeMAGChair: stakeholder-group representatives (current MAG
// members) send one nomination each for the Chair; the secretariat may
// file one on a group's behalf; no panel votes.
func TestShapeMAGChair(t *testing.T) {
	st, _ := newMemberStack(t, export.Shortlists{})
	sec := st.secretariat("sec@example.org")
	st.mustImport(sec, "mag", magRoster)
	st.openCall(sec, "mag-chair-2027", "mag-chair", nil)
	chairFields := func(group string) map[string]any {
		f := magFields("technical_community")
		f["nominating_group"] = group
		return f
	}
	// Ali served on the MAG but no longer sits on it: he is no
	// representative.
	ali := st.candidate("ali@example.org")
	p := mustProblem(t, st.call("POST", "/api/v1/calls/mag-chair-2027/nominations", ali, map[string]any{"fields": chairFields("civil_society")}), http.StatusForbidden)
	if !strings.HasPrefix(p.Detail, "Nominations for the MAG Chair are sent by stakeholder-group representatives") {
		t.Fatalf("former member: %q", p.Detail)
	}
	maria := st.candidate("maria@example.org")
	n := st.nominate(maria, "mag-chair-2027", "Tomas", "tomas@example.org", chairFields("government"))
	if n == nil {
		t.Fatal("a current MAG member could not nominate")
	}
	p = mustProblem(t, st.call("POST", "/api/v1/calls/mag-chair-2027/nominations", maria, map[string]any{
		"nominee": map[string]string{"name": "Tia", "email": "tia@example.org"}, "fields": chairFields("civil_society")}), http.StatusForbidden)
	if p.Detail != "Each stakeholder-group representative sends one nomination for the MAG Chair." {
		t.Fatalf("second nomination: %q", p.Detail)
	}
	st.mustCV(maria, n.ID)
	p = mustProblem(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/actions/submit", maria, nil), http.StatusUnprocessableEntity)
	if !strings.HasPrefix(p.Detail, "A MAG member sends the nomination of the stakeholder group they sit for") {
		t.Fatalf("another group's nomination: %q", p.Detail)
	}
	mustStatus(t, st.call("PATCH", "/api/v1/nominations/"+n.ID, maria, map[string]any{"fields": map[string]any{"nominating_group": "civil_society"}}, "If-Match", "*"), http.StatusOK, nil)
	st.mustAct(maria, n.ID, "submit", http.StatusOK, nil)
	// The nominee accepts; screening leads to the secretariat, no panel.
	mustStatus(t, st.call("POST", st.apiLink(n.ID, "nominee_consent", "tomas@example.org", "consent"), anonymous, map[string]string{"decision": "accept"}), http.StatusOK, nil)
	st.mustAct(sec, n.ID, "admit", http.StatusOK, nil)
	var got nominationBody
	mustStatus(t, st.call("GET", "/api/v1/nominations/"+n.ID, sec, nil), http.StatusOK, &got)
	if got.State != "secretariat_review" {
		t.Fatalf("state after screening %q", got.State)
	}
	st.mustAct(sec, n.ID, "shortlist", http.StatusOK, nil)
	st.mustAct(sec, n.ID, "appoint", http.StatusOK, nil)
	// The secretariat files one on a group's behalf.
	if st.nominate(sec, "mag-chair-2027", "Uma", "uma@example.org", chairFields("private_sector")) == nil {
		t.Fatal("the secretariat could not file a nomination")
	}
}

// TestShapeLeadershipPanel: anyone nominates, the selection committee
// scores, the economic group follows the nationality.
func TestShapeLeadershipPanel(t *testing.T) {
	st, _ := newMemberStack(t, export.Shortlists{})
	sec := st.secretariat("sec@example.org")
	st.openCall(sec, "lp-2027", "leadership-panel", nil)
	var reviewers []account
	for _, e := range []string{"r1@example.org", "r2@example.org", "r3@example.org"} {
		reviewers = append(reviewers, st.mustUser(e, []auth.Role{"reviewer"}, []string{"lp_committee"}, ""))
	}
	newcomer := st.candidate("newcomer@example.org")
	f := magFields("at_large")
	f["position"] = "Former minister"
	f["nationality"] = "KZ"
	n := st.mustDraft(newcomer, "lp-2027", f)
	if n.Fields["economic_group"] != "transition" || n.Fields["region"] != "asia_pacific" {
		t.Fatalf("derived groups %v %v", n.Fields["region"], n.Fields["economic_group"])
	}
	st.mustCV(newcomer, n.ID)
	st.mustAct(newcomer, n.ID, "submit", http.StatusOK, nil)
	st.mustAct(sec, n.ID, "admit", http.StatusOK, nil)
	for i, r := range reviewers {
		mustStatus(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/votes", r, map[string]any{"decision": "approve", "score": 3 + i%2}), http.StatusCreated, nil)
	}
	var got nominationBody
	mustStatus(t, st.call("GET", "/api/v1/nominations/"+n.ID, sec, nil), http.StatusOK, &got)
	if got.State != "secretariat_review" {
		t.Fatalf("state after three scores %q", got.State)
	}
}

// TestQuotaUnderConcurrency: one nominator sends several nominations at
// once in a call with a quota of two; exactly as many succeed as places
// are left, whatever the interleaving, on a store whose conditional
// updates are not atomic.
func TestQuotaUnderConcurrency(t *testing.T) {
	st, _ := newMemberStack(t, export.Shortlists{})
	sec := st.secretariat("sec@example.org")
	st.mustImport(sec, "mag", magRoster)
	st.openCall(sec, "mag-2025", "mag-alumni", nil)
	maria := st.candidate("maria@example.org")
	if st.nominate(maria, "mag-2025", "Ali", "ali@example.org", magFields("civil_society")) == nil {
		t.Fatal("first nomination refused")
	}
	// Two simultaneous third nominations, then a burst of five from a
	// second nominator with both places free.
	for _, tc := range []struct {
		who      account
		nominees []string
		want     int
	}{
		{maria, []string{"bea@example.org", "cleo@example.org"}, 1},
		{st.candidate("bea@example.org"), []string{"ali@example.org", "cleo@example.org", "maria@example.org", "ali@example.org", "cleo@example.org"}, 2},
	} {
		start := make(chan struct{})
		codes := make([]int, len(tc.nominees))
		var wg sync.WaitGroup
		for i, email := range tc.nominees {
			wg.Go(func() {
				<-start
				rec := serve(t, st.srv, testRequest(t, "POST", "/api/v1/calls/mag-2025/nominations", tc.who.Token, map[string]any{
					"nominee": map[string]string{"name": "Alumnus", "email": email}, "fields": magFields("civil_society")}))
				codes[i] = rec.Code
			})
		}
		close(start)
		wg.Wait()
		created, refused := 0, 0
		for _, c := range codes {
			switch c {
			case http.StatusCreated:
				created++
			case http.StatusForbidden:
				refused++
			default:
				t.Errorf("status %d", c)
			}
		}
		if created != tc.want || refused != len(codes)-tc.want {
			t.Fatalf("%s: %d created and %d refused of %d, want %d created", tc.who.Email, created, refused, len(codes), tc.want)
		}
	}
	// The projections agree: each nominator holds two.
	var page struct {
		Items []nominationBody `json:"items"`
	}
	mustStatus(t, st.call("GET", "/api/v1/nominations?call=mag-2025", sec, nil), http.StatusOK, &page)
	if len(page.Items) != 4 {
		t.Fatalf("%d nominations stored, want 4", len(page.Items))
	}
}

// TestNominationsFact: a guard over nominator.nominations counts the
// nominator's other nominations in the call as stored, withdrawn ones
// left out. No shipped workflow needs it (their quotas are start rules),
// so the test adds one that does, made from the MAG's.
func TestNominationsFact(t *testing.T) {
	src, err := os.ReadFile("../../workflows/mag.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(src), "\nid: mag\n", "\nid: mag-one-each\n", 1)
	// Before the first "complete" guard, the submit action's.
	text = strings.Replace(text, "      - rule: complete\n", "      - rule: nominator.nominations == 0\n        message: Submit one nomination in this call; withdraw the others first.\n      - rule: complete\n", 1)
	templates, _, err := workflow.LoadTemplates("../../workflows/templates")
	if err != nil {
		t.Fatal(err)
	}
	def, diags := workflow.Parse("mag-one-each.yaml", []byte(text), templates)
	if def == nil {
		t.Fatalf("parse: %v", diags)
	}
	reg := workflow.NewRegistry(append(mustWorkflows(t).All(), def)...)
	st := newStack(t, func(_ *stack, cfg *nomination.Config) { cfg.Workflows = reg })
	st.srv = newTestServer(t, Config{Logger: slog.New(slog.NewJSONHandler(st.logs, nil)), Authenticate: AuthenticateWith(st.auth), Auth: st.auth,
		Nominations: st.noms, Workflows: reg, MaxUploadBytes: 1 << 20})
	sec := st.secretariat("sec@example.org")
	st.openCall(sec, "one-each", "mag-one-each", nil)
	ana := st.candidate("ana@example.org")
	first := st.mustDraft(ana, "one-each", magFields("civil_society"))
	second := st.nominate(ana, "one-each", "Bo", "bo@example.org", magFields("civil_society"))
	if second == nil {
		t.Fatal("second draft refused")
	}
	st.mustCV(ana, first.ID)
	p := mustProblem(t, st.call("POST", "/api/v1/nominations/"+first.ID+"/actions/submit", ana, nil), http.StatusUnprocessableEntity)
	if p.Detail != "Submit one nomination in this call; withdraw the others first." {
		t.Fatalf("submit with another nomination: %q", p.Detail)
	}
	st.mustAct(ana, second.ID, "withdraw", http.StatusOK, nil)
	st.mustAct(ana, first.ID, "submit", http.StatusOK, nil)
}
