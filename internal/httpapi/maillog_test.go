package httpapi

import (
	"net/http"
	"testing"
)

func TestMailLogForTheSecretariat(t *testing.T) {
	st := newStack(t)
	sec := st.secretariat("sec@igf.example")
	st.mustCall(sec, "mag-2027", "mag")
	cand := st.candidate("ana@example.org")
	n := st.mustSubmitted(cand, "mag-2027", "civil_society")
	var log struct {
		Items []mailRecordResponse `json:"items"`
	}
	mustStatus(t, st.call("GET", "/api/v1/mail?nomination="+n.ID, sec, nil), 200, &log)
	if len(log.Items) == 0 {
		t.Fatal("the mail log is empty after a submission")
	}
	for _, r := range log.Items {
		if r.Nomination != n.ID || r.Status != "queued" || r.To == "" {
			t.Fatalf("record %+v", r)
		}
	}
	mustStatus(t, st.call("GET", "/api/v1/mail?status=sent", sec, nil), 200, &log)
	if len(log.Items) != 0 {
		t.Fatalf("%d sent with no SMTP server", len(log.Items))
	}
	mustProblem(t, st.call("GET", "/api/v1/mail?status=lost", sec, nil), http.StatusBadRequest)
	mustProblem(t, st.call("GET", "/api/v1/mail", cand, nil), http.StatusForbidden)
	// Only a dead job can be retried.
	rec := st.call("POST", "/api/v1/mail/retry", sec, map[string]any{"id": "no/such/job"})
	if rec.Code != http.StatusNotFound {
		t.Fatalf("retry of an unknown job: %d", rec.Code)
	}
}
