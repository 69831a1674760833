package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/workflow"
)

// syncWorkflowArchive archives every definition the registry holds and adds
// to the registry every archived version it lacks, so a nomination started
// under an older version of a workflow keeps its rules after the file
// changes. An archived version that no longer loads (a template it names
// was removed, say) is left out with a warning.
func syncWorkflowArchive(ctx context.Context, archive *mongostore.Workflows, reg *workflow.Registry, templates workflow.TemplateSet, log *slog.Logger) error {
	var held []*workflow.Definition
	for _, d := range reg.All() {
		held = append(held, reg.Versions(d.ID)...)
	}
	if err := archive.Archive(ctx, held, time.Now().UTC()); err != nil {
		return err
	}
	return restoreArchivedWorkflows(ctx, archive, reg, templates, log)
}

// restoreArchivedWorkflows adds to the registry every archived version it
// lacks, without archiving anything.
func restoreArchivedWorkflows(ctx context.Context, archive *mongostore.Workflows, reg *workflow.Registry, templates workflow.TemplateSet, log *slog.Logger) error {
	archived, err := archive.Archived(ctx)
	if err != nil {
		return err
	}
	for _, a := range archived {
		if _, ok := reg.Get(a.ID, a.Version, a.Hash); ok {
			continue
		}
		def, diags := workflow.Parse(a.File, a.Source, templates)
		if def == nil || workflow.HasErrors(diags) {
			log.Warn("archived workflow version no longer loads; its nominations cannot move on", "workflow", a.ID, "version", a.Version, "diagnostics", len(diags))
			continue
		}
		reg.Add(def)
	}
	return nil
}
