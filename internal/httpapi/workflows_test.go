package httpapi

import (
	"net/http"
	"strings"
	"testing"
)

func TestWorkflowRoutes(t *testing.T) {
	s, _ := mustServer(t, Config{Workflows: mustWorkflows(t)})
	var list struct {
		Items []workflowResponse `json:"items"`
	}
	rec := do(t, s.Handler(), "GET", "/api/v1/workflows", "")
	mustStatus(t, rec, 200, &list)
	var ids []string
	for _, it := range list.Items {
		ids = append(ids, it.ID)
	}
	if strings.Join(ids, " ") != "leadership-panel mag mag-alumni mag-chair" {
		t.Fatalf("workflows: %v", ids)
	}
	var alumni workflowResponse
	mustStatus(t, do(t, s.Handler(), "GET", "/api/v1/workflows/mag-alumni", ""), 200, &alumni)
	if alumni.Start == nil || alumni.Start.Quota != 2 || len(alumni.Start.Rules) != 2 ||
		alumni.Start.QuotaMessage != "Each nominator may put forward at most two candidates in this call." {
		t.Fatalf("mag-alumni start: %+v", alumni.Start)
	}
	var mag workflowResponse
	mustStatus(t, do(t, s.Handler(), "GET", "/api/v1/workflows/mag", ""), 200, &mag)
	if mag.MaxTerms != 3 || mag.Initial != "draft" || len(mag.Fields) == 0 || len(mag.States) != 9 {
		t.Fatalf("mag: %+v", mag)
	}
	rec = do(t, s.Handler(), "GET", "/api/v1/workflows/mag/graph?format=dot", "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "digraph") {
		t.Fatalf("dot: %d %s", rec.Code, rec.Body.String())
	}
	rec = do(t, s.Handler(), "GET", "/api/v1/workflows/mag/graph", "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "panel_review") {
		t.Fatalf("mermaid: %d", rec.Code)
	}
	mustProblem(t, do(t, s.Handler(), "GET", "/api/v1/workflows/nope", ""), http.StatusNotFound)
	mustProblem(t, do(t, s.Handler(), "GET", "/api/v1/workflows/mag/graph?format=svg", ""), http.StatusBadRequest)
}
