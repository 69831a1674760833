package httpapi

import (
	"net/http"
	"testing"
	"time"
)

// A password change needs the current password, ends every earlier access
// token and refresh family, and hands the caller a working new pair.
func TestChangePasswordOverHTTP(t *testing.T) {
	st := newStack(t)
	ana := st.candidate("ana@example.org")
	pair, err := st.auth.Login(t.Context(), ana.Email, testPassword, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	other := pair.RefreshToken
	const newPW = "an entirely new passphrase 93"
	st.secrets = append(st.secrets, other, newPW, pair.AccessToken)

	cases := []struct {
		name  string
		body  any
		want  int
		field string
	}{
		{"wrong current", map[string]any{"current_password": "not my password at all", "password": newPW}, 422, "current_password"},
		{"missing current", map[string]any{"password": newPW}, 422, "current_password"},
		{"weak new", map[string]any{"current_password": testPassword, "password": "password"}, 422, "password"},
		{"unknown field", map[string]any{"current_password": testPassword, "password": newPW, "admin": true}, 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := st.call("POST", "/api/v1/auth/password", ana, tc.body)
			p := mustProblem(t, rec, tc.want)
			if tc.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tc.field) {
				t.Fatalf("errors = %+v, want field %s", p.Errors, tc.field)
			}
		})
	}
	mustProblem(t, serve(t, st.srv, testRequest(t, "POST", "/api/v1/auth/password", "", map[string]any{"current_password": testPassword, "password": newPW})), http.StatusUnauthorized)

	st.clock.Advance(2 * time.Second)
	var out tokenResponse
	mustStatus(t, st.call("POST", "/api/v1/auth/password", ana, map[string]any{"current_password": testPassword, "password": newPW}), 200, &out)
	st.secrets = append(st.secrets, out.AccessToken, out.RefreshToken)
	if out.AccessToken == "" || out.RefreshToken == "" {
		t.Fatalf("no new pair: %+v", out)
	}
	// The old token and the other session are over; the new pair works.
	mustProblem(t, st.call("GET", "/api/v1/me", ana, nil), http.StatusUnauthorized)
	mustProblem(t, serve(t, st.srv, testRequest(t, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": other})), http.StatusUnauthorized)
	mustStatus(t, st.call("GET", "/api/v1/me", account{Token: out.AccessToken}, nil), 200, nil)
	if _, err := st.auth.Login(t.Context(), ana.Email, testPassword, "127.0.0.1"); err == nil {
		t.Fatal("the old password still signs in")
	}
	if _, err := st.auth.Login(t.Context(), ana.Email, newPW, "127.0.0.1"); err != nil {
		t.Fatalf("the new password does not sign in: %v", err)
	}
}
