package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/nomination"
)

// newUsersCmd returns `nomina users`, which manages accounts from the shell.
// configPath points at the root command's --config flag.
func newUsersCmd(e env, configPath *string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Manage accounts",
	}
	var in auth.NewUser
	var roles []string
	create := &cobra.Command{
		Use:   "create --email ADDRESS --name NAME --role ROLE [--role ROLE] [--panel PANEL ...]",
		Short: "Create an account; its password is read from standard input",
		Long: "Create an account in the configured store. The password is the first line of standard\n" +
			"input, so it never appears in the process list or the shell history:\n\n" +
			"    printf '%s\\n' \"$PASSWORD\" | nomina users create --email ana@example.org --name 'Ana' --role admin\n\n" +
			"An empty line creates the account without a password and queues a mail with a link to\n" +
			"set one. With the embedded store, run it while the service is stopped.",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, r := range roles {
				in.Roles = append(in.Roles, auth.Role(r))
			}
			password, err := readPassword(e.stdin)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			in.Password = password
			return createUserFromShell(cmd.Context(), e, *configPath, in)
		},
	}
	create.Flags().StringVar(&in.Email, "email", "", "the account's email address (required)")
	create.Flags().StringVar(&in.Name, "name", "", "the person's name (required)")
	create.Flags().StringSliceVar(&roles, "role", nil, "a role: candidate, reviewer, secretariat or admin (repeatable; required)")
	create.Flags().StringSliceVar(&in.Panels, "panel", nil, "a panel the reviewer sits on (repeatable)")
	create.Flags().StringVar(&in.Organization, "organization", "", "the person's organisation")
	for _, f := range []string{"email", "name", "role"} {
		_ = create.MarkFlagRequired(f)
	}
	cmd.AddCommand(create)
	return cmd
}

// readPassword returns the first line of r without its line ending. It
// reads at most a little more than the longest password allowed.
func readPassword(r io.Reader) (string, error) {
	if r == nil {
		return "", nil
	}
	br := bufio.NewReader(io.LimitReader(r, 4*auth.MaxPasswordLength+3))
	line, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	if errors.Is(err, io.EOF) && len(line) == 4*auth.MaxPasswordLength+3 {
		return "", fmt.Errorf("the password on standard input is longer than %d characters", auth.MaxPasswordLength)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// createUserFromShell opens the configured store, creates the account and
// prints it. Invalid input and a taken address exit with status 1 and say
// which field is wrong.
func createUserFromShell(ctx context.Context, e env, configPath string, in auth.NewUser) error {
	sh, err := openShellStore(ctx, e, configPath)
	if err != nil {
		return err
	}
	defer sh.Close(ctx)
	cfg, log, store := sh.cfg, sh.log, sh.store
	// No token is issued here, so a throwaway key serves; the service's
	// own keys stay untouched.
	keys, _, err := auth.GenerateKeys(rand.Reader)
	if err != nil {
		return err
	}
	// Links made here are sealed: the service's mail worker signs them
	// with the shared link secret when it sends the message, so no key is
	// needed here.
	svc, err := auth.NewService(store.Users(), store.MailQueue(), keys, auth.Config{BaseURL: cfg.BaseURL, Logger: log,
		Links: nomination.NewLinkSigner(nil)})
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	u, err := svc.Provision(ctx, in)
	if err != nil {
		return &exitError{code: 1, err: describe(err)}
	}
	fmt.Fprintf(e.stdout, "created %s %s roles=%s", u.ID, u.Email, joinRoles(u.Roles))
	if len(u.Panels) > 0 {
		fmt.Fprintf(e.stdout, " panels=%s", strings.Join(u.Panels, ","))
	}
	fmt.Fprintln(e.stdout)
	if u.PasswordHash == "" {
		fmt.Fprintf(e.stdout, "no password given: a set-password link is queued for %s\n", u.Email)
	}
	return nil
}

// describe spells out a domain error with every field it names.
func describe(err error) error {
	var de *nomination.Error
	if !errors.As(err, &de) {
		return err
	}
	if len(de.Fields) == 0 {
		return errors.New(de.Message)
	}
	parts := make([]string, len(de.Fields))
	for i, f := range de.Fields {
		parts[i] = sourceOf(f.Field) + " " + f.Message
	}
	return errors.New(strings.Join(parts, "; "))
}

// sourceOf names where a domain field came from on the command line.
func sourceOf(field string) string {
	switch {
	case strings.HasPrefix(field, "roles"):
		return "--role"
	case strings.HasPrefix(field, "panels"):
		return "--panel"
	case field == "password":
		return "the password on standard input"
	}
	return "--" + field
}

func joinRoles(roles []auth.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}
