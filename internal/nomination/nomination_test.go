package nomination

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/igf/nomina/internal/workflow"
)

// mustMAG parses the shipped MAG workflow.
func mustMAG(tb testing.TB) *workflow.Definition {
	tb.Helper()
	src, err := os.ReadFile("../../workflows/mag.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	templates, _, err := workflow.LoadTemplates("../../workflows/templates")
	if err != nil {
		tb.Fatal(err)
	}
	def, diags := workflow.Parse("mag.yaml", src, templates)
	if def == nil {
		tb.Fatalf("mag.yaml: %v", diags)
	}
	return def
}

func chain(t *testing.T, n int) []Event {
	t.Helper()
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	evs := []Event{{NominationID: "n1", Seq: 1, At: at, Actor: "u1", Type: EvCreated, To: "draft",
		Data: mustJSON(createdData{Call: "mag", Owner: "u1", Fields: map[string]any{"gender": "female"}})}}
	for i := 2; i <= n; i++ {
		evs = append(evs, Event{NominationID: "n1", Seq: i, At: at.Add(time.Duration(i) * time.Minute), Actor: "u1", Type: EvFieldsUpdated,
			Data: mustJSON(fieldsData{Set: map[string]any{"organization": strings.Repeat("x", i)}})})
	}
	prev := ""
	for i := range evs {
		evs[i].PrevHash = prev
		stampHash(&evs[i])
		prev = evs[i].Hash
	}
	return evs
}

func mustHash(t *testing.T, e Event) string {
	t.Helper()
	h, err := HashEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestVerifyChain(t *testing.T) {
	cases := []struct {
		name   string
		change func([]Event) []Event
		bad    int
	}{
		{"intact", func(e []Event) []Event { return e }, 0},
		{"altered data", func(e []Event) []Event { e[2].Data = json.RawMessage(`{"set":{"organization":"forged"}}`); return e }, 3},
		{"altered actor", func(e []Event) []Event { e[1].Actor = "u2"; return e }, 2},
		{"altered time", func(e []Event) []Event { e[3].At = e[3].At.Add(time.Second); return e }, 4},
		{"gap", func(e []Event) []Event { return append(e[:2], e[3:]...) }, 4},
		{"reordered", func(e []Event) []Event { e[1], e[2] = e[2], e[1]; return e }, 3},
		{"rehashed without the chain", func(e []Event) []Event { e[2].Data = json.RawMessage(`{}`); e[2].Hash = mustHash(t, e[2]); return e }, 4},
		{"altered type", func(e []Event) []Event { e[1].Type = EvAction; return e }, 2},
		{"altered from", func(e []Event) []Event { e[2].From = "submitted"; return e }, 3},
		{"altered to", func(e []Event) []Event { e[0].To = "appointed"; return e }, 1},
		{"altered nomination", func(e []Event) []Event { e[1].NominationID = "n2"; return e }, 2},
		{"altered seq and hash", func(e []Event) []Event { e[4].Seq = 6; e[4].Hash = mustHash(t, e[4]); return e }, 6},
		{"unknown hash version", func(e []Event) []Event { e[3].HashVersion = 99; return e }, 4},
		{"rehashed with the legacy encoding", func(e []Event) []Event {
			e[3].HashVersion = 0
			e[3].Hash = mustHash(t, e[3])
			return e
		}, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seq, err := VerifyChain(tc.change(chain(t, 5)))
			if seq != tc.bad || (tc.bad == 0) != (err == nil) {
				t.Fatalf("VerifyChain = %d, %v; want %d", seq, err, tc.bad)
			}
		})
	}
}

func TestReplayFoldsEvents(t *testing.T) {
	evs := chain(t, 4)
	n, err := Replay("n1", evs)
	if err != nil {
		t.Fatal(err)
	}
	if n.Seq != 4 || n.State != "draft" || n.Fields["organization"] != "xxxx" || n.Fields["gender"] != "female" || n.LastHash != evs[3].Hash {
		t.Fatalf("projection = %+v", n)
	}
	if _, err := Replay("n1", append(evs[:1], evs[2:]...)); err == nil {
		t.Fatal("replay accepted an event out of order")
	}
}

func TestLinkSigner(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	s := NewLinkSigner([]byte(strings.Repeat("k", 32)))
	tok := s.Sign(LinkClaims{Kind: "consent", NominationID: "n1", Expires: now.Add(time.Hour).Unix()})
	if c, err := s.Verify(tok, "consent", now); err != nil || c.NominationID != "n1" {
		t.Fatalf("valid token refused: %v", err)
	}
	cases := map[string]struct {
		token, kind string
		at          time.Time
	}{
		"expired":        {tok, "consent", now.Add(2 * time.Hour)},
		"other kind":     {tok, "endorse", now},
		"other key":      {NewLinkSigner([]byte(strings.Repeat("z", 32))).Sign(LinkClaims{Kind: "consent", NominationID: "n1", Expires: now.Add(time.Hour).Unix()}), "consent", now},
		"tampered":       {strings.Replace(tok, tok[:4], "eyJr", 1) + "x", "consent", now},
		"no signature":   {strings.Split(tok, ".")[0], "consent", now},
		"huge":           {strings.Repeat("a", 100000), "consent", now},
		"empty":          {"", "consent", now},
		"signature only": {"." + strings.Split(tok, ".")[1], "consent", now},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Verify(tc.token, tc.kind, tc.at); ErrorCode(err) != ENOTFOUND {
				t.Fatalf("err = %v, want ENOTFOUND", err)
			}
		})
	}
}

// Inspect reads a link this signer made whatever its age, and nothing
// else; Verify adds the expiry.
func TestLinkSignerInspect(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	s := NewLinkSigner([]byte(strings.Repeat("k", 32)))
	expired := s.Sign(LinkClaims{Kind: "confirm_email", Ref: "u1", Expires: now.Add(-time.Hour).Unix()})
	if _, err := s.Verify(expired, "confirm_email", now); ErrorCode(err) != ENOTFOUND {
		t.Fatalf("Verify accepted an expired link: %v", err)
	}
	if c, err := s.Inspect(expired, "confirm_email"); err != nil || c.Ref != "u1" {
		t.Fatalf("Inspect refused an expired link it made: %+v %v", c, err)
	}
	for name, tok := range map[string]string{
		"other kind": s.Sign(LinkClaims{Kind: "password_reset", Ref: "u1", Expires: now.Unix()}),
		"other key":  NewLinkSigner([]byte(strings.Repeat("z", 32))).Sign(LinkClaims{Kind: "confirm_email", Ref: "u1", Expires: now.Unix()}),
		"tampered":   expired[:len(expired)-2] + "xx",
		"empty":      "",
	} {
		if _, err := s.Inspect(tok, "confirm_email"); ErrorCode(err) != ENOTFOUND {
			t.Errorf("%s: Inspect = %v, want ENOTFOUND", name, err)
		}
	}
}

// Every message about a nomination links to the page its recipient
// follows it on.
func TestPageLinks(t *testing.T) {
	for _, tc := range []struct{ audience, want string }{
		{"candidate", "/nominations/n1"},
		{"nominator", "/nominations/n1"},
		{"nominee", "/nominations/n1"},
		{"panel", "/review/n1"},
		{"pending_reviewers", "/review/n1"},
		{"secretariat", "/secretariat/nominations/n1"},
	} {
		got := PageLinks("n1", tc.audience)
		if got["nomination"] != tc.want || got["review"] != tc.want {
			t.Errorf("%s: %v, want %s", tc.audience, got, tc.want)
		}
	}
	if got := PageLinks("n/../x", "candidate")["nomination"]; got != "/nominations/n%2F..%2Fx" {
		t.Errorf("an id is escaped in its path: %s", got)
	}
}

func FuzzLinkVerify(f *testing.F) {
	s := NewLinkSigner([]byte(strings.Repeat("k", 32)))
	f.Add(s.Sign(LinkClaims{Kind: "endorse", NominationID: "n", Ref: "e", Expires: 1 << 40}))
	f.Add("a.b")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		// Only a token this signer made verifies: anything accepted must be
		// exactly what signing its claims gives.
		c, err := s.Verify(tok, "endorse", time.Unix(0, 0))
		if err == nil && s.Sign(c) != tok {
			t.Fatalf("accepted a token it did not sign: %q", tok)
		}
	})
}

func TestDerivedGroups(t *testing.T) {
	cases := []struct {
		nat, region, economic string
		bad                   []string
	}{
		{"KE", "african", "developing", nil},
		{"ke", "", "", nil},
		{"FR", "african", "developed", []string{"fields.region"}},
		{"TR", "western_european_others", "developing", nil},
		{"US", "western_european_others", "developed", nil},
		{"PS", "asia_pacific", "developing", nil},
		{"UA", "eastern_european", "transition", nil},
		{"RS", "eastern_european", "developing", []string{"fields.economic_group"}},
		{"DE", "african", "transition", []string{"fields.region", "fields.economic_group"}},
		{"XK", "eastern_european", "transition", nil}, // not listed: the candidate chooses
	}
	for _, tc := range cases {
		t.Run(tc.nat+"/"+tc.region+"/"+tc.economic, func(t *testing.T) {
			f := map[string]any{"nationality": tc.nat}
			if tc.region != "" {
				f["region"] = tc.region
			}
			if tc.economic != "" {
				f["economic_group"] = tc.economic
			}
			var got []string
			for _, fe := range checkGroups(f) {
				got = append(got, fe.Field)
			}
			if !slices.Equal(got, tc.bad) {
				t.Fatalf("checkGroups refuses %v, want %v", got, tc.bad)
			}
		})
	}
	def := mustMAG(t)
	f := map[string]any{"nationality": "BR"}
	deriveGroups(def, f)
	if f["region"] != "latin_american_caribbean" || f["economic_group"] != "developing" {
		t.Fatalf("derived %v", f)
	}
	f = map[string]any{"nationality": "KZ", "economic_group": "developed"}
	deriveGroups(def, f)
	if f["economic_group"] != "developed" || f["region"] != "asia_pacific" {
		t.Fatalf("an answer was overwritten, or a missing one not derived: %v", f)
	}
	if _, ok := RegionOf("ZZ"); ok {
		t.Fatal("an unknown code has a region")
	}
	if _, ok := EconomicGroupOf("ZZ"); ok {
		t.Fatal("an unknown code has an economic group")
	}
	// Every nationality with a regional group has an economic group.
	for iso := range regionOf {
		if _, ok := EconomicGroupOf(iso); !ok {
			t.Errorf("%s has a region but no economic group", iso)
		}
	}
}

func TestUploadChecks(t *testing.T) {
	if sniff([]byte("%PDF-1.7\n")) != "application/pdf" || sniff([]byte("\x89PNG\r\n\x1a\n\x00")) != "image/png" {
		t.Fatal("sniff")
	}
	for in, want := range map[string]string{
		"../../etc/passwd": "passwd", `C:\Users\a\cv.pdf`: "cv.pdf", "": "file", "..": "file",
		"cv\r\n\".pdf": "cv.pdf", strings.Repeat("é", 300): strings.Repeat("é", 100),
	} {
		if got := cleanFilename(in); got != want {
			t.Errorf("cleanFilename(%q) = %q, want %q", in, got, want)
		}
	}
	for addr, ok := range map[string]bool{
		"ana@example.org": true, "Ana <ana@example.org>": false, "ana@example.org\r\nBcc: x@y.z": false,
		"ana@localhost": false, "a b@example.org": false, "": false,
	} {
		if plainEmail(addr) != ok {
			t.Errorf("plainEmail(%q) = %v", addr, plainEmail(addr))
		}
	}
}

// A signer's keys are replaced while it is in use: links signed with the
// retired key verify while it is kept, new links are signed with the new
// one, and a signer with no key signs nothing and accepts nothing.
func TestLinkSignerRotation(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	claims := LinkClaims{Kind: "consent", NominationID: "n1", Expires: now.Add(time.Hour).Unix()}
	oldKey, newKey := []byte(strings.Repeat("o", 32)), []byte(strings.Repeat("n", 32))
	s := NewLinkSigner(nil)
	if s.Ready() || s.Sign(claims) != "" {
		t.Fatal("a signer without a key signed")
	}
	s.SetKeys(oldKey)
	oldTok := s.Sign(claims)
	s.SetKeys(newKey, oldKey)
	if _, err := s.Verify(oldTok, "consent", now); err != nil {
		t.Fatalf("a link of the retired key refused while it is kept: %v", err)
	}
	newTok := s.Sign(claims)
	if newTok == oldTok || newTok != NewLinkSigner(newKey).Sign(claims) {
		t.Fatal("new links are not signed with the new key")
	}
	s.SetKeys(newKey)
	if _, err := s.Verify(oldTok, "consent", now); ErrorCode(err) != ENOTFOUND {
		t.Fatalf("a link of a dropped key: %v, want ENOTFOUND", err)
	}
	if _, err := NewLinkSigner(nil).Verify(newTok, "consent", now); ErrorCode(err) != ENOTFOUND {
		t.Fatalf("a signer without keys accepted a link: %v", err)
	}
}
