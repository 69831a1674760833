// Package apiclient is a Go client of Nomina's HTTP API, generated from
// the OpenAPI document the service serves at /api/v1/openapi.yaml
// (internal/httpapi/openapi/) by oapi-codegen: `go generate
// ./internal/httpapi` regenerates client.gen.go, and CI fails when it is
// not current.
//
// Every operation of the document is a method named after its operationId;
// the ClientWithResponses variants decode each documented answer into a
// typed field (JSON200, ApplicationproblemJSON422, ...):
//
//	c, _ := apiclient.NewClientWithResponses("https://nomina.example.org")
//	tokens, _ := c.LoginWithResponse(ctx, apiclient.LoginJSONRequestBody{Email: email, Password: password})
//	calls, _ := c.ListCallsWithResponse(ctx, apiclient.BearerToken(tokens.JSON200.AccessToken))
package apiclient
