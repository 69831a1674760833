package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"testing"

	"github.com/igf/nomina/internal/membership"
	"github.com/igf/nomina/internal/nomination"
)

// BenchmarkCreateNomination measures starting a draft through the router
// and the store: in the standard MAG call (no start rules, no quota), and
// in an alumni call whose start rules read the nominator's and the
// nominee's records on the MAG and the WGIG and whose quota takes a place
// by a unique insert. Round trips to the store are counted per draft.
//
//	go test -run '^$' -bench BenchmarkCreateNomination -benchtime 200x ./internal/httpapi/
func BenchmarkCreateNomination(b *testing.B) {
	st, mon := monitored(b, withoutLimits)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	cand := st.candidate("ana@example.org")
	for _, tc := range []struct {
		name string
		body map[string]any
	}{
		{"mag/self", map[string]any{"fields": magFields("civil_society")}},
		// As the alumni call's drafts are: of someone else, who is mailed.
		{"mag/other", map[string]any{"nominee": map[string]string{"name": "Ali", "email": "ali@example.org"}, "fields": magFields("civil_society")}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			before := mon.RoundTrips()
			for b.Loop() {
				if rec := st.call("POST", "/api/v1/calls/mag-2027/nominations", cand, tc.body); rec.Code != http.StatusCreated {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
			b.ReportMetric(float64(mon.RoundTrips()-before)/float64(b.N), "roundtrips/op")
		})
	}
	b.Run("mag-alumni", func(b *testing.B) {
		var svc *membership.Service
		withMembers := func(st *stack, cfg *nomination.Config) {
			var err error
			svc, err = membership.New(membership.Config{Store: st.store.Members(), Workflows: cfg.Workflows, Now: st.clock.Now})
			if err != nil {
				b.Fatal(err)
			}
			cfg.Terms, cfg.Members, cfg.Histories = svc, svc, svc
		}
		ms, mon := monitored(b, withoutLimits, withMembers)
		ms.srv = newTestServer(b, Config{Logger: slog.New(slog.NewJSONHandler(ms.logs, nil)), Authenticate: AuthenticateWith(ms.auth), Auth: ms.auth,
			Nominations: ms.noms, Members: svc, Workflows: ms.noms.Workflows, MaxUploadBytes: 1 << 20})
		msec := ms.secretariat("sec@igf.example")
		ms.mustImport(msec, "mag", "email,name,stakeholder_group,start\nali@example.org,Ali,civil_society,2019-01-01\n")
		ms.openCall(msec, "mag-2025", "mag-alumni", nil)
		var trips int64
		for i := 0; b.Loop(); i++ {
			// Each draft by a new alumna (a nominator holds two at most);
			// making her is not measured.
			b.StopTimer()
			email := fmt.Sprintf("alum%d@example.org", i)
			ms.mustImport(msec, "mag", "email,name,stakeholder_group,start\n"+email+",Alum,civil_society,2020-01-01\n")
			who := ms.candidate(email)
			before := mon.RoundTrips()
			b.StartTimer()
			rec := ms.call("POST", "/api/v1/calls/mag-2025/nominations", who, map[string]any{
				"nominee": map[string]string{"name": "Ali", "email": "ali@example.org"}, "fields": magFields("civil_society")})
			b.StopTimer()
			trips += mon.RoundTrips() - before
			b.StartTimer()
			if rec.Code != http.StatusCreated {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
		b.ReportMetric(float64(trips)/float64(b.N), "roundtrips/op")
	})
}
