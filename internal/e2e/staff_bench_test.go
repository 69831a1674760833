package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/nomination"
)

// seededCall is a service with 2,000 nominations in one MAG call, spread
// over the stakeholder groups, regions and genders: every one submitted,
// 300 of them recommended by their panel (the pool the balance page's
// suggestion chooses from), and a browser signed in as the secretariat.
func seededCall(b *testing.B) (*app, *browser, string) {
	b.Helper()
	a := newApp(b, appOptions{})
	a.call("mag-2027", "MAG 2027 renewal", "mag")
	sec := a.staffUser("sec@igf.example", "Sam Secretariat", []auth.Role{auth.RoleSecretariat})
	ctx := context.Background()
	groups := []string{"government", "private_sector", "civil_society", "technical_community"}
	countries := []string{"KE", "JP", "PL", "BR", "FR", "NG", "IN", "UA", "MX", "DE"}
	genders := []string{"female", "male", "other", "undisclosed"}
	staff := actorOf(sec)
	for u := 0; u < 200; u++ {
		usr := a.user(fmt.Sprintf("c%03d@example.org", u), fmt.Sprintf("Candidate %d", u))
		for n := 0; n < 10; n++ {
			i := u*10 + n
			v, err := a.noms.Create(ctx, actorOf(usr), "mag-2027", nomination.NominationInput{
				Nominee: &nomination.Person{Name: fmt.Sprintf("Nominee %04d", i), Email: fmt.Sprintf("n%04d@example.org", i)},
				Fields: map[string]any{"stakeholder_group": groups[i%4], "nationality": countries[i%10], "gender": genders[i%3],
					"organization": "Network " + fmt.Sprint(n), "motivation": motivation, "declaration": true},
			})
			if err != nil {
				b.Fatal(err)
			}
			id := v.Nomination.ID
			steps := []string{"submit"}
			if i%7 == 0 && i < 2100 {
				steps = append(steps, "admit", "recommend")
			}
			for _, s := range steps {
				if _, err := a.noms.Override(ctx, staff, id, s, "seeded for the benchmark"); err != nil {
					b.Fatalf("%s: %v", s, err)
				}
			}
		}
	}
	br := a.browser()
	br.signIn("sec@igf.example")
	return a, br, "mag-2027"
}

// Time to first byte of the secretariat's nominations table (filtered and
// sorted, and plain) and balance page with 2,000 nominations in the call,
// over loopback, one request at a time; then the export downloaded through
// the page and through the API:
//
//	go test -run '^$' -bench StaffPages -benchtime 100x -timeout 30m ./internal/e2e/
func BenchmarkStaffPages(b *testing.B) {
	a, br, slug := seededCall(b)
	base := "/secretariat/calls/" + slug
	b.Run("table", func(b *testing.B) { ttfb(b, br, base+"/nominations") })
	b.Run("table-filtered-sorted", func(b *testing.B) {
		ttfb(b, br, base+"/nominations?state=submitted&stakeholder_group=civil_society&sort=name")
	})
	b.Run("table-sorted-by-score", func(b *testing.B) { ttfb(b, br, base+"/nominations?sort=score") })
	b.Run("balance", func(b *testing.B) { ttfb(b, br, base+"/balance") })
	tokens, err := a.auth.Login(context.Background(), "sec@igf.example", testPassword, "127.0.0.1")
	if err != nil {
		b.Fatal(err)
	}
	for _, format := range []string{"csv", "xlsx", "json"} {
		b.Run("export-page-"+format, func(b *testing.B) {
			download(b, br, br.base+base+"/export."+format, "")
		})
		b.Run("export-api-"+format, func(b *testing.B) {
			download(b, br, br.base+"/api/v1/calls/"+slug+"/export?format="+format, tokens.AccessToken)
		})
	}
}

// download fetches an export b.N times and reports its size and rate.
func download(b *testing.B, br *browser, u, bearer string) {
	b.Helper()
	var size int64
	var total time.Duration
	for b.Loop() {
		req, _ := http.NewRequest("GET", u, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		} else {
			req = withCookies(br, req)
		}
		start := time.Now()
		resp, err := br.c.Transport.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		n, _ := io.Copy(&buf, resp.Body)
		resp.Body.Close()
		total += time.Since(start)
		if resp.StatusCode != 200 {
			b.Fatalf("GET %s: %d %s", u, resp.StatusCode, buf.String())
		}
		size = n
	}
	per := total.Seconds() / float64(b.N)
	b.ReportMetric(float64(size)/1e6, "MB")
	b.ReportMetric(float64(size)/1e6/per, "MB/s")
	b.ReportMetric(2000/per, "rows/s")
}
