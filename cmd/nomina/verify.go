package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/workflow"
)

// newVerifyCmd returns `nomina verify`, which checks the stored history of
// every nomination (or of the ones named).
func newVerifyCmd(e env, configPath *string) *cobra.Command {
	return &cobra.Command{
		Use:   "verify [NOMINATION ...]",
		Short: "Check that every nomination's history is intact",
		Long: "Check each nomination's stored events: numbered without gaps, each hash covering its\n" +
			"event and the previous hash, and their replay equal to the stored nomination. Prints one\n" +
			"line per history that fails, with its first bad event, and exits 1 when any fails.\n" +
			"Without arguments every nomination is checked. With the embedded store, run it while\n" +
			"the service is stopped.",
		RunE: func(cmd *cobra.Command, args []string) error {
			return verifyFromShell(cmd.Context(), e, *configPath, args)
		},
	}
}

func verifyFromShell(ctx context.Context, e env, configPath string, ids []string) error {
	sh, err := openShellStore(ctx, e, configPath)
	if err != nil {
		return err
	}
	defer sh.Close(ctx)
	registry, err := loadWorkflows(sh.cfg.WorkflowsDir, e)
	if err != nil {
		return err
	}
	// Nominations started under an older version of a workflow are
	// replayed with that version.
	templates, _, err := workflow.LoadTemplatesFS(workflowFilesOf(sh.cfg.WorkflowsDir))
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("workflow templates: %w", err)}
	}
	if err := restoreArchivedWorkflows(ctx, sh.store.Workflows(), registry, templates, sh.log); err != nil {
		return &exitError{code: 1, err: fmt.Errorf("archived workflows: %w", err)}
	}
	noms := sh.store.Nominations()
	if len(ids) == 0 {
		if ids, err = noms.NominationIDs(ctx); err != nil {
			return &exitError{code: 1, err: describe(err)}
		}
	}
	svc := nomination.New(nomination.Config{Store: noms, Files: noms, Workflows: registry, BaseURL: sh.cfg.BaseURL, Logger: sh.log})
	broken := 0
	for _, id := range ids {
		v, err := svc.Verify(ctx, id)
		if nomination.ErrorCode(err) == nomination.ENOTFOUND {
			fmt.Fprintf(e.stdout, "%s: no such nomination\n", id)
			broken++
			continue
		}
		if err != nil {
			return &exitError{code: 1, err: fmt.Errorf("verify %s: %w", id, describe(err))}
		}
		if !v.OK() {
			fmt.Fprintf(e.stdout, "%s: first bad event %d: %s\n", id, v.FirstBad, v.Problem)
			broken++
		}
	}
	if broken > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %d nomination histories do not verify", broken, len(ids))}
	}
	fmt.Fprintf(e.stdout, "%d nomination histories verify\n", len(ids))
	return nil
}
