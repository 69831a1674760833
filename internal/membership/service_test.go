package membership_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/igf/nomina/internal/membership"
	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/workflow"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

var (
	workflowsOnce sync.Once
	workflows     *workflow.Registry
	workflowsErr  error
)

func mustWorkflows(tb testing.TB) *workflow.Registry {
	tb.Helper()
	workflowsOnce.Do(func() {
		var diags []workflow.Diagnostic
		workflows, diags, workflowsErr = workflow.LoadDir("../../workflows")
		if workflowsErr == nil && workflow.HasErrors(diags) {
			workflowsErr = fmt.Errorf("workflow diagnostics: %v", diags)
		}
	})
	if workflowsErr != nil {
		tb.Fatalf("load workflows: %v", workflowsErr)
	}
	return workflows
}

var (
	staff    = nomination.Actor{UserID: "sec-1", Roles: []string{"secretariat"}}
	reviewer = nomination.Actor{UserID: "rev-1", Roles: []string{"reviewer"}}
)

// fixture is a service over a fresh database.
type fixture struct {
	svc   *membership.Service
	store *mongostore.Members
}

func newFixture(tb testing.TB) fixture {
	tb.Helper()
	store := storetest.NewStore(tb).Members()
	svc, err := membership.New(membership.Config{Store: store, Workflows: mustWorkflows(tb),
		Now:    func() time.Time { return time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC) },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	return fixture{svc: svc, store: store}
}

// mustTerms records calendar-year terms of body for email, with a profile.
func (f fixture) mustYears(tb testing.TB, body, email, group string, ys ...int) membership.Member {
	tb.Helper()
	var csv strings.Builder
	csv.WriteString("body,email,name,stakeholder_group,nationality,gender,start\n")
	for _, y := range ys {
		fmt.Fprintf(&csv, "%s,%s,%s,%s,KE,female,%d-01-01\n", body, email, strings.Split(email, "@")[0], group, y)
	}
	rep, err := f.svc.Import(context.Background(), staff, strings.NewReader(csv.String()), membership.ImportOptions{Mode: membership.ImportStrict})
	if err != nil || rep.Stored != len(ys) {
		tb.Fatalf("seed %s %v: %+v %v", email, ys, rep, err)
	}
	m, err := f.svc.GetMember(context.Background(), staff, membership.MemberID(body, email))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func magFields() map[string]any {
	return map[string]any{"stakeholder_group": "civil_society", "nationality": "KE", "gender": "female",
		"organization": "Kenya ICT Action Network", "motivation": "long text"}
}

func TestAppointIsIdempotent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := membership.AppointInput{NominationID: "n1", Body: "mag", Email: "Ana@Example.org", Name: "Ana",
		Fields: magFields(), TermStart: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Years: 1}
	first, err := f.svc.Appoint(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	id := membership.MemberID("mag", "ana@example.org")
	want := membership.Term{ID: membership.TermID(id, day(2027, 1, 1)), MemberID: id, Body: "mag",
		Email: "ana@example.org", Start: day(2027, 1, 1), End: day(2027, 12, 31), Source: "nomination:n1",
		SeatKind: membership.SeatStakeholder, StakeholderGroup: "civil_society", CreatedAt: first.CreatedAt, CreatedBy: "nomination:n1"}
	if !reflect.DeepEqual(first, want) {
		t.Fatalf("term\n got %+v\nwant %+v", first, want)
	}
	again, err := f.svc.Appoint(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID {
		t.Fatalf("second appointment returned %s, want %s", again.ID, first.ID)
	}
	m, err := f.svc.GetMember(ctx, staff, first.MemberID)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Terms) != 1 {
		t.Fatalf("%d terms after appointing twice, want 1", len(m.Terms))
	}
	if m.Name != "Ana" || m.Region != "african" || m.Organization != "Kenya ICT Action Network" || m.Gender != "female" || m.Nationality != "KE" {
		t.Fatalf("profile from the form: %+v", m)
	}
}

// A replayed event appointing concurrently from several instances still
// creates one member and one term.
func TestAppointConcurrently(t *testing.T) {
	f := newFixture(t)
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			nom := &nomination.Nomination{ID: "n7", Nominee: nomination.Person{Name: "Bo", Email: "bo@example.org"}, Fields: magFields()}
			errs[i] = f.svc.AppointFromNomination(context.Background(), nom, "mag", 1, day(2027, 1, 1))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("appointment %d: %v", i, err)
		}
	}
	ms, err := f.svc.ListMembers(context.Background(), staff, membership.MemberQuery{Body: "mag"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || len(ms[0].Terms) != 1 {
		t.Fatalf("members %+v, want one with one term", ms)
	}
}

// An old appointment replayed after a newer one keeps the newer profile,
// and a reappointment right after a term links it as the renewal.
func TestAppointProfileAndRenewal(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	newer := magFields()
	newer["organization"] = "Newer Org"
	if _, err := f.svc.Appoint(ctx, membership.AppointInput{NominationID: "n27", Body: "mag", Email: "ana@example.org", Name: "Ana B.", Fields: newer, TermStart: day(2027, 1, 1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Appoint(ctx, membership.AppointInput{NominationID: "n26", Body: "mag", Email: "ana@example.org", Name: "Ana", Fields: magFields(), TermStart: day(2026, 1, 1)}); err != nil {
		t.Fatal(err)
	}
	m, err := f.svc.GetMember(ctx, staff, membership.MemberID("mag", "ana@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Organization != "Newer Org" || m.Name != "Ana B." {
		t.Fatalf("an older appointment overwrote the profile: %+v", m)
	}
	if _, err := f.svc.Appoint(ctx, membership.AppointInput{NominationID: "n28", Body: "mag", Email: "ana@example.org", Name: "Ana", Fields: magFields(), TermStart: day(2028, 1, 1)}); err != nil {
		t.Fatal(err)
	}
	m, _ = f.svc.GetMember(ctx, staff, m.ID)
	if len(m.Terms) != 3 || m.Terms[2].RenewalOf != membership.TermID(m.ID, day(2027, 1, 1)) || m.Terms[1].RenewalOf != "" {
		t.Fatalf("terms %+v", m.Terms)
	}
	if m.Organization != "Kenya ICT Action Network" {
		t.Fatalf("the newest appointment did not update the profile: %+v", m)
	}
}

func TestAppointErrors(t *testing.T) {
	f := newFixture(t)
	ok := membership.AppointInput{NominationID: "n1", Body: "mag", Email: "ana@example.org", Name: "Ana", Fields: magFields(), TermStart: day(2027, 1, 1)}
	tests := []struct {
		name   string
		change func(*membership.AppointInput)
		code   string
	}{
		{"no term start", func(in *membership.AppointInput) { in.TermStart = time.Time{} }, nomination.EINVALID},
		{"no email", func(in *membership.AppointInput) { in.Email = " " }, nomination.EINVALID},
		{"no nomination", func(in *membership.AppointInput) { in.NominationID = "" }, nomination.EINVALID},
		{"unknown body", func(in *membership.AppointInput) { in.Body = "board" }, nomination.ENOTFOUND},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := ok
			tc.change(&in)
			_, err := f.svc.Appoint(context.Background(), in)
			if got := nomination.ErrorCode(err); got != tc.code {
				t.Fatalf("code %q (%v), want %q", got, err, tc.code)
			}
		})
	}
}

func TestConsecutiveTermsFromStore(t *testing.T) {
	f := newFixture(t)
	f.mustYears(t, "mag", "three@example.org", "civil_society", 2024, 2025, 2026)
	f.mustYears(t, "mag", "gap@example.org", "civil_society", 2023, 2024, 2026)
	f.mustYears(t, "lp", "three@example.org", "civil_society", 2026)
	tests := []struct {
		name, body, email string
		want              int
	}{
		{"three in a row", "mag", "three@example.org", 3},
		{"the email's case does not matter", "mag", " Three@Example.ORG", 3},
		{"a gap year resets", "mag", "gap@example.org", 1},
		{"another body counts apart", "lp", "three@example.org", 1},
		{"someone never appointed", "mag", "new@example.org", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.svc.ConsecutiveTerms(context.Background(), tc.body, tc.email, day(2027, 1, 1))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("ConsecutiveTerms = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestRecordMember(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	chair := membership.MemberInput{Body: "mag", Profile: membership.Profile{Email: "chair@example.org", Name: "The Chair",
		SeatKind: membership.SeatChair, Nationality: "de", Gender: "male"}, Start: day(2026, 1, 1)}
	m, err := f.svc.RecordMember(ctx, staff, chair)
	if err != nil {
		t.Fatal(err)
	}
	if m.Region != "western_european_others" || m.Nationality != "DE" || len(m.Terms) != 1 ||
		!m.Terms[0].End.Equal(day(2026, 12, 31)) || m.Terms[0].Source != membership.SourceSecretariat {
		t.Fatalf("chair = %+v", m)
	}
	tests := []struct {
		name   string
		actor  nomination.Actor
		in     membership.MemberInput
		code   string
		fields []string
	}{
		{"not staff", reviewer, chair, nomination.EFORBIDDEN, nil},
		{"a member already", staff, chair, nomination.ECONFLICT, nil},
		{"every bad field named", staff, membership.MemberInput{Body: "mag", Profile: membership.Profile{Email: "x@", Name: "",
			StakeholderGroup: "academia", Region: "atlantis", Gender: "f", Nationality: "ZZ"}, Start: day(2026, 1, 1), End: day(2025, 1, 1)},
			nomination.EINVALID, []string{"email", "name", "stakeholder_group", "nationality", "region", "gender", "end"}},
		{"region against nationality", staff, membership.MemberInput{Body: "mag", Profile: membership.Profile{Email: "y@example.org", Name: "Y",
			StakeholderGroup: "government", Region: "african", Nationality: "FR"}, Start: day(2026, 1, 1)}, nomination.EINVALID, []string{"region"}},
		{"a stakeholder seat needs a group", staff, membership.MemberInput{Body: "mag", Profile: membership.Profile{Email: "z@example.org", Name: "Z"},
			Start: day(2026, 1, 1)}, nomination.EINVALID, []string{"stakeholder_group"}},
		{"unknown body", staff, membership.MemberInput{Body: "board", Profile: chair.Profile, Start: day(2026, 1, 1)}, nomination.EINVALID, []string{"body"}},
		{"no start", staff, membership.MemberInput{Body: "lp", Profile: chair.Profile}, nomination.EINVALID, []string{"start"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.RecordMember(ctx, tc.actor, tc.in)
			mustCode(t, err, tc.code, tc.fields...)
		})
	}
}

// mustCode fails unless err has code and names exactly fields (in any
// order) when fields are given.
func mustCode(tb testing.TB, err error, code string, fields ...string) {
	tb.Helper()
	if got := nomination.ErrorCode(err); got != code {
		tb.Fatalf("code %q (%v), want %q", got, err, code)
	}
	if len(fields) == 0 {
		return
	}
	de := err.(*nomination.Error)
	var got []string
	for _, fe := range de.Fields {
		got = append(got, fe.Field)
	}
	want := slices.Clone(fields)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		tb.Fatalf("fields %v, want %v (%v)", got, fields, de.Fields)
	}
}

func TestTermChanges(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ana := f.mustYears(t, "mag", "ana@example.org", "civil_society", 2024, 2025)
	chair, err := f.svc.RecordMember(ctx, staff, membership.MemberInput{Body: "mag", Profile: membership.Profile{Email: "chair@example.org",
		Name: "Chair", SeatKind: membership.SeatChair, Nationality: "DE"}, Start: day(2023, 1, 1)})
	if err != nil {
		t.Fatal(err)
	}
	for y := 2024; y <= 2026; y++ {
		if _, err := f.svc.CreateTerm(ctx, staff, chair.ID, membership.TermInput{Start: day(y, 1, 1)}); err != nil {
			t.Fatalf("chair %d: %v", y, err)
		}
	}

	t.Run("a third term in a row", func(t *testing.T) {
		term, err := f.svc.CreateTerm(ctx, staff, ana.ID, membership.TermInput{Start: day(2026, 1, 1)})
		if err != nil {
			t.Fatal(err)
		}
		if !term.End.Equal(day(2026, 12, 31)) || term.RenewalOf != ana.Terms[1].ID || term.StakeholderGroup != "civil_society" {
			t.Fatalf("term = %+v", term)
		}
	})
	t.Run("renewing past the limit is refused", func(t *testing.T) {
		m, _ := f.svc.GetMember(ctx, staff, ana.ID)
		_, _, err := f.svc.RenewTerm(ctx, staff, m.Terms[2].ID)
		mustCode(t, err, nomination.EINVALID, "start")
	})
	t.Run("a fourth term in a row is refused", func(t *testing.T) {
		_, err := f.svc.CreateTerm(ctx, staff, ana.ID, membership.TermInput{Start: day(2027, 1, 1)})
		mustCode(t, err, nomination.EINVALID, "start")
	})
	t.Run("after a gap year it is allowed", func(t *testing.T) {
		if _, err := f.svc.CreateTerm(ctx, staff, ana.ID, membership.TermInput{Start: day(2028, 1, 1)}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an overlapping term is refused", func(t *testing.T) {
		_, err := f.svc.CreateTerm(ctx, staff, ana.ID, membership.TermInput{Start: day(2026, 6, 1), End: day(2026, 8, 1)})
		mustCode(t, err, nomination.ECONFLICT)
	})
	t.Run("the chair is not limited", func(t *testing.T) {
		m, _ := f.svc.GetMember(ctx, staff, chair.ID)
		renewal, created, err := f.svc.RenewTerm(ctx, staff, m.Terms[len(m.Terms)-1].ID)
		if err != nil || !created {
			t.Fatalf("renew chair: %v created %v", err, created)
		}
		if !renewal.Start.Equal(day(2027, 1, 1)) || renewal.SeatKind != membership.SeatChair {
			t.Fatalf("renewal = %+v", renewal)
		}
		again, created, err := f.svc.RenewTerm(ctx, staff, m.Terms[len(m.Terms)-1].ID)
		if err != nil || created || again.ID != renewal.ID {
			t.Fatalf("renewing twice: %+v created %v err %v", again, created, err)
		}
	})
	t.Run("ending a term early", func(t *testing.T) {
		m, _ := f.svc.GetMember(ctx, staff, ana.ID)
		term := m.Terms[1] // 2025
		_, err := f.svc.EndTerm(ctx, staff, term.ID, membership.EndInput{End: day(2026, 1, 1), Reason: "resigned"})
		mustCode(t, err, nomination.EINVALID, "end")
		_, err = f.svc.EndTerm(ctx, staff, term.ID, membership.EndInput{End: day(2025, 6, 30)})
		mustCode(t, err, nomination.EINVALID, "reason")
		_, err = f.svc.EndTerm(ctx, reviewer, term.ID, membership.EndInput{End: day(2025, 6, 30), Reason: "resigned"})
		mustCode(t, err, nomination.EFORBIDDEN)
		ended, err := f.svc.EndTerm(ctx, staff, term.ID, membership.EndInput{End: day(2025, 6, 30), Reason: "resigned"})
		if err != nil {
			t.Fatal(err)
		}
		if !ended.End.Equal(day(2025, 6, 30)) || ended.EndReason != "resigned" || ended.EndedBy != "sec-1" || ended.EndedAt.IsZero() {
			t.Fatalf("ended = %+v", ended)
		}
		// The gap the early end leaves resets the count.
		n, err := f.svc.ConsecutiveTerms(ctx, "mag", "ana@example.org", day(2027, 1, 1))
		if err != nil || n != 1 {
			t.Fatalf("consecutive after the early end = %d, %v; want 1", n, err)
		}
	})
	t.Run("unknown term", func(t *testing.T) {
		_, _, err := f.svc.RenewTerm(ctx, staff, "nope")
		mustCode(t, err, nomination.ENOTFOUND)
	})
}

// BenchmarkConsecutiveTermsStore is the cost the MAG screening guard adds
// to every look at a nomination: one query of the person's terms among
// 1,000 stored (200 members, five years each).
func BenchmarkConsecutiveTermsStore(b *testing.B) {
	f := newFixture(b)
	var csv strings.Builder
	csv.WriteString("body,email,name,stakeholder_group,nationality,start\n")
	for i := range 200 {
		for y := 2022; y <= 2026; y++ {
			fmt.Fprintf(&csv, "mag,p%d@example.org,P%d,government,KE,%d-01-01\n", i, i, y)
		}
	}
	rep, err := f.svc.Import(context.Background(), staff, strings.NewReader(csv.String()), membership.ImportOptions{})
	if err != nil || rep.Stored != 1000 {
		b.Fatalf("seed: %+v %v", rep, err)
	}
	asOf := day(2027, 1, 1)
	for b.Loop() {
		n, err := f.svc.ConsecutiveTerms(context.Background(), "mag", "p117@example.org", asOf)
		if err != nil || n != 5 {
			b.Fatalf("%d, %v", n, err)
		}
	}
}
