package mongostore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/nomination"
)

// Collections of accounts and sessions.
const (
	colUsers         = "users"            // _id: normalised email; the insert is the uniqueness commit
	colUserRevisions = "user_revisions"   // _id: "<uid>/<version>"; the insert commits a change
	colRefreshTokens = "refresh_tokens"   // _id: SHA-256 of the token
	colRefreshSpent  = "refresh_spent"    // _id: SHA-256 of a spent token; the insert decides rotation
	colRevokedFamily = "revoked_sessions" // _id: refresh family (session) id
	colLinkTokens    = "link_tokens"      // earlier versions' link tokens, by hash: only purged now
	colLinkUsed      = "link_tokens_used" // _id: SHA-256 of a used link token; the insert consumes it
	colAttempts      = "auth_attempts"    // one document per throttled attempt
	colUserIDs       = "user_ids"         // _id: user id; the account's _id (email key), for lookups by id
)

func init() {
	registerIndexes(
		Index{Collection: colUsers, Keys: bson.D{{Key: "uid", Value: 1}}, Unique: true},
		// Mail audiences and quorums find accounts by role and by panel.
		Index{Collection: colUsers, Keys: bson.D{{Key: "roles", Value: 1}}},
		Index{Collection: colUsers, Keys: bson.D{{Key: "panels", Value: 1}}},
		Index{Collection: colAttempts, Keys: bson.D{{Key: "key", Value: 1}, {Key: "at", Value: 1}}},
		Index{Collection: colRefreshTokens, Keys: bson.D{{Key: "expires_at", Value: 1}}},
		Index{Collection: colLinkTokens, Keys: bson.D{{Key: "expires_at", Value: 1}}},
	)
}

// Users keeps accounts, refresh tokens, mailed link tokens and login
// attempts. Every decision that can race (a taken email, a spent refresh
// token, a used link) is the insert of a document whose _id is the thing
// that must be unique.
//
// An account lives in two places: "users" holds its projection (keyed by
// email, which makes addresses unique), and every later change is committed
// by inserting revision <uid>/<version+1> into "user_revisions" holding the
// whole new state. Of two concurrent changes only one can take a version;
// the other re-reads and tries the next. The projection is rewritten after
// each commit, and since such rewrites may land out of order, every read
// checks for a newer revision and catches up (read-repair).
type Users struct {
	db      *mongo.Database
	sql     *sqlReader   // nil: the log is read through the driver
	members *memberCache // told of every account change made here
}

var _ auth.Store = (*Users)(nil)

// Users returns the account store over the same database.
func (s *Store) Users() *Users { return &Users{db: s.db, sql: s.sql, members: s.members} }

type userDoc struct {
	EmailKey     string    `bson:"_id"`
	ID           string    `bson:"uid"`
	Email        string    `bson:"email"`
	Name         string    `bson:"name"`
	Roles        []string  `bson:"roles"`
	Panels       []string  `bson:"panels"`
	Organization string    `bson:"organization"`
	Language     string    `bson:"language,omitempty"`
	PasswordHash string    `bson:"password_hash"`
	Disabled     bool      `bson:"disabled"`
	ValidAfter   time.Time `bson:"valid_after"`
	// EmailConfirmedAt is zero (absent in older records) until the owner
	// confirmed the address.
	EmailConfirmedAt time.Time `bson:"email_confirmed_at"`
	CreatedAt        time.Time `bson:"created_at"`
	UpdatedAt        time.Time `bson:"updated_at"`
	// Version counts committed changes; version 1 is the created account.
	Version int64 `bson:"version"`
}

// userRevision is one committed change: the whole account as it is from
// that version on.
type userRevision struct {
	ID   string    `bson:"_id"`
	User userDoc   `bson:"user"`
	At   time.Time `bson:"at"`
}

func revisionID(uid string, version int64) string { return fmt.Sprintf("%s/%010d", uid, version) }

func toUserDoc(u *auth.User) userDoc {
	d := userDoc{Version: 1,
		EmailKey: u.EmailKey, ID: u.ID, Email: u.Email, Name: u.Name,
		Roles: make([]string, 0, len(u.Roles)), Panels: append([]string{}, u.Panels...),
		Organization: u.Organization, Language: u.Language, PasswordHash: u.PasswordHash, Disabled: u.Disabled,
		ValidAfter: u.ValidAfter.UTC(), EmailConfirmedAt: u.EmailConfirmedAt.UTC(),
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(),
	}
	for _, r := range u.Roles {
		d.Roles = append(d.Roles, string(r))
	}
	return d
}

func fromUserDoc(d *userDoc) *auth.User {
	u := &auth.User{
		ID: d.ID, Email: d.Email, EmailKey: d.EmailKey, Name: d.Name,
		Roles: make([]auth.Role, 0, len(d.Roles)), Panels: append([]string{}, d.Panels...),
		Organization: d.Organization, Language: d.Language, PasswordHash: d.PasswordHash, Disabled: d.Disabled,
		ValidAfter: d.ValidAfter.UTC(), EmailConfirmedAt: d.EmailConfirmedAt.UTC(),
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
	}
	for _, r := range d.Roles {
		u.Roles = append(u.Roles, auth.Role(r))
	}
	return u
}

// CreateUser inserts u keyed by its EmailKey: ECONFLICT when taken.
func (s *Users) CreateUser(ctx context.Context, u *auth.User) error {
	defer s.members.changed()
	if _, err := s.db.Collection(colUsers).InsertOne(ctx, toUserDoc(u)); err != nil {
		return translate("create user", err)
	}
	s.indexUserID(ctx, u.ID, u.EmailKey)
	return nil
}

// indexUserID records which account (by its _id, the email key) a user id
// belongs to, so lookups by id go through _id rather than scan the
// accounts. A missing entry (a crash right after the account's insert) is
// made again by the next lookup.
func (s *Users) indexUserID(ctx context.Context, uid, emailKey string) {
	_, _ = s.db.Collection(colUserIDs).InsertOne(ctx, bson.D{{Key: "_id", Value: uid}, {Key: "email_key", Value: emailKey}})
}

func (s *Users) findUser(ctx context.Context, op string, filter bson.D) (*auth.User, error) {
	var d userDoc
	if err := s.db.Collection(colUsers).FindOne(ctx, filter).Decode(&d); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			// A miss reads as much as a hit (which looks for a newer
			// revision), so the time of a lookup does not tell whether an
			// account exists.
			_ = s.db.Collection(colUserRevisions).FindOne(ctx, bson.D{{Key: "_id", Value: revisionID("", 0)}}).Err()
		}
		return nil, translate(op, err)
	}
	d, err := s.catchUp(ctx, d)
	if err != nil {
		return nil, err
	}
	return fromUserDoc(&d), nil
}

// catchUp returns the newest committed state of the account whose
// projection is d, following revisions past d's version, and rewrites a
// stale projection.
func (s *Users) catchUp(ctx context.Context, d userDoc) (userDoc, error) {
	stale := false
	for {
		var r userRevision
		err := s.db.Collection(colUserRevisions).FindOne(ctx, bson.D{{Key: "_id", Value: revisionID(d.ID, d.Version+1)}}).Decode(&r)
		if errors.Is(err, mongo.ErrNoDocuments) {
			break
		}
		if err != nil {
			return d, translate("read user revision", err)
		}
		d, stale = r.User, true
	}
	if stale {
		s.project(ctx, d)
	}
	return d, nil
}

// project rewrites the projection of an account. Failing, or being
// overtaken by an older rewrite, costs only a later read's catch-up.
func (s *Users) project(ctx context.Context, d userDoc) {
	_, _ = s.db.Collection(colUsers).ReplaceOne(ctx, bson.D{{Key: "_id", Value: d.EmailKey}}, d)
}

// UserByID returns the user with that id, or ENOTFOUND.
func (s *Users) UserByID(ctx context.Context, id string) (*auth.User, error) {
	var ref struct {
		EmailKey string `bson:"email_key"`
	}
	err := s.db.Collection(colUserIDs).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&ref)
	if err == nil {
		return s.findUser(ctx, "get user", bson.D{{Key: "_id", Value: ref.EmailKey}})
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return nil, translate("get user", err)
	}
	u, err := s.findUser(ctx, "get user", bson.D{{Key: "uid", Value: id}})
	if err == nil {
		s.indexUserID(ctx, u.ID, u.EmailKey)
	}
	return u, err
}

// userDocByID reads the projection of the account with that user id by
// its _id, through the id's entry in colUserIDs; without that entry (a
// crash right after the account's insert) by its uid field, a scan on the
// embedded store, and then makes the entry again.
func (s *Users) userDocByID(ctx context.Context, op, id string) (userDoc, error) {
	var d userDoc
	var ref struct {
		EmailKey string `bson:"email_key"`
	}
	err := s.db.Collection(colUserIDs).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&ref)
	if err == nil {
		err = s.db.Collection(colUsers).FindOne(ctx, bson.D{{Key: "_id", Value: ref.EmailKey}}).Decode(&d)
		if err == nil && d.ID == id {
			return d, nil
		}
	}
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return d, translate(op, err)
	}
	if err := s.db.Collection(colUsers).FindOne(ctx, bson.D{{Key: "uid", Value: id}}).Decode(&d); err != nil {
		return d, translate(op, err)
	}
	s.indexUserID(ctx, d.ID, d.EmailKey)
	return d, nil
}

// UserByEmailKey returns the user with that normalised email, or ENOTFOUND.
func (s *Users) UserByEmailKey(ctx context.Context, key string) (*auth.User, error) {
	return s.findUser(ctx, "get user by email", bson.D{{Key: "_id", Value: key}})
}

// maxUpdateTries bounds the attempts of a user change that keeps losing
// its version to concurrent changes.
const maxUpdateTries = 16

// UpdateUser commits the changes ch names to the user with that id and
// returns the user as committed, or ENOTFOUND. Concurrent changes of one
// user are serialised by the revision insert, so none is lost.
func (s *Users) UpdateUser(ctx context.Context, id string, ch auth.UserChanges) (*auth.User, error) {
	if err := s.logChange(ctx, auth.UserKey(id)); err != nil {
		return nil, err
	}
	defer s.members.changed()
	for range maxUpdateTries {
		d, err := s.userDocByID(ctx, "update user", id)
		if err != nil {
			return nil, err
		}
		d, err = s.catchUp(ctx, d)
		if err != nil {
			return nil, err
		}
		next := apply(d, ch)
		_, err = s.db.Collection(colUserRevisions).InsertOne(ctx, userRevision{ID: revisionID(id, next.Version), User: next, At: next.UpdatedAt})
		if mongo.IsDuplicateKeyError(err) {
			continue // another change took this version: start again from it
		}
		if err != nil {
			return nil, translate("update user", err)
		}
		s.project(ctx, next)
		return fromUserDoc(&next), nil
	}
	return nil, fmt.Errorf("update user %s: %w", id, &nomination.Error{Code: nomination.EUNAVAILABLE, Message: "the account is being changed by others; try again"})
}

// apply returns d with ch's changes and the next version.
func apply(d userDoc, ch auth.UserChanges) userDoc {
	d.Version++
	d.UpdatedAt = ch.UpdatedAt.UTC()
	if ch.Name != nil {
		d.Name = *ch.Name
	}
	if ch.Roles != nil {
		d.Roles = make([]string, 0, len(*ch.Roles))
		for _, r := range *ch.Roles {
			d.Roles = append(d.Roles, string(r))
		}
	}
	if ch.Panels != nil {
		d.Panels = append([]string{}, *ch.Panels...)
	}
	if ch.Organization != nil {
		d.Organization = *ch.Organization
	}
	if ch.Disabled != nil {
		d.Disabled = *ch.Disabled
	}
	if ch.PasswordHash != nil {
		d.PasswordHash = *ch.PasswordHash
	}
	if ch.ValidAfter != nil {
		d.ValidAfter = ch.ValidAfter.UTC()
	}
	if ch.EmailConfirmedAt != nil {
		d.EmailConfirmedAt = ch.EmailConfirmedAt.UTC()
	}
	if ch.Language != nil {
		d.Language = *ch.Language
	}
	return d
}

// ListUsers returns up to f.Limit users with EmailKey after f.After, in
// EmailKey order, holding f.Role and sitting on f.Panel when those are set.
func (s *Users) ListUsers(ctx context.Context, f auth.UserFilter) ([]*auth.User, error) {
	filter := bson.D{}
	if f.After != "" {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: f.After}}})
	}
	if f.Role != "" {
		filter = append(filter, bson.E{Key: "roles", Value: string(f.Role)})
	}
	if f.Panel != "" {
		filter = append(filter, bson.E{Key: "panels", Value: f.Panel})
	}
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
	if f.Limit > 0 {
		opts.SetLimit(int64(f.Limit))
	}
	cur, err := s.db.Collection(colUsers).Find(ctx, filter, opts)
	if err != nil {
		return nil, translate("list users", err)
	}
	var docs []userDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate("list users", err)
	}
	out := make([]*auth.User, 0, len(docs))
	for _, d := range docs {
		d, err := s.catchUp(ctx, d)
		if err != nil {
			return nil, err
		}
		u := fromUserDoc(&d)
		// The projection matched; the newest state must too.
		if (f.Role != "" && !u.HasRole(f.Role)) || (f.Panel != "" && !slices.Contains(u.Panels, f.Panel)) {
			continue
		}
		out = append(out, u)
	}
	return out, nil
}

// AnyUserWithRole reports whether at least one user holds role r.
func (s *Users) AnyUserWithRole(ctx context.Context, r auth.Role) (bool, error) {
	err := s.db.Collection(colUsers).FindOne(ctx, bson.D{{Key: "roles", Value: string(r)}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, translate("find user by role", err)
	}
	return true, nil
}

type refreshDoc struct {
	Hash            string    `bson:"_id"`
	Family          string    `bson:"family"`
	UserID          string    `bson:"user_id"`
	FamilyStartedAt time.Time `bson:"family_started_at"`
	IssuedAt        time.Time `bson:"issued_at"`
	ExpiresAt       time.Time `bson:"expires_at"`
}

// CreateRefreshToken stores t keyed by its hash.
func (s *Users) CreateRefreshToken(ctx context.Context, t *auth.RefreshToken) error {
	_, err := s.db.Collection(colRefreshTokens).InsertOne(ctx, refreshDoc{
		Hash: t.Hash, Family: t.Family, UserID: t.UserID,
		FamilyStartedAt: t.FamilyStartedAt.UTC(), IssuedAt: t.IssuedAt.UTC(), ExpiresAt: t.ExpiresAt.UTC(),
	})
	return translate("store refresh token", err)
}

// RefreshTokenByHash returns the refresh token with that hash, or ENOTFOUND.
func (s *Users) RefreshTokenByHash(ctx context.Context, hash string) (*auth.RefreshToken, error) {
	var d refreshDoc
	if err := s.db.Collection(colRefreshTokens).FindOne(ctx, bson.D{{Key: "_id", Value: hash}}).Decode(&d); err != nil {
		return nil, translate("get refresh token", err)
	}
	return &auth.RefreshToken{
		Hash: d.Hash, Family: d.Family, UserID: d.UserID,
		FamilyStartedAt: d.FamilyStartedAt.UTC(), IssuedAt: d.IssuedAt.UTC(), ExpiresAt: d.ExpiresAt.UTC(),
	}, nil
}

// SpendRefreshToken inserts the spend record: ECONFLICT when it exists.
func (s *Users) SpendRefreshToken(ctx context.Context, hash string, at time.Time) error {
	_, err := s.db.Collection(colRefreshSpent).InsertOne(ctx, bson.D{{Key: "_id", Value: hash}, {Key: "at", Value: at.UTC()}})
	return translate("spend refresh token", err)
}

// RevokeFamily inserts the revocation of a session; a second revocation
// keeps the first and is not an error.
func (s *Users) RevokeFamily(ctx context.Context, family, reason string, at time.Time) error {
	if err := s.logChange(ctx, auth.SessionKey(family)); err != nil {
		return err
	}
	_, err := s.db.Collection(colRevokedFamily).InsertOne(ctx, bson.D{
		{Key: "_id", Value: family}, {Key: "reason", Value: reason}, {Key: "at", Value: at.UTC()},
	})
	if mongo.IsDuplicateKeyError(err) {
		return nil
	}
	return translate("revoke session", err)
}

// FamilyRevoked reports whether the session has been revoked.
func (s *Users) FamilyRevoked(ctx context.Context, family string) (bool, error) {
	return s.exists(ctx, colRevokedFamily, family, "check session")
}

func (s *Users) exists(ctx context.Context, coll, id, op string) (bool, error) {
	err := s.db.Collection(coll).FindOne(ctx, bson.D{{Key: "_id", Value: id}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, translate(op, err)
	}
	return true, nil
}

// ConsumeLinkToken inserts the use record, kept until the token expires:
// ECONFLICT when it exists.
func (s *Users) ConsumeLinkToken(ctx context.Context, hash string, at, expires time.Time) error {
	_, err := s.db.Collection(colLinkUsed).InsertOne(ctx, bson.D{
		{Key: "_id", Value: hash}, {Key: "at", Value: at.UTC()}, {Key: "expires_at", Value: expires.UTC()},
	})
	return translate("use link token", err)
}

// LinkTokenUsed reports whether the use record of the token is there.
func (s *Users) LinkTokenUsed(ctx context.Context, hash string) (bool, error) {
	return s.exists(ctx, colLinkUsed, hash, "check link token")
}

// AddAttempt records one attempt.
func (s *Users) AddAttempt(ctx context.Context, a auth.Attempt) error {
	_, err := s.db.Collection(colAttempts).InsertOne(ctx, bson.D{
		{Key: "_id", Value: a.ID}, {Key: "key", Value: a.Key}, {Key: "at", Value: a.At.UTC()},
	})
	return translate("record attempt", err)
}

// RemoveAttempt deletes one attempt; a missing one is not an error.
func (s *Users) RemoveAttempt(ctx context.Context, id string) error {
	_, err := s.db.Collection(colAttempts).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	return translate("remove attempt", err)
}

// Attempts returns the times of up to limit attempts under key recorded
// after since, oldest first.
func (s *Users) Attempts(ctx context.Context, key string, since time.Time, limit int) ([]time.Time, error) {
	if s.sql != nil {
		if out, ok, err := s.sql.attempts(ctx, key, since, limit); ok || err != nil {
			if out == nil && err == nil {
				out = []time.Time{}
			}
			return out, err
		}
	}
	cur, err := s.db.Collection(colAttempts).Find(ctx,
		bson.D{{Key: "key", Value: key}, {Key: "at", Value: bson.D{{Key: "$gt", Value: since.UTC()}}}},
		options.Find().
			SetSort(bson.D{{Key: "at", Value: 1}, {Key: "_id", Value: 1}}).
			SetLimit(int64(limit)).
			SetProjection(bson.D{{Key: "at", Value: 1}}))
	if err != nil {
		return nil, translate("count attempts", err)
	}
	var docs []struct {
		At time.Time `bson:"at"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate("count attempts", err)
	}
	out := make([]time.Time, len(docs))
	for i, d := range docs {
		out[i] = d.At.UTC()
	}
	return out, nil
}

// DeleteExpired removes attempts older than attemptsBefore, refresh tokens
// that expired before tokensBefore with their spend records, and the use
// records of mailed links that expired by then (and link tokens stored by
// earlier versions), so the collections stay small (the embedded store has
// no TTL indexes). It returns how many documents it removed.
func (s *Users) DeleteExpired(ctx context.Context, attemptsBefore, tokensBefore time.Time) (int64, error) {
	var n int64
	res, err := s.db.Collection(colAttempts).DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: attemptsBefore.UTC()}}}})
	if err != nil {
		return n, translate("delete old attempts", err)
	}
	n += res.DeletedCount
	if purged, err := s.purgeLog(ctx, attemptsBefore); err != nil {
		return n, err
	} else {
		n += purged
	}
	res, err = s.db.Collection(colLinkUsed).DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: tokensBefore.UTC()}}}})
	if err != nil {
		return n, translate("delete used links", err)
	}
	n += res.DeletedCount
	for _, p := range []struct{ tokens, used string }{{colRefreshTokens, colRefreshSpent}, {colLinkTokens, colLinkUsed}} {
		cur, err := s.db.Collection(p.tokens).Find(ctx,
			bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: tokensBefore.UTC()}}}},
			options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetLimit(10000))
		if err != nil {
			return n, translate("find expired tokens", err)
		}
		var ids []struct {
			ID string `bson:"_id"`
		}
		if err := cur.All(ctx, &ids); err != nil {
			return n, translate("find expired tokens", err)
		}
		if len(ids) == 0 {
			continue
		}
		keys := make([]string, len(ids))
		for i, d := range ids {
			keys[i] = d.ID
		}
		in := bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}}
		// Tokens first: a spend record without its token is harmless, a
		// token without its spend record could be spent again.
		for _, coll := range []string{p.tokens, p.used} {
			res, err := s.db.Collection(coll).DeleteMany(ctx, in)
			if err != nil {
				return n, translate("delete expired tokens", err)
			}
			n += res.DeletedCount
		}
	}
	return n, nil
}

// colSetupTokens holds the first-administrator setup links: _id is the
// SHA-256 of the token, expires_at when it stops working.
const colSetupTokens = "setup_tokens"

// AddSetupToken stores a setup link by the hash of its token.
func (s *Users) AddSetupToken(ctx context.Context, t auth.SetupToken) error {
	_, err := s.db.Collection(colSetupTokens).InsertOne(ctx, bson.D{
		{Key: "_id", Value: t.Hash}, {Key: "expires_at", Value: t.ExpiresAt.UTC()},
	})
	return translate("store setup link", err)
}

// SetupTokens returns the setup links that have not expired at now (a
// handful: one per start of an instance while there is no administrator).
func (s *Users) SetupTokens(ctx context.Context, now time.Time) ([]auth.SetupToken, error) {
	cur, err := s.db.Collection(colSetupTokens).Find(ctx,
		bson.D{{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: now.UTC()}}}},
		options.Find().SetLimit(1000))
	if err != nil {
		return nil, translate("list setup links", err)
	}
	var docs []struct {
		Hash      string    `bson:"_id"`
		ExpiresAt time.Time `bson:"expires_at"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate("list setup links", err)
	}
	out := make([]auth.SetupToken, len(docs))
	for i, d := range docs {
		out[i] = auth.SetupToken{Hash: d.Hash, ExpiresAt: d.ExpiresAt}
	}
	return out, nil
}
