package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

// benchRequest sends one request from the client address addr.
func benchRequest(tb testing.TB, h http.Handler, addr, method, path, token string, body any, headers ...string) *httptest.ResponseRecorder {
	tb.Helper()
	req := testRequest(tb, method, path, token, body, headers...)
	req.RemoteAddr = addr + ":40000"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// benchAddr is the i-th client address of a benchmark.
func benchAddr(i int) string { return fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255) }

// The cost of a request that creates or changes a nomination, with the
// checks each one is held to (address confirmed, limits per account,
// client address and recipient): each iteration is a new account from a
// new client address mailing a new recipient, as most requests are, far
// from any limit. Store round trips per request are reported beside the
// time.
func BenchmarkChecksPerRequest(b *testing.B) {
	st, mon := monitored(b)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	h := st.srv.Handler()
	// Accounts, addresses and recipients are numbered across every run of
	// a sub-benchmark (the framework runs each more than once).
	var seq atomic.Int64
	run := func(name string, prepare func(i int) (account, string), send func(i int, who account, id string) int, want int) {
		b.Run(name, func(b *testing.B) {
			var trips int64
			for b.Loop() {
				b.StopTimer()
				i := int(seq.Add(1))
				who, id := prepare(i)
				before := mon.RoundTrips()
				b.StartTimer()
				if code := send(i, who, id); code != want {
					b.Fatalf("status %d, want %d", code, want)
				}
				b.StopTimer()
				trips += mon.RoundTrips() - before
				b.StartTimer()
			}
			b.ReportMetric(float64(trips)/float64(b.N), "roundtrips/op")
		})
	}
	fresh := func(tag string, draft bool) func(i int) (account, string) {
		return func(i int) (account, string) {
			who := st.candidate(fmt.Sprintf("%s%d@example.org", tag, i))
			if !draft {
				return who, ""
			}
			var n nominationBody
			mustStatus(b, benchRequest(b, h, benchAddr(4<<20+i), "POST", "/api/v1/calls/mag-2027/nominations", who.Token,
				map[string]any{"fields": magFields("civil_society")}), http.StatusCreated, &n)
			return who, n.ID
		}
	}
	run("create-self", fresh("self", false), func(i int, who account, _ string) int {
		return benchRequest(b, h, benchAddr(i), "POST", "/api/v1/calls/mag-2027/nominations", who.Token, map[string]any{"fields": magFields("civil_society")}).Code
	}, http.StatusCreated)
	run("create-other", fresh("other", false), func(i int, who account, _ string) int {
		return benchRequest(b, h, benchAddr(1<<20+i), "POST", "/api/v1/calls/mag-2027/nominations", who.Token,
			map[string]any{"nominee": map[string]any{"name": "Nia", "email": fmt.Sprintf("nia%d@example.org", i)}, "fields": magFields("civil_society")}).Code
	}, http.StatusCreated)
	run("patch", fresh("patch", true), func(i int, who account, id string) int {
		return benchRequest(b, h, benchAddr(2<<20+i), "PATCH", "/api/v1/nominations/"+id, who.Token,
			map[string]any{"fields": map[string]any{"position": fmt.Sprint("Director ", i)}}, "If-Match", "*").Code
	}, http.StatusOK)
	run("endorse", fresh("endorse", true), func(i int, who account, id string) int {
		return benchRequest(b, h, benchAddr(3<<20+i), "POST", "/api/v1/nominations/"+id+"/endorsements", who.Token,
			map[string]any{"name": "Eve", "email": fmt.Sprintf("eve%d@example.org", i), "organization": "CSN"}).Code
	}, http.StatusCreated)
}

// A password reset request for an address with an account and for one
// without, in pairs (in alternating order, so that a store growing over
// the run weighs on both alike): the medians of the two and the median of
// their difference, which is what an observer could learn from it. The
// clock moves an hour between pairs, outside the timing, so the
// per-address limit never applies.
func BenchmarkPasswordResetRequest(b *testing.B) {
	st := newStack(b)
	st.candidate("ana@example.org")
	h := st.srv.Handler()
	reset := func(email string) time.Duration {
		t0 := time.Now()
		rec := benchRequest(b, h, "192.0.2.50", "POST", "/api/v1/auth/password-reset", "", map[string]string{"email": email})
		d := time.Since(t0)
		if rec.Code != http.StatusAccepted {
			b.Fatalf("status %d", rec.Code)
		}
		return d
	}
	var known, unknown, diff []time.Duration
	for i := 0; b.Loop(); i++ {
		var k, u time.Duration
		if i%2 == 0 {
			k, u = reset("ana@example.org"), reset("nobody@example.org")
		} else {
			u, k = reset("nobody@example.org"), reset("ana@example.org")
		}
		known, unknown, diff = append(known, k), append(unknown, u), append(diff, k-u)
		b.StopTimer()
		st.clock.Advance(time.Hour)
		b.StartTimer()
	}
	median := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2]) / float64(time.Millisecond)
	}
	b.ReportMetric(median(known), "known-ms")
	b.ReportMetric(median(unknown), "unknown-ms")
	b.ReportMetric(median(diff), "known-minus-unknown-ms")
}

// Sign-in latency of one account while 0 or 8 clients register accounts
// from one address as fast as they can, at the production password-hash
// parameters: the median and 95th percentile of the sign-ins, and how
// many registrations per second were accepted and refused meanwhile.
func BenchmarkLoginUnderRegistrationFlood(b *testing.B) {
	for _, flooders := range []int{0, 8} {
		b.Run(fmt.Sprintf("flooders=%d", flooders), func(b *testing.B) {
			db := storetest.NewDatabase(b)
			log := slog.New(slog.DiscardHandler)
			store := mongostore.New(db, log)
			svc := floodAccounts(b, store, log)
			if _, err := svc.Provision(context.Background(), auth.NewUser{Email: "owner@example.org", Name: "Owner", Roles: []auth.Role{auth.RoleCandidate}, Password: acctPassword}); err != nil {
				b.Fatal(err)
			}
			h := newTestServer(b, Config{Logger: log, Auth: svc, Authenticate: AuthenticateWith(svc)}).Handler()
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var accepted, refused atomic.Int64
			for g := range flooders {
				wg.Go(func() {
					for i := 0; ctx.Err() == nil; i++ {
						rec := benchRequest(b, h, "198.51.100.1", "POST", "/api/v1/auth/register", "",
							map[string]string{"email": fmt.Sprintf("flood%d-%d@example.org", g, i), "password": acctPassword, "name": "Flood"})
						switch rec.Code {
						case http.StatusCreated, http.StatusAccepted:
							accepted.Add(1)
						case http.StatusTooManyRequests:
							refused.Add(1)
						default:
							if ctx.Err() == nil {
								b.Errorf("registration: %d %s", rec.Code, rec.Body)
							}
							return
						}
					}
				})
			}
			time.Sleep(200 * time.Millisecond) // the flood is under way
			start := time.Now()
			var lat []time.Duration
			body := map[string]string{"email": "owner@example.org", "password": acctPassword}
			for b.Loop() {
				t0 := time.Now()
				if rec := benchRequest(b, h, "203.0.113.1", "POST", "/api/v1/auth/login", "", body); rec.Code != http.StatusOK {
					b.Fatalf("login: %d %s", rec.Code, rec.Body)
				}
				lat = append(lat, time.Since(t0))
			}
			elapsed := time.Since(start)
			cancel()
			wg.Wait()
			slices.Sort(lat)
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
			b.ReportMetric(ms(lat[(len(lat)*95+99)/100-1]), "p95-ms")
			b.ReportMetric(float64(accepted.Load())/elapsed.Seconds(), "registered/s")
			b.ReportMetric(float64(refused.Load())/elapsed.Seconds(), "refused/s")
		})
	}
}

// floodAccounts is the account service as cmd/nomina builds it: the
// production hash parameters and throttling, limits in the store.
func floodAccounts(b *testing.B, store *mongostore.Store, log *slog.Logger) *auth.Service {
	keys, _, err := auth.GenerateKeys(strings.NewReader(strings.Repeat("k", 64)))
	if err != nil {
		b.Fatal(err)
	}
	svc, err := auth.NewService(store.Users(), store.MailQueue(), keys, auth.Config{
		BaseURL: "https://nomina.example.org", Logger: log,
		Links: nomination.NewLinkSigner([]byte("a link secret for the benchmark.")), Limiter: store.Limits(),
	})
	if err != nil {
		b.Fatal(err)
	}
	return svc
}
