//go:build !unix

package mongostore

import (
	"errors"
	"io/fs"
)

var errLocked = errors.New("locked by another process")

// lockDir does nothing where there is no flock: a second store on the same
// data directory is then found only by its socket answering.
func lockDir(string) (func(), error) { return func() {}, nil }

// ownedByMe cannot tell an owner without unix ownership; folder
// permissions are the system's there.
func ownedByMe(fs.FileInfo) bool { return true }
