package e2e

import (
	"context"
	"testing"
)

// TestSetupPage follows the first-administrator setup link in the browser:
// the form, its error state, the new administrator on the secretariat's
// page, and the spent link; each checked with axe at 1280 and 390 px.
func TestSetupPage(t *testing.T) {
	a := newApp(t, appOptions{})
	token, _, err := a.auth.Setup(a.store.Users(), 0).Begin(context.Background())
	if err != nil || token == "" {
		t.Fatalf("Begin = %q, %v", token, err)
	}
	b := newTab(t, a, false)
	b.visit("/setup/" + token)
	b.mustSee("Create the first administrator", "works once")
	b.audit("setup")
	b.typeInto("#email", "ada.root@igf.example")
	b.typeInto("#password", "short")
	b.click(`main form button[type=submit]`)
	b.mustSee("There is a problem", "Enter your full name")
	b.audit("setup-error")
	b.typeInto("#name", "Ada Root")
	b.typeInto("#password", "a long and private passphrase 7")
	b.click(`main form button[type=submit]`)
	b.mustPath("/secretariat")
	b.mustSee("Ada Root", "Open a new call")
	b.audit("setup-done")
	b.visit("/setup/" + token)
	b.mustSee("This setup link does not work")
	b.audit("setup-gone")
}
