package httpapi

// The OpenAPI document's source is openapi/, split by area; the service
// embeds and serves the bundle, openapi.yaml (see health.go). go generate
// bundles it with Redocly CLI, pinned in .ci/openapi; CI fails when the
// bundle is not current.

//go:generate openapi/bundle.sh openapi.yaml
