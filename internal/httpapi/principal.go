package httpapi

import (
	"context"

	"github.com/igf/nomina/internal/auth"
)

// AuthenticateWith adapts the account service's token check to the
// router's Authenticate hook.
func AuthenticateWith(svc *auth.Service) func(ctx context.Context, token string) (*Caller, error) {
	return func(ctx context.Context, token string) (*Caller, error) {
		p, err := svc.Authenticate(ctx, token)
		if err != nil {
			return nil, err
		}
		roles := make([]string, len(p.Roles))
		for i, r := range p.Roles {
			roles[i] = string(r)
		}
		return &Caller{UserID: p.UserID, Email: p.Email, Name: p.Name, Roles: roles, Panels: p.Panels, Organization: p.Organization,
			EmailConfirmed: p.EmailConfirmed, SessionID: p.SessionID}, nil
	}
}

// principalOf returns the caller as the account service knows it.
func principalOf(c *Caller) *auth.Principal {
	if c == nil {
		return nil
	}
	roles := make([]auth.Role, len(c.Roles))
	for i, r := range c.Roles {
		roles[i] = auth.Role(r)
	}
	return &auth.Principal{UserID: c.UserID, Email: c.Email, Name: c.Name, Roles: roles, Panels: c.Panels, Organization: c.Organization,
		EmailConfirmed: c.EmailConfirmed, SessionID: c.SessionID}
}
