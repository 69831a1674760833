package mongostore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
)

// Another instance on this machine that reaches the embedded store through
// its URI (NOMINA_MONGODB_URI from embedded-store.uri, or the store's unix
// socket) reads the store's file for its listings as the store's own
// instance does: SQLite in WAL mode lets any number of processes read a
// file one process writes, and the reader is read-only (query_only). The
// file is looked for only where the URI itself points into a data
// directory: its unix socket, or its TLS CA file, inside the data
// directory's embedded-store folder; and it is read only once a probe has
// shown it is the file of the store the driver reaches (a copy of a data
// directory, or another store's, is never read).

// colReaderProbes holds the probes of fileProof, each removed after it.
const colReaderProbes = "reader_probes"

// embeddedDirOf returns the data directory uri points into, "" when it
// names neither a socket nor a CA file inside one's embedded-store folder.
func embeddedDirOf(uri string) string {
	cs, err := connstring.Parse(uri)
	if err != nil {
		return ""
	}
	var paths []string
	for _, h := range cs.Hosts {
		if filepath.IsAbs(h) {
			paths = append(paths, h) // a unix socket
		}
	}
	if cs.SSLCaFileSet {
		paths = append(paths, cs.SSLCaFile)
	}
	for _, p := range paths {
		if dir := filepath.Dir(filepath.Clean(p)); filepath.Base(dir) == privateDirName || filepath.Base(dir) == tlsDirName {
			return filepath.Dir(dir)
		}
	}
	return ""
}

// sharedReader opens the reader of the database's file in the data
// directory dir another instance's store keeps, nil when there is no
// such file (or it cannot be opened); reads wait for its proof.
func sharedReader(db *mongo.Database, dir string, log *slog.Logger) *sqlReader {
	path := filepath.Join(dir, db.Name()+".sqlite")
	if _, err := os.Stat(path); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			log.Info("listings go through the driver: the embedded store's file cannot be read", "file", path, "err", err)
		}
		return nil
	}
	r, err := openSQLReader(path)
	if err != nil {
		log.Info("listings go through the driver: the embedded store's file cannot be opened", "file", path, "err", err)
		return nil
	}
	r.proof = &fileProof{db: db, file: r, path: path, log: log}
	return r
}

// fileProof decides whether a file is the store's: it inserts a probe of
// a random _id through the driver and looks for it in the file. Found,
// the file is read; not found, never again. The proof is made again every
// proofMaxAge (another store may have been put behind the same address),
// and the file must stay the one proved (same device and inode: a data
// directory restored or moved puts another file at the path): a file
// replaced is never read again by this process. A probe that cannot be
// made (the store not answering yet, the file busy) is made again at most
// once a proofRetry; until a first proof, reads go through the driver.
type fileProof struct {
	db   *mongo.Database
	file *sqlReader
	path string
	log  *slog.Logger

	state    atomic.Int32 // 0 undecided, 1 the store's, 2 not
	provedAt atomic.Int64 // unix nanoseconds of the last proof that held
	mu       sync.Mutex
	last     time.Time
	proved   os.FileInfo
}

const (
	proofUndecided int32 = iota
	proofHolds
	proofFails
)

const (
	// proofRetry is how long a proof that could not be made waits before
	// it is tried again.
	proofRetry = time.Second
	// proofMaxAge is how long a proof holds before it is made again: the
	// longest another store's file could be read after it was put behind
	// the same address.
	proofMaxAge = time.Minute
)

func (p *fileProof) holds(ctx context.Context) bool {
	state := p.state.Load()
	if state == proofFails {
		return false
	}
	if state == proofHolds {
		if fi, err := os.Stat(p.path); err != nil || !os.SameFile(fi, p.proved) {
			p.state.Store(proofFails)
			p.log.Warn("listings go through the driver: the embedded store's file was replaced since it was proved", "file", p.path)
			return false
		}
		if time.Since(time.Unix(0, p.provedAt.Load())) < proofMaxAge {
			return true
		}
	}
	if !p.mu.TryLock() {
		return state == proofHolds // another read is probing
	}
	defer p.mu.Unlock()
	if time.Since(p.last) < proofRetry {
		return p.state.Load() == proofHolds
	}
	p.last = time.Now()
	fi, statErr := os.Stat(p.path)
	found, err := p.probe(ctx)
	switch {
	case errors.Is(err, errProbeNotMade):
		p.log.Debug("the embedded store's file is not proved (again) yet", "file", p.path, "err", err)
		return p.state.Load() == proofHolds
	case found && statErr == nil:
		p.proved = fi
		p.provedAt.Store(time.Now().UnixNano())
		if p.state.Swap(proofHolds) != proofHolds {
			p.log.Info("listings read the embedded store's file", "file", p.path)
		}
		return true
	default:
		p.state.Store(proofFails)
		p.log.Warn("listings go through the driver: the file beside the store's URI is not the store's", "file", p.path, "err", errors.Join(err, statErr))
		return false
	}
}

// errProbeNotMade: the store did not take the probe (not answering yet),
// or the file could not be read in time (busy); the proof is made again
// later.
var errProbeNotMade = errors.New("probe not made")

// probe inserts a probe and reports whether the file holds it; an error
// of the file (not a database of the store) says it does not, but for a
// file too busy to answer in time (errProbeNotMade).
func (p *fileProof) probe(ctx context.Context) (bool, error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	// Not the request's context: its end must not decide about the file.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	c := p.db.Collection(colReaderProbes)
	if _, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "at", Value: time.Now().UTC()}}); err != nil {
		return false, fmt.Errorf("%w: %w", errProbeNotMade, err)
	}
	defer func() { _, _ = c.DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: id}}) }()
	t, err := tableOf(ctx, p.file.db, colReaderProbes)
	if err != nil {
		return false, fileErr(err)
	}
	if t == "" {
		return false, nil
	}
	var n int
	if err := p.file.db.QueryRowContext(ctx, "SELECT count(*) FROM ("+idProbeQuery(t, 1)+")", id).Scan(&n); err != nil {
		return false, fileErr(err)
	}
	return n == 1, nil
}

// fileErr marks an error of reading the file that says nothing about it
// (out of time, busy) as errProbeNotMade.
func fileErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		strings.Contains(err.Error(), "SQLITE_BUSY") || strings.Contains(err.Error(), "database is locked") {
		return fmt.Errorf("%w: %w", errProbeNotMade, err)
	}
	return err
}
