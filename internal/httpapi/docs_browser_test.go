package httpapi

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// docsCSPProbe records the CSP violations the page reports; it runs before
// the page's own scripts.
const docsCSPProbe = `window.__csp = []; document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`

// The refusals the strict policy makes on the reference page and that
// cost nothing: the bundle's attempts to inject styles it also ships as
// stylesheets (served), a scrollbar probe and line-number widths set as
// style attributes, and an eval feature test it falls back from. Anything
// else (a font, a script or a request to another host) fails the test.
var docsExpectedViolations = []string{"style-src-elem inline", "style-src-attr inline", "script-src eval"}

// The API reference page in chromium, as a person opens it: it renders
// the document (title, operations, schemas) under the strict policy, with
// no script error and nothing fetched from elsewhere. The screenshot is
// left in the test's artifact folder, or under the temp folder (named in
// the log).
func TestAPIDocsInBrowser(t *testing.T) {
	if os.Getenv("NOMINA_TEST_BROWSER") == "off" && os.Getenv("NOMINA_TEST_CI") == "" {
		t.Skip("NOMINA_TEST_BROWSER=off: browser tests skipped")
	}
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Fatal("chromium is not installed (apt-get install -y chromium), and NOMINA_TEST_BROWSER=off is not set")
	}
	s, _ := mustServer(t, Config{})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true), chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	var mu sync.Mutex
	var problems []string
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || (m.Type == chromedp.ConsoleError && !strings.Contains(m.Text, "Content Security Policy") && !strings.Contains(m.Text, "Content-Security-Policy")) {
				mu.Lock()
				problems = append(problems, m.String()+" ("+m.URL+")")
				mu.Unlock()
			}
		}
	}()
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: docsCSPProbe})
		return err
	}), chromedp.EmulateViewport(1280, 900, chromedp.EmulateScale(1)), chromedp.Navigate(srv.URL+"/api/docs")); err != nil {
		t.Fatalf("open /api/docs: %v", err)
	}
	// The reference is drawn by script once the document is fetched.
	var text string
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		var err error
		text, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		if strings.Contains(text, "Liveness") || time.Now().After(deadline) {
			break
		}
	}
	for _, want := range []string{"Nomina API", "Authentication", "Journeys", "nominations", "membership", "Liveness"} {
		if !strings.Contains(text, want) {
			t.Errorf("the page does not show %q:\n%.2000s", want, text)
		}
	}
	for _, hosted := range []string{"Ask AI", "Generate MCP", "Developer Tools", "Deploy"} {
		if strings.Contains(text, hosted) {
			t.Errorf("the page offers %q, a service of Scalar's that this page must not reach", hosted)
		}
	}
	// Open an operation from the sidebar, as a reader would, so the
	// screenshot shows its request body and answers.
	click := func(label string) {
		t.Helper()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
			const el = [...document.querySelectorAll("aside a, aside button, aside li, nav a, nav button")]
				.find(e => e.textContent.trim() === %[1]q || (e.matches("a, button") && e.textContent.trim().startsWith(%[1]q)));
			if (el) el.click();
			return !!el;
		})()`, label)))
		if err != nil || !ok {
			t.Fatalf("no %q in the sidebar (%v)", label, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	click("nominations")
	click("Start a nomination")
	time.Sleep(time.Second)
	var err error
	text, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Start a nomination", "/api/v1/calls/{slug}/nominations", "nominee", "CreateNominationRequest", "The draft."} {
		if !strings.Contains(text, want) {
			t.Errorf("the opened operation does not show %q", want)
		}
	}
	// The stylesheet applies: the reference's own styles, not the browser's.
	font, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".scalar-app") || document.body).getPropertyValue("--scalar-color-1")`))
	if err != nil || strings.TrimSpace(font) == "" {
		t.Errorf("Scalar's stylesheet does not apply (--scalar-color-1 = %q, %v)", font, err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("NOMINA_TEST_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "nomina-screenshots")
	}
	dir = filepath.Join(dir, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "api-docs-1280.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)

	violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__csp || []`))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range violations {
		if !slices.Contains(docsExpectedViolations, v) {
			t.Errorf("CSP refused something unexpected: %s", v)
		}
	}
	time.Sleep(100 * time.Millisecond) // let the console's events arrive
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("console: %s", p)
	}
}
