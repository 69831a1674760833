package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/igf/nomina/internal/auth"
)

// Finding 14 of the security review: /metrics (traffic by route, store
// errors, runtime internals) was served to anyone on the public port. The
// router now answers 404 to everyone, staff included; the metrics are on
// their own handler, which serves nothing else.
func TestMetricsAreNotOnThePublicPort(t *testing.T) {
	st := newStack(t)
	admin := st.mustUser("ops@igf.example", []auth.Role{"admin"}, nil, "")
	mustStatus(t, st.call("GET", "/healthz", anonymous, nil), 200, nil)
	for _, who := range []account{anonymous, admin} {
		mustProblem(t, st.call("GET", "/metrics", who, nil), 404)
	}

	rec := httptest.NewRecorder()
	st.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `nomina_http_requests_total{method="GET",route="/healthz",status="200"} 1`) {
		t.Fatalf("metrics listener: %d\n%.2000s", rec.Code, rec.Body)
	}
	for _, path := range []string{"/healthz", "/api/v1/calls", "/api/v1/openapi.yaml"} {
		rec := httptest.NewRecorder()
		st.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 404 {
			t.Fatalf("metrics listener serves %s: %d", path, rec.Code)
		}
	}
}
