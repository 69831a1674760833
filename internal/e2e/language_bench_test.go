package e2e

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/igf/nomina/internal/auth"
)

// The same pages rendered in English and in the other languages, in one
// run, each a whole request over loopback (the catalogs, the workflow's
// texts and the dates and numbers of the language included); compare the
// ns/op of each language with en's:
//
//	go test -run '^$' -bench PageLanguages -benchtime 400x ./internal/e2e/
func BenchmarkPageLanguages(b *testing.B) {
	a := newApp(b, appOptions{})
	a.call("mag-2027", "MAG 2027 renewal", "mag")
	a.user("ana@example.org", "Ana", auth.RoleCandidate)
	br := a.browser()
	br.signIn("ana@example.org")
	id := br.startNomination("mag-2027", url.Values{"nominee": {"self"}})
	for _, page := range []struct{ name, path, want string }{
		{"home", "/", "MAG 2027 renewal"},
		{"call", "/calls/mag-2027", "MAG 2027 renewal"},
		{"details", "/nominations/" + id + "/details", `name="motivation"`},
	} {
		for _, lang := range []string{"en", "fr", "ar", "ru", "zh"} {
			b.Run(page.name+"/"+lang, func(b *testing.B) {
				for b.Loop() {
					req, _ := http.NewRequest("GET", br.base+page.path, nil)
					req.Header.Set("Accept-Language", lang)
					resp, err := br.c.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || resp.Header.Get("Content-Language") != lang || !strings.Contains(string(body), page.want) {
						b.Fatalf("GET %s in %s: %d, Content-Language %q", page.path, lang, resp.StatusCode, resp.Header.Get("Content-Language"))
					}
				}
			})
		}
	}
}
