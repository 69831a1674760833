package httpapi

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// The document states, for every operation, what a client needs: a unique
// operationId, a summary and a description (who may call it), its tags,
// its security requirement, its answers with a schema for every JSON body,
// the 401 every operation may give (a token that does not verify) and the
// 5XX any may give, and the errors that decoding a JSON body gives (400,
// 413, 415). Shared answers carry their headers: a 401 its challenge, a
// 429 its Retry-After.
func TestOpenAPIDocumentIsComplete(t *testing.T) {
	doc, _ := loadAPIDoc(t)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	ids := map[string]string{}
	ops := 0
	for _, path := range doc.Paths.InMatchingOrder() {
		for method, op := range doc.Paths.Value(path).Operations() {
			ops++
			name := method + " " + path
			switch {
			case op.OperationID == "":
				t.Errorf("%s has no operationId", name)
			case ids[op.OperationID] != "":
				t.Errorf("%s and %s share the operationId %s", name, ids[op.OperationID], op.OperationID)
			}
			ids[op.OperationID] = name
			if op.Summary == "" || len(op.Description) < 20 || len(op.Tags) == 0 {
				t.Errorf("%s: summary %q, description %q, tags %v", name, op.Summary, op.Description, op.Tags)
			}
			if op.Security == nil && len(doc.Security) == 0 {
				t.Errorf("%s does not say which credentials it takes (security)", name)
			}
			for _, status := range []string{"401", "5XX"} {
				if op.Responses.Value(status) == nil {
					t.Errorf("%s does not document %s", name, status)
				}
			}
			twoXX := false
			for status, ref := range op.Responses.Map() {
				twoXX = twoXX || strings.HasPrefix(status, "2")
				for ctype, mt := range ref.Value.Content {
					if strings.HasSuffix(ctype, "json") && mt.Schema == nil {
						t.Errorf("%s: the %s %s answer has no schema", name, status, ctype)
					}
				}
			}
			if !twoXX {
				t.Errorf("%s documents no success", name)
			}
			if rb := op.RequestBody; rb != nil && rb.Value.Content.Get("application/json") != nil {
				for _, status := range []string{"400", "413", "415"} {
					if op.Responses.Value(status) == nil {
						t.Errorf("%s takes JSON and does not document %s", name, status)
					}
				}
				if rb.Value.Content.Get("application/json").Schema == nil {
					t.Errorf("%s: its JSON body has no schema", name)
				}
			}
		}
	}
	if ops < 50 {
		t.Fatalf("only %d operations", ops)
	}
	for status, header := range map[string]string{"Unauthorized": "WWW-Authenticate", "TooMany": "Retry-After"} {
		r := doc.Components.Responses[status]
		if r == nil || r.Value.Headers[header] == nil || !r.Value.Headers[header].Value.Required {
			t.Errorf("the %s answer does not carry %s", status, header)
		}
	}
	// Every shared problem answer is a problem document.
	var names []string
	for name := range doc.Components.Responses {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		mt := doc.Components.Responses[name].Value.Content.Get("application/problem+json")
		if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/Problem" {
			t.Errorf("the %s answer is not a problem document", name)
		}
	}
	// The headers that matter are documented where they are sent.
	for _, c := range []struct {
		method, path, status, header string
	}{
		{http.MethodGet, "/api/v1/nominations/{id}", "200", "ETag"},
		{http.MethodPatch, "/api/v1/nominations/{id}", "200", "ETag"},
		{http.MethodPost, "/api/v1/nominations/{id}/actions/{action}", "200", "ETag"},
		{http.MethodPost, "/api/v1/calls/{slug}/nominations", "201", "ETag"},
		{http.MethodPost, "/api/v1/calls/{slug}/nominations", "201", "Location"},
		{http.MethodPost, "/api/v1/calls", "201", "Location"},
		{http.MethodPost, "/api/v1/users", "201", "Location"},
		{http.MethodPost, "/api/v1/members", "201", "Location"},
		{http.MethodGet, "/api/v1/calls/{slug}/export", "200", "Content-Disposition"},
		{http.MethodGet, "/api/v1/bodies/{body}/roster", "200", "Content-Disposition"},
		{http.MethodGet, "/api/v1/nominations/{id}/attachments/{aid}", "200", "Content-Disposition"},
	} {
		op := doc.Paths.Value(c.path).GetOperation(c.method)
		if op == nil || op.Responses.Value(c.status) == nil || op.Responses.Value(c.status).Value.Headers[c.header] == nil {
			t.Errorf("%s %s: the %s answer does not document %s", c.method, c.path, c.status, c.header)
		}
	}
	patch := doc.Paths.Value("/api/v1/nominations/{id}").Patch
	if p := patch.Parameters.GetByInAndName(openapi3.ParameterInHeader, "If-Match"); p == nil || !p.Required {
		t.Error("PATCH /api/v1/nominations/{id} does not require If-Match")
	}
}
