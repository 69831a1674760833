// Command nomina runs the Nomina service and its administrative commands.
//
// With no subcommand it serves: `go run ./cmd/nomina` starts a working
// service on 127.0.0.1:8080 with the embedded store in ./data.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/igf/nomina/internal/config"
	"github.com/igf/nomina/internal/httpapi"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitError carries a process exit status through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// env is the process environment and standard streams, passed in so tests
// can run commands in-process.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// extraRoutes lets tests add routes (a deliberately slow one, say) to
	// the served router.
	extraRoutes []func(*httpapi.Server)
	// listening, when set, receives the bound address once serving.
	listening chan<- string
}

// run executes the command line and returns the exit status: 0 success,
// 1 failure, 2 bad configuration or usage.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runEnv(ctx, args, env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr})
}

// runEnv is run with the environment gathered in e.
func runEnv(ctx context.Context, args []string, e env) int {
	stdin, stdout, stderr := e.stdin, e.stdout, e.stderr
	root := newRootCmd(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var xe *exitError
	if errors.As(err, &xe) {
		if xe.err != nil {
			fmt.Fprintln(stderr, "nomina:", xe.err)
		}
		return xe.code
	}
	var se *config.SettingError
	if errors.As(err, &se) {
		fmt.Fprintln(stderr, "nomina:", se)
		return 2
	}
	fmt.Fprintln(stderr, "nomina:", err)
	return 1
}

func newRootCmd(e env) *cobra.Command {
	var configPath string
	root := &cobra.Command{
		Use:           "nomina",
		Short:         "Nomination and membership workflows of the Internet Governance Forum",
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return serve(cmd.Context(), e, configPath, false)
		},
	}
	root.PersistentFlags().StringVar(&configPath, "config", "", "settings file (default: $NOMINA_CONFIG, else config/nomina.yaml when present)")
	root.AddCommand(
		newServeCmd(e, &configPath),
		newDemoCmd(e, &configPath),
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Args:  cobra.NoArgs,
			Run: func(cmd *cobra.Command, args []string) {
				fmt.Fprintln(cmd.OutOrStdout(), "nomina", buildVersion())
			},
		},
		newWorkflowsCmd(),
		newUsersCmd(e, &configPath),
		newExportCmd(e, &configPath),
		newMailCmd(e),
		newVerifyCmd(e, &configPath),
		newKeysCmd(e, &configPath),
	)
	return root
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if dirty {
				rev += "-dirty"
			}
			return rev
		}
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
	}
	return "dev"
}

// loadConfig reads the settings: --config, else $NOMINA_CONFIG, else
// config/nomina.yaml when it exists.
func loadConfig(e env, path string) (config.Config, error) {
	required := true
	if path == "" {
		path = e.getenv("NOMINA_CONFIG")
	}
	if path == "" {
		path, required = "config/nomina.yaml", false
	}
	return config.Load(path, required, e.getenv)
}
