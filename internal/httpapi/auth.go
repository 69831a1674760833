package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/nomination"
)

// accountRoutes registers sign-up, sign-in, sessions, password reset, the
// caller's own account and account management.
func (s *Server) accountRoutes() {
	const v1 = "/api/v1"
	s.Handle(http.MethodPost, v1+"/auth/register", Public, s.authRegister)
	s.Handle(http.MethodPost, v1+"/auth/login", Public, s.authLogin)
	s.Handle(http.MethodPost, v1+"/auth/refresh", Public, s.authRefresh)
	s.Handle(http.MethodPost, v1+"/auth/logout", Authenticated, s.authLogout)
	s.Handle(http.MethodPost, v1+"/auth/password", Authenticated, s.authChangePassword)
	s.Handle(http.MethodPost, v1+"/auth/password-reset", Public, s.authRequestReset)
	s.Handle(http.MethodPost, v1+"/auth/password-reset/:token", Public, s.authResetPassword)
	s.Handle(http.MethodPost, v1+"/auth/confirm-email", Public, s.authConfirmEmail)
	s.Handle(http.MethodPost, v1+"/auth/confirm-email/resend", Authenticated, s.authResendConfirmation)
	s.Handle(http.MethodGet, v1+"/me", Authenticated, s.getMe)
	// The account service checks again which accounts a secretariat
	// member may touch; the route only keeps everyone else out early.
	s.Handle(http.MethodPost, v1+"/users", Roles("secretariat"), s.createUser)
	s.Handle(http.MethodGet, v1+"/users", Roles("secretariat"), s.listUsers)
	s.Handle(http.MethodPatch, v1+"/users/:id", Roles("secretariat"), s.updateUser)
}

// accounts returns the account service, or answers 503 when the server
// was built without one.
func (s *Server) accounts(c *gin.Context) (*auth.Service, bool) {
	if s.cfg.Auth == nil {
		s.fail(c, nomination.Fail(nomination.EUNAVAILABLE, "NoAccounts", "accounts are not available"))
		return nil, false
	}
	return s.cfg.Auth, true
}

type registerRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

type passwordResetRequest struct {
	Email string `json:"email"`
}

type newPasswordRequest struct {
	Password string `json:"password"`
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

func toTokenResponse(p *auth.TokenPair) tokenResponse {
	return tokenResponse{AccessToken: p.AccessToken, RefreshToken: p.RefreshToken, TokenType: "Bearer", ExpiresIn: p.ExpiresIn}
}

// writeTokens answers with a token pair, which no cache may keep
// (RFC 6749 §5.1).
func writeTokens(c *gin.Context, p *auth.TokenPair) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	c.JSON(http.StatusOK, toTokenResponse(p))
}

func (s *Server) authRegister(c *gin.Context) {
	svc, ok := s.accounts(c)
	if !ok {
		return
	}
	var req registerRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	err := svc.Register(c.Request.Context(), auth.Registration{Email: req.Email, Password: req.Password, Name: req.Name, ClientIP: c.ClientIP()})
	if err != nil {
		s.fail(c, err)
		return
	}
	// The same answer whether the address was new or had an account: the
	// owner of the address learns which from the mail.
	c.JSON(http.StatusAccepted, gin.H{"status": "accepted",
		"detail": "check your mailbox: a message to the address you gave says how to go on"})
}

type confirmEmailRequest struct {
	Token string `json:"token"`
}

// authConfirmEmail takes the token of a mailed confirmation link.
func (s *Server) authConfirmEmail(c *gin.Context) {
	svc, ok := s.accounts(c)
	if !ok {
		return
	}
	var req confirmEmailRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if err := svc.ConfirmEmail(c.Request.Context(), req.Token); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// authResendConfirmation mails the caller a new confirmation link.
func (s *Server) authResendConfirmation(c *gin.Context) {
	svc, ok := s.accounts(c)
	if !ok {
		return
	}
	if err := svc.RequestEmailConfirmation(c.Request.Context(), principalOf(CallerOf(c))); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"status": "accepted"})
}

func (s *Server) authLogin(c *gin.Context) {
	svc, ok := s.accounts(c)
	if !ok {
		return
	}
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	// ClientIP honours forwarding headers only from the proxies the engine
	// trusts, so a client cannot pick the address it is throttled under.
	pair, err := svc.Login(c.Request.Context(), req.Email, req.Password, c.ClientIP())
	if err != nil {
		s.fail(c, err)
		return
	}
	writeTokens(c, pair)
}

func (s *Server) authRefresh(c *gin.Context) {
	svc, ok := s.accounts(c)
	if !ok {
		return
	}
	var req refreshRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	pair, err := svc.Refresh(c.Request.Context(), req.RefreshToken)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeTokens(c, pair)
}

// authLogout ends the session of the access token and, when the body names
// one, the session of that refresh token. The body is optional.
func (s *Server) authLogout(c *gin.Context) {
	svc, ok := s.accounts(c)
	if !ok {
		return
	}
	var req refreshRequest
	if c.Request.ContentLength != 0 {
		if err := decodeJSON(c, &req); err != nil {
			s.fail(c, err)
			return
		}
	}
	if err := svc.Logout(c.Request.Context(), principalOf(CallerOf(c)), req.RefreshToken); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// authRequestReset answers 202 whether or not the address has an account,
// so the answer tells nobody which addresses are registered.
func (s *Server) authRequestReset(c *gin.Context) {
	svc, ok := s.accounts(c)
	if !ok {
		return
	}
	var req passwordResetRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if err := svc.RequestPasswordReset(c.Request.Context(), req.Email); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"status": "accepted"})
}

func (s *Server) authResetPassword(c *gin.Context) {
	svc, ok := s.accounts(c)
	if !ok {
		return
	}
	var req newPasswordRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if err := svc.ResetPassword(c.Request.Context(), c.Param("token"), req.Password); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) getMe(c *gin.Context) {
	svc, ok := s.accounts(c)
	if !ok {
		return
	}
	u, err := svc.User(c.Request.Context(), CallerOf(c).UserID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toUserResponse(u))
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	Password        string `json:"password"`
}

// authChangePassword replaces the caller's password, which ends every
// session and token family of the account, and answers with a new token
// pair so the caller carries on.
func (s *Server) authChangePassword(c *gin.Context) {
	svc, ok := s.accounts(c)
	if !ok {
		return
	}
	var req changePasswordRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	u, err := svc.ChangePassword(c.Request.Context(), principalOf(CallerOf(c)), req.CurrentPassword, req.Password, c.ClientIP())
	if err != nil {
		s.fail(c, err)
		return
	}
	pair, err := svc.NewTokenPair(c.Request.Context(), u)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeTokens(c, pair)
}
