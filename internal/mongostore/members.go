package mongostore

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/igf/nomina/internal/membership"
)

// Collections of members and terms.
const (
	colMembers = "members" // _id: derived from body and email; the insert makes a person one member per body
	colTerms   = "terms"   // _id: derived from the nomination, or from member and start; the insert is the commit
)

func init() {
	registerIndexes(
		// One term per member and start day, whatever created it: an
		// appointment and a secretariat entry for the same term collide.
		Index{Collection: colTerms, Keys: bson.D{{Key: "member", Value: 1}, {Key: "start", Value: 1}}, Unique: true},
		Index{Collection: colTerms, Keys: bson.D{{Key: "body", Value: 1}, {Key: "email", Value: 1}}},
		Index{Collection: colTerms, Keys: bson.D{{Key: "body", Value: 1}, {Key: "end", Value: 1}}},
		Index{Collection: colMembers, Keys: bson.D{{Key: "body", Value: 1}, {Key: "email", Value: 1}}},
	)
}

// Members keeps the members of the bodies and their terms.
type Members struct {
	db *mongo.Database
}

var _ membership.Store = (*Members)(nil)

// Members returns the membership store over the same database.
func (s *Store) Members() *Members { return &Members{db: s.db} }

type memberDoc struct {
	ID               string    `bson:"_id"`
	Body             string    `bson:"body"`
	Email            string    `bson:"email"`
	Name             string    `bson:"name"`
	Gender           string    `bson:"gender"`
	Nationality      string    `bson:"nationality"`
	Region           string    `bson:"region"`
	Organization     string    `bson:"organization"`
	SeatKind         string    `bson:"seat_kind"`
	StakeholderGroup string    `bson:"stakeholder_group"`
	ProfileAsOf      time.Time `bson:"profile_as_of"`
	CreatedAt        time.Time `bson:"created_at"`
	UpdatedAt        time.Time `bson:"updated_at"`
	CreatedBy        string    `bson:"created_by"`
}

func toMemberDoc(m membership.Member) memberDoc {
	return memberDoc{ID: m.ID, Body: m.Body, Email: m.Email, Name: m.Name, Gender: m.Gender, Nationality: m.Nationality,
		Region: m.Region, Organization: m.Organization, SeatKind: m.SeatKind, StakeholderGroup: m.StakeholderGroup,
		ProfileAsOf: m.ProfileAsOf, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt, CreatedBy: m.CreatedBy}
}

func fromMemberDoc(d memberDoc) membership.Member {
	return membership.Member{ID: d.ID, Body: d.Body, Email: d.Email, Name: d.Name, Gender: d.Gender, Nationality: d.Nationality,
		Region: d.Region, Organization: d.Organization, SeatKind: d.SeatKind, StakeholderGroup: d.StakeholderGroup,
		ProfileAsOf: d.ProfileAsOf.UTC(), CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(), CreatedBy: d.CreatedBy}
}

type termDoc struct {
	ID               string     `bson:"_id"`
	Member           string     `bson:"member"`
	Body             string     `bson:"body"`
	Email            string     `bson:"email"`
	Start            time.Time  `bson:"start"`
	End              time.Time  `bson:"end"`
	Source           string     `bson:"source"`
	RenewalOf        string     `bson:"renewal_of,omitempty"`
	SeatKind         string     `bson:"seat_kind"`
	StakeholderGroup string     `bson:"stakeholder_group"`
	CreatedAt        time.Time  `bson:"created_at"`
	CreatedBy        string     `bson:"created_by"`
	EndedAt          *time.Time `bson:"ended_at,omitempty"`
	EndedBy          string     `bson:"ended_by,omitempty"`
	EndReason        string     `bson:"end_reason,omitempty"`
}

func toTermDoc(t membership.Term) termDoc {
	d := termDoc{ID: t.ID, Member: t.MemberID, Body: t.Body, Email: t.Email, Start: t.Start, End: t.End, Source: t.Source,
		RenewalOf: t.RenewalOf, SeatKind: t.SeatKind, StakeholderGroup: t.StakeholderGroup, CreatedAt: t.CreatedAt,
		CreatedBy: t.CreatedBy, EndedBy: t.EndedBy, EndReason: t.EndReason}
	if !t.EndedAt.IsZero() {
		at := t.EndedAt
		d.EndedAt = &at
	}
	return d
}

func fromTermDoc(d termDoc) membership.Term {
	t := membership.Term{ID: d.ID, MemberID: d.Member, Body: d.Body, Email: d.Email, Start: d.Start.UTC(), End: d.End.UTC(),
		Source: d.Source, RenewalOf: d.RenewalOf, SeatKind: d.SeatKind, StakeholderGroup: d.StakeholderGroup,
		CreatedAt: d.CreatedAt.UTC(), CreatedBy: d.CreatedBy, EndedBy: d.EndedBy, EndReason: d.EndReason}
	if d.EndedAt != nil {
		t.EndedAt = d.EndedAt.UTC()
	}
	return t
}

// CreateMember inserts a member; ECONFLICT when its id is taken.
func (s *Members) CreateMember(ctx context.Context, m membership.Member) error {
	_, err := s.db.Collection(colMembers).InsertOne(ctx, toMemberDoc(m))
	return translate("create member", err)
}

// GetMember returns a member (without terms); ENOTFOUND when none.
func (s *Members) GetMember(ctx context.Context, id string) (membership.Member, error) {
	var d memberDoc
	if err := s.db.Collection(colMembers).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
		return membership.Member{}, translate("get member", err)
	}
	return fromMemberDoc(d), nil
}

// PutMember rewrites a member by id; ENOTFOUND when none.
func (s *Members) PutMember(ctx context.Context, m membership.Member) error {
	res, err := s.db.Collection(colMembers).ReplaceOne(ctx, bson.D{{Key: "_id", Value: m.ID}}, toMemberDoc(m))
	if err != nil {
		return translate("put member", err)
	}
	if res.MatchedCount == 0 {
		return translate("put member", mongo.ErrNoDocuments)
	}
	return nil
}

// ListMembers returns the members f selects, ordered by id.
func (s *Members) ListMembers(ctx context.Context, f membership.MemberFilter) ([]membership.Member, error) {
	filter := bson.D{}
	if f.Body != "" {
		filter = append(filter, bson.E{Key: "body", Value: f.Body})
	}
	if f.IDs != nil {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$in", Value: f.IDs}}})
	}
	if f.Emails != nil {
		filter = append(filter, bson.E{Key: "email", Value: bson.D{{Key: "$in", Value: f.Emails}}})
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
	out := make([]membership.Member, len(docs))
	for i, d := range docs {
		out[i] = fromMemberDoc(d)
	}
	return out, nil
}

// CreateTerm inserts a term; ECONFLICT when its id is taken or its member
// has a term starting the same day.
func (s *Members) CreateTerm(ctx context.Context, t membership.Term) error {
	_, err := s.db.Collection(colTerms).InsertOne(ctx, toTermDoc(t))
	return translate("create term", err)
}

// GetTerm returns a term; ENOTFOUND when none.
func (s *Members) GetTerm(ctx context.Context, id string) (membership.Term, error) {
	var d termDoc
	if err := s.db.Collection(colTerms).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
		return membership.Term{}, translate("get term", err)
	}
	return fromTermDoc(d), nil
}

// PutTerm rewrites a term by id; ENOTFOUND when none.
func (s *Members) PutTerm(ctx context.Context, t membership.Term) error {
	res, err := s.db.Collection(colTerms).ReplaceOne(ctx, bson.D{{Key: "_id", Value: t.ID}}, toTermDoc(t))
	if err != nil {
		return translate("put term", err)
	}
	if res.MatchedCount == 0 {
		return translate("put term", mongo.ErrNoDocuments)
	}
	return nil
}

// ListTerms returns the terms f selects, ordered by start then id.
func (s *Members) ListTerms(ctx context.Context, f membership.TermFilter) ([]membership.Term, error) {
	filter := bson.D{}
	if f.Body != "" {
		filter = append(filter, bson.E{Key: "body", Value: f.Body})
	}
	if f.Emails != nil {
		filter = append(filter, bson.E{Key: "email", Value: bson.D{{Key: "$in", Value: f.Emails}}})
	}
	if f.MemberIDs != nil {
		filter = append(filter, bson.E{Key: "member", Value: bson.D{{Key: "$in", Value: f.MemberIDs}}})
	}
	// Both a day the term covers and EndsFrom bound the end from below: the
	// later of them decides.
	endsFrom := f.EndsFrom
	if !f.ActiveOn.IsZero() {
		filter = append(filter, bson.E{Key: "start", Value: bson.D{{Key: "$lte", Value: f.ActiveOn}}})
		if f.ActiveOn.After(endsFrom) {
			endsFrom = f.ActiveOn
		}
	}
	if !endsFrom.IsZero() {
		filter = append(filter, bson.E{Key: "end", Value: bson.D{{Key: "$gte", Value: endsFrom}}})
	}
	cur, err := s.db.Collection(colTerms).Find(ctx, filter,
		options.Find().SetSort(bson.D{{Key: "start", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, translate("list terms", err)
	}
	var docs []termDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate("list terms", err)
	}
	out := make([]membership.Term, len(docs))
	for i, d := range docs {
		out[i] = fromTermDoc(d)
	}
	return out, nil
}
