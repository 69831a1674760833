package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/spf13/cobra"

	"github.com/igf/nomina/internal/keyring"
)

// newKeysCmd returns `nomina keys`, which lists and rotates the signing
// secrets the instances share through the store.
func newKeysCmd(e env, configPath *string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "List or rotate the signing secrets kept in the store",
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "list",
			Short: "List the stored generations of the access-token keys and the link secret",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				return keysFromShell(cmd.Context(), e, *configPath, "list", "")
			},
		},
		&cobra.Command{
			Use:   "rotate [jwt|links|all]",
			Short: "Store a new generation; the old one verifies until what it signed expires",
			Long: "Store a new generation of the access-token keys (jwt), the link secret (links) or both\n" +
				"(all, the default). Running instances read it within a minute and sign with it two\n" +
				"minutes after it was stored; the generation it replaces keeps verifying the tokens and\n" +
				"links it signed until they expire. Needs the key-encryption key (NOMINA_SECRETS_KEY_FILE).",
			Args:      cobra.MaximumNArgs(1),
			ValidArgs: []string{keyring.AccessTokens, keyring.Links, "all"},
			RunE: func(cmd *cobra.Command, args []string) error {
				kind := "all"
				if len(args) == 1 {
					kind = args[0]
				}
				switch kind {
				case keyring.AccessTokens, keyring.Links, "all":
				default:
					return &exitError{code: 2, err: fmt.Errorf("rotate %q: want jwt, links or all", kind)}
				}
				return keysFromShell(cmd.Context(), e, *configPath, "rotate", kind)
			},
		},
	)
	return cmd
}

func keysFromShell(ctx context.Context, e env, configPath, verb, kind string) error {
	sh, err := openShellStore(ctx, e, configPath)
	if err != nil {
		return err
	}
	defer sh.Close(ctx)
	secrets := sh.store.Secrets()
	kinds := []string{keyring.AccessTokens, keyring.Links}
	if verb == "list" {
		for _, k := range kinds {
			docs, err := secrets.Secrets(ctx, k)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			for _, d := range docs {
				fmt.Fprintf(e.stdout, "%s\tcreated %s\tsigns from %s\tsealed with %s\n", d.ID,
					d.CreatedAt.Format(time.RFC3339), d.NotBefore.Format(time.RFC3339), d.KEK)
			}
		}
		return nil
	}
	path := kekPath(sh.cfg)
	kek, err := keyring.ReadKEKFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &exitError{code: 1, err: fmt.Errorf("no key-encryption key at %s: rotate where the instances' key file is, or set NOMINA_SECRETS_KEY_FILE", path)}
	}
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	if kind != "all" {
		kinds = []string{kind}
	}
	for _, k := range kinds {
		ring, err := keyring.NewRing(secrets, kek, keyring.Config{Kind: k, Refresh: secretsRefresh, Logger: sh.log})
		if err != nil {
			return err
		}
		if _, err := ring.Load(ctx); err != nil {
			// Check the key before storing anything sealed with it.
			return &exitError{code: 1, err: fmt.Errorf("%s: %w", k, err)}
		}
		g, err := ring.Rotate(ctx)
		if err != nil {
			return &exitError{code: 1, err: fmt.Errorf("%s: %w", k, err)}
		}
		fmt.Fprintf(e.stdout, "%s generation %d stored; it signs from %s\n", k, g.Gen, g.NotBefore.Format(time.RFC3339))
	}
	return nil
}
