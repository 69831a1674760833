package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The journey again with the keyboard alone: Tab to move, type, Space for
// radios and boxes, Enter to follow links and press buttons; no mouse
// event at all. The CV is given to the file input through the DevTools
// protocol, as a person would pick it in the system's file dialog.
func TestBrowserKeyboardOnly(t *testing.T) {
	mp := sharedMailpit(t)
	a := newApp(t, appOptions{mailpit: mp})
	a.call("mag-2027", "MAG 2027 renewal", "mag")
	b := newTab(t, a, false)
	b.visit("/")
	b.tabTo(`a[href="/signup"]`)
	b.enter()
	b.tabTo("#name")
	b.press("Kofi Mensah")
	b.press(kb.Tab)
	b.press("kofi.keys@example.org")
	b.press(kb.Tab)
	b.press("another long private passphrase 9")
	b.tabTo(`main form button[type=submit]`)
	b.enter()
	b.mustPath("/signup/check-email")
	// The link in the mail: its page's button, then sign in.
	b.visit(mp.link(t, "kofi.keys@example.org", "confirm your email", a.URL+"/confirm-email/"))
	b.tabTo(`main form button[type=submit]`)
	b.enter()
	b.mustSee("Email address confirmed")
	b.tabTo(`main a.nm-button`)
	b.enter()
	b.mustPath("/signin")
	b.tabTo("#email")
	b.press("kofi.keys@example.org")
	b.press(kb.Tab)
	b.press("another long private passphrase 9")
	b.enter() // in the password field: submits the form
	b.mustPath("/nominations")

	b.visit("/calls/mag-2027")
	b.tabTo(`#start ~ form button[type=submit]`)
	b.enter()
	b.mustPath("/nominations/n")
	id := strings.TrimPrefix(b.path(), "/nominations/")
	b.tabTo(`a[href$="/details"]`)
	b.enter()

	// Radios: Tab into the group, arrows to choose.
	b.tabTo(`input[name=stakeholder_group]`)
	b.press(kb.ArrowDown + kb.ArrowDown) // civil society
	b.tabTo(`input[name=gender]`)
	b.press(" ")
	b.tabTo("#nationality")
	b.press("Ghana")
	b.tabTo("#organization")
	b.press("Ghana Internet Society")
	b.tabTo("#motivation")
	b.press(motivation)
	b.tabTo("#declaration")
	b.press(" ")
	if v := eval[string](b, `document.querySelector("#nationality").value + "," + document.querySelector("input[name=stakeholder_group]:checked").value + "," + document.querySelector("#declaration").checked`); v != "GH,civil_society,true" {
		t.Fatalf("answers chosen with the keyboard: %s", v)
	}
	b.tabTo(`button[value=continue]`)
	b.enter()
	b.mustSee("Your answers have been saved")

	b.tabTo(`a[href$="/cv"]`)
	b.enter()
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{cvFile(t)}))
	b.tabTo(`main form button[type=submit]`)
	b.enter()
	b.mustSee("The file has been uploaded")

	b.tabTo(`a[href$="/endorsements"]`)
	b.enter()
	b.tabTo("#name")
	b.press("Ama Endorser")
	b.tabTo("#email")
	b.press("ama.keys@example.org")
	b.tabTo(`main form button[type=submit]`)
	b.enter()
	b.mustSee("We have emailed Ama Endorser")

	e := newTab(t, a, true)
	e.visit(mp.link(t, "ama.keys@example.org", "endorsement", a.URL+"/endorse/"))
	e.tabTo("#statement")
	e.press("Kofi has my support.")
	e.tabTo(`button:not([name=decline])`)
	e.enter()
	e.mustSee("Thank you for your endorsement")

	b.visit("/nominations/" + id)
	b.tabTo(`a[href$="/check"]`)
	b.enter()
	b.tabTo(`form[action$="/submit"] button`)
	b.enter()
	b.mustPath("/nominations/" + id + "/submitted")
	b.mustSee("Nomination submitted")
	b.checkConsole("keyboard journey")
}

// The error path: an empty form comes back with the error summary
// focused, and each of its links moves the focus to its field.
func TestBrowserErrorSummaryFocus(t *testing.T) {
	a := newApp(t, appOptions{})
	b := newTab(t, a, false)
	b.visit("/signup")
	b.tabTo(`main form button[type=submit]`)
	b.enter()
	if f := b.focused(); !strings.Contains(f, "nm-error-summary") {
		t.Fatalf("focus after the failed form: %s", f)
	}
	if title := eval[string](b, "document.title"); !strings.HasPrefix(title, "Error: ") {
		t.Fatalf("title %q", title)
	}
	links := eval[[]string](b, `[...document.querySelectorAll(".nm-error-summary a")].map(a => a.getAttribute("href"))`)
	if len(links) != 3 {
		t.Fatalf("summary links %v", links)
	}
	for i, href := range links {
		// From the summary, Tab to the link and press Enter.
		eval[bool](b, `document.querySelector(".nm-error-summary").focus(), true`)
		for j := 0; j <= i; j++ {
			b.press(kb.Tab)
		}
		if got := eval[string](b, "document.activeElement.getAttribute('href')"); got != href {
			t.Fatalf("Tab %d reached %q, want the link %q", i+1, got, href)
		}
		b.pressEnterKey()
		if f := b.focused(); "#"+f != href {
			t.Errorf("link %s moved the focus to %q", href, f)
		}
		if inv := eval[string](b, "document.activeElement.getAttribute('aria-invalid') || ''"); inv != "true" {
			t.Errorf("field %s is not marked invalid", href)
		}
	}
	b.checkConsole("error summary")
}

// axe is able to fail: a page with an unlabelled field and poor contrast
// is reported.
func TestBrowserAxeFindsViolations(t *testing.T) {
	a := newApp(t, appOptions{})
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!DOCTYPE html><html><head><title>x</title></head><body><main><input type=text><p style="color:#ccc;background:#fff">faint</p></main></body></html>`)
	}))
	defer bad.Close()
	b := newTab(t, a, false)
	b.visit(bad.URL)
	eval[any](b, axeSource+";true")
	got := eval[string](b, "("+axeRun+").then(v => JSON.stringify(v.map(x => x.id)))")
	for _, rule := range []string{"label", "color-contrast", "html-has-lang"} {
		if !strings.Contains(got, rule) {
			t.Errorf("axe did not report %s: %s", rule, got)
		}
	}
}
