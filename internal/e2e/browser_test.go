package e2e

import (
	"context"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// axe-core 4.14.1, vendored from its npm package; injected by the tests
// through the DevTools protocol (the pages' CSP rightly refuses it).
//
//go:embed testdata/axe.min.js
var axeSource string

// The WCAG 2.2 A and AA rules axe checks.
const axeRun = `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}})
	.then(r => r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help, nodes: v.nodes.map(n => n.target.join(" ") + " " + (n.failureSummary || ""))})))`

// cspProbe records every CSP violation a document reports; it runs before
// the page's own scripts.
const cspProbe = `window.__csp = []; document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`

var (
	// cleanedDirs are the screenshot folders emptied in this run.
	cleanedDirs sync.Map

	chromeOnce sync.Once
	chromeCtx  context.Context
	chromeErr  error
)

// chromium returns the shared browser: one chromium for the package, a tab
// per use. Without chromium the test fails, unless NOMINA_TEST_BROWSER=off (never under CI)
// says to skip the browser tests.
func chromium(t *testing.T) context.Context {
	t.Helper()
	if os.Getenv("NOMINA_TEST_BROWSER") == "off" && os.Getenv("NOMINA_TEST_CI") == "" {
		t.Skip("NOMINA_TEST_BROWSER=off: browser tests skipped")
	}
	chromeOnce.Do(func() {
		path := ""
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
		if path == "" {
			chromeErr = fmt.Errorf("chromium is not installed (apt-get install -y chromium), and NOMINA_TEST_BROWSER=off is not set")
			return
		}
		alloc, _ := chromedp.NewExecAllocator(context.Background(),
			chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun,
			chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
			chromedp.Flag("hide-scrollbars", true), chromedp.WindowSize(1280, 900))
		ctx, _ := chromedp.NewContext(alloc)
		chromeErr = chromedp.Do(ctx) // starts the browser
		chromeCtx = ctx
	})
	if chromeErr != nil {
		t.Fatalf("browser: %v", chromeErr)
	}
	return chromeCtx
}

// screenshotDir is where the screenshots go: the test's artifact
// directory with -artifacts, else a folder under the system's temp
// directory, named in the log.
func screenshotDir(t *testing.T) string {
	t.Helper()
	if f := flag.Lookup("test.artifacts"); f != nil && f.Value.String() == "true" {
		return t.ArtifactDir()
	}
	dir := os.Getenv("NOMINA_TEST_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "nomina-screenshots")
	}
	dir = filepath.Join(dir, t.Name())
	// A fresh folder (once per test: its tabs share it), so no screenshot
	// of an earlier run passes for this one's.
	if _, done := cleanedDirs.LoadOrStore(dir, true); !done {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tab is one browser tab (in its own browser context when private, like a
// second person on another computer), watching the console.
type tab struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
	mu    sync.Mutex
	errs  []string
	// audited counts the page states checked with axe.
	audited *int
}

func newTab(t *testing.T, a *app, private bool) *tab {
	t.Helper()
	var opts []chromedp.ContextOption
	if private {
		opts = append(opts, chromedp.WithNewBrowserContext())
	}
	ctx, cancel := chromedp.NewContext(chromium(t), opts...)
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx, base: a.URL, shots: screenshotDir(t), audited: new(int)}
	messages := chromedp.Console(ctx)
	tb.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: cspProbe})
		return err
	}))
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// A 4xx answer is logged by the browser as a failed load; the
			// error states of the forms are such answers on purpose.
			expected := strings.HasPrefix(m.Text, "Failed to load resource: the server responded with a status of 4")
			if (m.Type == chromedp.ConsoleError || m.IsException() || strings.Contains(m.Text, "Content Security Policy")) && !expected {
				tb.mu.Lock()
				tb.errs = append(tb.errs, m.String()+" ("+m.URL+")")
				tb.mu.Unlock()
			}
		}
	}()
	tb.do(chromedp.EmulateViewport(1280, 900, chromedp.EmulateScale(1)))
	return tb
}

func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("browser: %v (at %s)", err, tb.location())
	}
}

func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 45*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluate %.80s: %v", expr, err)
	}
	return v
}

func (tb *tab) location() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

// path is the path (and query) of the page shown.
func (tb *tab) path() string {
	return strings.TrimPrefix(tb.location(), tb.base)
}

func (tb *tab) visit(path string) {
	tb.t.Helper()
	if !strings.HasPrefix(path, "http") {
		path = tb.base + path
	}
	tb.do(chromedp.Navigate(path))
}

// submitWith runs an action that loads a new page (a click, a key) and
// waits for the page to load.
func (tb *tab) submitWith(a chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 45*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(cdppage.LoadEventFired, nil, a)); err != nil {
		tb.t.Fatalf("submit: %v (at %s)", err, tb.location())
	}
}

// click clicks a button or link that loads a page.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.submitWith(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// typeInto types text into a field (key events, after focusing it).
func (tb *tab) typeInto(sel, text string) {
	tb.t.Helper()
	tb.do(chromedp.SendKeys(chromedp.CSS(sel), text, chromedp.NodeVisible))
}

func (tb *tab) mustPath(prefix string) {
	tb.t.Helper()
	if p := tb.path(); !strings.HasPrefix(p, prefix) {
		tb.t.Fatalf("at %s, want %s…", p, prefix)
	}
}

func (tb *tab) mustSee(texts ...string) {
	tb.t.Helper()
	body := eval[string](tb, "document.body.innerText")
	for _, s := range texts {
		if !strings.Contains(body, s) {
			tb.t.Fatalf("%s: no %q on the page:\n%s", tb.path(), s, body)
		}
	}
}

type axeViolation struct {
	ID, Impact, Help string
	Nodes            []string
}

// audit checks the page shown at 1280 and 390 px wide: no WCAG 2.2 A/AA
// violation found by axe, no sideways scrolling at 390 px, no CSP
// violation or script error, and a screenshot of each width saved as
// <name>-<width>.png.
func (tb *tab) audit(name string) {
	tb.t.Helper()
	for _, w := range []int64{1280, 390} {
		h := int64(900)
		if w == 390 {
			h = 844
		}
		tb.do(chromedp.EmulateViewport(w, h, chromedp.EmulateScale(1)))
		if !eval[bool](tb, "typeof axe !== 'undefined'") {
			eval[any](tb, axeSource+";true")
		}
		var vs []axeViolation
		raw := eval[json.RawMessage](tb, axeRun)
		if err := json.Unmarshal(raw, &vs); err != nil {
			tb.t.Fatalf("axe result: %v", err)
		}
		for _, v := range vs {
			tb.t.Errorf("%s at %dpx (%s): axe %s (%s): %s %v", name, w, tb.path(), v.ID, v.Impact, v.Help, v.Nodes)
		}
		if w == 390 {
			tb.noSidewaysScroll(name)
		}
		png := tb.screenshot(w, h)
		if err := os.WriteFile(filepath.Join(tb.shots, fmt.Sprintf("%s-%d.png", name, w)), png, 0o644); err != nil {
			tb.t.Fatal(err)
		}
	}
	tb.do(chromedp.EmulateViewport(1280, 900, chromedp.EmulateScale(1)))
	*tb.audited++
	tb.checkConsole(name)
}

// overflowing lists the elements that reach past the window's sides when
// the page scrolls sideways (scrollWidth > clientWidth); the skip link,
// off the page until focused, is left out.
const overflowing = `(() => {
	const d = document.documentElement;
	if (d.scrollWidth <= d.clientWidth) return [];
	const out = [];
	for (const el of document.body.querySelectorAll("*")) {
		const r = el.getBoundingClientRect();
		if (r.width > 0 && !el.matches(".nm-skip-link") && (r.right > d.clientWidth + 0.5 || r.left < -0.5)) {
			out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className ? "." + String(el.className).split(" ").join(".") : "") + " [" + Math.round(r.left) + ", " + Math.round(r.right) + "]");
		}
	}
	return ["scrollWidth " + d.scrollWidth + " > clientWidth " + d.clientWidth].concat(out.slice(0, 10));
})()`

// noSidewaysScroll fails if the page shown is wider than the window (a
// phone's reader would have to scroll sideways), naming what sticks out.
func (tb *tab) noSidewaysScroll(name string) {
	tb.t.Helper()
	if over := eval[[]string](tb, overflowing); len(over) > 0 {
		tb.t.Errorf("%s (%s) scrolls sideways: %s", name, tb.path(), strings.Join(over, "; "))
	}
}

// screenshot photographs the whole page: the viewport made as tall as the
// document, then captured as shown. (Chromium's capture beyond the
// viewport, chromedp.FullScreenshot, draws a right-to-left page that fits
// in the window 97 px off to the side, though nothing scrolls.)
func (tb *tab) screenshot(w, h int64) []byte {
	tb.t.Helper()
	if full := eval[int64](tb, "Math.ceil(document.documentElement.scrollHeight)"); full > h {
		tb.do(chromedp.EmulateViewport(w, full, chromedp.EmulateScale(1)))
		defer tb.do(chromedp.EmulateViewport(w, h, chromedp.EmulateScale(1)))
	}
	png, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatalf("screenshot: %v", err)
	}
	return png
}

// checkConsole fails on CSP violations and script errors so far.
func (tb *tab) checkConsole(name string) {
	tb.t.Helper()
	if v := eval[[]string](tb, "window.__csp || []"); len(v) > 0 {
		tb.t.Errorf("%s: CSP violations: %v", name, v)
	}
	time.Sleep(50 * time.Millisecond) // let the console's events arrive
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, e := range tb.errs {
		tb.t.Errorf("%s: console: %s", name, e)
	}
	tb.errs = nil
}

// focused describes the focused element: its id, or its tag.
func (tb *tab) focused() string {
	return eval[string](tb, "document.activeElement ? (document.activeElement.id || document.activeElement.tagName.toLowerCase() + '.' + document.activeElement.className) : ''")
}

// press sends keys as key events.
func (tb *tab) press(keys string) {
	tb.t.Helper()
	tb.do(chromedp.KeyEvent(keys))
}

// tabTo presses Tab until the focused element matches sel.
func (tb *tab) tabTo(sel string) {
	tb.t.Helper()
	for i := 0; i < 120; i++ {
		if eval[bool](tb, fmt.Sprintf("!!document.activeElement && document.activeElement.matches(%q)", sel)) {
			return
		}
		tb.press(kb.Tab)
	}
	tb.t.Fatalf("Tab never reached %s on %s (focus on %s)", sel, tb.path(), tb.focused())
}

// enter presses Enter on the focused element and waits for the page it
// loads.
func (tb *tab) enter() {
	tb.t.Helper()
	tb.submitWith(chromedp.KeyEvent(kb.Enter))
}

// tap clicks something that does not load a page (a radio's label).
func (tb *tab) tap(sel string) {
	tb.t.Helper()
	tb.do(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// pressEnterKey sends Enter as a key down and up with no character event:
// chromedp's character event would reach whatever has the focus after the
// key down (a field the link moved it to) and submit its form.
func (tb *tab) pressEnterKey() {
	tb.t.Helper()
	tb.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
			if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, input.DispatchKeyEventParams{
				Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13,
			}); err != nil {
				return err
			}
		}
		return nil
	}))
}
