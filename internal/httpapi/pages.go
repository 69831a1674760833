package httpapi

import (
	"context"
	"net/http"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"
)

// PageAccess returns the access declaration of a web page that who may
// use ("public", "signed-in", as the pages declare it): the page handler
// checks the browser's session itself (and answers with the sign-in page,
// not a problem document), bounds its own request bodies and sets its own
// headers, so the API's bearer-token check and body limit stand aside.
// The route table names it "page:" + who.
func PageAccess(who string) Access { return Access{page: true, pageWho: who} }

// PageRoute is one route of the web pages, in net/http.ServeMux pattern
// syntax ("/nominations/{id}"), with who may use it.
type PageRoute struct {
	Method string
	Path   string
	Access string
}

var muxParam = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// ginPath turns a ServeMux pattern into gin's syntax.
func ginPath(p string) string { return muxParam.ReplaceAllString(p, ":$1") }

// Pages mounts the web pages on the router: each route is registered with
// the Page access declaration and served by h, which routes it again with
// its own patterns. notFound, when set, answers unmatched paths outside
// /api/ with a page instead of a problem document.
func Pages(routes []PageRoute, h http.Handler, notFound http.Handler) func(*Server) {
	return func(s *Server) {
		serve := func(c *gin.Context) {
			// The page sees the client address the router trusts
			// (forwarding headers only from trusted proxies).
			r := c.Request.WithContext(context.WithValue(c.Request.Context(), clientIPKey{}, c.ClientIP()))
			h.ServeHTTP(c.Writer, r)
		}
		for _, r := range routes {
			s.Handle(r.Method, ginPath(r.Path), PageAccess(r.Access), serve)
		}
		s.pageNotFound = notFound
	}
}

// isPageRoute reports whether the request matched a page route.
func (s *Server) isPageRoute(c *gin.Context) bool {
	a, ok := s.access[c.Request.Method+" "+c.FullPath()]
	return ok && a.page
}

// notFound answers an unmatched path: a page for browsers outside the
// API when pages are mounted, else a problem document.
func (s *Server) notFound(c *gin.Context) {
	if s.pageNotFound != nil && !strings.HasPrefix(c.Request.URL.Path, "/api/") {
		s.pageNotFound.ServeHTTP(c.Writer, c.Request)
		return
	}
	s.problem(c, http.StatusNotFound, "not found", "no such resource", nil)
}

type clientIPKey struct{}

// ClientIP returns the client address of a page request as the router
// judged it, honouring forwarding headers from trusted proxies only; ""
// outside a mounted page.
func ClientIP(r *http.Request) string {
	ip, _ := r.Context().Value(clientIPKey{}).(string)
	return ip
}
