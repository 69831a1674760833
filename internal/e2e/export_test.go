package e2e

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/igf/nomina/internal/auth"
)

// The nominations download of the secretariat's pages has its header row
// in the page's language: the switch's ?lang=, else Accept-Language, else
// English; its cells stay as they are.
func TestExportFileInThePagesLanguage(t *testing.T) {
	a := newApp(t, appOptions{})
	a.call("mag-2027", "MAG 2027 renewal", "mag")
	a.staffUser("sec.export@igf.example", "Sam Secretariat", []auth.Role{auth.RoleSecretariat})

	header := func(p page, lang string) []string {
		t.Helper()
		mustStatus(t, p, http.StatusOK)
		if got := p.Header.Get("Content-Language"); got != lang {
			t.Errorf("Content-Language = %q, want %q", got, lang)
		}
		rows, err := csv.NewReader(strings.NewReader(p.Body)).ReadAll()
		if err != nil || len(rows) != 1 {
			t.Fatalf("csv: %v, %q", err, rows)
		}
		return rows[0]
	}
	const path = "/secretariat/calls/mag-2027/export.csv"

	en := a.browser()
	en.signIn("sec.export@igf.example")
	if h := header(en.get(path), "en"); h[0] != "ID" || h[4] != "Nominee email" {
		t.Fatalf("English header %q", h)
	}

	zh := a.browser()
	zh.signIn("sec.export@igf.example")
	req, _ := http.NewRequest("GET", zh.base+path, nil)
	req.Header.Set("Accept-Language", "zh-CN,zh;q=0.9")
	if h := header(zh.do(req), "zh"); h[0] != "标识符" || h[4] != "候选人电子邮件" || h[len(h)-1] != "附件" {
		t.Fatalf("Chinese header %q", h)
	}

	fr := a.browser()
	fr.signIn("sec.export@igf.example")
	h := header(fr.get(path+"?lang=fr"), "fr")
	if h[0] != "Identifiant" || h[1] != "Appel" || h[len(h)-2] != "Soutiens" {
		t.Fatalf("French header %q", h)
	}
	// The workflow's own headings, in its French: a form field's label and
	// the review stage's.
	if h[7] != "Groupe de parties prenantes" || h[8] != "Groupe régional de l’ONU" || h[16] != "Examen par le comité : approbations" {
		t.Fatalf("French workflow headings %q", h)
	}

	// Arabic: the header row and the worksheet's name of the XLSX.
	ar := a.browser()
	ar.signIn("sec.export@igf.example")
	h = header(ar.get(path+"?lang=ar"), "ar")
	if h[0] != "المعرّف" || h[7] != "فئة أصحاب المصلحة" || h[10] != "نوع الجنس" || h[16] != "استعراض اللجنة: الموافقات" {
		t.Fatalf("Arabic header %q", h)
	}
	p := ar.get("/secretariat/calls/mag-2027/export.xlsx")
	mustStatus(t, p, http.StatusOK)
	book, err := excelize.OpenReader(strings.NewReader(p.Body))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := book.GetRows(book.GetSheetName(0))
	if book.GetSheetName(0) != "الترشيحات" || err != nil || len(rows) != 1 || strings.Join(rows[0], "|") != strings.Join(h, "|") {
		t.Fatalf("Arabic xlsx: sheet %q, rows %q (%v)", book.GetSheetName(0), rows, err)
	}
}
