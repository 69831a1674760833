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

// The headings a workflow gives a download (its form fields' labels, its
// review stages' labels) are in the reader's language as the workflow
// translates them, and so is the XLSX's worksheet name; header=machine
// is the same keys as ever, whatever the language.
func TestExportWorkflowHeadingsInTheReadersLanguage(t *testing.T) {
	st := newStack(t)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	st.seedDrafts("mag-2027", []string{"civil_society"}, []string{"female"}, 1, nil)
	def, ok := mustWorkflows(t).Latest("mag")
	if !ok {
		t.Fatal("no mag workflow")
	}
	const path = "/api/v1/calls/mag-2027/export?state=draft"
	get := func(format, query, lang string) *httptest.ResponseRecorder {
		t.Helper()
		var hdrs []string
		if lang != "" {
			hdrs = []string{"Accept-Language", lang}
		}
		rec := st.call("GET", path+"&format="+format+query, sec, nil, hdrs...)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s %s%s: %d %s", format, lang, query, rec.Code, rec.Body)
		}
		return rec
	}
	header := func(lang, query string) []string {
		t.Helper()
		rows, err := csv.NewReader(bytes.NewReader(get("csv", query, lang).Body.Bytes())).ReadAll()
		if err != nil || len(rows) != 2 {
			t.Fatalf("csv %s%s: %v, %d rows", lang, query, err, len(rows))
		}
		return rows[0]
	}

	// The machine keys, exactly as before, in every language.
	const machine = "id,call,state,nominee_name,nominee_email,organization,submitted_at," +
		"stakeholder_group,region,economic_group,gender,nationality,position,motivation,igf_experience,declaration," +
		"panel_review_approve,panel_review_reject,panel_review_request_changes,panel_review_recuse,panel_review_mean_score," +
		"endorsements,attachments"
	keys := header("", "&header=machine")
	for _, lang := range []string{"fr", "ar"} {
		if got := strings.Join(header(lang, "&header=machine"), ","); got != machine {
			t.Errorf("machine header in %s:\n%s\nwant\n%s", lang, got, machine)
		}
	}
	if strings.Join(keys, ",") != machine {
		t.Fatalf("machine header %q", keys)
	}

	en := header("", "")
	for _, c := range []struct {
		lang  string
		known map[string]string // a few headings, as the workflow writes them
		stage string            // the review stage's label
		sheet string
	}{
		{"fr", map[string]string{"stakeholder_group": "Groupe de parties prenantes", "region": "Groupe régional de l’ONU",
			"motivation": "Motivation", "declaration": "Les informations fournies sont exactes et la personne candidate peut participer aux réunions du GCM pendant le mandat.",
			"panel_review_approve": "Examen par le comité : approbations", "panel_review_mean_score": "Examen par le comité : note moyenne"},
			"Examen par le comité", "Candidatures"},
		{"ar", map[string]string{"stakeholder_group": "فئة أصحاب المصلحة", "gender": "نوع الجنس", "nationality": "الجنسية",
			"panel_review_approve": "استعراض اللجنة: الموافقات", "panel_review_recuse": "استعراض اللجنة: حالات التنحي"},
			"استعراض اللجنة", "الترشيحات"},
	} {
		got := header(c.lang, "")
		if len(got) != len(keys) {
			t.Fatalf("%s header %q", c.lang, got)
		}
		for i, key := range keys {
			if want, ok := c.known[key]; ok && got[i] != want {
				t.Errorf("%s heading of %s = %q, want %q", c.lang, key, got[i], want)
			}
			if f, ok := def.Field(key); ok && i >= 7 { // past the fixed columns
				if want := def.Text("fields."+f.Name+".label", c.lang); got[i] != want {
					t.Errorf("%s heading of field %s = %q, want the workflow's %q (English %q)", c.lang, key, got[i], want, en[i])
				}
			}
			if strings.HasPrefix(key, "panel_review_") && !strings.HasPrefix(got[i], c.stage) {
				t.Errorf("%s heading of %s = %q, want it to start with the stage's label %q", c.lang, key, got[i], c.stage)
			}
		}

		// XLSX: the same header row, on a worksheet named in the language.
		book, err := excelize.OpenReader(bytes.NewReader(get("xlsx", "", c.lang).Body.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		xrows, err := book.GetRows(book.GetSheetName(0))
		if book.GetSheetName(0) != c.sheet || err != nil || len(xrows) != 2 || strings.Join(xrows[0], "|") != strings.Join(got, "|") {
			t.Errorf("%s xlsx: sheet %q, rows %q (%v), want sheet %q and header %q", c.lang, book.GetSheetName(0), xrows, err, c.sheet, got)
		}
		book, err = excelize.OpenReader(bytes.NewReader(get("xlsx", "&header=machine", c.lang).Body.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if xrows, err = book.GetRows(book.GetSheetName(0)); book.GetSheetName(0) != "Nominations" || err != nil || len(xrows) == 0 || strings.Join(xrows[0], ",") != machine {
			t.Errorf("%s xlsx with machine keys: sheet %q, header %q (%v)", c.lang, book.GetSheetName(0), xrows, err)
		}
	}
	if en[7] != "Stakeholder group" || en[16] != "Panel review: approve" {
		t.Errorf("English header %q", en)
	}
}
