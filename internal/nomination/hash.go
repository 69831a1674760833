package nomination

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"time"
)

// HashVersion is the canonical encoding new events are hashed with. Each
// stored event keeps the version its hash was computed with, so a history
// written under an older encoding still verifies after a newer one is
// introduced; an event without a version (HashVersion 0) was written
// before versions were recorded and is hashed with the legacy encoding.
const HashVersion = 1

// hashTime is the canonical form of an event's time: UTC, milliseconds
// (the precision the store keeps), always three digits.
const hashTime = "2006-01-02T15:04:05.000Z07:00"

// HashEvent computes the hash of e, chained to e.PrevHash, with the
// canonical encoding e.HashVersion names. It returns an error for a version
// it does not know.
//
// Version 1 hashes, with SHA-256, the line "nomina-event v1" and then one
// line per field in this fixed order, each the field's name, a space, the
// length of its value in bytes, a colon and the value:
//
//	nomination, seq (decimal), at (hashTime), actor, type, from, to,
//	data (the stored JSON, byte for byte), prev_hash
//
// The length prefix keeps the encoding unambiguous whatever a value holds.
//
// Version 0, the legacy encoding, hashes the same values without the
// header and the names, each as its length, a colon, the value and a
// newline, with the time in RFC 3339 with trailing zeros dropped.
func HashEvent(e Event) (string, error) {
	h := sha256.New()
	switch e.HashVersion {
	case 0:
		for _, v := range []string{
			e.NominationID, strconv.Itoa(e.Seq), e.At.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano),
			e.Actor, e.Type, e.From, e.To, string(e.Data), e.PrevHash,
		} {
			fmt.Fprintf(h, "%d:%s\n", len(v), v)
		}
	case 1:
		h.Write([]byte("nomina-event v1\n"))
		field(h, "nomination", e.NominationID)
		field(h, "seq", strconv.Itoa(e.Seq))
		field(h, "at", e.At.UTC().Truncate(time.Millisecond).Format(hashTime))
		field(h, "actor", e.Actor)
		field(h, "type", e.Type)
		field(h, "from", e.From)
		field(h, "to", e.To)
		field(h, "data", string(e.Data))
		field(h, "prev_hash", e.PrevHash)
	default:
		return "", fmt.Errorf("event %d: unknown hash version %d", e.Seq, e.HashVersion)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func field(h hash.Hash, name, value string) {
	fmt.Fprintf(h, "%s %d:%s\n", name, len(value), value)
}

// stampHash sets e's hash version to the current one and computes its hash.
func stampHash(e *Event) {
	e.HashVersion = HashVersion
	e.Hash, _ = HashEvent(*e) // the current version is always known
}

// VerifyChain checks that events are numbered 1..n without gaps, that each
// hash covers its event and the previous hash in the encoding the event
// names, and that no event goes back to the legacy encoding after a
// versioned one. It returns the seq of the first event that fails, or 0
// when the chain is intact.
func VerifyChain(events []Event) (int, error) {
	prev := ""
	versioned := false
	for i, e := range events {
		if e.Seq != i+1 {
			return e.Seq, fmt.Errorf("event %d found where %d was expected", e.Seq, i+1)
		}
		if e.PrevHash != prev {
			return e.Seq, fmt.Errorf("event %d does not follow the hash of event %d", e.Seq, i)
		}
		if versioned && e.HashVersion == 0 {
			return e.Seq, fmt.Errorf("event %d claims the legacy hash encoding after versioned events", e.Seq)
		}
		sum, err := HashEvent(e)
		if err != nil {
			return e.Seq, err
		}
		if sum != e.Hash {
			return e.Seq, fmt.Errorf("event %d was altered: its hash does not match its content", e.Seq)
		}
		versioned = versioned || e.HashVersion > 0
		prev = e.Hash
	}
	return 0, nil
}
