package mongostore

import (
	"context"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/igf/nomina/internal/auth"
)

func TestEmbeddedDirOf(t *testing.T) {
	for uri, want := range map[string]string{
		socketURI("/srv/nomina/data/embedded-store/mongodb.sock"):                            "/srv/nomina/data",
		"mongodb://127.0.0.1:27018/?tls=true&tlsCAFile=%2Fsrv%2Fd%2Fembedded-store%2Fca.pem": "/srv/d",
		socketURI("/tmp/nomina-0-abcdef/mongodb.sock"):                                       "",
		"mongodb://127.0.0.1:27018/?tls=true&tlsCAFile=%2Fetc%2Fssl%2Fca.pem":                "",
		"mongodb://db.example.org:27017/":                                                    "",
		"not a uri":                                                                          "",
	} {
		if got := embeddedDirOf(uri); got != want {
			t.Errorf("%s: %q, want %q", uri, got, want)
		}
	}
}

// copyFile copies src to dst (mode 0600).
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// Another instance that reaches the embedded store through its unix
// socket or its TLS URI reads the store's file for its listings, once a
// probe has shown the file is the store's; one whose URI points into a
// copy of the data directory (the same CA, so it reaches the same store)
// never reads the copy, and answers through the driver.
func TestSharedReaderThroughTheStoresURIs(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	owner, err := Connect(ctx, Options{DataDir: dir, EmbeddedListen: "127.0.0.1:0", Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { owner.Close(context.Background()) })
	if err := owner.Prepare(ctx, "nomina"); err != nil {
		t.Fatal(err)
	}
	users := owner.NewStore("nomina", discardLogger()).Users()
	now := time.Now().UTC()
	add := func(id string) {
		t.Helper()
		u := &auth.User{ID: id, EmailKey: id + "@x", Email: id + "@x", Name: id, Roles: []auth.Role{auth.RoleReviewer},
			Panels: []string{"civil_society"}, CreatedAt: now, UpdatedAt: now}
		if err := users.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	add("u1")
	// A copy of the data directory, taken now: its file lacks what is
	// added after.
	copied := t.TempDir()
	if err := os.Mkdir(filepath.Join(copied, privateDirName), 0o700); err != nil {
		t.Fatal(err)
	}
	remote, err := url.Parse(owner.EmbeddedRemoteURI())
	if err != nil {
		t.Fatal(err)
	}
	q := remote.Query()
	for _, k := range []string{"tlsCAFile", "tlsCertificateKeyFile"} {
		to := filepath.Join(copied, privateDirName, filepath.Base(q.Get(k)))
		copyFile(t, q.Get(k), to)
		q.Set(k, to)
	}
	for _, f := range []string{"nomina.sqlite", "nomina.sqlite-wal"} {
		copyFile(t, filepath.Join(dir, f), filepath.Join(copied, f))
	}
	remote.RawQuery = q.Encode()
	add("u2")

	for _, c := range []struct {
		name, uri string
		reads     bool
	}{
		{"socket", owner.EmbeddedURI(), true},
		{"tls", owner.EmbeddedRemoteURI(), true},
		{"tls into a copy", remote.String(), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			other, err := Connect(ctx, Options{URI: c.uri, Logger: discardLogger()})
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close(ctx)
			s := other.NewStore("nomina", discardLogger())
			if s.sql == nil || s.sql.proof == nil {
				t.Fatalf("no reader of the file beside %s", c.uri)
			}
			ms, err := s.Directory().PanelMembers(ctx, "civil_society")
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, m := range ms {
				names = append(names, m.Name)
			}
			slices.Sort(names)
			if got := strings.Join(names, ","); got != "u1,u2" {
				t.Fatalf("members %s", got)
			}
			if got := s.sql.proof.state.Load(); (got == proofHolds) != c.reads || got == proofUndecided {
				t.Fatalf("proof %d, want the file read: %v", got, c.reads)
			}
			if tbl, err := s.sql.table(ctx, colUsers); err != nil || (tbl != "") != c.reads {
				t.Fatalf("table %q, %v", tbl, err)
			}
			if n, err := owner.Database("nomina").Collection(colReaderProbes).CountDocuments(ctx, bson.D{}); err != nil || n != 0 {
				t.Fatalf("%d probes left, %v", n, err)
			}
		})
	}
	// The proof is made on a context of its own: a request that ended
	// does not decide against the file.
	t.Run("a cancelled request", func(t *testing.T) {
		other, err := Connect(ctx, Options{URI: owner.EmbeddedURI(), Logger: discardLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close(ctx)
		s := other.NewStore("nomina", discardLogger())
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		_, _ = s.sql.table(cancelled, colUsers)
		if got := s.sql.proof.state.Load(); got != proofHolds {
			t.Fatalf("proof %d after a cancelled request, want it made (%d)", got, proofHolds)
		}
		// Made again once it is older than proofMaxAge.
		old := time.Now().Add(-2 * proofMaxAge)
		s.sql.proof.provedAt.Store(old.UnixNano())
		s.sql.proof.last = old
		if tbl, err := s.sql.table(ctx, colUsers); err != nil || tbl == "" {
			t.Fatalf("table %q, %v after the proof was made again", tbl, err)
		}
		if at := time.Unix(0, s.sql.proof.provedAt.Load()); !at.After(old.Add(time.Minute)) {
			t.Fatalf("proof not made again: proved at %v", at)
		}
		// Another file at the path (a data directory restored or moved
		// while the instance runs): never read again.
		elsewhere, err := os.Stat(filepath.Join(copied, "nomina.sqlite"))
		if err != nil {
			t.Fatal(err)
		}
		s.sql.proof.proved = elsewhere
		if tbl, err := s.sql.table(ctx, colUsers); err != nil || tbl != "" {
			t.Fatalf("table %q, %v of a replaced file", tbl, err)
		}
		if got := s.sql.proof.state.Load(); got != proofFails {
			t.Fatalf("proof %d after the file was replaced, want %d", got, proofFails)
		}
	})
	// A URI that points into no data directory opens no reader.
	mongo, err := Connect(ctx, Options{URI: "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=100", Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer mongo.Close(ctx)
	if s := mongo.NewStore("nomina", discardLogger()); s.sql != nil {
		t.Fatal("a reader for a server elsewhere")
	}
}
