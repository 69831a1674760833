package mongostore

import (
	"context"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/nomination"
)

// Directory answers who people are from the accounts: panel members and the
// secretariat, for mail audiences and vote quorums.
type Directory struct {
	users *Users
}

var (
	_ nomination.Directory   = (*Directory)(nil)
	_ nomination.AddressBook = (*Directory)(nil)
)

// Directory returns the people directory over the same database.
func (s *Store) Directory() *Directory { return &Directory{users: s.Users()} }

func toMember(d userDoc) nomination.Member {
	return nomination.Member{UserID: d.ID, Name: d.Name, Email: d.Email, Organization: d.Organization, Language: d.Language}
}

// User returns one account; ENOTFOUND when there is none.
func (d *Directory) User(ctx context.Context, id string) (nomination.Member, error) {
	u, err := d.users.UserByID(ctx, id)
	if err != nil {
		return nomination.Member{}, err
	}
	return memberOf(u), nil
}

func memberOf(u *auth.User) nomination.Member {
	roles := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		roles[i] = string(r)
	}
	return nomination.Member{UserID: u.ID, Name: u.Name, Email: u.Email, Organization: u.Organization, Roles: roles, Language: u.Language}
}

// UserByEmail returns the account of an address; ENOTFOUND when there is
// none (or the address is not one an account could have).
func (d *Directory) UserByEmail(ctx context.Context, email string) (nomination.Member, error) {
	_, key, err := auth.NormalizeEmail(email)
	if err != nil {
		return nomination.Member{}, nomination.Errorf(nomination.ENOTFOUND, "no account")
	}
	u, err := d.users.UserByEmailKey(ctx, key)
	if err != nil {
		return nomination.Member{}, err
	}
	return memberOf(u), nil
}

// members returns the enabled users matching filter, each caught up with
// its latest committed revision and checked again with keep; answered
// from the instance's cache when read less than memberCacheTTL ago.
//
// On the embedded store the accounts are found through the expression
// indexes of their roles or panels (sqlField holding one of sqlValues),
// instead of a scan of every account.
func (d *Directory) members(ctx context.Context, op string, filter bson.D, sqlField string, sqlValues []string, keep func(userDoc) bool) ([]nomination.Member, error) {
	key := op + "\x00" + strings.Join(sqlValues, "\x00")
	cached, gen, ok := d.users.members.get(key)
	if ok {
		return cached, nil
	}
	readAt := d.users.members.now()
	out, err := d.readMembers(ctx, op, filter, sqlField, sqlValues, keep)
	if err == nil {
		d.users.members.put(key, out, gen, readAt)
	}
	return out, err
}

// readMembers reads what members answers from the store.
func (d *Directory) readMembers(ctx context.Context, op string, filter bson.D, sqlField string, sqlValues []string, keep func(userDoc) bool) ([]nomination.Member, error) {
	var docs []userDoc
	found := false
	if d.users.sql != nil {
		var err error
		if docs, found, err = d.users.sql.usersHolding(ctx, sqlField, sqlValues); err != nil {
			return nil, translate(op, err)
		}
	}
	if !found {
		cur, err := d.users.db.Collection(colUsers).Find(ctx, filter)
		if err != nil {
			return nil, translate(op, err)
		}
		if err := cur.All(ctx, &docs); err != nil {
			return nil, translate(op, err)
		}
	}
	// Which accounts have a newer revision than their projection: only
	// those are caught up one by one.
	next := make([]string, len(docs))
	for i, doc := range docs {
		next[i] = revisionID(doc.ID, doc.Version+1)
	}
	behind, err := d.users.existing(ctx, op, colUserRevisions, next)
	if err != nil {
		return nil, err
	}
	out := make([]nomination.Member, 0, len(docs))
	for i, doc := range docs {
		if behind[next[i]] {
			var err error
			if doc, err = d.users.catchUp(ctx, doc); err != nil {
				return nil, err
			}
		}
		if !doc.Disabled && keep(doc) {
			out = append(out, toMember(doc))
		}
	}
	return out, nil
}

// PanelMembers returns the enabled reviewers on panel.
func (d *Directory) PanelMembers(ctx context.Context, panel string) ([]nomination.Member, error) {
	return d.members(ctx, "panel members", bson.D{{Key: "panels", Value: panel}}, "panels", []string{panel}, func(u userDoc) bool {
		return slices.Contains(u.Roles, "reviewer") && slices.Contains(u.Panels, panel)
	})
}

// Staff returns the enabled secretariat members and admins.
func (d *Directory) Staff(ctx context.Context) ([]nomination.Member, error) {
	return d.members(ctx, "staff", bson.D{{Key: "roles", Value: bson.D{{Key: "$in", Value: bson.A{"secretariat", "admin"}}}}}, "roles", []string{"secretariat", "admin"}, func(u userDoc) bool {
		return slices.Contains(u.Roles, "secretariat") || slices.Contains(u.Roles, "admin")
	})
}

// existing returns which of ids are stored in coll. On the embedded store
// it asks the file, in one query through the _id index (see
// sqlite.go); elsewhere by _id, a few lookups at a time: FerretDB does
// not pass an $in on _id down to SQLite, so one query with $in would read
// the whole collection, while each lookup by _id stays as cheap however
// large it grows (an instance reaching the embedded store from another
// machine has only the driver; on MongoDB, parallelReads lookups at once
// cost about as much as one $in).
func (s *Users) existing(ctx context.Context, op, coll string, ids []string) (map[string]bool, error) {
	found := map[string]bool{}
	if len(ids) == 0 {
		return found, nil
	}
	if s.sql != nil {
		if ok, err := s.sql.existingIDs(ctx, coll, ids, found); ok || err != nil {
			return found, translate(op, err)
		}
	}
	docs, err := readByID[struct{}](ctx, s.db.Collection(coll), ids)
	if err != nil {
		return nil, translate(op, err)
	}
	for id := range docs {
		found[id] = true
	}
	return found, nil
}
