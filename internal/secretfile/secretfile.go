// Package secretfile reads the files that hold secrets (signing keys, the
// key-encryption key), refusing one that others on the machine may open.
package secretfile

import (
	"fmt"
	"io"
	"os"
)

// Read returns at most limit bytes of the file at path. It refuses a file
// whose mode gives group or others any access; holds says what the file
// holds, for the error. A missing file is reported as os.Open reports it,
// so errors.Is(err, fs.ErrNotExist) holds.
func Read(path string, limit int64, holds string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %o; it holds %s and must be 0600", path, perm, holds)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}
