package httpapi

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/igf/nomina/internal/export"
	"github.com/igf/nomina/internal/membership"
	"github.com/igf/nomina/internal/nomination"
)

// newMemberStack is a stack whose nomination service counts consecutive
// terms and records appointments through a membership service, and whose
// router serves the membership routes, as cmd/nomina wires them.
func newMemberStack(t *testing.T, shortlists Shortlists) (*stack, *membership.Service) {
	t.Helper()
	var svc *membership.Service
	st := newStack(t, func(st *stack, cfg *nomination.Config) {
		var err error
		svc, err = membership.New(membership.Config{Store: st.store.Members(), Workflows: cfg.Workflows, Now: st.clock.Now,
			Logger: slog.New(slog.NewJSONHandler(st.logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Terms = svc
		cfg.Members = svc
		cfg.Histories = svc
	})
	st.srv = newTestServer(t, Config{Logger: slog.New(slog.NewJSONHandler(st.logs, nil)), Authenticate: AuthenticateWith(st.auth), Auth: st.auth,
		Nominations: st.noms, Shortlists: shortlists, Members: svc, Workflows: st.noms.Workflows, MaxUploadBytes: 1 << 20})
	return st, svc
}

// postCSV sends a CSV body.
func (st *stack) postCSV(path string, who account, body string) *httptest.ResponseRecorder {
	st.tb.Helper()
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Content-Type", "text/csv; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+who.Token)
	rec := httptest.NewRecorder()
	st.srv.Handler().ServeHTTP(rec, req)
	return rec
}

type memberBody struct {
	ID       string `json:"id"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	SeatKind string `json:"seat_kind"`
	Region   string `json:"region"`
	Terms    []struct {
		ID           string `json:"id"`
		Start        string `json:"start"`
		End          string `json:"end"`
		Source       string `json:"source"`
		NominationID string `json:"nomination_id"`
		RenewalOf    string `json:"renewal_of"`
		EndReason    string `json:"end_reason"`
	} `json:"terms"`
}

type memberList struct {
	Items []memberBody `json:"items"`
}

// seedYears imports calendar-year MAG terms for email over the API.
func (st *stack) seedYears(sec account, email string, years ...int) {
	st.tb.Helper()
	var b strings.Builder
	b.WriteString("email,name,stakeholder_group,nationality,gender,start\n")
	for _, y := range years {
		fmt.Fprintf(&b, "%s,%s,civil_society,KE,female,%d-01-01\n", email, strings.Split(email, "@")[0], y)
	}
	var rep importResponse
	mustStatus(st.tb, st.postCSV("/api/v1/members/import?body=mag", sec, b.String()), http.StatusOK, &rep)
	if rep.Stored != len(years) {
		st.tb.Fatalf("seed %s: %+v", email, rep)
	}
}

// The full path: an appointed nomination becomes a member with a term from
// the call's term start; a replayed appointment adds nothing.
func TestMemberFromAppointedNomination(t *testing.T) {
	st, svc := newMemberStack(t, export.Shortlists{})
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	cand := st.candidate("ana@example.org")
	n := st.mustSubmitted(cand, "mag-2027", "civil_society")
	for _, step := range []struct{ action, comment string }{{"admit", ""}, {"close_review", "The panel did not meet."}, {"shortlist", ""}} {
		mustStatus(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/actions/"+step.action, sec, map[string]any{"comment": step.comment}), http.StatusOK, &n)
	}
	if n.State != "shortlisted" {
		t.Fatalf("state %s", n.State)
	}
	// The rotation plan with the call adds the shortlist to the body.
	var plan struct {
		WithShortlist struct {
			Shortlisted int `json:"shortlisted"`
			Report      struct {
				Members int `json:"members"`
			} `json:"report"`
		} `json:"with_shortlist"`
	}
	mustStatus(t, st.call("GET", "/api/v1/bodies/mag/rotation?year=2027&call=mag-2027", sec, nil), http.StatusOK, &plan)
	if plan.WithShortlist.Shortlisted != 1 || plan.WithShortlist.Report.Members != 1 {
		t.Fatalf("plan with the shortlist = %+v", plan.WithShortlist)
	}
	mustProblem(t, st.call("GET", "/api/v1/bodies/lp/rotation?year=2027&call=mag-2027", sec, nil), http.StatusUnprocessableEntity)

	mustStatus(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/actions/appoint", sec, nil), http.StatusOK, &n)
	if n.State != "appointed" {
		t.Fatalf("state %s", n.State)
	}
	var list memberList
	mustStatus(t, st.call("GET", "/api/v1/members?body=mag", sec, nil), http.StatusOK, &list)
	if len(list.Items) != 1 {
		t.Fatalf("members %+v", list.Items)
	}
	m := list.Items[0]
	if m.Email != "ana@example.org" || m.Region != "african" || len(m.Terms) != 1 {
		t.Fatalf("member %+v", m)
	}
	term := m.Terms[0]
	if term.Start != "2027-01-01" || term.End != "2027-12-31" || term.NominationID != n.ID || term.Source != "nomination:"+n.ID {
		t.Fatalf("term %+v", term)
	}
	// A retried event appoints again: still one term.
	stored, err := st.store.Nominations().GetNomination(context.Background(), n.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.AppointFromNomination(context.Background(), stored, "mag", 1, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	var again memberBody
	mustStatus(t, st.call("GET", "/api/v1/members/"+m.ID, sec, nil), http.StatusOK, &again)
	if len(again.Terms) != 1 || again.Terms[0].ID != term.ID {
		t.Fatalf("terms after a replay: %+v", again.Terms)
	}
}

// Terms 2024, 2025 and 2026 stop the MAG 2027 screening with the reason;
// 2023, 2024 and 2026 do not.
func TestMemberTermLimitAtScreening(t *testing.T) {
	st, _ := newMemberStack(t, export.Shortlists{})
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	st.seedYears(sec, "ana@example.org", 2024, 2025, 2026)
	st.seedYears(sec, "bo@example.org", 2023, 2024, 2026)
	tests := []struct {
		name, email string
		refused     bool
	}{
		{"three consecutive terms", "ana@example.org", true},
		{"a gap year before the last", "bo@example.org", false},
		{"never a member", "cy@example.org", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := st.mustSubmitted(st.candidate(tc.email), "mag-2027", "civil_society")
			rec := st.call("POST", "/api/v1/nominations/"+n.ID+"/actions/admit", sec, nil)
			if !tc.refused {
				mustStatus(t, rec, http.StatusOK, &n)
				if n.State != "panel_review" {
					t.Fatalf("state %s", n.State)
				}
				return
			}
			p := mustProblem(t, rec, http.StatusUnprocessableEntity)
			if !strings.Contains(fmt.Sprint(p.Detail, p.Errors), "maximum number of consecutive MAG terms") {
				t.Fatalf("the reason is not given: %+v", p)
			}
			// The nomination shows the admit action as not allowed, with why.
			mustStatus(t, st.call("GET", "/api/v1/nominations/"+n.ID, sec, nil), http.StatusOK, &n)
			for _, a := range n.Actions {
				if a.Name == "admit" && (a.Allowed || !strings.Contains(strings.Join(a.Reasons, " "), "consecutive")) {
					t.Fatalf("admit = %+v", a)
				}
			}
		})
	}
}

const httpImportFile = "email,name,stakeholder_group,region,nationality,start,end\n" +
	"ana@example.org,Ana,civil_society,,KE,2024-01-01,\n" +
	"bo@example.org,Bo,government,atlantis,,2024-01-01,\n" +
	"ana@example.org,Ana,civil_society,,KE,2024-06-01,2024-08-01\n" +
	"cy@example.org,Cy,government,,FR,2024-01-32,\n" +
	",Nameless,government,,FR,2024-01-01,\n" +
	"di@example.org,Di,private_sector,,JP,2025-01-01,\n"

func TestMemberImport(t *testing.T) {
	st, _ := newMemberStack(t, export.Shortlists{})
	sec := st.secretariat("sec@igf.example")
	cand := st.candidate("cand@example.org")
	const path = "/api/v1/members/import?body=mag"

	var rep importResponse
	mustStatus(t, st.postCSV(path+"&dry_run=true", sec, httpImportFile), http.StatusOK, &rep)
	lines := map[int]string{}
	for _, e := range rep.Errors {
		lines[e.Line] = e.Problems[0].Field
	}
	want := map[int]string{3: "region", 4: "start", 5: "start", 6: "email"}
	if fmt.Sprint(lines) != fmt.Sprint(want) || rep.Good != 2 || rep.Stored != 0 || !rep.DryRun || rep.Mode != "strict" {
		t.Fatalf("dry run %+v, lines %v", rep, lines)
	}
	// Strict: nothing stored, every problem named with its line.
	p := mustProblem(t, st.postCSV(path, sec, httpImportFile), http.StatusUnprocessableEntity)
	if len(p.Errors) != 4 || p.Errors[0].Field != "line 3: region" {
		t.Fatalf("strict problems %+v", p.Errors)
	}
	var list memberList
	mustStatus(t, st.call("GET", "/api/v1/members", sec, nil), http.StatusOK, &list)
	if len(list.Items) != 0 {
		t.Fatalf("a failed strict import stored %d members", len(list.Items))
	}
	// Skip: the good rows only.
	mustStatus(t, st.postCSV(path+"&mode=skip", sec, httpImportFile), http.StatusOK, &rep)
	if rep.Stored != 2 || rep.Bad != 4 {
		t.Fatalf("skip %+v", rep)
	}
	mustStatus(t, st.call("GET", "/api/v1/members?body=mag&active_on=2025-03-01", sec, nil), http.StatusOK, &list)
	if len(list.Items) != 1 || list.Items[0].Name != "Di" {
		t.Fatalf("members active in 2025: %+v", list.Items)
	}

	refusals := []struct {
		name   string
		rec    *httptest.ResponseRecorder
		status int
	}{
		{"not the secretariat", st.postCSV(path, cand, httpImportFile), http.StatusForbidden},
		{"not CSV", st.call("POST", path, sec, map[string]any{"rows": 1}), http.StatusUnsupportedMediaType},
		{"bad dry_run", st.postCSV(path+"&dry_run=maybe", sec, httpImportFile), http.StatusBadRequest},
		{"bad mode", st.postCSV(path+"&mode=lenient", sec, httpImportFile), http.StatusUnprocessableEntity},
		{"not UTF-8", st.postCSV(path, sec, "email,name,start\n\xff\xfe,x,2024-01-01\n"), http.StatusUnprocessableEntity},
		{"bad active_on", st.call("GET", "/api/v1/members?active_on=soon", sec, nil), http.StatusUnprocessableEntity},
		{"unknown body", st.call("GET", "/api/v1/members?body=board", sec, nil), http.StatusNotFound},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) { mustProblem(t, tc.rec, tc.status) })
	}
}

func TestMemberRecordTermsRotationAndRoster(t *testing.T) {
	st, _ := newMemberStack(t, export.Shortlists{})
	sec := st.secretariat("sec@igf.example")
	cand := st.candidate("cand@example.org")
	st.seedYears(sec, "ana@example.org", 2025, 2026)

	var chair memberBody
	mustStatus(t, st.call("POST", "/api/v1/members", sec, map[string]any{"body": "mag", "email": "chair@example.org",
		"name": "=HYPERLINK(\"http://x\")", "seat_kind": "chair", "nationality": "DE", "start": "2026-01-01"}), http.StatusCreated, &chair)
	if chair.SeatKind != "chair" || chair.Region != "western_european_others" || len(chair.Terms) != 1 || chair.Terms[0].End != "2026-12-31" {
		t.Fatalf("chair %+v", chair)
	}
	mustProblem(t, st.call("POST", "/api/v1/members", sec, map[string]any{"body": "mag", "email": "chair@example.org", "name": "Again",
		"seat_kind": "chair", "start": "2026-01-01"}), http.StatusConflict)
	mustProblem(t, st.call("POST", "/api/v1/members", sec, map[string]any{"body": "mag", "email": "x@example.org", "name": "X",
		"start": "2026-01-01", "shoe_size": 42}), http.StatusBadRequest)
	mustProblem(t, st.call("POST", "/api/v1/members", cand, map[string]any{"body": "mag"}), http.StatusForbidden)

	// Renewing the chair: created once, then the same renewal.
	var renewal termResponse
	mustStatus(t, st.call("POST", "/api/v1/terms/"+chair.Terms[0].ID+"/renew", sec, nil), http.StatusCreated, &renewal)
	if renewal.Start != "2027-01-01" || renewal.RenewalOf != chair.Terms[0].ID {
		t.Fatalf("renewal %+v", renewal)
	}
	mustStatus(t, st.call("POST", "/api/v1/terms/"+chair.Terms[0].ID+"/renew", sec, nil), http.StatusOK, nil)

	anaID := membership.MemberID("mag", "ana@example.org")
	var ana memberBody
	mustStatus(t, st.call("GET", "/api/v1/members/"+anaID, sec, nil), http.StatusOK, &ana)
	var term termResponse
	mustStatus(t, st.call("POST", "/api/v1/members/"+anaID+"/terms", sec, map[string]any{"start": "2027-01-01"}), http.StatusCreated, &term)
	if term.End != "2027-12-31" || term.RenewalOf != ana.Terms[1].ID || term.Source != "secretariat" {
		t.Fatalf("third term %+v", term)
	}
	mustProblem(t, st.call("POST", "/api/v1/terms/"+term.ID+"/renew", sec, nil), http.StatusUnprocessableEntity)
	mustProblem(t, st.call("POST", "/api/v1/members/"+anaID+"/terms", sec, map[string]any{"start": "2027-05-01"}), http.StatusConflict)
	mustProblem(t, st.call("POST", "/api/v1/members/"+anaID+"/terms", sec, map[string]any{"start": "next year"}), http.StatusUnprocessableEntity)
	mustProblem(t, st.call("GET", "/api/v1/members/nobody", sec, nil), http.StatusNotFound)

	var ended termResponse
	mustStatus(t, st.call("POST", "/api/v1/terms/"+term.ID+"/end", sec, map[string]any{"end": "2027-03-31", "reason": "Resigned"}), http.StatusOK, &ended)
	if ended.End != "2027-03-31" || ended.EndReason != "Resigned" || ended.EndedAt == nil {
		t.Fatalf("ended %+v", ended)
	}
	mustProblem(t, st.call("POST", "/api/v1/terms/"+term.ID+"/end", sec, map[string]any{"end": "2027-03-31"}), http.StatusUnprocessableEntity)

	// The rotation into 2027: the chair and Ana continue (Ana's third
	// term is her last; the chair's name sorts first).
	var plan planResponse
	mustStatus(t, st.call("GET", "/api/v1/bodies/mag/rotation?year=2027", sec, nil), http.StatusOK, &plan)
	if len(plan.Continuing) != 2 || plan.Continuing[1].Name != "ana" || !plan.Continuing[1].FinalTerm || plan.Continuing[1].ConsecutiveTerms != 3 ||
		plan.Continuing[0].SeatKind != "chair" || plan.Continuing[0].FinalTerm || plan.Composition.Total != 2 || plan.Terms.MaxConsecutive != 3 {
		t.Fatalf("plan %+v", plan)
	}
	mustProblem(t, st.call("GET", "/api/v1/bodies/mag/rotation", sec, nil), http.StatusUnprocessableEntity)
	mustProblem(t, st.call("GET", "/api/v1/bodies/board/rotation?year=2027", sec, nil), http.StatusNotFound)
	mustProblem(t, st.call("GET", "/api/v1/bodies/mag/rotation?year=2027", cand, nil), http.StatusForbidden)

	// The roster: JSON, and CSV with the formula neutralised.
	var roster rosterResponse
	mustStatus(t, st.call("GET", "/api/v1/bodies/mag/roster?active_on=2026-06-01", sec, nil), http.StatusOK, &roster)
	if roster.ActiveOn != "2026-06-01" || len(roster.Members) != 2 || roster.Members[0].Name != "ana" || roster.Members[1].SeatKind != "chair" {
		t.Fatalf("roster %+v", roster)
	}
	rec := st.call("GET", "/api/v1/bodies/mag/roster?format=csv&active_on=2026-06-01", sec, nil)
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") ||
		!strings.Contains(rec.Header().Get("Content-Disposition"), "mag-roster-2026-06-01.csv") {
		t.Fatalf("csv roster: %d %v", rec.Code, rec.Header())
	}
	rowsCSV, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rowsCSV) != 3 || rowsCSV[0][0] != "Member ID" || rowsCSV[2][1] != `'=HYPERLINK("http://x")` || rowsCSV[1][11] != "2" {
		t.Fatalf("csv roster %q", rowsCSV)
	}
	// Its header row in the reader's language, or the machine keys.
	for _, c := range []struct{ query, accept, lang, first, group string }{
		{"", "fr", "fr", "Identifiant du membre", "Groupe de parties prenantes"},
		{"", "ru", "ru", "Идентификатор члена", "Группа заинтересованных сторон"},
		{"&header=machine", "fr", "", "member_id", "stakeholder_group"},
		{"&header=machine", "zh", "", "member_id", "stakeholder_group"},
	} {
		rec := st.call("GET", "/api/v1/bodies/mag/roster?format=csv&active_on=2026-06-01"+c.query, sec, nil, "Accept-Language", c.accept)
		got, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
		if rec.Code != http.StatusOK || err != nil || len(got) != 3 || got[0][0] != c.first || got[0][4] != c.group ||
			rec.Header().Get("Content-Language") != c.lang || got[2][1] != rowsCSV[2][1] {
			t.Errorf("roster%s in %s: %d %q, Content-Language %q", c.query, c.accept, rec.Code, got, rec.Header().Get("Content-Language"))
		}
	}
	if p := mustProblem(t, st.call("GET", "/api/v1/bodies/mag/roster?format=xlsx&header=keys", sec, nil), http.StatusUnprocessableEntity); len(p.Errors) != 1 || p.Errors[0].Field != "header" {
		t.Errorf("roster header=keys: %+v", p)
	}
	// XLSX: the same cells, read back, none of them a formula.
	rec = st.call("GET", "/api/v1/bodies/mag/roster?format=xlsx&active_on=2026-06-01", sec, nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Content-Disposition"), "mag-roster-2026-06-01.xlsx") {
		t.Fatalf("xlsx roster: %d %v", rec.Code, rec.Header())
	}
	book, err := excelize.OpenReader(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatalf("xlsx roster: %v", err)
	}
	sheet := book.GetSheetName(0)
	if sheet != "Roster" {
		t.Errorf("English roster sheet %q", sheet)
	}
	// The worksheet is named in the reader's language, or as ever with
	// machine keys.
	for _, c := range []struct{ query, accept, want string }{
		{"", "ar", "قائمة الأعضاء"}, {"", "fr", "Liste des membres"}, {"&header=machine", "ar", "Roster"},
	} {
		r := st.call("GET", "/api/v1/bodies/mag/roster?format=xlsx&active_on=2026-06-01"+c.query, sec, nil, "Accept-Language", c.accept)
		b, err := excelize.OpenReader(bytes.NewReader(r.Body.Bytes()))
		if r.Code != http.StatusOK || err != nil {
			t.Fatalf("xlsx roster in %s: %d (%v)", c.accept, r.Code, err)
		}
		if got := b.GetSheetName(0); got != c.want {
			t.Errorf("roster%s in %s: sheet %q, want %q", c.query, c.accept, got, c.want)
		}
	}
	rowsXLSX, err := book.GetRows(sheet)
	if err != nil || len(rowsXLSX) != len(rowsCSV) {
		t.Fatalf("xlsx roster rows %d (%v), csv rows %d", len(rowsXLSX), err, len(rowsCSV))
	}
	for i, row := range rowsCSV {
		for j, want := range row {
			cell, _ := excelize.CoordinatesToCellName(j+1, i+1)
			if got, _ := book.GetCellValue(sheet, cell); got != want {
				t.Errorf("xlsx %s = %q, csv has %q", cell, got, want)
			}
			if f, _ := book.GetCellFormula(sheet, cell); f != "" {
				t.Errorf("xlsx %s holds the formula %q", cell, f)
			}
		}
	}
	if rowsXLSX[2][1] != `'=HYPERLINK("http://x")` {
		t.Fatalf("xlsx name cell %q", rowsXLSX[2][1])
	}
	mustProblem(t, st.call("GET", "/api/v1/bodies/mag/roster?format=pdf", sec, nil), http.StatusUnprocessableEntity)
}

// Without a table writer the roster is still served as JSON, and the
// spreadsheet formats say they are unavailable; without membership the
// routes answer 503.
func TestMemberRoutesUnavailable(t *testing.T) {
	st, _ := newMemberStack(t, nil)
	sec := st.secretariat("sec@igf.example")
	mustStatus(t, st.call("GET", "/api/v1/bodies/mag/roster", sec, nil), http.StatusOK, nil)
	for _, format := range []string{"csv", "xlsx"} {
		rec := st.call("GET", "/api/v1/bodies/mag/roster?format="+format, sec, nil)
		p := mustProblem(t, rec, http.StatusServiceUnavailable)
		if !strings.Contains(p.Detail, "not enabled") || rec.Header().Get("Content-Disposition") != "" {
			t.Fatalf("roster %s without a table writer: %+v, disposition %q", format, p, rec.Header().Get("Content-Disposition"))
		}
	}
	st.srv = newTestServer(t, Config{Logger: slog.New(slog.NewJSONHandler(st.logs, nil)), Authenticate: AuthenticateWith(st.auth), Nominations: st.noms})
	mustProblem(t, st.call("GET", "/api/v1/members", sec, nil), http.StatusServiceUnavailable)
	mustProblem(t, st.call("GET", "/api/v1/bodies/mag/roster", sec, nil), http.StatusServiceUnavailable)
}
