package e2e

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/nomination"
)

// staffUser makes an account with roles and panels.
func (a *app) staffUser(email, name string, roles []auth.Role, panels ...string) *auth.User {
	a.t.Helper()
	u, err := a.auth.Provision(context.Background(), auth.NewUser{Email: email, Name: name, Roles: roles, Panels: panels, Password: testPassword})
	if err != nil {
		a.t.Fatalf("user %s: %v", email, err)
	}
	return u
}

// submitThroughPages fills in and submits a MAG self-nomination as its
// candidate does, through the pages, and returns its id.
func submitThroughPages(t *testing.T, b *browser, slug, group string) string {
	t.Helper()
	id := b.startNomination(slug, nil)
	form := url.Values{"stakeholder_group": {group}, "gender": {"female"}, "nationality": {"KE"}, "organization": {"Kenya ICT Action Network"},
		"motivation": {motivation}, "declaration": {"true"}, "version": {"1"}, "then": {"continue"}}
	mustRedirect(t, b.post("/nominations/"+id+"/details", form), "/nominations/"+id)
	mustRedirect(t, b.upload("/nominations/"+id+"/cv", map[string]string{"kind": "cv"}, "cv.pdf", minimalPDF), "/nominations/"+id)
	mustRedirect(t, b.post("/nominations/"+id+"/submit", url.Values{}), "/nominations/"+id+"/submitted")
	return id
}

// The whole path across the three users: a candidate submits; the
// secretariat opens the call, screens and admits from the nominations
// table; two reviewers of the right panel vote from their queues (one
// declares a conflict on another nomination, and one vote arrives after
// the stage was decided); the decision shows on the secretariat's page;
// the secretariat opens the balance page, shortlists the suggestion in
// one step, appoints, downloads the XLSX export and reads its rows, and
// the member appears on the roster; the staff, import and mail pages.
// Every page in its normal and error states is checked with axe at 1280
// and 390 px and photographed.
func TestBrowserStaffJourney(t *testing.T) {
	start := time.Now()
	mp := sharedMailpit(t)
	a := newApp(t, appOptions{mailpit: mp})
	a.staffUser("sec@igf.example", "Sam Secretariat", []auth.Role{auth.RoleSecretariat})
	a.staffUser("rita@igf.example", "Rita Reviewer", []auth.Role{auth.RoleReviewer}, "civil_society")
	a.staffUser("ravi@igf.example", "Ravi Reviewer", []auth.Role{auth.RoleReviewer}, "civil_society")
	a.user("ana.staff@example.org", "Ana Wanjiru")
	a.user("bob.staff@example.org", "Bob Otieno")

	sec := newTab(t, a, false)
	sec.signInAs("sec@igf.example")
	sec.visit("/secretariat")
	sec.mustSee("Needs action now", "There are no calls yet")
	sec.audit("dashboard-empty")
	sec.click(`a[href="/secretariat/calls/new"]`)
	sec.audit("call-new")
	sec.click(`main form button[type=submit]`)
	sec.mustSee("There is a problem", "Enter a short name for web addresses", "Enter a date")
	sec.audit("call-new-error")
	today := time.Now().UTC()
	sec.typeInto("#slug", "mag-2027")
	sec.do(chromedp.SetValue(chromedp.CSS("#workflow"), "mag"))
	sec.typeInto("#title", "MAG 2027 renewal")
	sec.do(chromedp.SetValue(chromedp.CSS("#opens_at"), today.AddDate(0, 0, -1).Format("2006-01-02")),
		chromedp.SetValue(chromedp.CSS("#closes_at"), today.AddDate(0, 1, 0).Format("2006-01-02")),
		chromedp.SetValue(chromedp.CSS("#term_start"), today.Format("2006-01-02")),
		chromedp.SetValue(chromedp.CSS("#seats"), "2"))
	sec.click(`main form button[type=submit]`)
	sec.mustPath("/secretariat/calls/mag-2027/nominations")
	sec.mustSee("The call has been saved", "No nomination matches these filters")
	sec.audit("table-empty")

	// Two candidates submit through their pages.
	ana, bob := a.browser(), a.browser()
	ana.signIn("ana.staff@example.org")
	bob.signIn("bob.staff@example.org")
	anaID := submitThroughPages(t, ana, "mag-2027", "civil_society")
	bobID := submitThroughPages(t, bob, "mag-2027", "civil_society")

	// Screening from the table: the filters are in the address.
	sec.visit("/secretariat")
	sec.mustSee("MAG 2027 renewal: 2 submissions to screen")
	sec.audit("dashboard")
	sec.click(`a[href$="/nominations?state=submitted"]`)
	sec.mustSee("Ana Wanjiru", "Bob Otieno", "2 nominations match")
	sec.audit("table")
	sec.visit("/secretariat/calls/mag-2027/nominations?q=Ana&stakeholder_group=civil_society")
	sec.mustSee("1 nomination matches", "Ana Wanjiru")
	if strings.Contains(eval[string](sec, "document.querySelector('#results').innerText"), "Bob Otieno") {
		t.Fatal("the text filter kept Bob")
	}
	sec.visit("/secretariat/calls/mag-2027/nominations?state=submitted")
	sec.click(`#row-` + anaID + ` form button`)
	sec.mustPath("/secretariat/calls/mag-2027/nominations?state=submitted")
	sec.mustSee("Admit to panel review: done for Ana Wanjiru")
	sec.click(`#row-` + bobID + ` form button`)
	sec.mustSee("Admit to panel review: done for Bob Otieno")

	// Rita votes from her queue.
	rita := newTab(t, a, true)
	rita.signInAs("rita@igf.example")
	rita.visit("/review")
	rita.mustSee("2 nominations are waiting for your vote", "Ana Wanjiru", "Bob Otieno", "14 days left")
	rita.audit("queue")
	rita.click(`#waiting a[href="/review/` + anaID + `"]`)
	rita.mustSee("The candidate's answers", "Kenya ICT Action Network", "cv.pdf", "Declare a conflict of interest")
	if strings.Contains(eval[string](rita, "document.body.innerText"), "Female") {
		t.Fatal("the reviewer sees the gender, which the workflow hides from reviewers")
	}
	rita.audit("review")
	rita.click(`form[action$="/vote"] button`)
	rita.mustSee("There is a problem", "Choose your decision")
	rita.audit("review-error")
	rita.tap(`label[for="decision"]`)
	rita.typeInto("#comment", "A strong record of community work.")
	rita.click(`form[action$="/vote"] button`)
	rita.mustSee("Your vote has been recorded", "Approve", "The panel's votes")
	rita.audit("review-voted")

	// Ravi declares a conflict on Bob's nomination.
	ravi := newTab(t, a, true)
	ravi.signInAs("ravi@igf.example")
	ravi.visit("/review/" + bobID)
	ravi.click(`form[action$="/conflict"] button`)
	ravi.mustSee("Enter the reason for the conflict")
	ravi.audit("conflict-error")
	ravi.typeInto("#reason", "Bob is my colleague.")
	ravi.click(`form[action$="/conflict"] button`)
	ravi.mustPath("/review?conflict=")
	ravi.mustSee("Your conflict of interest has been recorded", "Conflicts of interest", "Bob is my colleague.")
	ravi.audit("queue-conflict")
	ravi.visit("/review/" + bobID)
	ravi.mustSee("You declared a conflict of interest")
	if strings.Contains(eval[string](ravi, "document.body.innerText"), "The panel's votes") {
		t.Fatal("a conflicted reviewer sees the votes")
	}
	ravi.audit("review-conflicted")

	// Ravi opens Ana's nomination: Rita's vote is hidden until he votes.
	ravi.visit("/review/" + anaID)
	ravi.mustSee("The panel's votes in this round show here after you have voted")
	if strings.Contains(eval[string](ravi, "document.body.innerText"), "A strong record") {
		t.Fatal("the other reviewer's vote shows before his own")
	}
	// Meanwhile his vote from another window settles the stage; the page
	// still open then sends a second vote.
	other := a.browser()
	other.signIn("ravi@igf.example")
	mustRedirect(t, other.post("/review/"+anaID+"/vote", url.Values{"decision": {"approve"}}), "/review/"+anaID)
	ravi.tap(`label[for="decision"]`)
	ravi.click(`form[action$="/vote"] button`)
	ravi.mustSee("Your vote was not counted", "The review closed before your vote arrived", "Secretariat review")
	ravi.audit("vote-late")
	ravi.click(`a[href="/review/` + anaID + `"]`)
	ravi.mustSee("A strong record of community work.", "Rita Reviewer")

	// The decision on the secretariat's page, with the history verified.
	sec.visit("/secretariat/nominations/" + anaID)
	sec.mustSee("Secretariat review", "Rita Reviewer", "Ravi Reviewer", "History verified", "Shortlist", "Override the workflow")
	sec.audit("nomination")
	sec.click(`form[action$="/override"] button`)
	sec.mustSee("There is a problem", "Enter the reason for the override")
	sec.audit("nomination-error")

	// The balance page, and the suggestion shortlisted in one step.
	sec.visit("/secretariat/calls/mag-2027/balance")
	sec.mustSee("Composition against the targets", "Suggested shortlist", "Stakeholder group: seats and targets", "Mean score")
	if n := eval[int](sec, "document.querySelectorAll('svg[role=img] title').length"); n < 4 {
		t.Fatalf("%d charts with a title", n)
	}
	sec.audit("balance")
	sec.click(`form[action$="/shortlist"] button`)
	sec.mustSee("Shortlist 1 nomination?", "Ana Wanjiru")
	sec.audit("shortlist-confirm")
	sec.click(`button[name=confirm]`)
	sec.mustSee("1 nomination shortlisted", "Shortlisted")
	sec.audit("shortlist-done")
	sec.visit("/secretariat/nominations/" + anaID)
	sec.click(`form[action$="/actions/appoint"] button`)
	sec.mustSee("Record the appointment: done for Ana Wanjiru", "Appointed")

	// The XLSX export the table links to, with the table's filters.
	sec.visit("/secretariat/calls/mag-2027/nominations?state=appointed")
	href := eval[string](sec, `document.querySelector('a[href*="export.xlsx"]').getAttribute('href')`)
	if !strings.Contains(href, "state=appointed") {
		t.Fatalf("export link %q lacks the filters", href)
	}
	staff := a.browser()
	staff.signIn("sec@igf.example")
	x := staff.get(href)
	mustStatus(t, x, http.StatusOK)
	if cd := x.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") || !strings.Contains(cd, ".xlsx") {
		t.Fatalf("Content-Disposition %q", cd)
	}
	wb, err := excelize.OpenReader(bytes.NewReader([]byte(x.Body)))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := wb.GetRows(wb.GetSheetName(0))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || !strings.Contains(strings.Join(rows[1], "|"), "Ana Wanjiru") || !strings.Contains(strings.Join(rows[1], "|"), "appointed") {
		t.Fatalf("export rows: %q", rows)
	}

	sec.visit("/secretariat/members?body=mag")
	sec.mustSee("1 member on", "Ana Wanjiru", "Rotation plan for the year")
	sec.audit("members")
	sec.click(`form[action$="/import"] button`)
	sec.mustSee("Select a CSV file to import")
	sec.audit("import-error")
	csvPath := filepath.Join(t.TempDir(), "members.csv")
	csv := "email,name,stakeholder_group,region,gender,nationality,start\n" +
		"lea@example.org,Lea Member,government,western_european_others,female,FR," + today.Format("2006-01-02") + "\n"
	if err := os.WriteFile(csvPath, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	sec.do(chromedp.SetUploadFiles(chromedp.CSS(`#file`), []string{csvPath}))
	sec.click(`form[action$="/import"][enctype] button`)
	sec.mustSee("What the import would do", "Import 1 term")
	sec.audit("import-check")
	sec.click(`form[action$="/import"]:not([enctype]) button`)
	sec.mustSee("Import done: 1 terms stored", "Lea Member", "2 members on")

	sec.visit("/secretariat/users")
	sec.audit("users")
	sec.click(`button[value=invite]`)
	sec.mustSee("Enter the person's full name", "Choose at least one role")
	sec.audit("users-error")
	sec.typeInto("#name", "Nia Reviewer")
	sec.typeInto("#email", "nia@igf.example")
	sec.tap(`label[for="roles"]`)
	sec.tap(`label[for="panels"]`)
	sec.click(`button[value=invite]`)
	sec.mustSee("An invitation has been sent to nia@igf.example", "Nia Reviewer")

	sec.visit("/secretariat/mail")
	sec.mustSee("Mail log")
	sec.audit("mail")
	sec.visit("/secretariat")
	sec.audit("dashboard-later")
	t.Logf("staff journey: %d page states checked at 1280 and 390 px in %s; screenshots in %s",
		*sec.audited+*rita.audited+*ravi.audited, time.Since(start).Round(time.Millisecond), sec.shots)
}

// signInAs signs a tab in through the sign-in page.
func (tb *tab) signInAs(email string) {
	tb.t.Helper()
	tb.visit("/signin")
	tb.typeInto("#email", email)
	tb.typeInto("#password", testPassword)
	tb.click(`main form button[type=submit]`)
}

var _ = nomination.MaxBulk
