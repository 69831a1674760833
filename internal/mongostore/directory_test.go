package mongostore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/igf/nomina/internal/auth"
)

// A panel's members are caught up with revisions newer than their
// projections (a change whose rewrite of the projection was lost), both
// when the file answers which revisions exist, in one query through the
// _id index, and when the driver does, by _id one at a time.
func TestDirectoryCatchesUpNewerRevisions(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	c := preparedClient(t, dir)
	s := c.NewStore("nomina", discardLogger())
	if s.sql == nil {
		t.Fatal("the embedded store's own client has no reader of its file")
	}
	users := s.Users()
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, id := range []string{"u1", "u2", "u3", "u4"} {
		u := &auth.User{ID: id, EmailKey: id + "@x", Email: id + "@x", Name: "Old " + id, Roles: []auth.Role{auth.RoleReviewer},
			Panels: []string{"civil_society"}, CreatedAt: now, UpdatedAt: now}
		if err := users.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	// u2 renamed (two revisions), u3 disabled, committed without their
	// projections being rewritten.
	commit := func(id string, version int64, change func(*userDoc)) {
		t.Helper()
		var d userDoc
		if err := s.db.Collection(colUsers).FindOne(ctx, map[string]any{"_id": id + "@x"}).Decode(&d); err != nil {
			t.Fatal(err)
		}
		d.Version = version
		change(&d)
		if _, err := s.db.Collection(colUserRevisions).InsertOne(ctx, userRevision{ID: revisionID(id, version), User: d, At: now}); err != nil {
			t.Fatal(err)
		}
	}
	commit("u2", 2, func(d *userDoc) { d.Name = "Renamed once" })
	commit("u2", 3, func(d *userDoc) { d.Name = "New u2" })
	commit("u3", 2, func(d *userDoc) { d.Disabled = true })
	for name, st := range map[string]*Store{"file": s, "driver": New(c.Database("nomina"), discardLogger())} {
		st.ForgetCaches()
		ms, err := st.Directory().PanelMembers(ctx, "civil_society")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var names []string
		for _, m := range ms {
			names = append(names, m.Name)
		}
		slices.Sort(names)
		if got := strings.Join(names, ","); got != "New u2,Old u1,Old u4" {
			t.Fatalf("%s: members %s", name, got)
		}
	}
	// The file's probe reads the revisions through their _id index.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "nomina.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	table, err := tableOf(ctx, db, colUserRevisions)
	if err != nil || table == "" {
		t.Fatalf("revisions table %q: %v", table, err)
	}
	var detail string
	if err := db.QueryRow("EXPLAIN QUERY PLAN "+idProbeQuery(table, 3), "a", "b", "c").Scan(new(int), new(int), new(int), &detail); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(detail, "USING INDEX "+table+"_id_path") {
		t.Fatalf("probe plan %s", detail)
	}
	// More ids than one query asks for.
	ids := []string{revisionID("u2", 2)}
	for i := range idProbeChunk + 10 {
		ids = append(ids, revisionID("nobody", int64(i)))
	}
	ids = append(ids, revisionID("u3", 2))
	found, err := users.existing(ctx, "probe", colUserRevisions, ids)
	if err != nil || len(found) != 2 || !found[revisionID("u2", 2)] || !found[revisionID("u3", 2)] {
		t.Fatalf("found %v, %v", found, err)
	}
}

// The probe for revisions newer than 50 accounts' projections (what a
// panel's members cost past the instance's cache), with 1,000 and 10,000
// accounts stored, each changed once (one revision each): through the
// file in one query (the embedded store's own instance), by _id one
// lookup each (another instance), and as one $in query (as it was: not
// passed down to SQLite, it reads every revision). Then the whole uncached
// lookup of a panel's members on the store's own instance.
//
//	go test -run '^$' -bench DirectoryRevisionProbe -benchtime 20x ./internal/mongostore/
func BenchmarkDirectoryRevisionProbe(b *testing.B) {
	ctx := context.Background()
	c, err := Connect(ctx, Options{DataDir: b.TempDir(), Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	for _, count := range []int{1000, 10000} {
		name := fmt.Sprintf("accounts%d", count)
		if err := c.Prepare(ctx, name); err != nil {
			b.Fatal(err)
		}
		s := c.NewStore(name, discardLogger())
		now := time.Now().UTC()
		var docs, revs []any
		var probe []string
		for i := range count {
			u := &auth.User{ID: fmt.Sprintf("u%07d", i), EmailKey: fmt.Sprintf("p%07d@example.org", i), Email: fmt.Sprintf("p%07d@example.org", i),
				Name: fmt.Sprint("Person ", i), Roles: []auth.Role{auth.RoleCandidate}, CreatedAt: now, UpdatedAt: now}
			if i%20 == 0 && i < 1000 {
				u.Roles, u.Panels = append(u.Roles, auth.RoleReviewer), []string{"civil_society"}
				probe = append(probe, revisionID(u.ID, 3))
			}
			d := toUserDoc(u)
			d.Version = 2
			docs = append(docs, d)
			revs = append(revs, userRevision{ID: revisionID(d.ID, 2), User: d, At: now})
		}
		for chunk := range slices.Chunk(docs, 100) {
			if _, err := s.db.Collection(colUsers).InsertMany(ctx, chunk); err != nil {
				b.Fatal(err)
			}
		}
		for chunk := range slices.Chunk(revs, 100) {
			if _, err := s.db.Collection(colUserRevisions).InsertMany(ctx, chunk); err != nil {
				b.Fatal(err)
			}
		}
		driver := New(c.Database(name), discardLogger()).Users()
		b.Run(fmt.Sprintf("accounts=%d/probe-file", count), func(b *testing.B) {
			for b.Loop() {
				if found, err := s.Users().existing(ctx, "probe", colUserRevisions, probe); err != nil || len(found) != 0 {
					b.Fatal(found, err)
				}
			}
		})
		b.Run(fmt.Sprintf("accounts=%d/probe-by-id", count), func(b *testing.B) {
			for b.Loop() {
				if found, err := driver.existing(ctx, "probe", colUserRevisions, probe); err != nil || len(found) != 0 {
					b.Fatal(found, err)
				}
			}
		})
		b.Run(fmt.Sprintf("accounts=%d/probe-in", count), func(b *testing.B) {
			for b.Loop() {
				cur, err := driver.db.Collection(colUserRevisions).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: probe}}}},
					options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
				if err != nil {
					b.Fatal(err)
				}
				var ids []bson.Raw
				if err := cur.All(ctx, &ids); err != nil || len(ids) != 0 {
					b.Fatal(len(ids), err)
				}
			}
		})
		b.Run(fmt.Sprintf("accounts=%d/panel-members", count), func(b *testing.B) {
			dir := s.Directory()
			for b.Loop() {
				s.ForgetCaches()
				ms, err := dir.PanelMembers(ctx, "civil_society")
				if err != nil || len(ms) != 50 {
					b.Fatalf("%d members, %v", len(ms), err)
				}
			}
		})
	}
}
