package workflow

import (
	"slices"
	"strings"
	"testing"
)

// startYAML is baseYAML with start rules and a submit guard over person
// facts.
var startYAML = strings.Replace(baseYAML, "\nroles:", `
start:
  guards:
    - rule: nominator.terms.mag > 0 || nominator.terms.wgig > 0
      message: Only alumni nominate.
    - rule: nominee.member.mag || nominee.terms.wgig > 0 || nominee.self
      message: The candidate must be a MAG member or WGIG alumnus.
  quota: 2
  quota_message: Two nominations each.
roles:`, 1)

func TestStartRules(t *testing.T) {
	d := mustParse(t, startYAML)
	if d.Starting.Quota != 2 || d.Starting.QuotaMessage != "Two nominations each." || len(d.Starting.Guards) != 2 {
		t.Fatalf("start rules = %+v", d.Starting)
	}
	alumna := PersonFacts{StakeholderGroup: "civil_society", Bodies: map[string]BodyFacts{"mag": {Terms: 3, Group: "civil_society"}}}
	wgig := PersonFacts{Bodies: map[string]BodyFacts{"wgig": {Terms: 1}}}
	member := PersonFacts{Bodies: map[string]BodyFacts{"mag": {Terms: 1, Member: true}}}
	tests := []struct {
		name               string
		nominator, nominee PersonFacts
		want               []string
	}{
		{"an alumna nominates a member", alumna, member, nil},
		{"a WGIG alumnus nominates himself", wgig, PersonFacts{Self: true}, nil},
		{"a newcomer nominates a member", PersonFacts{}, member, []string{"Only alumni nominate."}},
		{"an alumna nominates a newcomer", alumna, PersonFacts{}, []string{"The candidate must be a MAG member or WGIG alumnus."}},
		{"a newcomer nominates a newcomer", PersonFacts{}, PersonFacts{}, []string{"Only alumni nominate.", "The candidate must be a MAG member or WGIG alumnus."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, t := range d.CheckStart(Subject{Nominator: tt.nominator, Nominee: tt.nominee}, envNow) {
				got = append(got, t.English)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("CheckStart = %q, want %q", got, tt.want)
			}
		})
	}
	for _, name := range []string{"nominator.terms.mag", "nominee.self", "nominator.", "nominee."} {
		if !d.Uses(name) {
			t.Errorf("Uses(%q) = false", name)
		}
	}
	if d.Uses("nominator.roles") || d.Uses("nominator.nominations") {
		t.Error("Uses reports a fact no rule names")
	}
}

func TestQuota(t *testing.T) {
	noQuota := mustParse(t, baseYAML)
	two := mustParse(t, startYAML)
	tests := []struct {
		d         *Definition
		callQuota int
		want      int
	}{
		{noQuota, 0, 0},
		{noQuota, 3, 3},
		{two, 0, 2},
		{two, 1, 1},
		{two, 5, 2}, // a call only tightens
	}
	for _, tt := range tests {
		if got := tt.d.Quota(tt.callQuota); got != tt.want {
			t.Errorf("%s: Quota(%d) = %d, want %d", tt.d.ID, tt.callQuota, got, tt.want)
		}
	}
}

// TestPersonFactsInGuards checks that action guards see the nominator and
// the nominee, and the call's settings.
func TestPersonFactsInGuards(t *testing.T) {
	d := mustParse(t, strings.Replace(baseYAML, "      - rule: now <= call.closes_at\n", `      - rule: fields.stakeholder_group == nominator.stakeholder_group
        message: Your own stakeholder group only.
      - rule: '"secretariat" in nominator.roles || nominator.nominations < call.nominator_quota'
        message: Over the quota.
      - rule: nominee.group.mag == nominator.group.mag && endorsements >= call.required_endorsements
        message: Same group, and endorsed.
      - rule: now <= call.closes_at
`, 1))
	s := completeMAG("draft")
	s.Fields = map[string]any{"stakeholder_group": "civil_society", "motivation": "x"}
	s.Nominator = PersonFacts{Roles: []string{"candidate"}, StakeholderGroup: "civil_society", Nominations: 1,
		Bodies: map[string]BodyFacts{"mag": {Group: "civil_society"}}}
	s.Nominee = PersonFacts{Bodies: map[string]BodyFacts{"mag": {Group: "civil_society"}}}
	env := envNow
	env.Call.NominatorQuota, env.Call.RequiredEndorsements = 2, 1
	if _, err := d.Fire(s, owner, "submit", Input{}, env); err != nil {
		t.Fatalf("submit: %v", err)
	}
	s.Fields["stakeholder_group"] = "government"
	s.Nominator.Nominations = 2
	s.Nominee.Bodies = nil
	_, err := d.Fire(s, owner, "submit", Input{}, env)
	ae, ok := err.(*ActionError)
	if !ok || ae.Kind != ErrGuardFailed {
		t.Fatalf("submit = %v, want a failed guard", err)
	}
	want := []string{"Your own stakeholder group only.", "Over the quota.", "Same group, and endorsed."}
	if !slices.Equal(ae.Messages, want) {
		t.Errorf("messages = %q, want %q", ae.Messages, want)
	}
	s.Nominator.Roles = []string{"secretariat"}
	_, err = d.Fire(s, owner, "submit", Input{}, env)
	if ae, ok := err.(*ActionError); !ok || slices.Contains(ae.Messages, "Over the quota.") {
		t.Errorf("a secretariat nominator is held to the quota: %v", err)
	}
}

// TestPersonFactsRefused checks the places person facts cannot be used and
// the start section's own checks, each reported at its line.
func TestPersonFactsRefused(t *testing.T) {
	tests := []struct {
		name       string
		from, to   string
		line       int
		wantSubstr string
	}{
		{"nominator fact in a review rule",
			"pass_if: tally.approve >= 2", "pass_if: tally.approve >= 2 && nominator.terms.mag > 0", 0,
			"uses nominator.terms.mag, but the engine evaluates it on its own, where there is no nominator"},
		{"nominee fact in a timer",
			"at: review_due - days(3)", "at: 'nominee.member.mag ? review_due : review_due - days(3)'", 0,
			"uses nominee.member.mag"},
		{"unknown body",
			"      - rule: now <= call.closes_at\n", "      - rule: nominator.terms.wgi > 0\n        message: m\n      - rule: now <= call.closes_at\n", 0,
			`unknown name "nominator.terms.wgi"`},
		{"nominee has no roles",
			"      - rule: now <= call.closes_at\n", "      - rule: '\"candidate\" in nominee.roles'\n        message: m\n      - rule: now <= call.closes_at\n", 0,
			`unknown name "nominee.roles"`},
		{"quota without message",
			"\nroles:", "\nstart:\n  quota: 2\nroles:", 0, "quota needs a quota_message"},
		{"quota of nothing",
			"\nroles:", "\nstart:\n  quota: 0\n  quota_message: m\nroles:", 0, "start quota"},
		{"unknown key under start",
			"\nroles:", "\nstart:\n  guard: []\nroles:", 0, "guard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(baseYAML, tt.from) {
				t.Fatalf("baseYAML has no %q", tt.from)
			}
			src := strings.Replace(baseYAML, tt.from, tt.to, 1)
			d, diags := Parse("test.yaml", []byte(src), testTemplates)
			if d != nil {
				t.Fatalf("Parse accepted it")
			}
			wantLine := lineOf(src, strings.SplitN(strings.TrimSpace(tt.to), "\n", 2)[0])
			for _, dg := range diags {
				if dg.Severity == SeverityError && strings.Contains(dg.Message, tt.wantSubstr) {
					if dg.Line < wantLine || dg.Line > wantLine+3 {
						t.Errorf("reported at line %d, want near %d: %s", dg.Line, wantLine, dg)
					}
					return
				}
			}
			t.Errorf("no error containing %q:\n%s", tt.wantSubstr, diagLines(diags))
		})
	}
}

// lineOf returns the 1-based line of src holding text.
func lineOf(src, text string) int {
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, text) {
			return i + 1
		}
	}
	return 0
}
