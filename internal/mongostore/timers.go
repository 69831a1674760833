package mongostore

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/igf/nomina/internal/nomination"
)

// Collections of timers.
const (
	colTimers      = "timers"       // _id: derived from the arming event, name and due time
	colTimerClaims = "timer_claims" // _id: timer id and lease window; the insert is the claim
)

func init() {
	registerIndexes(Index{Collection: colTimers, Keys: bson.D{{Key: "status", Value: 1}, {Key: "due", Value: 1}}})
}

// Timers keeps the nominations' armed timers.
type Timers struct {
	db *mongo.Database
}

var _ nomination.TimerStore = (*Timers)(nil)

// Timers returns the timer store over the same database.
func (s *Store) Timers() *Timers { return &Timers{db: s.db} }

type timerDoc struct {
	ID         string        `bson:"_id"`
	Nomination string        `bson:"nomination"`
	ArmedSeq   int           `bson:"armed_seq"`
	Name       string        `bson:"name"`
	Kind       string        `bson:"kind"`
	State      string        `bson:"state"`
	Due        time.Time     `bson:"due"`
	Every      time.Duration `bson:"every"`
	Audience   string        `bson:"audience,omitempty"`
	Template   string        `bson:"template,omitempty"`
	Action     string        `bson:"action,omitempty"`
	Status     string        `bson:"status"`
}

// PutTimer stores a timer; one stored already under its id is kept.
func (s *Timers) PutTimer(ctx context.Context, t nomination.Timer) error {
	d := timerDoc{ID: t.ID, Nomination: t.NominationID, ArmedSeq: t.ArmedSeq, Name: t.Spec.Name, Kind: t.Spec.Kind,
		State: t.Spec.State, Due: t.Spec.Due, Every: t.Spec.Every, Audience: t.Spec.Audience, Template: t.Spec.Template,
		Action: t.Spec.Action, Status: t.Status}
	_, err := s.db.Collection(colTimers).InsertOne(ctx, d)
	if mongo.IsDuplicateKeyError(err) {
		return nil
	}
	return translate("put timer", err)
}

// DueTimers returns pending timers due at or before now, soonest first.
func (s *Timers) DueTimers(ctx context.Context, now time.Time, limit int) ([]nomination.Timer, error) {
	cur, err := s.db.Collection(colTimers).Find(ctx,
		bson.D{{Key: "status", Value: "pending"}, {Key: "due", Value: bson.D{{Key: "$lte", Value: now}}}},
		options.Find().SetSort(bson.D{{Key: "due", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, translate("due timers", err)
	}
	var docs []timerDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate("due timers", err)
	}
	out := make([]nomination.Timer, len(docs))
	for i, d := range docs {
		out[i] = nomination.Timer{ID: d.ID, NominationID: d.Nomination, ArmedSeq: d.ArmedSeq, Status: d.Status,
			Spec: nomination.TimerSpec{Name: d.Name, Kind: d.Kind, State: d.State, Due: d.Due.UTC(), Every: d.Every,
				Audience: d.Audience, Template: d.Template, Action: d.Action}}
	}
	return out, nil
}

// ClaimTimer inserts a claim; ECONFLICT when another instance holds it.
func (s *Timers) ClaimTimer(ctx context.Context, claimID, owner string, at time.Time) error {
	_, err := s.db.Collection(colTimerClaims).InsertOne(ctx, bson.D{{Key: "_id", Value: claimID}, {Key: "owner", Value: owner}, {Key: "at", Value: at}})
	return translate("claim timer", err)
}

// FinishTimer records how a timer ended (done or void). Only the holder of
// its claim writes it.
func (s *Timers) FinishTimer(ctx context.Context, id, status string) error {
	_, err := s.db.Collection(colTimers).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: status}}}})
	return translate("finish timer", err)
}
