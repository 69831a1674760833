package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/nomination"
)

// userResponse is an account as the API shows it: never its password hash.
type userResponse struct {
	ID           string   `json:"id"`
	Email        string   `json:"email"`
	Name         string   `json:"name"`
	Roles        []string `json:"roles"`
	Panels       []string `json:"panels"`
	Organization string   `json:"organization"`
	Disabled     bool     `json:"disabled"`
	// EmailConfirmed says the owner has confirmed the address.
	EmailConfirmed bool      `json:"email_confirmed"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func toUserResponse(u *auth.User) userResponse {
	r := userResponse{
		ID: u.ID, Email: u.Email, Name: u.Name, Roles: make([]string, 0, len(u.Roles)),
		Panels: append([]string{}, u.Panels...), Organization: u.Organization, Disabled: u.Disabled,
		EmailConfirmed: u.EmailConfirmed(), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
	for _, role := range u.Roles {
		r.Roles = append(r.Roles, string(role))
	}
	return r
}

type userListResponse struct {
	Items      []userResponse `json:"items"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

type createUserRequest struct {
	Email        string   `json:"email"`
	Name         string   `json:"name"`
	Roles        []string `json:"roles"`
	Panels       []string `json:"panels"`
	Organization string   `json:"organization"`
	// Password is optional: without one the user is mailed a link to set it.
	Password string `json:"password"`
}

type updateUserRequest struct {
	Name         *string   `json:"name"`
	Roles        *[]string `json:"roles"`
	Panels       *[]string `json:"panels"`
	Organization *string   `json:"organization"`
	Disabled     *bool     `json:"disabled"`
}

func toRoles(in []string) []auth.Role {
	out := make([]auth.Role, len(in))
	for i, r := range in {
		out[i] = auth.Role(r)
	}
	return out
}

func (r updateUserRequest) toPatch() auth.UserPatch {
	p := auth.UserPatch{Name: r.Name, Panels: r.Panels, Organization: r.Organization, Disabled: r.Disabled}
	if r.Roles != nil {
		roles := toRoles(*r.Roles)
		p.Roles = &roles
	}
	return p
}

func (s *Server) createUser(c *gin.Context) {
	svc, ok := s.accounts(c)
	if !ok {
		return
	}
	var req createUserRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	u, err := svc.CreateUser(c.Request.Context(), principalOf(CallerOf(c)), auth.NewUser{
		Email: req.Email, Name: req.Name, Roles: toRoles(req.Roles), Panels: req.Panels,
		Organization: req.Organization, Password: req.Password,
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/users/"+u.ID)
	c.JSON(http.StatusCreated, toUserResponse(u))
}

func (s *Server) listUsers(c *gin.Context) {
	svc, ok := s.accounts(c)
	if !ok {
		return
	}
	q := auth.UserQuery{Role: auth.Role(c.Query("role")), Panel: c.Query("panel"), Cursor: c.Query("cursor")}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil {
			s.fail(c, nomination.Invalid(nomination.Problem("limit", "WholeNumber", "must be a whole number")))
			return
		}
		if n == 0 {
			n = -1 // an explicit 0 is out of range, not the default
		}
		q.Limit = n
	}
	page, err := svc.ListUsers(c.Request.Context(), principalOf(CallerOf(c)), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	resp := userListResponse{Items: make([]userResponse, 0, len(page.Items)), NextCursor: page.NextCursor}
	for _, u := range page.Items {
		resp.Items = append(resp.Items, toUserResponse(u))
	}
	c.JSON(http.StatusOK, resp)
}

func (s *Server) updateUser(c *gin.Context) {
	svc, ok := s.accounts(c)
	if !ok {
		return
	}
	var req updateUserRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	u, err := svc.UpdateUser(c.Request.Context(), principalOf(CallerOf(c)), c.Param("id"), req.toPatch())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toUserResponse(u))
}
