package mongostore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/igf/nomina/internal/nomination"
)

// Collections of calls and nominations.
const (
	colCalls         = "calls"          // _id: slug; the insert makes the slug unique
	colCallRevisions = "call_revisions" // _id: "<slug>@<version>"; the insert commits a change
	colEvents        = "events"         // _id: "<nomination>/<seq>"; the insert is the commit point
	colNominations   = "nominations"    // _id: nomination id; the projection, rewritten by _id
	colQuotaSlots    = "quota_slots"    // _id: "<call>/<owner>/<n>"; the insert takes a nominator's place
)

func init() {
	registerIndexes(
		Index{Collection: colEvents, Keys: bson.D{{Key: "nomination", Value: 1}, {Key: "seq", Value: 1}}},
		Index{Collection: colNominations, Keys: bson.D{{Key: "call", Value: 1}, {Key: "state", Value: 1}}},
		Index{Collection: colNominations, Keys: bson.D{{Key: "owner", Value: 1}}},
		Index{Collection: colNominations, Keys: bson.D{{Key: "review_panels", Value: 1}}},
		// The call's listing in each sort order, with and without a state
		// (the same keys the embedded store's expression indexes cover).
		Index{Collection: colNominations, Keys: bson.D{{Key: "call", Value: 1}, {Key: "state", Value: 1}, {Key: "sort_name", Value: 1}, {Key: "_id", Value: 1}}},
		Index{Collection: colNominations, Keys: bson.D{{Key: "call", Value: 1}, {Key: "state", Value: 1}, {Key: "submitted_at", Value: 1}, {Key: "_id", Value: 1}}},
		Index{Collection: colNominations, Keys: bson.D{{Key: "call", Value: 1}, {Key: "state", Value: 1}, {Key: "mean_score", Value: -1}, {Key: "_id", Value: 1}}},
		Index{Collection: colNominations, Keys: bson.D{{Key: "call", Value: 1}, {Key: "sort_name", Value: 1}, {Key: "_id", Value: 1}}},
		Index{Collection: colNominations, Keys: bson.D{{Key: "call", Value: 1}, {Key: "submitted_at", Value: 1}, {Key: "_id", Value: 1}}},
		Index{Collection: colNominations, Keys: bson.D{{Key: "call", Value: 1}, {Key: "mean_score", Value: -1}, {Key: "_id", Value: 1}}},
		Index{Collection: colNominations, Keys: bson.D{{Key: "owner", Value: 1}, {Key: "_id", Value: 1}}},
	)
}

// Nominations keeps calls, the nominations' events and projections, and
// their files (GridFS).
type Nominations struct {
	db    *mongo.Database
	sql   *sqlReader // nil: every listing through the driver
	calls *callCache
}

var (
	_ nomination.Store = (*Nominations)(nil)
	_ nomination.Files = (*Nominations)(nil)
)

// Nominations returns the nomination store over the same database.
func (s *Store) Nominations() *Nominations { return &Nominations{db: s.db, sql: s.sql, calls: s.calls} }

type callDoc struct {
	Slug            string    `bson:"_id"`
	Title           string    `bson:"title"`
	Workflow        string    `bson:"workflow"`
	WorkflowVersion int       `bson:"workflow_version"`
	OpensAt         time.Time `bson:"opens_at"`
	ClosesAt        time.Time `bson:"closes_at"`
	TermStart       time.Time `bson:"term_start"`
	Seats           int       `bson:"seats"`
	Targets         string    `bson:"targets,omitempty"`
	CreatedAt       time.Time `bson:"created_at"`
	UpdatedAt       time.Time `bson:"updated_at"`
	CreatedBy       string    `bson:"created_by"`
	Version         int       `bson:"version"`
	// Settings that tighten the workflow; absent in calls stored before
	// they existed, which read as 0 (none).
	RequiredEndorsements int `bson:"required_endorsements,omitempty"`
	NominatorQuota       int `bson:"nominator_quota,omitempty"`
}

func toCallDoc(c nomination.Call) callDoc {
	return callDoc{c.Slug, c.Title, c.Workflow, c.WorkflowVersion, c.OpensAt, c.ClosesAt, c.TermStart, c.Seats, string(c.Targets), c.CreatedAt, c.UpdatedAt, c.CreatedBy, c.Version,
		c.RequiredEndorsements, c.NominatorQuota}
}

func fromCallDoc(d callDoc) nomination.Call {
	c := nomination.Call{Slug: d.Slug, Title: d.Title, Workflow: d.Workflow, WorkflowVersion: d.WorkflowVersion,
		OpensAt: d.OpensAt.UTC(), ClosesAt: d.ClosesAt.UTC(), TermStart: d.TermStart.UTC(), Seats: d.Seats,
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(), CreatedBy: d.CreatedBy, Version: d.Version,
		RequiredEndorsements: d.RequiredEndorsements, NominatorQuota: d.NominatorQuota}
	if d.Targets != "" {
		c.Targets = json.RawMessage(d.Targets)
	}
	return c
}

// CreateCall inserts a call; ECONFLICT when the slug is taken.
func (s *Nominations) CreateCall(ctx context.Context, c nomination.Call) error {
	_, err := s.db.Collection(colCalls).InsertOne(ctx, toCallDoc(c))
	return translate("create call", err)
}

// GetCall returns a call caught up with its committed revisions;
// ENOTFOUND when there is none.
// A call read less than callCacheTTL ago on this instance is answered
// from memory.
func (s *Nominations) GetCall(ctx context.Context, slug string) (nomination.Call, error) {
	if d, ok := s.calls.get(slug); ok {
		return fromCallDoc(d), nil
	}
	fetched := s.calls.now()
	var d callDoc
	err := s.db.Collection(colCalls).FindOne(ctx, bson.D{{Key: "_id", Value: slug}}).Decode(&d)
	if err != nil {
		return nomination.Call{}, translate("get call", err)
	}
	c, err := s.catchUpCall(ctx, d)
	if err == nil {
		s.calls.put(toCallDoc(c), fetched)
	}
	return c, err
}

// catchUpCall follows the revisions past d's version and rewrites a stale
// call document.
func (s *Nominations) catchUpCall(ctx context.Context, d callDoc) (nomination.Call, error) {
	stale := false
	for {
		var r struct {
			Call callDoc `bson:"call"`
		}
		err := s.db.Collection(colCallRevisions).FindOne(ctx, bson.D{{Key: "_id", Value: callRevisionID(d.Slug, d.Version+1)}}).Decode(&r)
		if errors.Is(err, mongo.ErrNoDocuments) {
			break
		}
		if err != nil {
			return nomination.Call{}, translate("read call revision", err)
		}
		d, stale = r.Call, true
	}
	if stale {
		_, _ = s.db.Collection(colCalls).ReplaceOne(ctx, bson.D{{Key: "_id", Value: d.Slug}}, d)
	}
	return fromCallDoc(d), nil
}

func callRevisionID(slug string, version int) string { return fmt.Sprintf("%s@%08d", slug, version) }

// ListCalls returns every call.
func (s *Nominations) ListCalls(ctx context.Context) ([]nomination.Call, error) {
	cur, err := s.db.Collection(colCalls).Find(ctx, bson.D{}, options.Find().SetLimit(1000))
	if err != nil {
		return nil, translate("list calls", err)
	}
	var docs []callDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate("list calls", err)
	}
	out := make([]nomination.Call, len(docs))
	for i, d := range docs {
		c, err := s.catchUpCall(ctx, d)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// ReplaceCall commits c as revision c.Version by a unique insert
// (ECONFLICT when that revision is taken), then rewrites the call.
func (s *Nominations) ReplaceCall(ctx context.Context, c nomination.Call) error {
	d := toCallDoc(c)
	_, err := s.db.Collection(colCallRevisions).InsertOne(ctx, bson.D{{Key: "_id", Value: callRevisionID(c.Slug, c.Version)}, {Key: "call", Value: d}})
	if err != nil {
		// Another instance committed this revision: what is cached here
		// is behind it.
		s.calls.drop(c.Slug)
		return translate("commit call revision", err)
	}
	s.calls.put(d, s.calls.now())
	_, err = s.db.Collection(colCalls).ReplaceOne(ctx, bson.D{{Key: "_id", Value: c.Slug}}, d)
	if err != nil {
		return translate("replace call", err) // committed: readers catch up from the revision
	}
	return nil
}

type eventDoc struct {
	ID         string    `bson:"_id"`
	Nomination string    `bson:"nomination"`
	Seq        int       `bson:"seq"`
	At         time.Time `bson:"at"`
	Actor      string    `bson:"actor"`
	Type       string    `bson:"type"`
	From       string    `bson:"from,omitempty"`
	To         string    `bson:"to,omitempty"`
	Data       string    `bson:"data"`
	PrevHash   string    `bson:"prev_hash"`
	Hash       string    `bson:"hash"`
	// HashVersion is absent from events stored before hash versions were
	// recorded: they use the legacy encoding (0).
	HashVersion int `bson:"hash_version,omitempty"`
}

func fromEventDoc(d eventDoc) nomination.Event {
	return nomination.Event{NominationID: d.Nomination, Seq: d.Seq, At: d.At.UTC(), Actor: d.Actor, Type: d.Type,
		From: d.From, To: d.To, Data: json.RawMessage(d.Data), PrevHash: d.PrevHash, Hash: d.Hash, HashVersion: d.HashVersion}
}

// AppendEvent inserts the event under its unique key; ECONFLICT when that
// seq is taken.
func (s *Nominations) AppendEvent(ctx context.Context, e nomination.Event) error {
	d := eventDoc{ID: nomination.EventID(e.NominationID, e.Seq), Nomination: e.NominationID, Seq: e.Seq, At: e.At,
		Actor: e.Actor, Type: e.Type, From: e.From, To: e.To, Data: string(e.Data), PrevHash: e.PrevHash, Hash: e.Hash, HashVersion: e.HashVersion}
	_, err := s.db.Collection(colEvents).InsertOne(ctx, d)
	return translate("append event", err)
}

// Event returns one event by its key; ENOTFOUND when it does not exist.
func (s *Nominations) Event(ctx context.Context, id string, seq int) (nomination.Event, error) {
	var d eventDoc
	err := s.db.Collection(colEvents).FindOne(ctx, bson.D{{Key: "_id", Value: nomination.EventID(id, seq)}}).Decode(&d)
	if err != nil {
		return nomination.Event{}, translate("get event", err)
	}
	return fromEventDoc(d), nil
}

// Events returns a nomination's events in seq order.
func (s *Nominations) Events(ctx context.Context, id string) ([]nomination.Event, error) {
	cur, err := s.db.Collection(colEvents).Find(ctx, bson.D{{Key: "nomination", Value: id}}, options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}))
	if err != nil {
		return nil, translate("list events", err)
	}
	var docs []eventDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate("list events", err)
	}
	out := make([]nomination.Event, len(docs))
	for i, d := range docs {
		out[i] = fromEventDoc(d)
	}
	return out, nil
}

// AllEvents calls f with every stored event, in no particular order, and
// stops at f's first error: one scan of the collection, for checking every
// history at once (reading each nomination's events apart scans it once
// per nomination on the embedded store).
func (s *Nominations) AllEvents(ctx context.Context, f func(nomination.Event) error) error {
	cur, err := s.db.Collection(colEvents).Find(ctx, bson.D{}, options.Find().SetBatchSize(1000))
	if err != nil {
		return translate("list all events", err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var d eventDoc
		if err := cur.Decode(&d); err != nil {
			return translate("list all events", err)
		}
		if err := f(fromEventDoc(d)); err != nil {
			return err
		}
	}
	return translate("list all events", cur.Err())
}

// NominationIDs lists, sorted, every nomination that has events or a
// stored projection: what a check of every history must cover, including
// a projection whose events are gone and events whose projection is.
func (s *Nominations) NominationIDs(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	var ids []string
	for _, src := range []struct{ collection, field string }{{colEvents, "nomination"}, {colNominations, "_id"}} {
		// A scan of one field, not distinct: the embedded store's distinct
		// answer does not decode with this driver.
		cur, err := s.db.Collection(src.collection).Find(ctx, bson.D{}, options.Find().
			SetProjection(bson.D{{Key: src.field, Value: 1}}).SetBatchSize(1000))
		if err != nil {
			return nil, translate("list nomination ids", err)
		}
		for cur.Next(ctx) {
			id, ok := cur.Current.Lookup(src.field).StringValueOK()
			if ok && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		err = cur.Err()
		cur.Close(ctx)
		if err != nil {
			return nil, translate("list nomination ids", err)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// nominationDoc keeps the queryable parts as fields and the whole
// projection as JSON, so it decodes to exactly what was written.
type nominationDoc struct {
	ID           string         `bson:"_id"`
	Call         string         `bson:"call"`
	State        string         `bson:"state"`
	Seq          int            `bson:"seq"`
	Owner        string         `bson:"owner"`
	NomineeName  string         `bson:"nominee_name"`
	Organization string         `bson:"organization"`
	ReviewPanels []string       `bson:"review_panels"`
	UpdatedAt    time.Time      `bson:"updated_at"`
	Fields       map[string]any `bson:"fields"`
	SortName     string         `bson:"sort_name"`
	SubmittedAt  time.Time      `bson:"submitted_at"`
	MeanScore    float64        `bson:"mean_score"`
	Body         string         `bson:"body"`
}

// PutNomination writes the projection unless the stored one is newer.
func (s *Nominations) PutNomination(ctx context.Context, n *nomination.Nomination) error {
	body, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("encode nomination %s: %w", n.ID, err)
	}
	org, _ := n.Fields["organization"].(string)
	d := nominationDoc{ID: n.ID, Call: n.CallSlug, State: n.State, Seq: n.Seq, Owner: n.OwnerID, NomineeName: n.Nominee.Name,
		Organization: org, ReviewPanels: n.ReviewPanels, UpdatedAt: n.UpdatedAt, Body: string(body),
		Fields: n.Fields, SortName: strings.ToLower(n.Nominee.Name), SubmittedAt: n.SubmittedAt, MeanScore: n.MeanScore}
	if d.Fields == nil {
		d.Fields = map[string]any{}
	}
	if d.ReviewPanels == nil {
		d.ReviewPanels = []string{}
	}
	// By _id alone, so the store looks it up by index. A slower writer may
	// put back an older projection; readers repair it from the events.
	_, err = s.db.Collection(colNominations).ReplaceOne(ctx, bson.D{{Key: "_id", Value: n.ID}}, d, options.Replace().SetUpsert(true))
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return translate("put nomination", err)
	}
	return nil
}

// GetNomination returns the stored projection; ENOTFOUND when none.
func (s *Nominations) GetNomination(ctx context.Context, id string) (*nomination.Nomination, error) {
	var d nominationDoc
	if err := s.db.Collection(colNominations).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
		return nil, translate("get nomination", err)
	}
	return decodeNomination(d)
}

func decodeNomination(d nominationDoc) (*nomination.Nomination, error) {
	var n nomination.Nomination
	if err := json.Unmarshal([]byte(d.Body), &n); err != nil {
		return nil, fmt.Errorf("decode nomination %s: %w", d.ID, err)
	}
	return &n, nil
}

func nominationFilter(f nomination.ListFilter) bson.D {
	filter := bson.D{}
	if f.Call != "" {
		filter = append(filter, bson.E{Key: "call", Value: f.Call})
	}
	if len(f.States) > 0 {
		filter = append(filter, bson.E{Key: "state", Value: bson.D{{Key: "$in", Value: f.States}}})
	}
	switch {
	case f.OwnerOrPanels:
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "owner", Value: f.Owner}},
			bson.D{{Key: "review_panels", Value: bson.D{{Key: "$in", Value: f.Panels}}}},
		}})
	default:
		if f.Owner != "" {
			filter = append(filter, bson.E{Key: "owner", Value: f.Owner})
		}
		if len(f.Panels) > 0 {
			filter = append(filter, bson.E{Key: "review_panels", Value: bson.D{{Key: "$in", Value: f.Panels}}})
		}
	}
	if len(f.IDs) > 0 {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$in", Value: f.IDs}}})
	}
	keys := make([]string, 0, len(f.FieldEquals))
	for k := range f.FieldEquals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		filter = append(filter, bson.E{Key: "fields." + k, Value: f.FieldEquals[k]})
	}
	var and bson.A
	if f.Query != "" {
		re := bson.Regex{Pattern: regexp.QuoteMeta(f.Query), Options: "i"}
		and = append(and, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "nominee_name", Value: re}},
			bson.D{{Key: "organization", Value: re}},
		}}})
	}
	if after := afterFilter(f.Sort, f.After); after != nil {
		and = append(and, after)
	}
	if len(and) > 0 {
		filter = append(filter, bson.E{Key: "$and", Value: and})
	}
	return filter
}

// sortKeys are the stored fields each listing order sorts by, before _id,
// and whether highest first.
var sortKeys = map[string]struct {
	field string
	desc  bool
}{
	"name":      {"sort_name", false},
	"submitted": {"submitted_at", false},
	"score":     {"mean_score", true},
}

// sortOrder is the driver's sort of a listing order.
func sortOrder(sortBy string) bson.D {
	k, ok := sortKeys[sortBy]
	if !ok {
		return bson.D{{Key: "_id", Value: 1}}
	}
	dir := 1
	if k.desc {
		dir = -1
	}
	return bson.D{{Key: k.field, Value: dir}, {Key: "_id", Value: 1}}
}

// afterFilter selects the rows of a listing order after position p: a
// greater key (a smaller one highest first), or the same key and a
// greater id. A missing key comes before every value in ascending order
// and after every value in descending order ({field: null} matches a
// missing field); a value's comparison matches values of its own type
// only, so it never matches a missing key. Nil when p is.
func afterFilter(sortBy string, p *nomination.Position) bson.D {
	if p == nil {
		return nil
	}
	afterID := bson.D{{Key: "$gt", Value: p.ID}}
	k, ok := sortKeys[sortBy]
	if !ok {
		return bson.D{{Key: "_id", Value: afterID}}
	}
	if p.Key.Missing {
		sameKey := bson.D{{Key: k.field, Value: nil}, {Key: "_id", Value: afterID}}
		if k.desc {
			return sameKey
		}
		return bson.D{{Key: "$or", Value: bson.A{sameKey, bson.D{{Key: k.field, Value: bson.D{{Key: "$ne", Value: nil}}}}}}}
	}
	var v any
	switch sortBy {
	case "name":
		v = p.Key.Text
	case "submitted":
		v = p.Key.Time
	case "score":
		v = p.Key.Number
	}
	beyond := "$gt"
	if k.desc {
		beyond = "$lt"
	}
	or := bson.A{
		bson.D{{Key: k.field, Value: bson.D{{Key: beyond, Value: v}}}},
		bson.D{{Key: k.field, Value: v}, {Key: "_id", Value: afterID}},
	}
	if k.desc {
		or = append(or, bson.D{{Key: k.field, Value: nil}})
	}
	return bson.D{{Key: "$or", Value: or}}
}

// keyOf reads a stored nomination's value of the key of a listing order.
func keyOf(doc bson.Raw, sortBy string) (nomination.SortKey, error) {
	k, ok := sortKeys[sortBy]
	if !ok {
		return nomination.SortKey{}, nil
	}
	v, err := doc.LookupErr(k.field)
	if err != nil || v.Type == bson.TypeNull || v.Type == bson.TypeUndefined {
		return nomination.SortKey{Missing: true}, nil
	}
	switch {
	case sortBy == "name" && v.Type == bson.TypeString:
		return nomination.SortKey{Text: v.StringValue()}, nil
	case sortBy == "submitted" && v.Type == bson.TypeDateTime:
		return nomination.SortKey{Time: time.UnixMilli(v.DateTime()).UTC()}, nil
	case sortBy == "score":
		if f, ok := v.AsFloat64OK(); ok {
			return nomination.SortKey{Number: f}, nil
		}
	}
	return nomination.SortKey{}, fmt.Errorf("sort key %s of a stored nomination is a %s", k.field, v.Type)
}

// ListNominations returns projections matching f in f.Sort order, each
// with its position in it.
func (s *Nominations) ListNominations(ctx context.Context, f nomination.ListFilter) ([]nomination.Listed, error) {
	if s.sql != nil {
		if out, ok, err := s.sql.listNominations(ctx, f); ok || err != nil {
			return out, err
		}
	}
	opts := options.Find().SetSort(sortOrder(f.Sort))
	if f.Limit > 0 {
		opts.SetLimit(int64(f.Limit))
	}
	var out []nomination.Listed
	for l, err := range s.scanListed(ctx, nominationFilter(f), opts, f.Sort) {
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// ScanNominations streams the projections matching f in the order they
// were stored. It asks for no sort on purpose: the embedded store sorts in
// memory, which would hold every matching document at once.
//
// On the embedded store it reads the file in chunks in _id order instead.
func (s *Nominations) ScanNominations(ctx context.Context, f nomination.ListFilter) iter.Seq2[*nomination.Nomination, error] {
	driver := s.scan(ctx, nominationFilter(f), options.Find().SetBatchSize(500))
	if s.sql == nil || f.After != nil || f.Limit > 0 {
		return driver
	}
	return func(yield func(*nomination.Nomination, error) bool) {
		if !s.sql.scanNominations(ctx, f, yield) {
			driver(yield)
		}
	}
}

func (s *Nominations) scan(ctx context.Context, filter bson.D, opts *options.FindOptionsBuilder) iter.Seq2[*nomination.Nomination, error] {
	return func(yield func(*nomination.Nomination, error) bool) {
		for l, err := range s.scanListed(ctx, filter, opts, "") {
			if !yield(l.Nomination, err) || err != nil {
				return
			}
		}
	}
}

// scanListed streams the projections filter matches, each with its
// position in the listing order sortBy.
func (s *Nominations) scanListed(ctx context.Context, filter bson.D, opts *options.FindOptionsBuilder, sortBy string) iter.Seq2[nomination.Listed, error] {
	return func(yield func(nomination.Listed, error) bool) {
		cur, err := s.db.Collection(colNominations).Find(ctx, filter, opts)
		if err != nil {
			yield(nomination.Listed{}, translate("list nominations", err))
			return
		}
		defer cur.Close(ctx)
		for cur.Next(ctx) {
			var d nominationDoc
			if err := cur.Decode(&d); err != nil {
				yield(nomination.Listed{}, translate("list nominations", err))
				return
			}
			n, err := decodeNomination(d)
			if err != nil {
				yield(nomination.Listed{}, err)
				return
			}
			key, err := keyOf(cur.Current, sortBy)
			if err != nil {
				yield(nomination.Listed{}, fmt.Errorf("list nominations: %s: %w", d.ID, err))
				return
			}
			if !yield(nomination.Listed{Nomination: n, At: nomination.Position{ID: d.ID, Key: key}}, nil) {
				return
			}
		}
		if err := cur.Err(); err != nil {
			yield(nomination.Listed{}, translate("list nominations", err))
		}
	}
}

// CountStates counts a call's nominations by state. On the embedded
// store it counts the entries of its file's (call, state) index: the cost
// grows with the call's own nominations, never with the other calls'.
// Through the driver the store groups them and answers one document a
// state (MongoDB can group them from its (call, state) index alone).
func (s *Nominations) CountStates(ctx context.Context, call string) (map[string]int, error) {
	if s.sql != nil {
		if out, ok, err := s.sql.countStates(ctx, call); ok || err != nil {
			return out, err
		}
	}
	cur, err := s.db.Collection(colNominations).Aggregate(ctx, mongo.Pipeline{
		{{Key: "$match", Value: bson.D{{Key: "call", Value: call}}}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$state"}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
	})
	if err != nil {
		return nil, translate("count states", err)
	}
	defer cur.Close(ctx)
	out := map[string]int{}
	for cur.Next(ctx) {
		var d struct {
			State *string `bson:"_id"` // nil: no state stored
			N     int     `bson:"n"`
		}
		if err := cur.Decode(&d); err != nil {
			return nil, translate("count states", err)
		}
		if d.State == nil {
			out[""] += d.N
		} else {
			out[*d.State] += d.N
		}
	}
	return out, translate("count states", cur.Err())
}

func (s *Nominations) bucket() *mongo.GridFSBucket {
	return s.db.GridFSBucket(options.GridFSBucket().SetName("attachments"))
}

// PutFile streams r into GridFS under id.
func (s *Nominations) PutFile(ctx context.Context, id, filename, contentType string, r io.Reader) (int64, error) {
	up, err := s.bucket().OpenUploadStreamWithID(ctx, id, filename,
		options.GridFSUpload().SetMetadata(bson.D{{Key: "content_type", Value: contentType}}))
	if err != nil {
		return 0, translate("open upload", err)
	}
	n, err := io.Copy(up, r)
	if err != nil {
		_ = up.Abort()
		return n, fmt.Errorf("upload file: %w", err)
	}
	if err := up.Close(); err != nil {
		return n, translate("finish upload", err)
	}
	return n, nil
}

// OpenFile returns a stored file; ENOTFOUND when there is none.
func (s *Nominations) OpenFile(ctx context.Context, id string) (io.ReadCloser, nomination.FileInfo, error) {
	ds, err := s.bucket().OpenDownloadStream(ctx, id)
	if err != nil {
		if errors.Is(err, mongo.ErrFileNotFound) {
			return nil, nomination.FileInfo{}, translate("open file", mongo.ErrNoDocuments)
		}
		return nil, nomination.FileInfo{}, translate("open file", err)
	}
	f := ds.GetFile()
	return ds, nomination.FileInfo{ID: id, Filename: f.Name, Size: f.Length, UploadedAt: f.UploadDate}, nil
}

// DeleteFile removes a file; a missing file is not an error.
func (s *Nominations) DeleteFile(ctx context.Context, id string) error {
	err := s.bucket().Delete(ctx, id)
	if err != nil && !errors.Is(err, mongo.ErrFileNotFound) {
		return translate("delete file", err)
	}
	return nil
}
