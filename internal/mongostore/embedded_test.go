package mongostore_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/igf/nomina/internal/mongostore"
)

func mustStartEmbedded(tb testing.TB, dir string, opts mongostore.EmbeddedOptions) *mongostore.Embedded {
	tb.Helper()
	e, err := mongostore.StartEmbedded(context.Background(), dir, opts, quietLogger())
	if err != nil {
		tb.Fatalf("start embedded store: %v", err)
	}
	tb.Cleanup(e.Close)
	return e
}

// rawClient is a plain mongo driver client, as any program on the machine
// could open one.
func rawClient(tb testing.TB, uri string) *mongo.Client {
	tb.Helper()
	return rawClientWaiting(tb, uri, 3*time.Second)
}

// rawClientWaiting is rawClient giving up on finding the server after wait.
func rawClientWaiting(tb testing.TB, uri string, wait time.Duration) *mongo.Client {
	tb.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(uri).
		SetServerSelectionTimeout(wait).SetConnectTimeout(2 * time.Second).SetTimeout(5 * time.Second))
	if err != nil {
		tb.Fatalf("client for %s: %v", uri, err)
	}
	tb.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

func mustMode(tb testing.TB, path string, want fs.FileMode) {
	tb.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		tb.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		tb.Fatalf("%s has mode %o, want %o", path, got, want)
	}
}

// Finding 1 of the security review: the embedded store listened on a
// loopback TCP port without authentication. It now listens on a unix
// socket, mode 0600, in a folder only its owner can enter.
func TestEmbeddedSocketIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil { // as a user might have made it
		t.Fatal(err)
	}
	e := mustStartEmbedded(t, dir, mongostore.EmbeddedOptions{})
	mustMode(t, dir, 0o700) // the SQLite files inside are readable by all
	if want := "mongodb://" + url.QueryEscape(e.SocketPath()) + "/"; !strings.HasPrefix(e.URI(), want) || !strings.HasSuffix(e.SocketPath(), ".sock") {
		t.Fatalf("URI %s does not name the socket %s", e.URI(), e.SocketPath())
	}
	fi, err := os.Lstat(e.SocketPath())
	if err != nil || fi.Mode().Type() != fs.ModeSocket {
		t.Fatalf("%s is not a socket: %v %v", e.SocketPath(), fi, err)
	}
	mustMode(t, e.SocketPath(), 0o600)
	mustMode(t, filepath.Dir(e.SocketPath()), 0o700)
	if e.RemoteURI() != "" {
		t.Fatalf("a TLS listener without being asked: %s", e.RemoteURI())
	}

	// Its owner's driver reaches it through the socket.
	c := rawClient(t, e.URI())
	coll := c.Database("probe").Collection("c")
	if _, err := coll.InsertOne(context.Background(), bson.D{{Key: "_id", Value: "a"}}); err != nil {
		t.Fatalf("insert over the socket: %v", err)
	}
}

// A socket left behind by a crash (nothing answers on it) is replaced; one
// that answers means another store runs on the same data directory and is
// refused, naming the problem.
func TestEmbeddedSocketLeftoversAndLiveStores(t *testing.T) {
	dir := t.TempDir()
	e, err := mongostore.StartEmbedded(context.Background(), dir, mongostore.EmbeddedOptions{}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	sock := e.SocketPath()
	c := rawClient(t, e.URI())
	if _, err := c.Database("probe").Collection("c").InsertOne(context.Background(), bson.D{{Key: "_id", Value: "kept"}}); err != nil {
		t.Fatal(err)
	}
	_ = c.Disconnect(context.Background()) // a connected client makes Close wait for it

	t.Run("second store on a live data directory", func(t *testing.T) {
		_, err := mongostore.StartEmbedded(context.Background(), dir, mongostore.EmbeddedOptions{}, quietLogger())
		if err == nil || !strings.Contains(err.Error(), "in use by another running instance") || !strings.Contains(err.Error(), "NOMINA_MONGODB_URI=mongodb://") {
			t.Fatalf("err = %v, want a refusal naming the live instance", err)
		}
	})
	e.Close()

	t.Run("stale socket", func(t *testing.T) {
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		ln.Close() // as a killed process leaves it: the file, nobody listening
		if fi, err := os.Lstat(sock); err != nil || fi.Mode().Type() != fs.ModeSocket {
			t.Fatalf("no stale socket to test with: %v", err)
		}
		e := mustStartEmbedded(t, dir, mongostore.EmbeddedOptions{})
		c := rawClient(t, e.URI())
		var got bson.M
		if err := c.Database("probe").Collection("c").FindOne(context.Background(), bson.D{{Key: "_id", Value: "kept"}}).Decode(&got); err != nil {
			t.Fatalf("read after replacing the stale socket: %v", err)
		}
		_ = c.Disconnect(context.Background())
		e.Close()
	})

	t.Run("another process answers on the socket", func(t *testing.T) {
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		_, err = mongostore.StartEmbedded(context.Background(), dir, mongostore.EmbeddedOptions{}, quietLogger())
		if err == nil || !strings.Contains(err.Error(), "another process answers") {
			t.Fatalf("err = %v, want a refusal naming the socket", err)
		}
		if _, err := os.Lstat(sock); err != nil {
			t.Fatalf("the live socket was removed: %v", err)
		}
	})
}

// A data directory whose socket path would not fit a socket address puts
// the socket in a private folder under the temporary directory, the same
// one on every start.
func TestEmbeddedLongDataDirUsesPrivateTempFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("a-long-folder-name/", 6))
	e := mustStartEmbedded(t, dir, mongostore.EmbeddedOptions{})
	sock := e.SocketPath()
	if !strings.HasPrefix(sock, os.TempDir()) || strings.HasPrefix(sock, dir) || len(sock) > 103 {
		t.Fatalf("socket at %s", sock)
	}
	mustMode(t, sock, 0o600)
	mustMode(t, filepath.Dir(sock), 0o700)
	c := rawClient(t, e.URI())
	if err := c.Ping(context.Background(), nil); err != nil {
		t.Fatalf("ping over %s: %v", sock, err)
	}
	_ = c.Disconnect(context.Background())
	uri, err := mongostore.EmbeddedSocketURI(dir)
	if err != nil || uri != e.URI() {
		t.Fatalf("EmbeddedSocketURI = %q, %v; the store listens on %q", uri, err, e.URI())
	}
	e.Close()
	if _, err := os.Lstat(filepath.Dir(sock)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the temporary folder is left behind: %v", err)
	}
}

// Finding 1 of the security review, and several instances on one embedded
// store: with a listen address, the store takes TLS connections that
// present a client certificate its own CA issued, and nothing else; the
// URI for other instances is written to the data directory.
func TestEmbeddedTLSListenerRequiresClientCertificate(t *testing.T) {
	dir := t.TempDir()
	e := mustStartEmbedded(t, dir, mongostore.EmbeddedOptions{Listen: "127.0.0.1:0"})
	ctx := context.Background()
	remote := e.RemoteURI()
	if remote == "" {
		t.Fatal("no TLS URI")
	}
	file := filepath.Join(dir, mongostore.RemoteURIFile)
	b, err := os.ReadFile(file)
	if err != nil || strings.TrimSpace(string(b)) != remote {
		t.Fatalf("%s holds %q (%v), want %q", file, b, err, remote)
	}
	mustMode(t, file, 0o600)
	u, err := url.Parse(remote)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("tls") != "true" || q.Get("directConnection") != "true" || q.Get("tlsCAFile") == "" || q.Get("tlsCertificateKeyFile") == "" {
		t.Fatalf("URI lacks TLS options: %s", remote)
	}
	for _, p := range []string{q.Get("tlsCAFile"), q.Get("tlsCertificateKeyFile")} {
		mustMode(t, p, 0o600)
	}
	entries, err := os.ReadDir(filepath.Dir(q.Get("tlsCAFile")))
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if strings.HasSuffix(en.Name(), ".pem") {
			mustMode(t, filepath.Join(filepath.Dir(q.Get("tlsCAFile")), en.Name()), 0o600)
		}
	}

	// The owner writes through the socket; another instance with the
	// certificate reads and writes the same data over TLS.
	if _, err := rawClient(t, e.URI()).Database("nomina").Collection("users").InsertOne(ctx, bson.D{{Key: "_id", Value: "u1"}, {Key: "roles", Value: bson.A{"candidate"}}}); err != nil {
		t.Fatal(err)
	}
	other := rawClient(t, remote).Database("nomina").Collection("users")
	var got bson.M
	if err := other.FindOne(ctx, bson.D{{Key: "_id", Value: "u1"}}).Decode(&got); err != nil {
		t.Fatalf("read with the client certificate: %v", err)
	}
	if _, err := other.InsertOne(ctx, bson.D{{Key: "_id", Value: "u2"}}); err != nil {
		t.Fatalf("write with the client certificate: %v", err)
	}

	foreignClient := foreignCertificates(t)
	addr := u.Host
	refused := map[string]string{
		"plain TCP":                   "mongodb://" + addr + "/?directConnection=true",
		"TLS without a certificate":   "mongodb://" + addr + "/?directConnection=true&tls=true&tlsCAFile=" + url.QueryEscape(q.Get("tlsCAFile")),
		"TLS, any server, no cert":    "mongodb://" + addr + "/?directConnection=true&tls=true&tlsInsecure=true",
		"certificate from another CA": "mongodb://" + addr + "/?directConnection=true&tls=true&tlsInsecure=true&tlsCertificateKeyFile=" + url.QueryEscape(foreignClient),
	}
	for name, uri := range refused {
		t.Run(name, func(t *testing.T) {
			coll := rawClientWaiting(t, uri, time.Second).Database("nomina").Collection("users")
			if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "u1"}}).Err(); err == nil {
				t.Fatal("read the users collection")
			}
			if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "u1"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "roles", Value: bson.A{"admin"}}}}}); err == nil {
				t.Fatal("made a user admin")
			}
		})
	}
	if err := other.FindOne(ctx, bson.D{{Key: "_id", Value: "u1"}}).Decode(&got); err != nil || got["roles"].(bson.A)[0] != "candidate" {
		t.Fatalf("the account changed: %v %v", got, err)
	}
}

// Restarting keeps the CA and the client certificate, so other instances
// keep their URI's files; a new listen host gets a new server certificate;
// a start without a listen address removes the URI file.
func TestEmbeddedTLSFilesAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	start := func(listen string) (*mongostore.Embedded, url.Values) {
		e, err := mongostore.StartEmbedded(context.Background(), dir, mongostore.EmbeddedOptions{Listen: listen}, quietLogger())
		if err != nil {
			t.Fatalf("start on %q: %v", listen, err)
		}
		if listen == "" {
			return e, nil
		}
		u, _ := url.Parse(e.RemoteURI())
		c := rawClient(t, e.RemoteURI())
		if err := c.Ping(context.Background(), nil); err != nil {
			t.Fatalf("ping over TLS on %s: %v", listen, err)
		}
		_ = c.Disconnect(context.Background())
		return e, u.Query()
	}
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	e, q := start("127.0.0.1:0")
	ca, client := read(q.Get("tlsCAFile")), read(q.Get("tlsCertificateKeyFile"))
	server := read(filepath.Join(filepath.Dir(q.Get("tlsCAFile")), "server.pem"))
	e.Close()

	e, q = start("127.0.0.1:0")
	if read(q.Get("tlsCAFile")) != ca || read(q.Get("tlsCertificateKeyFile")) != client ||
		read(filepath.Join(filepath.Dir(q.Get("tlsCAFile")), "server.pem")) != server {
		t.Fatal("certificates replaced on a plain restart")
	}
	e.Close()

	e, q = start("localhost:0")
	if read(q.Get("tlsCAFile")) != ca || read(q.Get("tlsCertificateKeyFile")) != client {
		t.Fatal("CA or client certificate replaced when the host changed")
	}
	if read(filepath.Join(filepath.Dir(q.Get("tlsCAFile")), "server.pem")) == server {
		t.Fatal("server certificate kept for a host it does not name")
	}
	e.Close()

	e, _ = start("")
	defer e.Close()
	if _, err := os.Stat(filepath.Join(dir, mongostore.RemoteURIFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s outlives the TLS listener: %v", mongostore.RemoteURIFile, err)
	}
}

// foreignCertificates writes a client certificate (and its key) signed by
// a CA unrelated to the store's, and returns its path.
func foreignCertificates(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "someone else"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		tb.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "intruder"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	clientPath := filepath.Join(dir, "client.pem")
	pair := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	if err := os.WriteFile(clientPath, pair, 0o600); err != nil {
		tb.Fatal(err)
	}
	return clientPath
}
