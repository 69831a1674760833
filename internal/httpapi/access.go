package httpapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// Access declares who may call a route. Every route must have one: Handle
// is the only way to register a route, and a test walks the router's table
// to make sure of it (deny by default).
type Access struct {
	public bool
	page   bool
	// pageWho says who may use a page (see PageAccess).
	pageWho string
	roles   []string // any of these; empty with public=false means any signed-in user
}

// Public routes need no credentials.
var Public = Access{public: true}

// Authenticated routes need a valid access token; the domain services check
// the caller against each record.
var Authenticated = Access{}

// Roles returns an Access for callers holding any of roles (an admin counts
// as secretariat).
func Roles(roles ...string) Access { return Access{roles: roles} }

// String describes the declaration, for the route table test.
func (a Access) String() string {
	switch {
	case a.page:
		return "page:" + a.pageWho
	case a.public:
		return "public"
	case len(a.roles) == 0:
		return "authenticated"
	default:
		return "roles:" + strings.Join(a.roles, ",")
	}
}

// Handle registers h for method and path behind the access check acc.
func (s *Server) Handle(method, path string, acc Access, h ...gin.HandlerFunc) {
	s.access[method+" "+path] = acc
	chain := append([]gin.HandlerFunc{s.authorize(acc)}, h...)
	s.engine.Handle(method, path, chain...)
}

// AccessOf returns the declaration of a registered route.
func (s *Server) AccessOf(method, path string) (Access, bool) {
	a, ok := s.access[method+" "+path]
	return a, ok
}

// Routes lists the registered routes as "METHOD path".
func (s *Server) Routes() []gin.RouteInfo { return s.engine.Routes() }

func (s *Server) authorize(acc Access) gin.HandlerFunc {
	return func(c *gin.Context) {
		if acc.public || acc.page {
			c.Next()
			return
		}
		caller := CallerOf(c)
		if caller == nil {
			c.Header("WWW-Authenticate", `Bearer realm="nomina"`)
			s.problem(c, http.StatusUnauthorized, "unauthorized", "a valid access token is required", nil)
			c.Abort()
			return
		}
		if len(acc.roles) > 0 {
			ok := false
			for _, r := range acc.roles {
				if caller.HasRole(r) {
					ok = true
					break
				}
			}
			if !ok {
				s.problem(c, http.StatusForbidden, "forbidden", "your role does not allow this", nil)
				c.Abort()
				return
			}
		}
		c.Next()
	}
}

const callerKey = "nomina.caller"

// CallerOf returns the authenticated caller of the request, or nil.
func CallerOf(c *gin.Context) *Caller {
	v, ok := c.Get(callerKey)
	if !ok {
		return nil
	}
	caller, _ := v.(*Caller)
	return caller
}

// authenticate resolves a bearer token, when one is sent, into the caller.
// A token that does not verify is answered 401 at once, even on public
// routes, so a client learns its session has ended.
func (s *Server) authenticate(c *gin.Context) {
	h := c.GetHeader("Authorization")
	if h == "" || s.isPageRoute(c) {
		c.Next()
		return
	}
	const prefix = "bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) || s.cfg.Authenticate == nil {
		c.Header("WWW-Authenticate", `Bearer realm="nomina", error="invalid_token"`)
		s.problem(c, http.StatusUnauthorized, "unauthorized", "the access token is not valid", nil)
		c.Abort()
		return
	}
	caller, err := s.cfg.Authenticate(c.Request.Context(), strings.TrimSpace(h[len(prefix):]))
	if err != nil || caller == nil {
		c.Header("WWW-Authenticate", `Bearer realm="nomina", error="invalid_token"`)
		if err != nil {
			s.fail(c, err)
		} else {
			s.problem(c, http.StatusUnauthorized, "unauthorized", "the access token is not valid", nil)
		}
		c.Abort()
		return
	}
	c.Set(callerKey, caller)
	c.Next()
}
