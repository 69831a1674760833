package membership

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/igf/nomina/internal/workflow"
)

var (
	loadOnce sync.Once
	loaded   *workflow.Registry
	loadErr  error
)

// mustParser returns a service that knows the bodies of the project's
// workflows and has no store: enough to parse import files and plan.
func mustParser(tb testing.TB) *Service {
	tb.Helper()
	loadOnce.Do(func() {
		var diags []workflow.Diagnostic
		loaded, diags, loadErr = workflow.LoadDir("../../workflows")
		if loadErr == nil && workflow.HasErrors(diags) {
			loadErr = fmt.Errorf("workflow diagnostics: %v", diags)
		}
	})
	if loadErr != nil {
		tb.Fatal(loadErr)
	}
	s, err := New(Config{Workflows: loaded})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestBodiesFromWorkflows(t *testing.T) {
	s := mustParser(t)
	got := map[string]string{}
	for _, b := range s.Bodies() {
		got[b.ID] = fmt.Sprintf("%d/%d groups=%d regions=%d", b.Terms.Years, b.Terms.MaxConsecutive, len(b.Groups), len(b.Regions))
	}
	// The WGIG is a roster no workflow feeds: any stakeholder group key.
	want := map[string]string{"mag": "1/3 groups=4 regions=5", "lp": "2/0 groups=5 regions=5", "wgig": "1/0 groups=0 regions=0"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("bodies %v, want %v", got, want)
	}
}

// FuzzParseImport feeds arbitrary files to the import parser: it never
// panics, every bad row has a line after the header, and every good row
// has an address, a body and a period that does not run backwards.
func FuzzParseImport(f *testing.F) {
	f.Add("body,email,name,stakeholder_group,nationality,start,end\nmag,a@example.org,A,government,KE,2024-01-01,2024-12-31\n")
	f.Add("email,name,start\n\"a@example.org\nx\",A,2024-01-01\n")
	f.Add("email,name,start,,\n,,\n\xff,\"\",2024-02-30\n")
	f.Add("\uFEFFEmail, Name ,START\nb@example.org,B,2026-01-01T10:00:00Z\n")
	s := mustParser(f)
	f.Fuzz(func(t *testing.T, file string) {
		good, bad, err := s.parseImport(strings.NewReader(file), "mag")
		if err != nil {
			return
		}
		for _, b := range bad {
			if b.Line < 2 || len(b.Problems) == 0 {
				t.Fatalf("bad row %+v", b)
			}
		}
		for _, g := range good {
			if g.line < 2 || g.profile.Email == "" || g.body.ID == "" || g.start.IsZero() || g.end.Before(g.start) {
				t.Fatalf("good row %+v", g)
			}
		}
	})
}

// BenchmarkConsecutive counts a long-serving member's run.
func BenchmarkConsecutive(b *testing.B) {
	var terms []Term
	for y := 1995; y < 2027; y++ {
		terms = append(terms, Term{ID: fmt.Sprint(y), Start: time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(y, 12, 31, 0, 0, 0, 0, time.UTC)})
	}
	asOf := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		if consecutive(terms, asOf) != 32 {
			b.Fatal("wrong count")
		}
	}
}

// BenchmarkPlan plans a MAG of 55 members with six years of history each.
func BenchmarkPlan(b *testing.B) {
	s := mustParser(b)
	body, _ := s.body("mag")
	var ms []Member
	for i := range 55 {
		m := Member{ID: fmt.Sprint("m", i), Name: fmt.Sprint("Member ", i), Region: body.Regions[i%5], Gender: body.Genders[i%2]}
		for y := 2021 + i%4; y <= 2026+i%2; y++ {
			m.Terms = append(m.Terms, Term{ID: fmt.Sprint(m.ID, y), Start: time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC),
				End: time.Date(y, 12, 31, 0, 0, 0, 0, time.UTC), SeatKind: SeatStakeholder, StakeholderGroup: body.Groups[i%4]})
		}
		ms = append(ms, m)
	}
	for b.Loop() {
		p := plan(body, ms, 2027)
		if p.Composition.Total+len(p.Ending)+len(p.LimitReached) != 55 {
			b.Fatalf("plan lost members: %+v", p.Composition)
		}
	}
}

// BenchmarkParseImport parses a file of MaxImportRows rows.
func BenchmarkParseImport(b *testing.B) {
	s := mustParser(b)
	var sb strings.Builder
	sb.WriteString("body,email,name,stakeholder_group,gender,nationality,organization,start,end\n")
	for i := range MaxImportRows {
		fmt.Fprintf(&sb, "mag,person%d@example.org,Person %d,civil_society,female,KE,Org %d,%d-01-01,\n", i, i, i, 2000+i%25)
	}
	file := sb.String()
	b.SetBytes(int64(len(file)))
	for b.Loop() {
		good, bad, err := s.parseImport(strings.NewReader(file), "")
		if err != nil || len(good) != MaxImportRows || len(bad) != 0 {
			b.Fatalf("%d good, %d bad, %v", len(good), len(bad), err)
		}
	}
}
