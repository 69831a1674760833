package httpapi

import (
	"testing"

	"github.com/igf/nomina/internal/web"
)

// newFullTestServer returns the router with every route the service
// registers, the web pages included, for the tests that walk the route
// table.
func newFullTestServer(tb testing.TB) *Server {
	tb.Helper()
	pages, err := web.New(web.Config{})
	if err != nil {
		tb.Fatalf("pages: %v", err)
	}
	s, _ := mustServer(tb, Config{}, mountPages(pages))
	return s
}

// mountPages mounts the web pages as cmd/nomina does.
func mountPages(pages *web.Handler) func(*Server) {
	var routes []PageRoute
	for _, r := range pages.Routes() {
		routes = append(routes, PageRoute{Method: r.Method, Path: r.Path, Access: r.Access})
	}
	return Pages(routes, pages, pages.NotFound())
}
