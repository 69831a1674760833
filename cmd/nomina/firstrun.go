package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/igf/nomina/internal/auth"
)

// nextSteps is what the start-up log ends with: the address to open and,
// when there is no administrator yet, the link that creates one.
type nextSteps struct {
	setupURL string
	expires  time.Time
}

// firstAdminSetup makes the setup link when the store has no
// administrator and none is configured.
func firstAdminSetup(ctx context.Context, setup *auth.Setup, baseURL string) (nextSteps, error) {
	token, expires, err := setup.Begin(ctx)
	if err != nil || token == "" {
		return nextSteps{}, err
	}
	return nextSteps{setupURL: strings.TrimSuffix(baseURL, "/") + "/setup/" + token, expires: expires}, nil
}

// log writes the next steps, once. The setup link (a secret: only the
// log shows it, and only this once) stands out in a box on a terminal; a
// JSON log carries it as an attribute.
func (n nextSteps) log(log *slog.Logger, stderr io.Writer, jsonLog bool, baseURL string) {
	if n.setupURL == "" {
		log.Info("ready: open "+baseURL, "url", baseURL)
		return
	}
	expires := n.expires.UTC().Format("2006-01-02 15:04 UTC")
	if jsonLog {
		log.Warn("no administrator yet: open the setup link to create one", "setup_url", n.setupURL, "expires", expires)
		return
	}
	log.Warn("no administrator yet: open the setup link below to create one", "expires", expires)
	rule := strings.Repeat("=", 72)
	fmt.Fprintf(stderr, "\n%s\n\n  Nomina is ready at %s\n\n  No administrator yet. Create one with this link (it works once,\n  until %s):\n\n      %s\n\n  Or set NOMINA_ADMIN_EMAIL and NOMINA_ADMIN_PASSWORD, or run\n  `nomina users create`; or try it out with `nomina demo`.\n\n%s\n\n",
		rule, baseURL, expires, n.setupURL, rule)
}
