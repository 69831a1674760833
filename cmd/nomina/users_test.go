package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/mongostore"
)

// runUsers runs `nomina users <args>` in-process against the embedded
// store in dataDir, with stdin as standard input.
func runUsers(t *testing.T, dataDir, stdin string, args ...string) (string, error) {
	t.Helper()
	vals := map[string]string{"NOMINA_DATA_DIR": dataDir, "NOMINA_CONFIG": ""}
	var out bytes.Buffer
	e := env{getenv: func(k string) string { return vals[k] }, stdin: strings.NewReader(stdin), stdout: &out, stderr: io.Discard}
	configPath := "../../config/nomina.yaml"
	cmd := newUsersCmd(e, &configPath)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// storedUser opens the data directory's store after the command has closed
// it and returns the account with that address.
func storedUser(t *testing.T, dataDir, email string) (*auth.User, error) {
	t.Helper()
	ctx := context.Background()
	c, err := mongostore.Connect(ctx, mongostore.Options{DataDir: dataDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	_, key, err := auth.NormalizeEmail(email)
	if err != nil {
		t.Fatal(err)
	}
	return mongostore.New(c.Database("nomina"), nil).Users().UserByEmailKey(ctx, key)
}

func TestUsersCreate(t *testing.T) {
	dir := t.TempDir()
	out, err := runUsers(t, dir, "copper meadow lantern\n",
		"create", "--email", "Root@Example.org", "--name", "Root", "--role", "admin", "--role", "reviewer", "--panel", "civil_society")
	if err != nil {
		t.Fatalf("create: %v (%s)", err, out)
	}
	if !strings.Contains(out, "created u-") || !strings.Contains(out, "roles=reviewer,admin") || strings.Contains(out, "copper") {
		t.Fatalf("output %q", out)
	}

	t.Run("taken address", func(t *testing.T) {
		_, err := runUsers(t, dir, "another good passphrase\n", "create", "--email", "root@example.org", "--name", "Again", "--role", "admin")
		if err == nil || !strings.Contains(err.Error(), "--email is already registered") {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("weak password", func(t *testing.T) {
		_, err := runUsers(t, dir, "password1\n", "create", "--email", "weak@example.org", "--name", "Weak", "--role", "candidate")
		if err == nil || !strings.Contains(err.Error(), "the password on standard input") {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("unknown role", func(t *testing.T) {
		_, err := runUsers(t, dir, "another good passphrase\n", "create", "--email", "x@example.org", "--name", "X", "--role", "root")
		if err == nil || !strings.Contains(err.Error(), "--role") {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("missing flags", func(t *testing.T) {
		if _, err := runUsers(t, dir, "", "create", "--email", "x@example.org"); err == nil {
			t.Fatal("accepted without --name and --role")
		}
	})
	t.Run("no password queues a set-password mail", func(t *testing.T) {
		out, err := runUsers(t, dir, "\n", "create", "--email", "rev@example.org", "--name", "Rev", "--role", "reviewer")
		if err != nil || !strings.Contains(out, "set-password link is queued") {
			t.Fatalf("create without password: %v, %q", err, out)
		}
	})

	u, err := storedUser(t, dir, "root@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := auth.VerifyPassword("copper meadow lantern", u.PasswordHash); !ok || !u.HasRole(auth.RoleAdmin) || u.Panels[0] != "civil_society" {
		t.Fatalf("stored %+v", u)
	}
	if _, err := storedUser(t, dir, "weak@example.org"); err == nil {
		t.Fatal("an account with a refused password was stored")
	}
}

func TestReadPassword(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"line", "copper meadow lantern\nrest", "copper meadow lantern", true},
		{"CRLF", "copper meadow lantern\r\n", "copper meadow lantern", true},
		{"no newline", "copper meadow lantern", "copper meadow lantern", true},
		{"spaces kept", "  two spaces  \n", "  two spaces  ", true},
		{"empty", "", "", true},
		{"too long", strings.Repeat("x", 5000), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readPassword(strings.NewReader(tt.in))
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("readPassword = %q, %v", got, err)
			}
		})
	}
}
