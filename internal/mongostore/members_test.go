package mongostore_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/igf/nomina/internal/membership"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

var memberAt = time.Date(2026, 3, 2, 9, 0, 0, 123e6, time.UTC)

func sampleChange(memberID string, seq int) membership.Change {
	term := membership.Term{ID: membership.TermID(memberID, day(2027, 1, 1)), MemberID: memberID, Body: "mag",
		Email: "ana@example.org", Start: day(2027, 1, 1), End: day(2027, 12, 31), Source: "nomination:n1", RenewalOf: "t0",
		SeatKind: membership.SeatStakeholder, StakeholderGroup: "civil_society", CreatedAt: memberAt, CreatedBy: "nomination:n1"}
	return membership.Change{MemberID: memberID, Seq: seq, At: memberAt, Actor: "nomination:n1", Type: membership.ChangeAppointed, Body: "mag",
		Profile: &membership.ProfileChange{Profile: membership.Profile{Email: "ana@example.org", Name: "Ana", SeatKind: membership.SeatStakeholder,
			StakeholderGroup: "civil_society", Region: "african", Gender: "female", Nationality: "KE", Organization: "KICTANet"}, AsOf: day(2027, 1, 1)},
		Term: &term, Ending: &membership.Ending{TermID: "t0", End: day(2026, 6, 30), Reason: "resigned"}}
}

func TestMembersLedger(t *testing.T) {
	s := storetest.NewStore(t).Members()
	ctx := context.Background()
	id := membership.MemberID("mag", "ana@example.org")
	c := sampleChange(id, 1)
	if err := s.AppendChange(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.Change(ctx, id, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("change read back\n got %+v\nwant %+v", got, c)
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"the same seq again", s.AppendChange(ctx, sampleChange(id, 1)), nomination.ECONFLICT},
		{"the next seq", s.AppendChange(ctx, sampleChange(id, 2)), ""},
		{"another member's first", s.AppendChange(ctx, sampleChange("mag-other", 1)), ""},
		{"a seq not written", func() error { _, err := s.Change(ctx, id, 3); return err }(), nomination.ENOTFOUND},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := nomination.ErrorCode(tc.err); got != tc.want {
				t.Fatalf("code %q (%v), want %q", got, tc.err, tc.want)
			}
		})
	}
}

// Of many writers appending the same seq exactly one commits: two
// appointments of one person cannot both pass the checks made on the
// member as it stood.
func TestMembersConcurrentAppendCommitsOnce(t *testing.T) {
	s := storetest.NewStore(t).Members()
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.AppendChange(context.Background(), sampleChange("mag-x", 1)) })
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
		t.Fatalf("%d appends succeeded, want 1", ok)
	}
}

func sampleMember(body, email string, seq int) membership.Member {
	id := membership.MemberID(body, email)
	m := membership.Member{}
	c := sampleChange(id, 1)
	c.Body = body
	membership.Fold(&m, c)
	m.Seq = seq
	m.Organization = fmt.Sprint("as of seq ", seq)
	return m
}

func TestMembersProjection(t *testing.T) {
	s := storetest.NewStore(t).Members()
	ctx := context.Background()
	m2 := sampleMember("mag", "ana@example.org", 2)
	if err := s.PutMember(ctx, m2); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetMember(ctx, m2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m2) {
		t.Fatalf("member read back\n got %+v\nwant %+v", got, m2)
	}
	// An older projection does not replace a newer one; a newer does.
	if err := s.PutMember(ctx, sampleMember("mag", "ana@example.org", 1)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetMember(ctx, m2.ID); got.Seq != 2 {
		t.Fatalf("an older projection was put back: seq %d", got.Seq)
	}
	if err := s.PutMember(ctx, sampleMember("mag", "ana@example.org", 3)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetMember(ctx, m2.ID); got.Seq != 3 || got.Organization != "as of seq 3" {
		t.Fatalf("a newer projection was not written: %+v", got)
	}
	if _, err := s.GetMember(ctx, "nobody"); nomination.ErrorCode(err) != nomination.ENOTFOUND {
		t.Fatalf("missing member: %v", err)
	}
}

func TestMembersList(t *testing.T) {
	s := storetest.NewStore(t).Members()
	ctx := context.Background()
	for _, m := range []membership.Member{sampleMember("mag", "a@example.org", 1), sampleMember("mag", "b@example.org", 1), sampleMember("lp", "a@example.org", 1)} {
		if err := s.PutMember(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		f    membership.MemberFilter
		want int
	}{
		{"all", membership.MemberFilter{}, 3},
		{"one body", membership.MemberFilter{Body: "mag"}, 2},
		{"the other body", membership.MemberFilter{Body: "lp"}, 1},
		{"a body without members", membership.MemberFilter{Body: "board"}, 0},
		{"limit", membership.MemberFilter{Limit: 2}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListMembers(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want {
				t.Fatalf("%d members, want %d", len(got), tc.want)
			}
			for i := 1; i < len(got); i++ {
				if got[i-1].ID >= got[i].ID {
					t.Fatalf("not in id order: %s, %s", got[i-1].ID, got[i].ID)
				}
			}
		})
	}
}
