package phrase

import "embed"

// Catalogs holds the translations of the messages the domain, the
// workflow engine and the API raise by id (see New), one file per
// language: messages.<lang>.yaml. The English file is the list of every
// id with its English, kept in step with the code by a test.
//
//go:embed locales/*.yaml
var Catalogs embed.FS
