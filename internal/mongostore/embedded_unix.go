//go:build unix

package mongostore

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// errLocked says another process holds the data directory's lock.
var errLocked = errors.New("locked by another process")

// lockDir takes an exclusive lock on the file at path (created 0600) for
// as long as this process runs the embedded store, and returns its
// release. The lock goes with the process, so a crash leaves none behind.
func lockDir(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, err
	}
	return func() { f.Close() }, nil
}

// ownedByMe reports whether fi belongs to the user running this process.
func ownedByMe(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}
