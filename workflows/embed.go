// Package workflows carries the shipped workflow definitions and their
// email templates inside the binary, so it runs without this folder; a
// workflows folder (or NOMINA_WORKFLOWS_DIR) takes their place.
package workflows

import "embed"

// Files holds the *.yaml definitions, README.md and templates/.
//
//go:embed *.yaml README.md templates
var Files embed.FS
