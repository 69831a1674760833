package httpapi

import "testing"

// newFullTestServer returns the router with every route the service
// registers, for the tests that walk the route table.
func newFullTestServer(tb testing.TB) *Server {
	tb.Helper()
	s, _ := mustServer(tb, Config{})
	return s
}
