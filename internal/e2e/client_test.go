package e2e

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// browser is an HTTP client that keeps cookies and does not follow
// redirects, so a test sees each 303.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
}

func (a *app) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: a.t, base: a.URL, c: &http.Client{Jar: jar, Transport: &http.Transport{DisableCompression: true}, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// page is a response with its body read.
type page struct {
	*http.Response
	Body string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	return page{Response: resp, Body: readAll(b.t, resp.Body)}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	return b.do(req)
}

// post sends a form as a browser on this site does (same-origin).
func (b *browser) post(path string, form url.Values, headers ...string) page {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

// upload posts a multipart form with one file.
func (b *browser) upload(path string, fields map[string]string, filename string, content []byte) page {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", filename)
	_, _ = fw.Write(content)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", b.base+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", b.base)
	return b.do(req)
}

// signIn signs in through the sign-in page.
func (b *browser) signIn(email string) {
	b.t.Helper()
	p := b.post("/signin", url.Values{"email": {email}, "password": {testPassword}})
	mustStatus(b.t, p, http.StatusSeeOther)
}

// cookie returns the value of the session cookie the jar holds.
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func mustStatus(t testing.TB, p page, status int) {
	t.Helper()
	if p.StatusCode != status {
		_ = os.WriteFile(filepath.Join(os.TempDir(), "nomina-last-page.html"), []byte(p.Body), 0o644)
		t.Fatalf("%s %s: status %d, want %d\n%s", p.Request.Method, p.Request.URL.Path, p.StatusCode, status, tail(p.Body, 3000))
	}
}

func mustRedirect(t testing.TB, p page, prefix string) string {
	t.Helper()
	mustStatus(t, p, http.StatusSeeOther)
	loc := p.Header.Get("Location")
	if !strings.HasPrefix(loc, prefix) {
		t.Fatalf("%s %s: Location %q, want %q…", p.Request.Method, p.Request.URL.Path, loc, prefix)
	}
	return loc
}

func mustContain(t testing.TB, p page, parts ...string) {
	t.Helper()
	for _, s := range parts {
		if !strings.Contains(p.Body, s) {
			_ = os.WriteFile(filepath.Join(os.TempDir(), "nomina-last-page.html"), []byte(p.Body), 0o644)
			t.Fatalf("%s %s: no %q in\n%s", p.Request.Method, p.Request.URL.Path, s, tail(p.Body, 4000))
		}
	}
}

var nominationPath = regexp.MustCompile(`^/nominations/(n[a-z2-7]+)$`)

// startNomination starts a self-nomination in call slug and returns its id.
func (b *browser) startNomination(slug string, form url.Values) string {
	b.t.Helper()
	if form == nil {
		form = url.Values{"nominee": {"self"}}
	}
	loc := mustRedirect(b.t, b.post("/calls/"+slug+"/nominations", form), "/nominations/")
	m := nominationPath.FindStringSubmatch(loc)
	if m == nil {
		b.t.Fatalf("start: Location %q", loc)
	}
	return m[1]
}

var _ = io.EOF
