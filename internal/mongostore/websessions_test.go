package mongostore_test

import (
	"context"
	"testing"
	"time"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

// Signing out logs the session's end in the revocation log before the
// session is removed, under auth.SessionKey of its hash, so instances that
// cache page sessions forget it.
func TestDeleteWebSessionIsLogged(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := context.Background()
	ws := st.WebSessions()
	now := time.Now().UTC().Truncate(time.Millisecond)
	s := &auth.WebSession{Hash: "h-1", UserID: "u-1", CreatedAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(24 * time.Hour)}
	if err := ws.CreateWebSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	before := now.Add(-time.Second)
	if err := ws.DeleteWebSession(ctx, "h-1"); err != nil {
		t.Fatal(err)
	}
	_, err := ws.WebSessionByHash(ctx, "h-1")
	wantCode(t, err, nomination.ENOTFOUND)
	log, err := st.Users().Revocations(ctx, before)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range log {
		if r.Key == auth.SessionKey("h-1") {
			n++
		}
	}
	if n != 1 || len(log) != 1 {
		t.Fatalf("log %+v: want one entry %q", log, auth.SessionKey("h-1"))
	}
}
