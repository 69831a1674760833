package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/igf/nomina/internal/auth"
)

// nextSteps is what the start-up log ends with: the address to open and,
// when there is no administrator yet, the link that creates one.
type nextSteps struct {
	setupURL string
	expires  time.Time
	demo     []demoAccount
}

// firstAdminSetup makes the setup link when the store has no
// administrator and none is configured.
func firstAdminSetup(ctx context.Context, setup *auth.Setup, baseURL string) (string, time.Time, error) {
	token, expires, err := setup.Begin(ctx)
	if err != nil || token == "" {
		return "", time.Time{}, err
	}
	return strings.TrimSuffix(baseURL, "/") + "/setup/" + token, expires, nil
}

// log writes the next steps, once. The setup link (a secret: only the
// log shows it, and only this once) stands out in a box on a terminal; a
// JSON log carries it as an attribute.
func (n nextSteps) log(log *slog.Logger, stderr io.Writer, jsonLog bool, baseURL string) {
	if len(n.demo) > 0 {
		log.Info("demo ready: open "+baseURL+" and sign in with an account below", "url", baseURL)
		if jsonLog {
			for _, a := range n.demo {
				log.Info("demo account", "email", a.Email, "who", a.Who, "password", demoPassword)
			}
			return
		}
		printDemo(stderr, baseURL, n.demo)
		return
	}
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

// newServeCmd returns `nomina serve [--demo]`.
func newServeCmd(e env, configPath *string) *cobra.Command {
	var demo bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP service (the default)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return serve(cmd.Context(), e, *configPath, demo)
		},
	}
	cmd.Flags().BoolVar(&demo, "demo", false, "fill an empty store with the demo first (as `nomina demo`)")
	return cmd
}

// newDemoCmd returns `nomina demo`: the service, on a store the demo fills
// first when it is empty.
func newDemoCmd(e env, configPath *string) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run the service with an invented renewal to try (on an empty store)",
		Long: "Fill an empty store with a believable, invented renewal — a MAG call and a Leadership Panel call,\n" +
			"the secretariat, reviewers on every panel, candidates from every region and stakeholder group in\n" +
			"every state, past members — then serve it and print the accounts to sign in with. It refuses a\n" +
			"store holding anything that is not the demo's own; run it again on its own store to serve it again.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return serve(cmd.Context(), e, *configPath, true)
		},
	}
}
