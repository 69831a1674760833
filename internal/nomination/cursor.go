package nomination

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"math"
	"slices"
	"time"
	"unicode/utf8"
)

// A listing's cursor says where its next page starts: after the last row
// of the page before, by that row's sort key and id (keyset pagination),
// so a page costs the same however deep it is, and rows inserted or
// removed before it move nothing. It is opaque to clients: base64url of
//
//	version (1 byte) | sort (1) | check (6) | key | id
//
// where key is a tag (none in id order, missing, present) and the value
// (a name as length and UTF-8, a submission time as milliseconds, a score
// as the bits of a float64), and id the nomination's 16 random bytes (or,
// for an id of another shape, its length and bytes). check is the start of
// the SHA-256 of the list the cursor belongs to (sort, call, state, panel,
// words and answers filtered by) and of the rest of the cursor: a cursor
// of another list, or one changed by hand, is refused. A cursor grants
// nothing: what a caller may see is decided by who asks and what they ask
// for, never by the cursor, which only says where to resume.

const cursorVersion = 1

// MaxCursorLength bounds the cursor a listing takes. The name order's
// key is the nominee's name in lower case, up to 200 characters (800
// bytes of UTF-8), which the cursor must hold whole to resume exactly;
// with its tags and id that encodes in at most 1,170 characters.
const MaxCursorLength = 1200

const (
	keyNone    = 0 // id order: no key
	keyMissing = 1 // the stored row has no value of the key
	keyPresent = 2

	idRandom = 1 // "n" and the base32 of 16 random bytes, as newID makes them
	idOther  = 0 // any other id: its length and bytes
)

// maxCursorText and maxCursorID bound what a decoded cursor may hold.
const (
	maxCursorText = 800
	maxCursorID   = 64
)

var sortCodes = map[string]byte{"": 'i', "name": 'n', "submitted": 's', "score": 'c'}

// cursorList is the identity of the list q asks for, without the page's
// size and position: what a cursor must have been made for.
func cursorList(q ListQuery) []byte {
	var b []byte
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	for _, s := range []string{q.Sort, q.Call, q.State, q.Panel, q.Query} {
		str(s)
	}
	keys := make([]string, 0, len(q.Fields))
	for k := range q.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		str(k)
		str(q.Fields[k])
	}
	return b
}

func cursorCheck(q ListQuery, head, body []byte) []byte {
	h := sha256.New()
	h.Write(cursorList(q))
	h.Write(head)
	h.Write(body)
	return h.Sum(nil)[:6]
}

// encodeCursor returns the cursor of the page after position p of the
// list q asks for.
func encodeCursor(q ListQuery, p Position) string {
	var body []byte
	switch {
	case q.Sort == "":
		body = append(body, keyNone)
	case p.Key.Missing:
		body = append(body, keyMissing)
	default:
		body = append(body, keyPresent)
		switch q.Sort {
		case "name":
			body = binary.AppendUvarint(body, uint64(len(p.Key.Text)))
			body = append(body, p.Key.Text...)
		case "submitted":
			body = binary.AppendVarint(body, p.Key.Time.UnixMilli())
		case "score":
			body = binary.BigEndian.AppendUint64(body, math.Float64bits(p.Key.Number))
		}
	}
	if raw, ok := randomIDBytes(p.ID); ok {
		body = append(body, idRandom)
		body = append(body, raw...)
	} else {
		body = append(body, idOther)
		body = binary.AppendUvarint(body, uint64(len(p.ID)))
		body = append(body, p.ID...)
	}
	head := []byte{cursorVersion, sortCodes[q.Sort]}
	out := append(head, cursorCheck(q, head, body)...)
	return base64.RawURLEncoding.EncodeToString(append(out, body...))
}

// decodeCursor returns the position cursor c resumes the list q after.
// Errors: EINVALID on "cursor" when c is not a cursor of this list.
func decodeCursor(q ListQuery, c string) (*Position, error) {
	if len(c) > MaxCursorLength {
		return nil, badCursor("TooLong", "too long")
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(c)
	if err != nil || len(b) < 8 || b[0] != cursorVersion || b[1] != sortCodes[q.Sort] {
		return nil, notACursor()
	}
	head, check, body := b[:2], b[2:8], b[8:]
	if !bytes.Equal(check, cursorCheck(q, head, body)) {
		return nil, notACursor()
	}
	r := cursorReader{b: body}
	var p Position
	switch tag := r.tag(); {
	case q.Sort == "" && tag == keyNone:
	case q.Sort != "" && tag == keyMissing:
		p.Key.Missing = true
	case q.Sort != "" && tag == keyPresent:
		switch q.Sort {
		case "name":
			p.Key.Text = string(r.bytes(maxCursorText))
			if !utf8.ValidString(p.Key.Text) {
				r.bad = true
			}
		case "submitted":
			p.Key.Time = time.UnixMilli(r.varint()).UTC()
		case "score":
			p.Key.Number = math.Float64frombits(binary.BigEndian.Uint64(r.next(8)))
		}
	default:
		return nil, notACursor()
	}
	switch r.tag() {
	case idRandom:
		p.ID = "n" + idEncoding.EncodeToString(r.next(16))
	case idOther:
		p.ID = string(r.bytes(maxCursorID))
	default:
		r.bad = true
	}
	if r.bad || len(r.b) != 0 || p.ID == "" {
		return nil, notACursor()
	}
	return &p, nil
}

// randomIDBytes returns the 16 random bytes of an id newID made.
func randomIDBytes(id string) ([]byte, bool) {
	if len(id) != 27 || id[0] != 'n' {
		return nil, false
	}
	raw, err := idEncoding.DecodeString(id[1:])
	if err != nil || len(raw) != 16 || "n"+idEncoding.EncodeToString(raw) != id {
		return nil, false
	}
	return raw, true
}

// cursorReader reads a cursor's body; a read past its end marks it bad
// and returns zeros.
type cursorReader struct {
	b   []byte
	bad bool
}

func (r *cursorReader) next(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.bad, r.b = true, nil
		return make([]byte, max(n, 0))
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *cursorReader) tag() byte { return r.next(1)[0] }

func (r *cursorReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bytes reads a length, at most limit, and that many bytes.
func (r *cursorReader) bytes(limit int) []byte {
	l, n := binary.Uvarint(r.b)
	if n <= 0 || l > uint64(limit) {
		r.bad, r.b = true, nil
		return nil
	}
	r.b = r.b[n:]
	return r.next(int(l))
}

func notACursor() *Error { return badCursor("NotACursor", "not a cursor of this list") }

// badCursor is the EINVALID of a cursor the list did not make: a client
// cannot mend one, only start again from the first page.
func badCursor(id, english string) *Error { return Invalid(Problem("cursor", id, english)) }
