package mongostore_test

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/igf/nomina/internal/membership"
	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func mustMember(tb testing.TB, s *mongostore.Members, body, email string) membership.Member {
	tb.Helper()
	m := membership.Member{ID: membership.MemberID(body, email), Body: body, Email: email, Name: "Name of " + email,
		Gender: "female", Nationality: "KE", Region: "african", Organization: "KICTANet", SeatKind: membership.SeatStakeholder,
		StakeholderGroup: "civil_society", ProfileAsOf: day(2024, 1, 1),
		CreatedAt: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), CreatedBy: "u1"}
	if err := s.CreateMember(context.Background(), m); err != nil {
		tb.Fatalf("create member %s: %v", email, err)
	}
	return m
}

func mustTerm(tb testing.TB, s *mongostore.Members, m membership.Member, id string, start, end time.Time) membership.Term {
	tb.Helper()
	t := membership.Term{ID: id, MemberID: m.ID, Body: m.Body, Email: m.Email, Start: start, End: end,
		Source: membership.SourceSecretariat, SeatKind: membership.SeatStakeholder, StakeholderGroup: "civil_society",
		CreatedAt: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), CreatedBy: "u1"}
	if err := s.CreateTerm(context.Background(), t); err != nil {
		tb.Fatalf("create term %s: %v", id, err)
	}
	return t
}

func TestMembersRoundTrip(t *testing.T) {
	s := storetest.NewStore(t).Members()
	ctx := context.Background()
	m := mustMember(t, s, "mag", "ana@example.org")
	got, err := s.GetMember(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("member read back\n got %+v\nwant %+v", got, m)
	}
	term := mustTerm(t, s, m, "t1", day(2024, 1, 1), day(2024, 12, 31))
	term.RenewalOf = "t0"
	term.EndedAt, term.EndedBy, term.EndReason = time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC), "u2", "resigned"
	term.End = day(2024, 6, 30)
	if err := s.PutTerm(ctx, term); err != nil {
		t.Fatal(err)
	}
	gotT, err := s.GetTerm(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotT, term) {
		t.Fatalf("term read back\n got %+v\nwant %+v", gotT, term)
	}
	m.Organization = "Another"
	if err := s.PutMember(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetMember(ctx, m.ID); got.Organization != "Another" {
		t.Fatalf("profile not rewritten: %+v", got)
	}
}

func TestMembersErrors(t *testing.T) {
	s := storetest.NewStore(t).Members()
	ctx := context.Background()
	m := mustMember(t, s, "mag", "ana@example.org")
	mustTerm(t, s, m, "t1", day(2024, 1, 1), day(2024, 12, 31))
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"second member with the same id", s.CreateMember(ctx, m), nomination.ECONFLICT},
		{"second term with the same id", s.CreateTerm(ctx, membership.Term{ID: "t1", MemberID: m.ID, Start: day(2030, 1, 1)}), nomination.ECONFLICT},
		{"another term of the member starting the same day", s.CreateTerm(ctx, membership.Term{ID: "t2", MemberID: m.ID, Start: day(2024, 1, 1), End: day(2024, 12, 31)}), nomination.ECONFLICT},
		{"missing member", func() error { _, err := s.GetMember(ctx, "nobody"); return err }(), nomination.ENOTFOUND},
		{"missing term", func() error { _, err := s.GetTerm(ctx, "none"); return err }(), nomination.ENOTFOUND},
		{"rewrite of a missing member", s.PutMember(ctx, membership.Member{ID: "nobody"}), nomination.ENOTFOUND},
		{"rewrite of a missing term", s.PutTerm(ctx, membership.Term{ID: "none", Start: day(2031, 1, 1)}), nomination.ENOTFOUND},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := nomination.ErrorCode(tc.err); got != tc.want {
				t.Fatalf("code %q (%v), want %q", got, tc.err, tc.want)
			}
		})
	}
	// A term of another member may start the same day.
	other := mustMember(t, s, "mag", "bo@example.org")
	mustTerm(t, s, other, "t3", day(2024, 1, 1), day(2024, 12, 31))
}

// Of many concurrent inserts of one term exactly one commits: the
// appointment of a replayed event cannot create two terms.
func TestMembersConcurrentTermInsertCommitsOnce(t *testing.T) {
	s := storetest.NewStore(t).Members()
	m := mustMember(t, s, "mag", "ana@example.org")
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.CreateTerm(context.Background(), membership.Term{ID: "nom-x", MemberID: m.ID, Body: "mag", Email: m.Email,
				Start: day(2027, 1, 1), End: day(2027, 12, 31)})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch nomination.ErrorCode(err) {
		case "":
			ok++
		case nomination.ECONFLICT:
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d inserts succeeded, want 1", ok)
	}
}

func TestMembersListFilters(t *testing.T) {
	st := storetest.NewStore(t).Members()
	ctx := context.Background()
	ana := mustMember(t, st, "mag", "ana@example.org")
	bo := mustMember(t, st, "mag", "bo@example.org")
	cy := mustMember(t, st, "lp", "cy@example.org")
	mustTerm(t, st, ana, "a24", day(2024, 1, 1), day(2024, 12, 31))
	mustTerm(t, st, ana, "a25", day(2025, 1, 1), day(2025, 12, 31))
	mustTerm(t, st, bo, "b25", day(2025, 1, 1), day(2025, 6, 30))
	mustTerm(t, st, cy, "c25", day(2025, 1, 1), day(2026, 12, 31))
	terms := []struct {
		name string
		f    membership.TermFilter
		want []string
	}{
		{"all", membership.TermFilter{}, []string{"a24", "a25", "b25", "c25"}},
		{"body", membership.TermFilter{Body: "mag"}, []string{"a24", "a25", "b25"}},
		{"email", membership.TermFilter{Emails: []string{"bo@example.org", "cy@example.org"}}, []string{"b25", "c25"}},
		{"members", membership.TermFilter{MemberIDs: []string{ana.ID}}, []string{"a24", "a25"}},
		{"no members", membership.TermFilter{MemberIDs: []string{}}, []string{}},
		{"active on the first day", membership.TermFilter{ActiveOn: day(2025, 1, 1)}, []string{"a25", "b25", "c25"}},
		{"active on the last day", membership.TermFilter{ActiveOn: day(2025, 6, 30), Body: "mag"}, []string{"a25", "b25"}},
		{"active the day after", membership.TermFilter{ActiveOn: day(2025, 7, 1), Body: "mag"}, []string{"a25"}},
		{"ending from", membership.TermFilter{EndsFrom: day(2025, 12, 31)}, []string{"a25", "c25"}},
		{"active and ending from", membership.TermFilter{ActiveOn: day(2025, 3, 1), EndsFrom: day(2026, 1, 1)}, []string{"c25"}},
	}
	for _, tc := range terms {
		t.Run("terms/"+tc.name, func(t *testing.T) {
			got, err := st.ListTerms(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			ids := []string{}
			for _, tm := range got {
				ids = append(ids, tm.ID)
			}
			if !reflect.DeepEqual(ids, tc.want) {
				t.Fatalf("terms %v, want %v", ids, tc.want)
			}
		})
	}
	members := []struct {
		name string
		f    membership.MemberFilter
		want int
	}{
		{"all", membership.MemberFilter{}, 3},
		{"body", membership.MemberFilter{Body: "mag"}, 2},
		{"ids", membership.MemberFilter{IDs: []string{cy.ID, bo.ID}}, 2},
		{"no ids", membership.MemberFilter{IDs: []string{}}, 0},
		{"emails", membership.MemberFilter{Emails: []string{"ana@example.org"}}, 1},
		{"limit", membership.MemberFilter{Limit: 1}, 1},
	}
	for _, tc := range members {
		t.Run("members/"+tc.name, func(t *testing.T) {
			got, err := st.ListMembers(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want {
				t.Fatalf("%d members, want %d: %+v", len(got), tc.want, got)
			}
		})
	}
}
