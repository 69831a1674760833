package mongostore

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/igf/nomina/internal/auth"
)

// colWebSessions holds the web pages' sessions: _id is the SHA-256 of the
// cookie's id, so its insert is the session's unique commit point.
const colWebSessions = "web_sessions"

func init() {
	registerIndexes(
		Index{Collection: colWebSessions, Keys: bson.D{{Key: "expires_at", Value: 1}}},
	)
}

// WebSessions keeps the sessions of signed-in browsers.
type WebSessions struct {
	users *Users
}

var _ auth.SessionStore = (*WebSessions)(nil)

// WebSessions returns the web session store over the same database.
func (s *Store) WebSessions() *WebSessions { return &WebSessions{users: s.Users()} }

type webSessionDoc struct {
	Hash          string    `bson:"_id"`
	UserID        string    `bson:"user_id"`
	CreatedAt     time.Time `bson:"created_at"`
	IdleExpiresAt time.Time `bson:"idle_expires_at"`
	ExpiresAt     time.Time `bson:"expires_at"`
}

// CreateWebSession inserts ws keyed by its hash: ECONFLICT when taken.
func (w *WebSessions) CreateWebSession(ctx context.Context, ws *auth.WebSession) error {
	_, err := w.users.db.Collection(colWebSessions).InsertOne(ctx, webSessionDoc{
		Hash: ws.Hash, UserID: ws.UserID, CreatedAt: ws.CreatedAt.UTC(),
		IdleExpiresAt: ws.IdleExpiresAt.UTC(), ExpiresAt: ws.ExpiresAt.UTC(),
	})
	return translate("create web session", err)
}

// WebSessionByHash returns the session with that hash, or ENOTFOUND.
func (w *WebSessions) WebSessionByHash(ctx context.Context, hash string) (*auth.WebSession, error) {
	var d webSessionDoc
	if err := w.users.db.Collection(colWebSessions).FindOne(ctx, bson.D{{Key: "_id", Value: hash}}).Decode(&d); err != nil {
		return nil, translate("get web session", err)
	}
	return &auth.WebSession{Hash: d.Hash, UserID: d.UserID, CreatedAt: d.CreatedAt.UTC(),
		IdleExpiresAt: d.IdleExpiresAt.UTC(), ExpiresAt: d.ExpiresAt.UTC()}, nil
}

// TouchWebSession moves a session's idle expiry forward (never back: of
// two concurrent touches the later time wins or both write about the
// same). A missing session stays missing: the update inserts nothing.
func (w *WebSessions) TouchWebSession(ctx context.Context, hash string, idleExpiresAt time.Time) error {
	_, err := w.users.db.Collection(colWebSessions).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: hash}},
		bson.D{{Key: "$max", Value: bson.D{{Key: "idle_expires_at", Value: idleExpiresAt.UTC()}}}})
	return translate("touch web session", err)
}

// DeleteWebSession ends a session; a missing one is not an error. The
// end is logged first (auth.SessionKey of the hash), so instances that
// cache page sessions forget it within auth.SessionCacheBound.
func (w *WebSessions) DeleteWebSession(ctx context.Context, hash string) error {
	if err := w.users.logChange(ctx, auth.SessionKey(hash)); err != nil {
		return err
	}
	_, err := w.users.db.Collection(colWebSessions).DeleteOne(ctx, bson.D{{Key: "_id", Value: hash}})
	return translate("delete web session", err)
}

// DeleteExpiredWebSessions removes sessions past their absolute or idle
// expiry at t.
func (w *WebSessions) DeleteExpiredWebSessions(ctx context.Context, t time.Time) (int64, error) {
	res, err := w.users.db.Collection(colWebSessions).DeleteMany(ctx, bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: t.UTC()}}}},
		bson.D{{Key: "idle_expires_at", Value: bson.D{{Key: "$lt", Value: t.UTC()}}}},
	}}})
	if err != nil {
		return 0, translate("delete expired web sessions", err)
	}
	return res.DeletedCount, nil
}
