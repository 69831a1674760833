package e2e

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/nomination"
)

// seeded is a service with 1,000 nominations from 100 candidates in one
// call, and a browser signed in as the owner of one of them.
func seeded(b *testing.B) (*app, *browser, string) {
	b.Helper()
	a := newApp(b, appOptions{})
	a.call("mag-2027", "MAG 2027 renewal", "mag")
	ctx := context.Background()
	var id string
	for u := 0; u < 100; u++ {
		usr := a.user(fmt.Sprintf("c%03d@example.org", u), fmt.Sprintf("Candidate %d", u))
		for n := 0; n < 10; n++ {
			v, err := a.noms.Create(ctx, actorOf(usr), "mag-2027", nomination.NominationInput{
				Nominee: &nomination.Person{Name: fmt.Sprintf("Nominee %d-%d", u, n), Email: fmt.Sprintf("n%03d-%d@example.org", u, n)},
				Fields:  map[string]any{"stakeholder_group": "civil_society", "nationality": "KE", "organization": "Network " + fmt.Sprint(n)},
			})
			if err != nil {
				b.Fatal(err)
			}
			if u == 42 && n == 7 {
				id = v.Nomination.ID
			}
		}
	}
	br := a.browser()
	br.signIn("c042@example.org")
	return a, br, id
}

// ttfb requests path b.N times and reports the median and 95th percentile
// of the time to the first byte of the answer.
func ttfb(b *testing.B, br *browser, path string) {
	b.Helper()
	var times []time.Duration
	for b.Loop() {
		var start, first time.Time
		trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { first = time.Now() }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", br.base+path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		start = time.Now()
		resp, err := br.c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		times = append(times, first.Sub(start))
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-median")
	b.ReportMetric(float64(times[len(times)*95/100].Microseconds())/1000, "ms-p95")
}

// Time to first byte of the home page and of the details form with 1,000
// nominations stored, over loopback, one request at a time:
//
//	go test -run '^$' -bench PageTTFB -benchtime 300x ./internal/e2e/
func BenchmarkPageTTFB(b *testing.B) {
	_, br, id := seeded(b)
	b.Run("home", func(b *testing.B) { ttfb(b, br, "/") })
	b.Run("details", func(b *testing.B) { ttfb(b, br, "/nominations/"+id+"/details") })
	b.Run("nominations", func(b *testing.B) { ttfb(b, br, "/nominations") })
}

// The weight of the details form: its HTML with the stylesheet and scripts
// it loads, raw and gzipped as served.
//
//	go test -run '^$' -bench DetailsPageWeight -benchtime 1x ./internal/e2e/
func BenchmarkDetailsPageWeight(b *testing.B) {
	a := newApp(b, appOptions{})
	a.call("mag-2027", "MAG 2027 renewal", "mag")
	a.user("ana@example.org", "Ana", auth.RoleCandidate)
	br := a.browser()
	br.signIn("ana@example.org")
	id := br.startNomination("mag-2027", url.Values{"nominee": {"self"}})
	for b.Loop() {
		var raw, gz int
		html, gzHTML := fetchBoth(b, br, "/nominations/"+id+"/details")
		raw, gz = len(html), gzHTML
		assets := regexp.MustCompile(`(?:href|src)="(/assets/[^"]+)"`).FindAllStringSubmatch(html, -1)
		if len(assets) < 3 {
			b.Fatalf("assets %v", assets)
		}
		for _, m := range assets {
			r, g := fetchBoth(b, br, m[1])
			raw, gz = raw+len(r), gz+g
		}
		b.ReportMetric(float64(raw)/1024, "KiB-raw")
		b.ReportMetric(float64(gz)/1024, "KiB-gzip")
		b.ReportMetric(float64(len(html))/1024, "KiB-html-raw")
	}
}

// fetchBoth returns the body of path and the size it is sent in with gzip.
func fetchBoth(b *testing.B, br *browser, path string) (string, int) {
	b.Helper()
	get := func(enc string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", br.base+path, nil)
		req.Header.Set("Accept-Encoding", enc)
		resp, err := br.c.Transport.(*http.Transport).RoundTrip(withCookies(br, req))
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			b.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return resp, body
	}
	_, raw := get("identity")
	resp, zipped := get("gzip")
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(strings.NewReader(string(zipped)))
		if err != nil {
			b.Fatal(err)
		}
		plain, _ := io.ReadAll(zr)
		if len(plain) == 0 {
			b.Fatal("empty gzip body")
		}
	}
	return string(raw), len(zipped)
}

func withCookies(br *browser, req *http.Request) *http.Request {
	for _, c := range br.c.Jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	return req
}
