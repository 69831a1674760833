package membership_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/igf/nomina/internal/membership"
	"github.com/igf/nomina/internal/workflow"
)

// TestHistory imports a WGIG roster beside MAG terms and reads back what
// workflow rules see of each person.
func TestHistory(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	wgig := "email,name,stakeholder_group,nationality,start,end\n" +
		"amina@example.org,Amina,civil_society,KE,2004-11-11,2005-06-18\n" +
		"boris@example.org,Boris,government,RU,2004-11-11,2005-06-18\n"
	rep, err := f.svc.Import(ctx, staff, strings.NewReader(wgig), membership.ImportOptions{Body: "wgig"})
	if err != nil || rep.Stored != 2 {
		t.Fatalf("import the WGIG roster: %+v %v", rep, err)
	}
	f.mustYears(t, "mag", "amina@example.org", "technical_community", 2019, 2020)
	f.mustYears(t, "mag", "carla@example.org", "private_sector", 2025, 2026, 2027)

	// A WGIG member whose change is committed but whose projection was
	// never written (a writer stopped between the two): read from the
	// ledger.
	id := membership.MemberID("wgig", "eve@example.org")
	if err := f.store.AppendChange(ctx, membership.Change{MemberID: id, Seq: 1, At: day(2026, 1, 1), Actor: "sec-1", Type: membership.ChangeImported, Body: "wgig",
		Profile: &membership.ProfileChange{Profile: membership.Profile{Email: "eve@example.org", Name: "Eve", SeatKind: membership.SeatStakeholder, StakeholderGroup: "technical_community"}, AsOf: day(2004, 11, 11)},
		Term: &membership.Term{ID: membership.TermID(id, day(2004, 11, 11)), MemberID: id, Body: "wgig", Email: "eve@example.org", Start: day(2004, 11, 11), End: day(2005, 6, 18),
			Source: membership.SourceImport, SeatKind: membership.SeatStakeholder, StakeholderGroup: "technical_community"}}); err != nil {
		t.Fatal(err)
	}

	now := day(2026, 11, 2)
	tests := []struct {
		email  string
		bodies []string
		want   workflow.PersonFacts
	}{
		{"amina@example.org", workflow.Bodies, workflow.PersonFacts{StakeholderGroup: "technical_community", Bodies: map[string]workflow.BodyFacts{
			"wgig": {Terms: 1, Group: "civil_society"}, "mag": {Terms: 2, Group: "technical_community"}}}},
		{"Amina@Example.org", []string{"wgig"}, workflow.PersonFacts{StakeholderGroup: "civil_society", Bodies: map[string]workflow.BodyFacts{
			"wgig": {Terms: 1, Group: "civil_society"}}}},
		{"boris@example.org", workflow.Bodies, workflow.PersonFacts{StakeholderGroup: "government", Bodies: map[string]workflow.BodyFacts{
			"wgig": {Terms: 1, Group: "government"}}}},
		// The 2027 term has not started: it does not count yet.
		{"carla@example.org", workflow.Bodies, workflow.PersonFacts{StakeholderGroup: "private_sector", Bodies: map[string]workflow.BodyFacts{
			"mag": {Terms: 2, Member: true, Group: "private_sector"}}}},
		{"dan@example.org", workflow.Bodies, workflow.PersonFacts{}},
		{"eve@example.org", workflow.Bodies, workflow.PersonFacts{StakeholderGroup: "technical_community", Bodies: map[string]workflow.BodyFacts{
			"wgig": {Terms: 1, Group: "technical_community"}}}},
		{"carla@example.org", []string{"nosuchbody"}, workflow.PersonFacts{}},
	}
	for _, tt := range tests {
		t.Run(tt.email+"/"+strings.Join(tt.bodies, ","), func(t *testing.T) {
			got, err := f.svc.History(ctx, tt.email, tt.bodies, now)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("History = %+v, want %+v", got, tt.want)
			}
		})
	}
}
