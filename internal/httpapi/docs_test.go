package httpapi

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// The API reference page: served with the strict CSP, its assets named by
// content with long cache lifetimes, compressed for browsers that accept
// gzip; nothing it needs comes from elsewhere.
func TestAPIDocsPage(t *testing.T) {
	s, _ := mustServer(t, Config{})
	h := s.Handler()
	rec := do(t, h, "GET", "/api/docs", "")
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("page: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self';", "style-src 'self';", "object-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "nonce-") || strings.Contains(csp, "sha256-") {
		t.Errorf("CSP %q allows inline code", csp)
	}
	page := rec.Body.String()
	if strings.Contains(page, "<style") || strings.Contains(page, "style=") || regexp.MustCompile(`<script>`).MatchString(page) {
		t.Errorf("the page holds inline code:\n%s", page)
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Errorf("the page refers elsewhere:\n%s", page)
	}
	refs := regexp.MustCompile(`(?:src|href)="docs/([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) != 4 {
		t.Fatalf("assets referenced: %v", refs)
	}
	for _, ref := range refs {
		name := ref[1]
		plain := do(t, h, "GET", "/api/docs/"+name, "")
		if plain.Code != http.StatusOK || plain.Header().Get("Content-Encoding") != "" {
			t.Fatalf("%s: %d, encoding %q", name, plain.Code, plain.Header().Get("Content-Encoding"))
		}
		if cc := plain.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("%s: Cache-Control %q", name, cc)
		}
		wantType := "text/css"
		if strings.HasSuffix(name, ".js") {
			wantType = "text/javascript"
		}
		if ct := plain.Header().Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
			t.Errorf("%s: Content-Type %q", name, ct)
		}
		zipped := do(t, h, "GET", "/api/docs/"+name, "", "Accept-Encoding", "br, gzip;q=0.8")
		if zipped.Header().Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: not compressed for a browser that takes gzip", name)
		}
		zr, err := gzip.NewReader(zipped.Body)
		if err != nil {
			t.Fatal(err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(unzipped, plain.Body.Bytes()) {
			t.Fatalf("%s: the compressed file differs (%v)", name, err)
		}
		if strings.HasSuffix(name, ".js") && zipped.Body.Len() > plain.Body.Len()/2 {
			t.Errorf("%s: %d bytes compressed of %d", name, zipped.Body.Len(), plain.Body.Len())
		}
	}
	if rec := do(t, h, "GET", "/api/docs/scalar-standalone.js", "", "Accept-Encoding", "gzip;q=0"); rec.Code != http.StatusNotFound {
		t.Errorf("an asset without its hash: %d", rec.Code)
	}
	mustProblem(t, do(t, h, "GET", "/api/docs/nothing.js", ""), http.StatusNotFound)
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"": false, "gzip": true, "GZIP": true, "deflate, gzip;q=1.0": true, "br, gzip;q=0.8": true,
		"gzip;q=0": false, "gzip; q=0.000": false, "identity": false, "x-gzip": false,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}

// The toast styles served beside the bundle are the bundle's own, copied
// out of it: each block still appears there verbatim (after an update of
// the bundle, copy them again).
func TestDocsToastStylesComeFromTheBundle(t *testing.T) {
	bundle, err := docsFiles.ReadFile("docs/scalar-standalone.js")
	if err != nil {
		t.Fatal(err)
	}
	css, err := docsFiles.ReadFile("docs/scalar-toasts.css")
	if err != nil {
		t.Fatal(err)
	}
	_, rules, ok := strings.Cut(string(css), "*/\n")
	if !ok {
		t.Fatal("scalar-toasts.css has no header comment")
	}
	blocks := strings.Split(strings.TrimSpace(rules), "\n/*$vite$:1*/\n")
	if len(blocks) < 2 {
		t.Fatalf("%d blocks", len(blocks))
	}
	for i, b := range blocks {
		b = strings.TrimSuffix(strings.TrimSpace(b), "/*$vite$:1*/")
		if len(b) < 100 || !bytes.Contains(bundle, []byte(b)) {
			t.Errorf("block %d (%.60q) is not in the bundle", i, b)
		}
	}
}
