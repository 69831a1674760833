package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/igf/nomina/internal/workflow"
)

// newWorkflowsCmd returns `nomina workflows`, which checks workflow files
// (`validate`) and draws them (`graph`).
func newWorkflowsCmd() *cobra.Command {
	dir := os.Getenv("NOMINA_WORKFLOWS_DIR")
	if dir == "" {
		dir = "workflows"
	}
	cmd := &cobra.Command{
		Use:   "workflows",
		Short: "Check and draw workflow definitions",
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", dir, "workflows directory (default: $NOMINA_WORKFLOWS_DIR, else workflows)")

	validate := &cobra.Command{
		Use:   "validate [files or dirs]",
		Short: "Check workflow files and their templates; exit status 1 on any error",
		Long: "Check workflow definitions the way the service does at start, printing every problem as\n" +
			"file:line:col: severity: message. A directory is checked whole (every *.yaml and its\n" +
			"templates/); a file is checked with the templates/ beside it. With no argument the\n" +
			"workflows directory (--dir) is checked.",
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{dir}
			}
			return validateWorkflows(cmd, args)
		},
	}

	var format string
	graph := &cobra.Command{
		Use:   "graph <id or file>",
		Short: "Print a workflow's states and actions as a Mermaid or DOT graph",
		Long: "Print the latest version of workflow <id> from the workflows directory (--dir), or the\n" +
			"workflow in a .yaml file, as a Mermaid state diagram or a Graphviz DOT graph.",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			def, err := findWorkflow(cmd, dir, args[0])
			if err != nil {
				return err
			}
			out, err := def.Graph(format)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), out)
			return err
		},
	}
	graph.Flags().StringVar(&format, "format", workflow.FormatMermaid, "output format: mermaid or dot")

	export := &cobra.Command{
		Use:   "export DIR",
		Short: "Write the workflows built into the binary into DIR, to edit",
		Long: "Write the shipped workflow definitions and their email templates, as built into the binary,\n" +
			"into DIR (created when missing; no file there is overwritten). Point NOMINA_WORKFLOWS_DIR at\n" +
			"DIR, or name it workflows beside where the service starts, to use the edited copy.",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			written, err := exportWorkflows(args[0])
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d files into %s\n", len(written), args[0])
			return nil
		},
	}

	cmd.AddCommand(validate, graph, export)
	return cmd
}

// validateWorkflows checks each file or directory, printing diagnostics to
// stderr and one line per loaded workflow to stdout.
func validateWorkflows(cmd *cobra.Command, paths []string) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	printed := map[string]bool{}
	var failed []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("validate: %w", err)
		}
		var defs []*workflow.Definition
		var diags []workflow.Diagnostic
		if info.IsDir() {
			reg, ds, err := workflow.LoadDir(p)
			diags = ds
			if err != nil && !errors.Is(err, workflow.ErrInvalid) {
				return fmt.Errorf("validate %s: %w", p, err)
			}
			if reg != nil {
				for _, id := range reg.All() {
					defs = append(defs, reg.Versions(id.ID)...)
				}
			}
		} else {
			def, ds, err := workflow.LoadFile(p)
			diags = ds
			if err != nil && !errors.Is(err, workflow.ErrInvalid) {
				return fmt.Errorf("validate %s: %w", p, err)
			}
			if def != nil {
				defs = append(defs, def)
			}
		}
		for _, d := range diags {
			// A templates directory shared by several files is reported once.
			if s := d.String(); !printed[s] {
				printed[s] = true
				fmt.Fprintln(stderr, s)
			}
		}
		if workflow.HasErrors(diags) {
			failed = append(failed, p)
			continue
		}
		for _, d := range defs {
			fmt.Fprintf(stdout, "ok %s (%s, %d states, %d actions)\n", d.Key(), d.File, len(d.States), len(d.Actions))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("invalid workflows: %s", strings.Join(failed, ", "))
	}
	return nil
}

// findWorkflow loads the workflow named by arg: a .yaml file, or the id of
// a workflow in dir.
func findWorkflow(cmd *cobra.Command, dir, arg string) (*workflow.Definition, error) {
	stderr := cmd.ErrOrStderr()
	if strings.HasSuffix(arg, ".yaml") {
		def, diags, err := workflow.LoadFile(arg)
		for _, d := range diags {
			fmt.Fprintln(stderr, d.String())
		}
		if err != nil {
			return nil, fmt.Errorf("graph: %w", err)
		}
		return def, nil
	}
	reg, diags, err := workflow.LoadDir(dir)
	for _, d := range diags {
		if d.Severity == workflow.SeverityError {
			fmt.Fprintln(stderr, d.String())
		}
	}
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	def, ok := reg.Latest(arg)
	if !ok {
		var ids []string
		for _, d := range reg.All() {
			ids = append(ids, d.ID)
		}
		return nil, fmt.Errorf("graph: no workflow %q in %s (workflows: %s)", arg, dir, strings.Join(ids, ", "))
	}
	return def, nil
}
