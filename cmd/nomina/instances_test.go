package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/igf/nomina/internal/keyring"
	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/nomination"
)

// storeClient connects to the store at uri, for reading what the services
// wrote.
func storeClient(t *testing.T, uri string) *mongo.Database {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c.Database("nomina")
}

// Two instances on one store share the signing secrets: an access token
// issued by one is accepted by the other, and a link mailed (signed) by
// one works on the other. The store holds the link secret only sealed
// under the key-encryption key, which stays in the first instance's data
// directory; an instance without that key is refused at start.
func TestInstancesShareSigningSecrets(t *testing.T) {
	mp := startMailpit(t)
	dir := t.TempDir()
	const adminPW = "admin passphrase for two instances"
	common := map[string]string{"NOMINA_SMTP_URL": "smtp://" + mp.smtp, "NOMINA_ADMIN_EMAIL": "admin@igf.example", "NOMINA_ADMIN_PASSWORD": adminPW}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range common {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	// The first sends no mail: every message comes from the second.
	first := startService(t, with(map[string]string{"NOMINA_DATA_DIR": dir, "NOMINA_EMBEDDED_LISTEN": "127.0.0.1:0", "NOMINA_MAIL_WORKERS": "0"}))
	waitReady(t, first, 30*time.Second)
	uriBytes, err := os.ReadFile(filepath.Join(dir, mongostore.RemoteURIFile))
	if err != nil {
		t.Fatal(err)
	}
	uri := strings.TrimSpace(string(uriBytes))
	kekFile := filepath.Join(dir, "secrets.key")
	second := startService(t, with(map[string]string{"NOMINA_MONGODB_URI": uri, "NOMINA_SECRETS_KEY_FILE": kekFile}))
	waitReady(t, second, 30*time.Second)

	a := client{t: t, base: "http://" + first.addr}
	b := client{t: t, base: "http://" + second.addr}
	fromA, fromB := a.login("admin@igf.example", adminPW), b.login("admin@igf.example", adminPW)
	// Each instance accepts the other's token.
	b.token, a.token = fromA.token, fromB.token
	b.must("GET", "/api/v1/me", nil, 200, nil)
	a.must("GET", "/api/v1/me", nil, 200, nil)

	// Registered on the first, mailed by the second, confirmed on the first.
	const pw = "a long and private passphrase 9"
	anonA := client{t: t, base: a.base}
	anonA.must("POST", "/api/v1/auth/register", map[string]any{"email": "ana@example.org", "password": pw, "name": "Ana"}, 202, nil)
	msg := mp.waitFor(t, "ana@example.org", "confirm")
	m := regexp.MustCompile(`/confirm-email/(\S+)`).FindStringSubmatch(mp.text(t, msg.ID))
	if m == nil {
		t.Fatalf("no confirmation link in:\n%s", mp.text(t, msg.ID))
	}
	token := m[1]
	anonA.must("POST", "/api/v1/auth/confirm-email", map[string]any{"token": token}, 204, nil)

	// The store holds the link secret sealed: opened with the key file it
	// is the one that signed the link, and the raw documents do not hold it.
	db := storeClient(t, uri)
	kek, err := keyring.ReadKEKFile(kekFile)
	if err != nil {
		t.Fatal(err)
	}
	secrets := mongostore.New(db, nil).Secrets()
	ring, _ := keyring.NewRing(secrets, kek, keyring.Config{Kind: keyring.Links, Lifetime: time.Hour})
	v, err := ring.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nomination.NewLinkSigner(v.Signer.Secret).Verify(token, "confirm_email", time.Now()); err != nil {
		t.Fatalf("the mailed link is not signed with the stored secret: %v", err)
	}
	cur, err := db.Collection("secrets").Find(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var raws []bson.Raw
	if err := cur.All(context.Background(), &raws); err != nil {
		t.Fatal(err)
	}
	if len(raws) != 2 {
		t.Fatalf("%d stored secrets, want one access-token key and one link secret", len(raws))
	}
	for _, r := range raws {
		if bytes.Contains(r, v.Signer.Secret) {
			t.Fatal("a stored document holds the link secret in the clear")
		}
	}

	// Without the key file another instance is refused, saying what to do.
	third := startService(t, map[string]string{"NOMINA_MONGODB_URI": uri})
	code, ok := third.exited(30 * time.Second)
	if !ok || code != 2 || !strings.Contains(third.stderr.String(), "NOMINA_SECRETS_KEY_FILE") {
		t.Fatalf("an instance without the key-encryption key: exited=%v code=%d\n%s", ok, code, third.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "secrets.key")); err != nil {
		t.Fatalf("the first instance's key file: %v", err)
	}
}

// Three instances starting at once on an empty store, with one key file
// path that none has created yet, make exactly one access-token key and
// one link secret between them, and accept each other's tokens.
func TestSimultaneousFirstStartsShareOneKeySet(t *testing.T) {
	storeDir := t.TempDir()
	emb, err := mongostore.StartEmbedded(context.Background(), storeDir, mongostore.EmbeddedOptions{Listen: "127.0.0.1:0"},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Close)
	kekFile := filepath.Join(t.TempDir(), "shared", "secrets.key")
	const adminPW = "admin passphrase for three instances"
	services := make([]*service, 3)
	var wg sync.WaitGroup
	for i := range services {
		wg.Go(func() {
			services[i] = startService(t, map[string]string{"NOMINA_MONGODB_URI": emb.RemoteURI(), "NOMINA_SECRETS_KEY_FILE": kekFile,
				"NOMINA_ADMIN_EMAIL": "admin@igf.example", "NOMINA_ADMIN_PASSWORD": adminPW})
		})
	}
	wg.Wait()
	tokens := make([]string, len(services))
	for i, s := range services {
		waitReady(t, s, 30*time.Second)
		tokens[i] = client{t: t, base: "http://" + s.addr}.login("admin@igf.example", adminPW).token
	}
	for i, s := range services {
		for j, tok := range tokens {
			c := client{t: t, base: "http://" + s.addr, token: tok}
			if code := c.do("GET", "/api/v1/me", nil, nil); code != http.StatusOK {
				t.Fatalf("instance %d refused the token of instance %d: %d", i, j, code)
			}
		}
	}
	db := storeClient(t, emb.RemoteURI())
	for _, kind := range []string{keyring.AccessTokens, keyring.Links} {
		n, err := db.Collection("secrets").CountDocuments(context.Background(), bson.D{{Key: "kind", Value: kind}})
		if err != nil || n != 1 {
			t.Fatalf("%d stored %s secrets (%v), want exactly one", n, kind, err)
		}
	}
}
