package nomination

import (
	"context"
	"io"
	"iter"
	"time"
)

// Store keeps calls, the nominations' event streams and their projections.
// Implementations return *Error codes: ENOTFOUND for a missing record,
// ECONFLICT for a taken key (a call slug, an event seq), EUNAVAILABLE when
// the store does not answer.
type Store interface {
	CreateCall(ctx context.Context, c Call) error
	GetCall(ctx context.Context, slug string) (Call, error)
	ListCalls(ctx context.Context) ([]Call, error)
	// ReplaceCall commits c as revision c.Version, which must be one past
	// the stored call's: ECONFLICT when another change took that revision.
	ReplaceCall(ctx context.Context, c Call) error

	// AppendEvent inserts e with the unique key EventID(e.NominationID,
	// e.Seq): the commit point of every change. ECONFLICT means another
	// writer committed that seq first.
	AppendEvent(ctx context.Context, e Event) error
	// Event returns one event; ENOTFOUND when it does not exist (yet).
	Event(ctx context.Context, nominationID string, seq int) (Event, error)
	// Events returns a nomination's events in seq order.
	Events(ctx context.Context, nominationID string) ([]Event, error)

	// PutNomination writes the projection, replacing an older one.
	PutNomination(ctx context.Context, n *Nomination) error
	// GetNomination returns the stored projection (possibly behind its
	// events; the service repairs it).
	GetNomination(ctx context.Context, id string) (*Nomination, error)
	// ListNominations returns projections matching f, ordered by f.Sort
	// (id when empty) and then id, after f.After, at most f.Limit, each
	// with its position in that order.
	ListNominations(ctx context.Context, f ListFilter) ([]Listed, error)
	// ScanNominations streams every projection matching f in the order
	// stored, holding one at a time.
	ScanNominations(ctx context.Context, f ListFilter) iter.Seq2[*Nomination, error]
	// CountStates counts a call's nominations by state.
	CountStates(ctx context.Context, call string) (map[string]int, error)

	// TakeSlot inserts the quota slot id (see SlotID) for nominationID at
	// at: the commit point of a nomination under a nominator quota.
	// ECONFLICT means another nomination took the slot.
	TakeSlot(ctx context.Context, id, nominationID string, at time.Time) error
	// Slot returns the nomination that took slot id and when; ENOTFOUND
	// when none did.
	Slot(ctx context.Context, id string) (nominationID string, at time.Time, err error)
	// FreeSlot records that slot id is free again; recording it twice
	// changes nothing. Slots are never deleted: the next holder of the
	// place takes the slot of the next generation.
	FreeSlot(ctx context.Context, id string) error
	// SlotFree reports whether slot id was freed.
	SlotFree(ctx context.Context, id string) (bool, error)
}

// ListFilter selects nominations. Empty fields do not filter.
type ListFilter struct {
	Call   string
	States []string
	Owner  string
	Panels []string // nominations whose review panel is one of these
	Query  string   // case-insensitive substring of nominee name or organisation
	IDs    []string
	// After resumes the listing after this position of its order (nil:
	// from its first row).
	After *Position
	Limit int
	// OwnerOrPanels widens Owner and Panels to either: the caller's own
	// nominations and the panels' queue together.
	OwnerOrPanels bool
	// FieldEquals keeps nominations whose form answer equals the value.
	FieldEquals map[string]string
	// Sort is "" (id), "name", "submitted" or "score" (highest first);
	// ties are in id order.
	Sort string
}

// Listed is a nomination a listing returned, with its position in the
// listing's order.
type Listed struct {
	Nomination *Nomination
	At         Position
}

// Position is a row's place in a listing's order: its value of the
// listing's sort key, as the store holds it, and its id, which breaks
// ties so that the order is total.
type Position struct {
	ID  string
	Key SortKey
}

// SortKey is a stored nomination's value of a listing's sort key: Text
// for "name" (the nominee's name in lower case), Time for "submitted",
// Number for "score"; none in id order. Missing says the stored
// projection has no value (one written before the key existed): it sorts
// before every value in ascending order and after every value in
// descending order, as MongoDB and SQLite both sort a missing value.
type SortKey struct {
	Missing bool
	Text    string
	Time    time.Time
	Number  float64
}

// FileInfo describes a stored file.
type FileInfo struct {
	ID          string
	Filename    string
	Size        int64
	ContentType string
	UploadedAt  time.Time
}

// Files keeps uploaded documents (GridFS).
type Files interface {
	// PutFile stores r under a new id; it returns the bytes written. The
	// caller bounds r.
	PutFile(ctx context.Context, id, filename, contentType string, r io.Reader) (int64, error)
	// OpenFile returns the file's content and description; ENOTFOUND when
	// there is none.
	OpenFile(ctx context.Context, id string) (io.ReadCloser, FileInfo, error)
	DeleteFile(ctx context.Context, id string) error
}

// Member is a user who can be addressed: a reviewer, a secretariat member.
type Member struct {
	UserID       string
	Name         string
	Email        string
	Organization string
	// Roles are the account's roles.
	Roles []string
	// Language is the account's preferred language ("" for none): mail
	// to the member is written in it.
	Language string
}

// AddressBook is what a Directory may answer besides: the account an
// address belongs to (ENOTFOUND when none), so that mail to a nominee
// who has an account follows the account's language.
type AddressBook interface {
	UserByEmail(ctx context.Context, email string) (Member, error)
}

// Directory answers who people are, for mail audiences and conflicts.
type Directory interface {
	// User returns one user; ENOTFOUND when there is none.
	User(ctx context.Context, id string) (Member, error)
	// PanelMembers returns the enabled reviewers on panel.
	PanelMembers(ctx context.Context, panel string) ([]Member, error)
	// Staff returns the enabled secretariat members.
	Staff(ctx context.Context) ([]Member, error)
}
