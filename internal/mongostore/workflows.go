package mongostore

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/igf/nomina/internal/workflow"
)

// colWorkflowVersions keeps the source of every workflow version the
// service has run, so nominations started under an older version keep
// their rules after the file changes. _id: "<id>@<version>#<hash>".
const colWorkflowVersions = "workflow_versions"

// Workflows archives workflow definitions.
type Workflows struct {
	db *mongo.Database
}

// Workflows returns the workflow archive over the same database.
func (s *Store) Workflows() *Workflows { return &Workflows{db: s.db} }

// ArchivedWorkflow is the source of one archived definition.
type ArchivedWorkflow struct {
	ID      string
	Version int
	Hash    string
	File    string
	Source  []byte
}

type workflowDoc struct {
	ID       string    `bson:"_id"`
	Workflow string    `bson:"workflow"`
	Version  int       `bson:"version"`
	Hash     string    `bson:"hash"`
	File     string    `bson:"file"`
	Source   string    `bson:"source"`
	AddedAt  time.Time `bson:"added_at"`
}

// Archive stores the source of each definition; one archived already is
// kept as it is.
func (w *Workflows) Archive(ctx context.Context, defs []*workflow.Definition, now time.Time) error {
	for _, d := range defs {
		doc := workflowDoc{ID: fmt.Sprintf("%s@%d#%s", d.ID, d.Version, d.Hash), Workflow: d.ID, Version: d.Version, Hash: d.Hash,
			File: d.File, Source: string(d.Source), AddedAt: now}
		if _, err := w.db.Collection(colWorkflowVersions).InsertOne(ctx, doc); err != nil && !mongo.IsDuplicateKeyError(err) {
			return translate("archive workflow "+d.Key(), err)
		}
	}
	return nil
}

// Archived returns every archived definition's source.
func (w *Workflows) Archived(ctx context.Context) ([]ArchivedWorkflow, error) {
	cur, err := w.db.Collection(colWorkflowVersions).Find(ctx, bson.D{})
	if err != nil {
		return nil, translate("list archived workflows", err)
	}
	var docs []workflowDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate("list archived workflows", err)
	}
	out := make([]ArchivedWorkflow, len(docs))
	for i, d := range docs {
		out[i] = ArchivedWorkflow{ID: d.Workflow, Version: d.Version, Hash: d.Hash, File: d.File, Source: []byte(d.Source)}
	}
	return out, nil
}
