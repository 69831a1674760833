package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/igf/nomina/internal/export"
	"github.com/igf/nomina/internal/nomination"
)

// newExportCmd returns `nomina export`, which writes a call's shortlist
// from the shell.
func newExportCmd(e env, configPath *string) *cobra.Command {
	var slug, format, out string
	var states []string
	var bom bool
	cmd := &cobra.Command{
		Use:   "export --call SLUG [--state STATE ...] [--format csv|xlsx|json] [-o FILE]",
		Short: "Export a call's nominations to CSV, XLSX or JSON",
		Long: "Write one row per nomination of a call, with every form answer, the state, the submission\n" +
			"time, the vote tally per stage, endorsements and attachment links. Cells that a spreadsheet\n" +
			"would read as formulas are neutralised. Without -o the file goes to standard output.\n" +
			"With the embedded store, run it while the service is stopped.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctype, err := export.Shortlists{}.ContentType(format)
			if err != nil || ctype == "" {
				return &exitError{code: 2, err: fmt.Errorf("--format: csv, xlsx or json")}
			}
			return exportFromShell(cmd.Context(), e, *configPath, slug, format, out, states, bom)
		},
	}
	cmd.Flags().StringVar(&slug, "call", "", "the call's slug (required)")
	cmd.Flags().StringSliceVar(&states, "state", nil, "only nominations in this state (repeatable)")
	cmd.Flags().StringVar(&format, "format", "csv", "csv, xlsx or json")
	cmd.Flags().StringVarP(&out, "output", "o", "", "the file to write (default: standard output)")
	cmd.Flags().BoolVar(&bom, "bom", false, "start a CSV with a UTF-8 byte order mark for spreadsheet programs")
	_ = cmd.MarkFlagRequired("call")
	return cmd
}

func exportFromShell(ctx context.Context, e env, configPath, slug, format, out string, states []string, bom bool) error {
	sh, err := openShellStore(ctx, e, configPath)
	if err != nil {
		return err
	}
	defer sh.Close(ctx)
	registry, err := loadWorkflows(sh.cfg.WorkflowsDir, e)
	if err != nil {
		return err
	}
	noms := sh.store.Nominations()
	svc := nomination.New(nomination.Config{Store: noms, Files: noms, Workflows: registry, BaseURL: sh.cfg.BaseURL, Logger: sh.log})
	staff := nomination.Actor{UserID: "shell", Name: "nomina export", Roles: []string{"secretariat"}}
	q := nomination.ShortlistQuery{States: states}
	table, err := svc.Export(ctx, staff, slug, q)
	if err != nil {
		return &exitError{code: 1, err: describe(err)}
	}
	total := 0
	counts, err := svc.StateCounts(ctx, staff, slug)
	if err != nil {
		return &exitError{code: 1, err: describe(err)}
	}
	for st, n := range counts {
		if len(states) == 0 || contains(states, st) {
			total += n
		}
	}

	var w io.Writer = e.stdout
	var file *os.File
	if out != "" {
		file, err = os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return &exitError{code: 1, err: err}
		}
		defer file.Close()
		w = file
	}
	if f, ok := e.stderr.(*os.File); ok && isTerminal(f) && out != "" {
		bar := progressbar.NewOptions(total, progressbar.OptionSetWriter(f), progressbar.OptionSetDescription("exporting "+slug),
			progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
		rows := table.Rows
		table.Rows = func(yield func(nomination.ExportRow, error) bool) {
			for r, err := range rows {
				_ = bar.Add(1)
				if !yield(r, err) {
					return
				}
			}
			_ = bar.Finish()
		}
	}
	if err := (export.Shortlists{}).WriteExport(ctx, w, format, table, bom); err != nil {
		return &exitError{code: 1, err: fmt.Errorf("export: %w", err)}
	}
	if file != nil {
		if err := file.Close(); err != nil {
			return &exitError{code: 1, err: err}
		}
		fmt.Fprintf(e.stderr, "wrote %d nominations to %s\n", total, filepath.Clean(out))
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
