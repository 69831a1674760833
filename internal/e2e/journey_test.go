package e2e

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

const motivation = "I have worked on internet governance in East Africa for ten years, building the national IGF, " +
	"training young people and bringing local voices to the global forum. On the MAG I would help the programme reflect " +
	"the priorities of communities that are still coming online."

// cvFile writes the small test PDF to a file the browser can upload.
func cvFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ana-cv.pdf")
	if err := os.WriteFile(p, minimalPDF, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The whole journey as a newcomer makes it, with a look at every page in
// its normal and error states: sign up, start a nomination, fill in the
// details, upload the CV, confirm the address from the mail (nominating
// someone else and asking for endorsements wait for it, and say so), ask
// an endorser (who confirms from the mail's link), check the answers,
// submit, see the confirmation and the status.
func TestBrowserJourney(t *testing.T) {
	start := time.Now()
	mp := sharedMailpit(t)
	a := newApp(t, appOptions{mailpit: mp})
	a.call("mag-2027", "MAG 2027 renewal", "mag")
	b := newTab(t, a, false)

	b.visit("/")
	b.mustSee("MAG 2027 renewal", "Start a nomination")
	b.audit("home")
	b.click(`a[href="/signup"]`)
	b.mustPath("/signup")
	b.audit("signup")
	b.click(`main form button[type=submit]`)
	b.mustSee("There is a problem", "Enter your full name")
	b.audit("signup-error")
	b.typeInto("#name", "Ana Wanjiru")
	b.typeInto("#email", "ana.journey@example.org")
	b.typeInto("#password", "a long and private passphrase 7")
	b.click(`main form button[type=submit]`)
	b.mustPath("/signup/check-email")
	b.mustSee("Check your email", "ana.journey@example.org", "What happens next", "If the email does not arrive")
	b.audit("signup-sent")

	// Signing in needs no confirmation; the notice says what waits on it.
	b.click(`main a.nm-button[href^="/signin"]`)
	b.typeInto("#email", "ana.journey@example.org")
	b.typeInto("#password", "a long and private passphrase 7")
	b.click(`main form button[type=submit]`)
	b.mustPath("/nominations")
	b.mustSee("You have not started a nomination yet", "Confirm your email address", "Send the link again")
	b.audit("nominations-unconfirmed")

	b.visit("/calls/mag-2027")
	b.mustSee("First confirm your email address")
	b.audit("call")
	b.tap(`label[for="nominee-2"]`)
	b.typeInto("#nominee_name", "Tomás Rivera")
	b.typeInto("#nominee_email", "tomas.journey@example.org")
	b.click(`#start ~ form button[type=submit]`)
	b.mustSee("There is a problem", "Confirm your email address before you nominate someone else")
	b.audit("call-start-unconfirmed")
	b.tap(`label[for="nominee"]`)
	b.click(`#start ~ form button[type=submit]`)
	b.mustPath("/nominations/n")
	id := strings.TrimPrefix(b.path(), "/nominations/")
	b.mustSee("Your nomination", "About the candidate", "Not started", "Cannot start yet")
	b.audit("task-list")

	b.click(`a[href$="/details"]`)
	b.audit("details")
	b.typeInto("#motivation", "Too short.")
	b.click(`button[value=continue]`)
	b.mustSee("There is a problem", "Motivation must be at least 200 characters")
	b.audit("details-error")
	b.do(chromedp.Clear(chromedp.CSS("#motivation")))
	b.typeInto("#motivation", motivation)
	b.tap(`label[for="stakeholder_group-3"]`)
	b.tap(`label[for="gender"]`)
	b.do(chromedp.SetValue(chromedp.CSS("#nationality"), "KE"))
	b.typeInto("#organization", "Kenya ICT Action Network")
	b.tap(`label[for="declaration"]`)
	b.click(`button[value=continue]`)
	b.mustPath("/nominations/" + id)
	b.mustSee("Your answers have been saved")
	b.audit("task-list-details-done")

	b.click(`a[href$="/cv"]`)
	b.audit("cv")
	b.click(`main form button[type=submit]`)
	b.mustSee("Select a file to upload")
	b.audit("cv-error")
	b.do(chromedp.SetUploadFiles(chromedp.CSS(`#file`), []string{cvFile(t)}))
	b.click(`main form button[type=submit]`)
	b.mustSee("The file has been uploaded")
	b.visit("/nominations/" + id + "/cv")
	b.mustSee("ana-cv.pdf")
	b.audit("cv-uploaded")

	b.visit("/nominations/" + id + "/endorsements")
	b.mustSee("You can ask for endorsements once you have confirmed your email address")
	b.audit("endorsements-unconfirmed")
	b.click(`form[action="/account/confirm-email"] button`)
	b.mustPath("/account/confirm-email?sent=1")
	b.mustSee("We have sent a new link to ana.journey@example.org", "If the email does not arrive")
	b.audit("confirm-email-sent")

	// The link in the mail: a page with a button; the button confirms.
	confirm := mp.link(t, "ana.journey@example.org", "confirm your email", a.URL+"/confirm-email/")
	b.visit(confirm)
	b.mustSee("Confirm that this is your email address", "ana.journey@example.org")
	b.audit("confirm-email")
	b.click(`main form button[type=submit]`)
	b.mustSee("Email address confirmed")
	b.audit("confirm-email-done")
	b.click(`main a.nm-button`)
	b.mustPath("/nominations")
	if strings.Contains(eval[string](b, "document.body.innerText"), "Send the link again") {
		t.Fatal("the notice stays after the address is confirmed")
	}

	b.visit("/nominations/" + id + "/endorsements")
	b.audit("endorsements")
	b.click(`main form button[type=submit]`)
	b.mustSee("There is a problem", "Enter the full name of the person you ask")
	b.audit("endorsements-error")
	b.typeInto("#name", "Eve Endorser")
	b.typeInto("#email", "eve.journey@example.org")
	b.typeInto("#organization", "Civil Society Network")
	b.click(`main form button[type=submit]`)
	b.mustSee("We have emailed Eve Endorser", "waiting for a reply")
	b.audit("endorsements-asked")

	// The endorser, on another computer, follows the link in the mail.
	link := mp.link(t, "eve.journey@example.org", "endorsement", a.URL+"/endorse/")
	e := newTab(t, a, true)
	e.visit(link)
	e.mustSee("Do you endorse the nomination of Ana Wanjiru?", "Ana Wanjiru has nominated Ana Wanjiru")
	e.audit("endorse")
	e.click(`button:not([name=decline])`)
	e.mustSee("Enter your statement of support")
	e.audit("endorse-error")
	e.typeInto("#statement", "Ana has led our network for years; she has my full support.")
	e.click(`button:not([name=decline])`)
	e.mustSee("Thank you for your endorsement")
	e.audit("endorse-done")

	b.visit("/nominations/" + id)
	b.mustSee("1 endorsement")
	b.click(`a[href$="/check"]`)
	b.mustSee("Check your answers before submitting", "Kenya ICT Action Network", "Kenya", "ana-cv.pdf", "Eve Endorser")
	b.audit("check")
	b.click(`form[action$="/submit"] button`)
	b.mustPath("/nominations/" + id + "/submitted")
	b.mustSee("Nomination submitted", id, "What happens next")
	b.audit("submitted")
	b.click(`a[href="/nominations/` + id + `"]`)
	b.mustSee("Submitted", "History", "Nomination started", "Status: Submitted")
	b.audit("status")
	b.click(`a[href$="/check"]`)
	b.mustSee("Your answers")
	b.audit("answers-submitted")
	b.visit("/nominations/" + id + "/withdraw")
	b.audit("withdraw")
	b.visit("/nominations")
	b.mustSee("Ana Wanjiru", "Submitted")
	b.audit("nominations")
	if got := mp.link(t, "ana.journey@example.org", "receiv", a.URL+"/nominations/"+id); got == "" {
		t.Fatal("no receipt")
	}

	b.visit("/account")
	b.audit("account")
	b.click(`main form:last-of-type button[type=submit]`)
	b.mustSee("Enter your current password")
	b.audit("account-error")

	// Signed out: sign-in, forgotten password and a mailed reset link.
	s := newTab(t, a, true)
	s.visit("/signin")
	s.audit("signin")
	s.click(`main form button[type=submit]`)
	s.mustSee("Enter an email address")
	s.audit("signin-error")
	s.visit("/forgot-password")
	s.audit("forgot-password")
	s.typeInto("#email", "ana.journey@example.org")
	s.click(`main form button[type=submit]`)
	s.mustSee("Check your email")
	s.audit("forgot-password-sent")
	reset := mp.link(t, "ana.journey@example.org", "reset", a.URL+"/reset-password/")
	s.visit(reset)
	s.audit("reset-password")
	s.typeInto("#password", "password")
	s.click(`main form button[type=submit]`)
	s.mustSee("There is a problem")
	s.audit("reset-password-error")
	s.typeInto("#password", "a new and longer private passphrase 8")
	s.click(`main form button[type=submit]`)
	s.mustSee("Your password has been changed")
	s.visit(reset)
	s.mustSee("This link has expired or has been used", "Ask for a new link")
	s.audit("reset-password-gone")
	s.visit("/confirm-email/forged")
	s.mustSee("This link is not valid")
	s.audit("confirm-email-invalid")
	s.visit("/confirm-email/" + a.expired(strings.TrimPrefix(confirm, a.URL+"/confirm-email/"), "confirm_email"))
	s.mustSee("This link has expired", "Get a new link")
	s.audit("confirm-email-expired")
	// Sign-in paused after failures on the account from many addresses
	// and one here: a page that says how long to wait.
	a.user("zoe.journey@example.org", "Zoe")
	for i := range 10 {
		mustStatus(t, a.fromAddress(fmt.Sprintf("127.0.0.%d", i+2)).post("/signin", url.Values{"email": {"zoe.journey@example.org"}, "password": {"not her password"}}), 422)
	}
	s.visit("/signin")
	s.typeInto("#email", "zoe.journey@example.org")
	s.typeInto("#password", "not her password either")
	s.click(`main form button[type=submit]`)
	s.mustSee("There is a problem")
	s.typeInto("#password", "nor this one")
	s.click(`main form button[type=submit]`)
	s.mustSee("Too many attempts", "You can try again in ", "I have forgotten my password")
	s.audit("too-many")
	s.visit("/no-such-page")
	s.audit("not-found")
	s.visit("/endorse/forged-link")
	s.mustSee("This link is not valid")
	s.audit("link-invalid")
	s.visit("/nominations/" + id)
	s.mustPath("/signin?next=")
	t.Logf("journey: %d page states checked at 1280 and 390 px in %s; screenshots in %s", *b.audited+*e.audited+*s.audited, time.Since(start).Round(time.Millisecond), b.shots)
	_ = kb.Tab
}

// A nomination of someone else: the nominee accepts from the mail's link,
// the nominator sees it, and later withdraws the nomination after
// confirming.
func TestBrowserThirdPartyNomination(t *testing.T) {
	mp := sharedMailpit(t)
	a := newApp(t, appOptions{mailpit: mp})
	a.call("lp-2027", "Leadership Panel 2027", "leadership-panel")
	a.user("nora.nominator@example.org", "Nora Nominator")
	b := newTab(t, a, false)
	b.visit("/signin?next=/calls/lp-2027")
	b.typeInto("#email", "nora.nominator@example.org")
	b.typeInto("#password", testPassword)
	b.click(`main form button[type=submit]`)
	b.mustPath("/calls/lp-2027")
	b.tap(`label[for="nominee-2"]`)
	b.click(`#start ~ form button[type=submit]`)
	b.mustSee("There is a problem", "Enter the full name of the person you nominate")
	b.audit("call-start-error")
	b.typeInto("#nominee_name", "Tomás Rivera")
	b.typeInto("#nominee_email", "tomas.nominee@example.org")
	b.click(`#start ~ form button[type=submit]`)
	b.mustPath("/nominations/n")
	id := strings.TrimPrefix(b.path(), "/nominations/")
	b.mustSee("Your nomination of Tomás Rivera", "Acceptance by Tomás Rivera", "Waiting for a reply")
	b.audit("task-list-third-party")

	n := newTab(t, a, true)
	n.visit(mp.link(t, "tomas.nominee@example.org", "nominated", a.URL+"/consent/"))
	n.mustSee("Tomás Rivera, you have been nominated", "Nora Nominator has nominated you")
	n.audit("consent")
	n.click(`button[value=accept]`)
	n.mustSee("You have accepted the nomination")
	n.audit("consent-done")

	// Two people asked to endorse: one declines; the other's link is
	// answered after the nomination has been withdrawn.
	b.visit("/nominations/" + id + "/endorsements")
	for _, p := range [][2]string{{"Eve Endorser", "eve.third@example.org"}, {"Fay Endorser", "fay.third@example.org"}} {
		b.typeInto("#name", p[0])
		b.typeInto("#email", p[1])
		b.click(`main form button[type=submit]`)
		b.mustSee("We have emailed " + p[0])
	}
	e := newTab(t, a, true)
	e.visit(mp.link(t, "eve.third@example.org", "endorsement", a.URL+"/endorse/"))
	e.click(`button[name=decline]`)
	e.mustSee("You declined to endorse the nomination")
	e.audit("endorse-declined")
	fay := mp.link(t, "fay.third@example.org", "endorsement", a.URL+"/endorse/")

	b.visit("/nominations/" + id)
	b.mustSee("Accepted")
	b.click(`a[href$="/withdraw"]`)
	b.mustSee("Are you sure you want to withdraw the nomination?")
	b.click(`main form button[type=submit]`)
	b.mustSee("The nomination has been withdrawn", "Withdrawn")
	b.audit("withdrawn")
	e.visit(fay)
	e.mustSee("This nomination has ended")
	e.audit("link-ended")
}
