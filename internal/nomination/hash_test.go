package nomination

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// The canonical encodings, written out byte for byte with the hashes they
// give. They do not use HashEvent: a field dropped from the hash, moved,
// or encoded differently fails them, and so does any change that would
// stop stored histories from verifying.
var hashVectors = []struct {
	name     string
	event    Event
	preimage string
	hash     string
}{
	{
		name: "v1 transition",
		event: Event{NominationID: "nabc", Seq: 3, At: time.Date(2026, 3, 1, 10, 4, 5, 123456789, time.UTC), Actor: "u-ana",
			Type: "action", From: "draft", To: "submitted", Data: json.RawMessage(`{"action":"submit"}`),
			PrevHash: strings.Repeat("ab", 32), HashVersion: 1},
		preimage: "nomina-event v1\n" +
			"nomination 4:nabc\n" +
			"seq 1:3\n" +
			"at 24:2026-03-01T10:04:05.123Z\n" +
			"actor 5:u-ana\n" +
			"type 6:action\n" +
			"from 5:draft\n" +
			"to 9:submitted\n" +
			`data 19:{"action":"submit"}` + "\n" +
			"prev_hash 64:abababababababababababababababababababababababababababababababab\n",
		hash: "7391a7aa5367538777c994f2aba894ee38c2707b5443c6b4afa37d710679bed6",
	},
	{
		name: "v1 first event, whole second, no from",
		event: Event{NominationID: "nabc", Seq: 1, At: time.Date(2026, 3, 1, 11, 0, 0, 0, time.FixedZone("CET", 3600)), Actor: "u-ana",
			Type: "created", To: "draft", Data: json.RawMessage(`{"call":"mag-2027"}`), HashVersion: 1},
		preimage: "nomina-event v1\n" +
			"nomination 4:nabc\n" +
			"seq 1:1\n" +
			"at 24:2026-03-01T10:00:00.000Z\n" +
			"actor 5:u-ana\n" +
			"type 7:created\n" +
			"from 0:\n" +
			"to 5:draft\n" +
			`data 19:{"call":"mag-2027"}` + "\n" +
			"prev_hash 0:\n",
		hash: "93ee7129ebb923913ffa24b386e0ad42609141f2001e2b33bee184d19d33bb59",
	},
	{
		name: "legacy transition",
		event: Event{NominationID: "nabc", Seq: 3, At: time.Date(2026, 3, 1, 10, 4, 5, 123456789, time.UTC), Actor: "u-ana",
			Type: "action", From: "draft", To: "submitted", Data: json.RawMessage(`{"action":"submit"}`),
			PrevHash: strings.Repeat("ab", 32)},
		preimage: "4:nabc\n1:3\n24:2026-03-01T10:04:05.123Z\n5:u-ana\n6:action\n5:draft\n9:submitted\n" +
			`19:{"action":"submit"}` + "\n64:abababababababababababababababababababababababababababababababab\n",
		hash: "c6967ecae6874ddf1e015a7f272a8c8e39ecb512e62203aed93314f6c04d0a6e",
	},
	{
		name: "legacy first event",
		event: Event{NominationID: "nabc", Seq: 1, At: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Actor: "u-ana",
			Type: "created", To: "draft", Data: json.RawMessage(`{"call":"mag-2027"}`)},
		preimage: "4:nabc\n1:1\n20:2026-03-01T10:00:00Z\n5:u-ana\n7:created\n0:\n5:draft\n" + `19:{"call":"mag-2027"}` + "\n0:\n",
		hash:     "d081bcf3e13052fdd0df6856797173ae239ff931f1cb012a9185e353866a8df9",
	},
}

func TestHashVectors(t *testing.T) {
	for _, v := range hashVectors {
		t.Run(v.name, func(t *testing.T) {
			// The vector is consistent in itself...
			sum := sha256.Sum256([]byte(v.preimage))
			if got := hex.EncodeToString(sum[:]); got != v.hash {
				t.Fatalf("the vector's preimage hashes to %s, the vector says %s", got, v.hash)
			}
			// ...and HashEvent encodes the event exactly so.
			if got := mustHash(t, v.event); got != v.hash {
				t.Fatalf("HashEvent = %s, want %s (preimage %q)", got, v.hash, v.preimage)
			}
		})
	}
}

// Every field that carries meaning changes the hash, in every encoding.
func TestHashCoversEveryField(t *testing.T) {
	changes := map[string]func(*Event){
		"nomination": func(e *Event) { e.NominationID = "nabd" },
		"seq":        func(e *Event) { e.Seq++ },
		"at":         func(e *Event) { e.At = e.At.Add(time.Millisecond) },
		"actor":      func(e *Event) { e.Actor = "u-bob" },
		"type":       func(e *Event) { e.Type = EvOverride },
		"from":       func(e *Event) { e.From = "submitted" },
		"to":         func(e *Event) { e.To = "appointed" },
		"data":       func(e *Event) { e.Data = json.RawMessage(`{"action":"withdraw"}`) },
		"prev_hash":  func(e *Event) { e.PrevHash = strings.Repeat("cd", 32) },
		// Values that would run together without the length prefixes.
		"boundary": func(e *Event) { e.From, e.To = "drafts", "ubmitted" },
	}
	for _, version := range []int{0, 1} {
		base := hashVectors[0].event
		base.HashVersion = version
		want := mustHash(t, base)
		for name, change := range changes {
			e := base
			change(&e)
			if mustHash(t, e) == want {
				t.Errorf("version %d: changing %s leaves the hash as it was", version, name)
			}
		}
	}
	// The version is part of what is hashed: the same event in another
	// encoding hashes differently.
	if hashVectors[0].hash == hashVectors[2].hash {
		t.Fatal("the encodings agree")
	}
	if _, err := HashEvent(Event{HashVersion: HashVersion + 1}); err == nil {
		t.Fatal("an unknown version hashes")
	}
}

// A history stored before versions were recorded verifies, and so does one
// that went on with the current encoding after it.
func TestLegacyHistoryVerifies(t *testing.T) {
	legacy := hashVectors[3].event
	legacy.Hash = hashVectors[3].hash
	next := Event{NominationID: "nabc", Seq: 2, At: time.Date(2026, 3, 1, 10, 4, 5, 123000000, time.UTC), Actor: "u-ana",
		Type: "action", From: "draft", To: "submitted", Data: json.RawMessage(`{"action":"submit"}`),
		PrevHash: legacy.Hash, HashVersion: 1,
		// The preimage of this hash is the first vector's with seq 2 and
		// the legacy event's hash as prev_hash.
		Hash: "9e2d6154fbd9d0600725760db20fce94e99e267dca344e26a3ef32adc8dc3a4e"}
	if seq, err := VerifyChain([]Event{legacy}); err != nil {
		t.Fatalf("legacy history: %d %v", seq, err)
	}
	if seq, err := VerifyChain([]Event{legacy, next}); err != nil {
		t.Fatalf("legacy history continued: %d %v", seq, err)
	}
	forged := next
	forged.To = "appointed"
	if seq, _ := VerifyChain([]Event{legacy, forged}); seq != 2 {
		t.Fatalf("a changed to state verifies (first bad %d)", seq)
	}
}
