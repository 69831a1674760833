package httpapi

// The OpenAPI document's source is openapi/, split by area; the service
// embeds and serves the bundle, openapi.yaml (see health.go). go generate
// bundles it with Redocly CLI, pinned in .ci/openapi, then regenerates
// the Go client in apiclient/ from the bundle; CI fails when either is
// not current.

//go:generate openapi/bundle.sh openapi.yaml
//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2 -config ../../apiclient/oapi-codegen.yaml openapi.yaml
