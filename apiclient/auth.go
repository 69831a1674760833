package apiclient

import (
	"context"
	"net/http"
)

// BearerToken sends token, an access token from Login or RefreshTokens, as
// the request's credential. Pass it to a call, or to the client with
// WithRequestEditorFn to use it for every call.
func BearerToken(token string) RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}
