package membership_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/igf/nomina/internal/membership"
	"github.com/igf/nomina/internal/nomination"
)

// importFile has good rows and bad rows; its comments give each row's line.
// The row on lines 10-11 holds a quoted line break, so every later row's
// line differs from its record number.
const importFile = `body,email,name,seat_kind,stakeholder_group,region,gender,nationality,organization,start,end
mag,ana@example.org,Ana,,civil_society,,female,KE,KICTANet,2024-01-01,2024-12-31
mag,ana@example.org,Ana,,civil_society,,female,KE,KICTANet,2025-01-01,
mag,bo@example.org,Bo,,government,atlantis,male,,Ministry,2025-01-01,2025-12-31
mag,ana@example.org,Ana,,civil_society,,female,KE,KICTANet,2025-06-01,2025-12-31
mag,cy@example.org,Cy,,private_sector,,female,BR,Cy Corp,2025-02-30,2025-12-31
mag,,Nameless,,government,,male,FR,,2025-01-01,
mag,di@example.org,Di,,academia,,male,JP,,2025-01-01,
mag,ed@example.org,Ed,,technical_community,,other,PL,"Quoted, Org",2025-12-31,2025-01-01
"mag","fa@example.org","Fa ""F""","","civil_society","","female","NG","Line
break org",2026-01-01,
mag,gu@example.org,Gu,chair,,,male,DE,,2026-01-01,
mag,ha@example.org,Ha,,government,,female,US,,2025-03-01,2025-09-30
mag,ha@example.org,Ha,,government,,female,US,,2025-01-01,2025-12-31
`

// badLines is what the dry run must report: line → the fields at fault.
var badLines = map[int][]string{
	4:  {"region"},            // unknown region
	5:  {"start"},             // overlaps line 3
	6:  {"start"},             // 30 February
	7:  {"email"},             // missing email
	8:  {"stakeholder_group"}, // unknown group
	9:  {"end"},               // ends before it starts
	10: {"organization"},      // a line break in the organisation
	13: {"start"},             // overlaps Ha's recorded 2025 term
}

func seedHa(tb testing.TB, f fixture) {
	tb.Helper()
	f.mustYears(tb, "mag", "ha@example.org", "government", 2025)
}

func TestImportDryRunReportsEveryBadRow(t *testing.T) {
	f := newFixture(t)
	seedHa(t, f)
	for _, mode := range []string{membership.ImportStrict, membership.ImportSkip} {
		t.Run(mode, func(t *testing.T) {
			rep, err := f.svc.Import(context.Background(), staff, strings.NewReader(importFile), membership.ImportOptions{DryRun: true, Mode: mode})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Rows != 12 || rep.Good != 4 || rep.Bad != 8 || rep.Existing != 1 || rep.Stored != 0 || !rep.DryRun {
				t.Fatalf("report %+v", rep)
			}
			got := map[int][]string{}
			for _, e := range rep.Errors {
				for _, p := range e.Problems {
					got[e.Line] = append(got[e.Line], p.Field)
				}
			}
			if !reflect.DeepEqual(got, badLines) {
				t.Fatalf("bad lines\n got %v\nwant %v\n%+v", got, badLines, rep.Errors)
			}
			if rep.Errors[0].Email != "bo@example.org" {
				t.Fatalf("first bad row's email = %q", rep.Errors[0].Email)
			}
			mustTermCount(t, f, 1)
		})
	}
}

func mustTermCount(tb testing.TB, f fixture, want int) {
	tb.Helper()
	ms, err := f.svc.ListMembers(context.Background(), staff, membership.MemberQuery{})
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, m := range ms {
		n += len(m.Terms)
	}
	if n != want {
		tb.Fatalf("%d terms stored, want %d", n, want)
	}
}

func TestImportStrictStoresNothing(t *testing.T) {
	f := newFixture(t)
	seedHa(t, f)
	rep, err := f.svc.Import(context.Background(), staff, strings.NewReader(importFile), membership.ImportOptions{Mode: membership.ImportStrict})
	mustCode(t, err, nomination.EINVALID)
	de := err.(*nomination.Error)
	if len(de.Fields) != 8 || de.Fields[0].Field != "line 4: region" {
		t.Fatalf("problems %+v", de.Fields)
	}
	if rep.Stored != 0 || rep.Bad != 8 {
		t.Fatalf("report %+v", rep)
	}
	mustTermCount(t, f, 1)
	ms, _ := f.svc.ListMembers(context.Background(), staff, membership.MemberQuery{})
	if len(ms) != 1 {
		t.Fatalf("%d members after a failed strict import, want the seeded one", len(ms))
	}
}

func TestImportSkipStoresGoodRows(t *testing.T) {
	f := newFixture(t)
	seedHa(t, f)
	ctx := context.Background()
	rep, err := f.svc.Import(ctx, staff, strings.NewReader(importFile), membership.ImportOptions{Mode: membership.ImportSkip})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stored != 3 || rep.Existing != 1 || rep.Bad != 8 {
		t.Fatalf("report %+v", rep)
	}
	mustTermCount(t, f, 4)
	ana, err := f.svc.GetMember(ctx, staff, membership.MemberID("mag", "ana@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ana.Terms) != 2 || ana.Terms[1].End.Format(membership.DateLayout) != "2025-12-31" ||
		ana.Terms[1].RenewalOf != ana.Terms[0].ID || ana.Terms[0].Source != membership.SourceImport || ana.Region != "african" {
		t.Fatalf("ana = %+v", ana)
	}
	gu, err := f.svc.GetMember(ctx, staff, membership.MemberID("mag", "gu@example.org"))
	if err != nil || gu.SeatKind != membership.SeatChair || gu.Region != "western_european_others" {
		t.Fatalf("gu = %+v, %v", gu, err)
	}
	// The same file again adds nothing: its good rows are recorded.
	rep, err = f.svc.Import(ctx, staff, strings.NewReader(importFile), membership.ImportOptions{Mode: membership.ImportSkip})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stored != 0 || rep.Existing != 4 {
		t.Fatalf("second run %+v", rep)
	}
	mustTermCount(t, f, 4)
}

func TestImportRefusesFile(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		actor nomination.Actor
		file  string
		opts  membership.ImportOptions
		code  string
	}{
		{"not staff", reviewer, importFile, membership.ImportOptions{}, nomination.EFORBIDDEN},
		{"unknown mode", staff, importFile, membership.ImportOptions{Mode: "lenient"}, nomination.EINVALID},
		{"unknown body option", staff, importFile, membership.ImportOptions{Body: "board"}, nomination.EINVALID},
		{"empty", staff, "", membership.ImportOptions{}, nomination.EINVALID},
		{"unknown column", staff, "email,name,start,shoe_size\n", membership.ImportOptions{Body: "mag"}, nomination.EINVALID},
		{"no start column", staff, "email,name\n", membership.ImportOptions{Body: "mag"}, nomination.EINVALID},
		{"no body at all", staff, "email,name,start\n", membership.ImportOptions{}, nomination.EINVALID},
		{"not CSV", staff, "email,name,start\n\"a@example.org,x,2024-01-01\n", membership.ImportOptions{Body: "mag"}, nomination.EINVALID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Import(context.Background(), tc.actor, strings.NewReader(tc.file), tc.opts)
			mustCode(t, err, tc.code)
		})
	}
}

// The body given with the import fills rows naming none; a field count
// unlike the header's is a bad row, not a broken file.
func TestImportDefaultBodyAndShortRows(t *testing.T) {
	f := newFixture(t)
	file := "email,name,stakeholder_group,nationality,start\n" +
		"ana@example.org,Ana,government,KE,2026-01-01\n" +
		"bo@example.org,Bo,government\n"
	rep, err := f.svc.Import(context.Background(), staff, strings.NewReader(file), membership.ImportOptions{Mode: membership.ImportSkip, Body: "lp"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stored != 1 || len(rep.Errors) != 1 || rep.Errors[0].Line != 3 {
		t.Fatalf("report %+v", rep)
	}
	ms, _ := f.svc.ListMembers(context.Background(), staff, membership.MemberQuery{Body: "lp"})
	if len(ms) != 1 || len(ms[0].Terms) != 1 || ms[0].Terms[0].End.Format(membership.DateLayout) != "2027-12-31" {
		t.Fatalf("a Leadership Panel term lasts two years: %+v", ms)
	}
}
