package httpapi

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// seedDrafts opens n drafts in call, cycling through groups and genders.
func (st *stack) seedDrafts(call string, groups, genders []string, n int, org func(i int) string) {
	st.tb.Helper()
	for i := 0; i < n; i++ {
		who := st.candidate("c" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "@example.org")
		f := magFields(groups[i%len(groups)])
		f["gender"] = genders[i%len(genders)]
		if org != nil {
			f["organization"] = org(i)
		}
		st.mustDraft(who, call, f)
	}
}

func TestExportOverHTTP(t *testing.T) {
	st := newStack(t)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	payloads := []string{"=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2", "@SUM(A1)", "=1,2;\"3\"", "@\"quoted\", with separators"}
	st.seedDrafts("mag-2027", []string{"government", "civil_society"}, []string{"female", "male"}, len(payloads), func(i int) string { return payloads[i] })

	rec := st.call("GET", "/api/v1/calls/mag-2027/export?format=csv&state=draft", sec, nil)
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if cd := rec.Header().Get("Content-Disposition"); !strings.Contains(cd, "attachment") || !strings.Contains(cd, "mag-2027-nominations-") {
		t.Fatalf("disposition %q", cd)
	}
	rows, err := csv.NewReader(bytes.NewReader(rec.Body.Bytes())).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v", err)
	}
	if len(rows) != len(payloads)+1 {
		t.Fatalf("%d rows, want header + %d", len(rows), len(payloads))
	}
	orgCol := -1
	for i, h := range rows[0] {
		if strings.EqualFold(h, "organisation") || strings.EqualFold(h, "organization") {
			orgCol = i
		}
	}
	if orgCol < 0 {
		t.Fatalf("no organisation column in %v", rows[0])
	}
	for _, r := range rows[1:] {
		if v := r[orgCol]; !strings.HasPrefix(v, "'") {
			t.Errorf("formula not neutralised in CSV: %q", v)
		}
	}
	// XLSX carries the same cells.
	rec = st.call("GET", "/api/v1/calls/mag-2027/export?format=xlsx&state=draft", sec, nil)
	if rec.Code != 200 {
		t.Fatalf("xlsx: %d", rec.Code)
	}
	f, err := excelize.OpenReader(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatalf("xlsx: %v", err)
	}
	sheet := f.GetSheetName(0)
	xrows, err := f.GetRows(sheet)
	if err != nil || len(xrows) != len(rows) {
		t.Fatalf("xlsx rows %d (%v), csv rows %d", len(xrows), err, len(rows))
	}
	for i := 1; i < len(rows); i++ {
		if xrows[i][orgCol] != rows[i][orgCol] {
			t.Errorf("row %d: xlsx %q, csv %q", i, xrows[i][orgCol], rows[i][orgCol])
		}
	}
	rec = st.call("GET", "/api/v1/calls/mag-2027/export?format=json&state=draft", sec, nil)
	var items []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &items); err != nil || len(items) != len(payloads) {
		t.Fatalf("json: %v, %d items", err, len(items))
	}
	mustProblem(t, st.call("GET", "/api/v1/calls/mag-2027/export?format=pdf", sec, nil), http.StatusUnprocessableEntity)
}

func TestShortlistRoutesAreSecretariatOnly(t *testing.T) {
	st := newStack(t)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	cand := st.candidate("ana@example.org")
	rev := st.reviewer("rev@example.org", "", "government")
	for _, path := range []string{"/export?format=csv", "/balance", "/balance/suggest?seats=2", "/counts"} {
		for _, who := range []account{cand, rev} {
			mustProblem(t, st.call("GET", "/api/v1/calls/mag-2027"+path, who, nil), http.StatusForbidden)
		}
		mustProblem(t, st.call("GET", "/api/v1/calls/mag-2027"+path, anonymous, nil), http.StatusUnauthorized)
	}
}

func TestBalanceAndSuggestionOverHTTP(t *testing.T) {
	st := newStack(t)
	sec := st.secretariat("sec@igf.example")
	now := st.clock.Now()
	targets := map[string]any{"rules": []map[string]any{
		{"field": "stakeholder_group", "values": []string{"government"}, "max_percent": 40},
	}}
	mustStatus(t, st.call("POST", "/api/v1/calls", sec, map[string]any{
		"slug": "mag-2027", "title": "MAG 2027", "workflow": "mag", "seats": 5, "targets": targets,
		"opens_at": now.Add(-1e9), "closes_at": now.Add(30 * 24 * 3600e9), "term_start": "2027-01-01T00:00:00Z",
	}), 201, nil)
	// 3 government, 2 civil society drafts: government holds 3 of 5 seats
	// (60 %), over the 40 % (2 seats) limit.
	st.seedDrafts("mag-2027", []string{"government", "civil_society", "government", "civil_society", "government"}, []string{"female", "male"}, 5, nil)
	var report struct {
		Seats  int `json:"seats"`
		Broken []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
			Have    int    `json:"have"`
			Limit   int    `json:"limit"`
		} `json:"broken"`
	}
	mustStatus(t, st.call("GET", "/api/v1/calls/mag-2027/balance?state=draft", sec, nil), 200, &report)
	if report.Seats != 5 || len(report.Broken) != 1 || report.Broken[0].Have != 3 || report.Broken[0].Limit != 2 || report.Broken[0].Message == "" {
		t.Fatalf("report = %+v", report)
	}
	var sug struct {
		Picks    []struct{ ID string } `json:"picks"`
		Feasible bool                  `json:"feasible"`
	}
	mustStatus(t, st.call("GET", "/api/v1/calls/mag-2027/balance/suggest?seats=3&state=draft", sec, nil), 200, &sug)
	if len(sug.Picks) != 3 || !sug.Feasible {
		t.Fatalf("suggestion = %+v", sug)
	}
	var counts struct{ Counts map[string]int }
	mustStatus(t, st.call("GET", "/api/v1/calls/mag-2027/counts", sec, nil), 200, &counts)
	if counts.Counts["draft"] != 5 {
		t.Fatalf("counts = %v", counts.Counts)
	}
	// The listing filters and sorts for the secretariat.
	var list struct {
		Items      []nominationBody `json:"items"`
		NextCursor string           `json:"next_cursor"`
	}
	mustStatus(t, st.call("GET", "/api/v1/nominations?call=mag-2027&stakeholder_group=government&sort=name&limit=2", sec, nil), 200, &list)
	if len(list.Items) != 2 || list.NextCursor == "" {
		t.Fatalf("page 1: %d items, cursor %q", len(list.Items), list.NextCursor)
	}
	first, cursor := list.Items, list.NextCursor
	list.Items, list.NextCursor = nil, ""
	mustStatus(t, st.call("GET", "/api/v1/nominations?call=mag-2027&stakeholder_group=government&sort=name&limit=2&cursor="+cursor, sec, nil), 200, &list)
	if len(list.Items) != 1 || list.NextCursor != "" || list.Items[0].ID == first[0].ID || list.Items[0].ID == first[1].ID {
		t.Fatalf("page 2: %+v", list)
	}
	cand := st.candidate("nosy@example.org")
	mustProblem(t, st.call("GET", "/api/v1/nominations?gender=female", cand, nil), http.StatusForbidden)
}

// The header row of a CSV or XLSX export is in the reader's language
// (Accept-Language, said in Content-Language), or the stable machine keys
// with header=machine whatever the language; any other header is refused.
func TestExportHeaderFollowsTheReader(t *testing.T) {
	st := newStack(t)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	st.seedDrafts("mag-2027", []string{"government"}, []string{"female"}, 1, func(int) string { return "=1+1" })

	header := func(rec *httptest.ResponseRecorder) []string {
		t.Helper()
		if rec.Code != http.StatusOK {
			t.Fatalf("export: %d %s", rec.Code, rec.Body)
		}
		rows, err := csv.NewReader(bytes.NewReader(rec.Body.Bytes())).ReadAll()
		if err != nil || len(rows) != 2 {
			t.Fatalf("csv: %v, %d rows", err, len(rows))
		}
		if !strings.HasPrefix(rows[1][5], "'=") {
			t.Errorf("formula not neutralised: %q", rows[1][5])
		}
		return rows[0]
	}
	const path = "/api/v1/calls/mag-2027/export?format=csv&state=draft"

	en := header(st.call("GET", path, sec, nil))
	if en[0] != "ID" || en[4] != "Nominee email" || en[len(en)-1] != "Attachments" {
		t.Fatalf("English header %q", en)
	}

	rec := st.call("GET", path, sec, nil, "Accept-Language", "fr-CH, fr;q=0.9")
	fr := header(rec)
	if lang := rec.Header().Get("Content-Language"); lang != "fr" {
		t.Errorf("Content-Language = %q, want fr", lang)
	}
	if !strings.Contains(rec.Header().Get("Vary"), "Accept-Language") {
		t.Errorf("Vary = %q, want Accept-Language named", rec.Header().Get("Vary"))
	}
	if len(fr) != len(en) || fr[0] != "Identifiant" || fr[1] != "Appel" || fr[4] != "Courriel du (de la) candidat(e)" ||
		fr[len(fr)-2] != "Soutiens" || fr[len(fr)-1] != "Pièces jointes" {
		t.Fatalf("French header %q", fr)
	}
	for i, h := range en {
		if strings.HasSuffix(h, ": mean score") && !strings.HasSuffix(fr[i], " : note moyenne") {
			t.Errorf("column %d: French %q for %q", i, fr[i], h)
		}
	}

	// XLSX says the same header row.
	rec = st.call("GET", strings.Replace(path, "format=csv", "format=xlsx", 1), sec, nil, "Accept-Language", "fr")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Language") != "fr" {
		t.Fatalf("xlsx: %d, Content-Language %q", rec.Code, rec.Header().Get("Content-Language"))
	}
	book, err := excelize.OpenReader(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	xrows, err := book.GetRows(book.GetSheetName(0))
	if err != nil || len(xrows) != 2 || strings.Join(xrows[0], "|") != strings.Join(fr, "|") {
		t.Fatalf("xlsx header %q (%v), want %q", xrows, err, fr)
	}

	// header=machine: the same keys in every language, and no language.
	var machine []string
	for _, lang := range []string{"", "fr", "ar", "zh"} {
		var hdrs []string
		if lang != "" {
			hdrs = []string{"Accept-Language", lang}
		}
		rec := st.call("GET", path+"&header=machine", sec, nil, hdrs...)
		keys := header(rec)
		if cl := rec.Header().Get("Content-Language"); cl != "" {
			t.Errorf("%q: Content-Language %q on machine keys", lang, cl)
		}
		if machine == nil {
			machine = keys
		} else if strings.Join(keys, "|") != strings.Join(machine, "|") {
			t.Errorf("%q: machine header %q, want %q", lang, keys, machine)
		}
	}
	want := []string{"id", "call", "state", "nominee_name", "nominee_email", "organization", "submitted_at"}
	if len(machine) != len(en) || strings.Join(machine[:len(want)], ",") != strings.Join(want, ",") ||
		machine[len(machine)-2] != "endorsements" || machine[len(machine)-1] != "attachments" {
		t.Fatalf("machine header %q", machine)
	}
	for i, h := range en {
		if strings.HasSuffix(h, ": request changes") && !strings.HasSuffix(machine[i], "_request_changes") {
			t.Errorf("column %d: machine key %q for %q", i, machine[i], h)
		}
	}

	// JSON has no header row: no language, and header is not read.
	rec = st.call("GET", strings.Replace(path, "format=csv", "format=json", 1)+"&header=machine", sec, nil, "Accept-Language", "fr")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Language") != "" {
		t.Errorf("json: %d, Content-Language %q", rec.Code, rec.Header().Get("Content-Language"))
	}

	// A bad header value is refused, naming the parameter, in the
	// reader's language.
	for _, bad := range []string{"french", "MACHINE", ""} {
		p := mustProblem(t, st.call("GET", path+"&header="+bad, sec, nil, "Accept-Language", "fr"), http.StatusUnprocessableEntity)
		if len(p.Errors) != 1 || p.Errors[0].Field != "header" || !strings.Contains(p.Errors[0].Message, "language ou machine") {
			t.Errorf("header=%q: problem %+v", bad, p)
		}
	}
}
