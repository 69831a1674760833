package mongostore

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// slotDoc is one generation of one place of a nominator's quota in a
// call, taken by one nomination; a second document, "<slot>/free", records
// that it was freed. Both are only ever inserted: on the embedded store
// only unique inserts are atomic (DESIGN §3), so two nominations cannot
// both take a nominator's last place, and no delete can free a place
// another nomination took meanwhile.
type slotDoc struct {
	ID         string    `bson:"_id"`
	Nomination string    `bson:"nomination,omitempty"`
	At         time.Time `bson:"at"`
}

func freeSlotID(id string) string { return id + "/free" }

// TakeSlot inserts slot id for nominationID; ECONFLICT when it is taken.
func (s *Nominations) TakeSlot(ctx context.Context, id, nominationID string, at time.Time) error {
	_, err := s.db.Collection(colQuotaSlots).InsertOne(ctx, slotDoc{ID: id, Nomination: nominationID, At: at})
	return translate("take quota place", err)
}

// Slot returns the nomination that took slot id; ENOTFOUND when none did.
func (s *Nominations) Slot(ctx context.Context, id string) (string, time.Time, error) {
	var d slotDoc
	if err := s.db.Collection(colQuotaSlots).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
		return "", time.Time{}, translate("read quota place", err)
	}
	return d.Nomination, d.At.UTC(), nil
}

// FreeSlot records that slot id is free; a second record changes nothing.
func (s *Nominations) FreeSlot(ctx context.Context, id string) error {
	_, err := s.db.Collection(colQuotaSlots).InsertOne(ctx, slotDoc{ID: freeSlotID(id)})
	if mongo.IsDuplicateKeyError(err) {
		return nil
	}
	return translate("free quota place", err)
}

// SlotFree reports whether slot id was freed.
func (s *Nominations) SlotFree(ctx context.Context, id string) (bool, error) {
	err := s.db.Collection(colQuotaSlots).FindOne(ctx, bson.D{{Key: "_id", Value: freeSlotID(id)}}).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, translate("read quota place", err)
	}
	return true, nil
}
