package mongostore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/igf/nomina/internal/membership"
)

// Collections of members.
const (
	colMemberChanges = "member_changes" // _id: "<member>/<seq, zero-padded>"; the insert is the commit point
	colMembers       = "members"        // _id: member id (from body and email); the projection, rewritten by _id
)

func init() {
	registerIndexes(
		Index{Collection: colMembers, Keys: bson.D{{Key: "body", Value: 1}}},
	)
}

// Members keeps the members' ledgers of changes and their projections.
type Members struct {
	db *mongo.Database
}

var _ membership.Store = (*Members)(nil)

// Members returns the membership store over the same database.
func (s *Store) Members() *Members { return &Members{db: s.db} }

// changeID is the ledger key of a member's seq-th change.
func changeID(memberID string, seq int) string { return fmt.Sprintf("%s/%08d", memberID, seq) }

// changeDoc keeps the queryable parts as fields and the payload (profile,
// term, ending) as JSON, so it decodes to exactly what was written.
type changeDoc struct {
	ID     string    `bson:"_id"`
	Member string    `bson:"member"`
	Seq    int       `bson:"seq"`
	At     time.Time `bson:"at"`
	Actor  string    `bson:"actor"`
	Type   string    `bson:"type"`
	Body   string    `bson:"body"`
	Data   string    `bson:"data"`
}

// changeData is the payload of a change.
type changeData struct {
	Profile *membership.ProfileChange `json:"profile,omitempty"`
	Term    *membership.Term          `json:"term,omitempty"`
	Ending  *membership.Ending        `json:"ending,omitempty"`
}

func toChangeDoc(c membership.Change) (changeDoc, error) {
	data, err := json.Marshal(changeData{Profile: c.Profile, Term: c.Term, Ending: c.Ending})
	if err != nil {
		return changeDoc{}, fmt.Errorf("encode change %s: %w", changeID(c.MemberID, c.Seq), err)
	}
	return changeDoc{ID: changeID(c.MemberID, c.Seq), Member: c.MemberID, Seq: c.Seq, At: c.At, Actor: c.Actor,
		Type: c.Type, Body: c.Body, Data: string(data)}, nil
}

func fromChangeDoc(d changeDoc) (membership.Change, error) {
	var data changeData
	if err := json.Unmarshal([]byte(d.Data), &data); err != nil {
		return membership.Change{}, fmt.Errorf("decode change %s: %w", d.ID, err)
	}
	return membership.Change{MemberID: d.Member, Seq: d.Seq, At: d.At.UTC(), Actor: d.Actor, Type: d.Type, Body: d.Body,
		Profile: data.Profile, Term: data.Term, Ending: data.Ending}, nil
}

// AppendChange inserts the change under its unique key; ECONFLICT when
// that seq is taken.
func (s *Members) AppendChange(ctx context.Context, c membership.Change) error {
	d, err := toChangeDoc(c)
	if err != nil {
		return err
	}
	_, err = s.db.Collection(colMemberChanges).InsertOne(ctx, d)
	return translate("append member change", err)
}

// Change returns one change by its key; ENOTFOUND when it does not exist.
func (s *Members) Change(ctx context.Context, memberID string, seq int) (membership.Change, error) {
	var d changeDoc
	err := s.db.Collection(colMemberChanges).FindOne(ctx, bson.D{{Key: "_id", Value: changeID(memberID, seq)}}).Decode(&d)
	if err != nil {
		return membership.Change{}, translate("get member change", err)
	}
	return fromChangeDoc(d)
}

// memberDoc is the projection: the queryable parts as fields, the whole
// member (terms included) as JSON.
type memberDoc struct {
	ID        string    `bson:"_id"`
	Body      string    `bson:"body"`
	Email     string    `bson:"email"`
	Seq       int       `bson:"seq"`
	UpdatedAt time.Time `bson:"updated_at"`
	Member    string    `bson:"member"`
}

func toMemberDoc(m membership.Member) (memberDoc, error) {
	js, err := json.Marshal(m)
	if err != nil {
		return memberDoc{}, fmt.Errorf("encode member %s: %w", m.ID, err)
	}
	return memberDoc{ID: m.ID, Body: m.Body, Email: m.Email, Seq: m.Seq, UpdatedAt: m.UpdatedAt, Member: string(js)}, nil
}

func fromMemberDoc(d memberDoc) (membership.Member, error) {
	var m membership.Member
	if err := json.Unmarshal([]byte(d.Member), &m); err != nil {
		return membership.Member{}, fmt.Errorf("decode member %s: %w", d.ID, err)
	}
	return m, nil
}

// PutMember writes the projection unless the stored one is newer.
func (s *Members) PutMember(ctx context.Context, m membership.Member) error {
	d, err := toMemberDoc(m)
	if err != nil {
		return err
	}
	// The seq condition keeps a slower writer from putting back an older
	// projection; where it is not atomic, readers still catch up from
	// the ledger.
	_, err = s.db.Collection(colMembers).ReplaceOne(ctx,
		bson.D{{Key: "_id", Value: m.ID}, {Key: "seq", Value: bson.D{{Key: "$lt", Value: m.Seq}}}}, d,
		options.Replace().SetUpsert(true))
	if err == nil || mongo.IsDuplicateKeyError(err) {
		return nil // a duplicate key: a newer projection is stored already
	}
	return translate("put member", err)
}

// GetMember returns the stored projection; ENOTFOUND when none.
func (s *Members) GetMember(ctx context.Context, id string) (membership.Member, error) {
	var d memberDoc
	if err := s.db.Collection(colMembers).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
		return membership.Member{}, translate("get member", err)
	}
	return fromMemberDoc(d)
}

// ListMembers returns the projections f selects, in id order.
func (s *Members) ListMembers(ctx context.Context, f membership.MemberFilter) ([]membership.Member, error) {
	filter := bson.D{}
	if f.Body != "" {
		filter = append(filter, bson.E{Key: "body", Value: f.Body})
	}
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
	if f.Limit > 0 {
		opts.SetLimit(int64(f.Limit))
	}
	cur, err := s.db.Collection(colMembers).Find(ctx, filter, opts)
	if err != nil {
		return nil, translate("list members", err)
	}
	var docs []memberDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate("list members", err)
	}
	out := make([]membership.Member, 0, len(docs))
	for _, d := range docs {
		m, err := fromMemberDoc(d)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
