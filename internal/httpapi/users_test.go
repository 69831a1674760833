package httpapi

import (
	"context"
	"testing"

	"github.com/igf/nomina/internal/auth"
)

// Who may manage which accounts, checked through the router with real
// tokens.
func TestUserManagementOverHTTP(t *testing.T) {
	e := newAcctEnv(t)
	admin := e.staff("admin@example.org", auth.RoleAdmin)
	sec := e.staff("sec@example.org", auth.RoleSecretariat)
	e.register("cand@example.org", acctPassword)
	cand := e.login("cand@example.org", acctPassword)
	reviewer := e.staff("rev@example.org", auth.RoleReviewer)

	newUser := func(email string, roles ...string) map[string]any {
		return map[string]any{"email": email, "name": "New Person", "roles": roles, "panels": []string{"civil_society"}, "organization": "ISOC"}
	}
	creates := []struct {
		name   string
		token  string
		body   map[string]any
		status int
	}{
		{"secretariat cannot create an admin", sec.AccessToken, newUser("a2@example.org", "admin"), 403},
		{"secretariat cannot create a secretariat", sec.AccessToken, newUser("s2@example.org", "secretariat"), 403},
		{"secretariat cannot slip admin in beside reviewer", sec.AccessToken, newUser("s3@example.org", "reviewer", "admin"), 403},
		{"candidate cannot create", cand.AccessToken, newUser("c2@example.org", "candidate"), 403},
		{"reviewer cannot create", reviewer.AccessToken, newUser("c3@example.org", "candidate"), 403},
		{"anonymous cannot create", "", newUser("c4@example.org", "candidate"), 401},
		{"secretariat creates a reviewer", sec.AccessToken, newUser("panel@example.org", "reviewer"), 201},
		{"admin creates a secretariat", admin.AccessToken, newUser("sec2@example.org", "secretariat"), 201},
		{"taken address", admin.AccessToken, newUser("PANEL@example.org", "reviewer"), 409},
	}
	for _, tt := range creates {
		t.Run(tt.name, func(t *testing.T) {
			mustStatus(t, e.send("POST", "/api/v1/users", tt.token, tt.body), tt.status, nil)
		})
	}

	t.Run("list: staff only", func(t *testing.T) {
		mustStatus(t, e.send("GET", "/api/v1/users", cand.AccessToken, nil), 403, nil)
		mustStatus(t, e.send("GET", "/api/v1/users", reviewer.AccessToken, nil), 403, nil)
		mustStatus(t, e.send("GET", "/api/v1/users", "", nil), 401, nil)
		var page userListResponse
		mustStatus(t, e.send("GET", "/api/v1/users?role=reviewer&limit=1", sec.AccessToken, nil), 200, &page)
		if len(page.Items) != 1 || page.Items[0].Email != "panel@example.org" || page.NextCursor == "" {
			t.Fatalf("first page %+v", page)
		}
		mustStatus(t, e.send("GET", "/api/v1/users?role=reviewer&limit=1&cursor="+page.NextCursor, sec.AccessToken, nil), 200, &page)
		if len(page.Items) != 1 || page.Items[0].Email != "rev@example.org" {
			t.Fatalf("second page %+v", page)
		}
		mustStatus(t, e.send("GET", "/api/v1/users?limit=abc", sec.AccessToken, nil), 422, nil)
		mustStatus(t, e.send("GET", "/api/v1/users?limit=0", sec.AccessToken, nil), 422, nil)
		mustStatus(t, e.send("GET", "/api/v1/users?limit=1000", sec.AccessToken, nil), 422, nil)
	})

	t.Run("a created user without password is mailed a set-password link", func(t *testing.T) {
		tok := e.mailedToken("set_password", "panel@example.org")
		e.shared.add("copper meadow lantern")
		mustStatus(t, e.send("POST", "/api/v1/auth/password-reset/"+tok, "", map[string]string{"password": "copper meadow lantern"}), 204, nil)
		var me userResponse
		mustStatus(t, e.send("GET", "/api/v1/me", e.login("panel@example.org", "copper meadow lantern").AccessToken, nil), 200, &me)
		if me.Organization != "ISOC" || len(me.Panels) != 1 || me.Roles[0] != "reviewer" {
			t.Fatalf("me = %+v", me)
		}
	})

	ids := map[string]string{}
	var list userListResponse
	mustStatus(t, e.send("GET", "/api/v1/users", admin.AccessToken, nil), 200, &list)
	for _, u := range list.Items {
		ids[u.Email] = u.ID
	}
	updates := []struct {
		name   string
		token  string
		id     string
		body   string
		status int
	}{
		{"secretariat makes a candidate a reviewer", sec.AccessToken, ids["cand@example.org"], `{"roles":["reviewer"],"panels":["lp_committee"]}`, 200},
		{"secretariat cannot make anyone admin", sec.AccessToken, ids["cand@example.org"], `{"roles":["admin"]}`, 403},
		{"secretariat cannot disable a secretariat", sec.AccessToken, ids["sec2@example.org"], `{"disabled":true}`, 403},
		{"secretariat cannot disable the admin", sec.AccessToken, ids["admin@example.org"], `{"disabled":true}`, 403},
		{"admin cannot disable themselves", admin.AccessToken, ids["admin@example.org"], `{"disabled":true}`, 403},
		{"candidate cannot update", cand.AccessToken, ids["cand@example.org"], `{"roles":["admin"]}`, 403},
		{"unknown user", admin.AccessToken, "u-nobody", `{"disabled":true}`, 404},
		{"bad panel", admin.AccessToken, ids["rev@example.org"], `{"panels":["Not A Panel"]}`, 422},
		{"unknown field", admin.AccessToken, ids["rev@example.org"], `{"email":"x@example.org"}`, 400},
		{"admin disables a secretariat", admin.AccessToken, ids["sec2@example.org"], `{"disabled":true}`, 200},
	}
	for _, tt := range updates {
		t.Run(tt.name, func(t *testing.T) {
			mustStatus(t, e.send("PATCH", "/api/v1/users/"+tt.id, tt.token, tt.body), tt.status, nil)
		})
	}
	// The candidate's existing token carries the new role at once: roles
	// are read from the account on every request.
	var me userResponse
	mustStatus(t, e.send("GET", "/api/v1/me", cand.AccessToken, nil), 200, &me)
	if len(me.Roles) != 1 || me.Roles[0] != "reviewer" || me.Panels[0] != "lp_committee" {
		t.Fatalf("after promotion: %+v", me)
	}
	if u, _ := e.svc.User(context.Background(), ids["sec2@example.org"]); !u.Disabled {
		t.Fatal("secretariat not disabled")
	}
}
