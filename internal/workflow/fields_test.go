package workflow

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// fieldsYAML declares one field of each type.
const fieldsYAML = `id: form
version: 1
title: Form
body: lp
terms: {years: 2}
fields:
  - {name: group, type: choice, required: true, choices: [a, b]}
  - {name: org, type: text, required: true, min_len: 2, max_len: 10}
  - {name: essay, type: longtext, max_len: 20}
  - {name: mail, type: email}
  - {name: country, type: country}
  - {name: born, type: date}
  - {name: cv, type: file, required: true, accept: [application/pdf], max_files: 2}
  - {name: agree, type: bool, required: true}
roles: [owner]
initial: draft
states:
  draft: {editable: true}
  done: {final: true}
actions:
  - {name: submit, from: draft, to: done, roles: [owner], guards: [{rule: complete, message: Complete the form.}]}
`

func TestCheckFields(t *testing.T) {
	d := mustParse(t, fieldsYAML)
	valid := map[string]any{"group": "a", "org": "IGF", "essay": "line one\nline two", "mail": "ada@example.org", "country": "BR", "born": "1990-02-28", "agree": true}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for key, val := range valid {
			m[key] = val
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name     string
		values   map[string]any
		complete bool
		want     []FieldProblem
	}{
		{"valid and complete", valid, true, nil},
		{"empty draft is fine", map[string]any{}, false, nil},
		{"empty at submission", map[string]any{}, true, []FieldProblem{{Field: "group", Message: "is required"}, {Field: "org", Message: "is required"}, {Field: "agree", Message: "is required"}}},
		{"empty string is unanswered", with("org", ""), true, []FieldProblem{{Field: "org", Message: "is required"}}},
		{"choice outside the list", with("group", "c"), false, []FieldProblem{{Field: "group", Message: `must be one of "a" or "b"`}}},
		{"choice not text", with("group", 3.0), false, []FieldProblem{{Field: "group", Message: "must be text"}}},
		{"text too long", with("org", "Internet Society"), false, []FieldProblem{{Field: "org", Message: "must be at most 10 characters (it is 16)"}}},
		{"text counted in characters", with("org", "Ñandú Ñandú"), false, []FieldProblem{{Field: "org", Message: "must be at most 10 characters (it is 11)"}}},
		{"text too short", with("org", "X"), false, []FieldProblem{{Field: "org", Message: "must be at least 2 characters (it is 1)"}}},
		{"text on one line", with("org", "a\nb"), false, []FieldProblem{{Field: "org", Message: "must be one line of text without line breaks, control or text-direction characters (it contains U+000A)"}}},
		{"text without direction overrides", with("org", "ab\u202ec"), false, []FieldProblem{{Field: "org", Message: "must be one line of text without line breaks, control or text-direction characters (it contains U+202E)"}}},
		{"text without line separators", with("org", "a\u2028b"), false, []FieldProblem{{Field: "org", Message: "must be one line of text without line breaks, control or text-direction characters (it contains U+2028)"}}},
		{"longtext keeps its lines", with("essay", "a\nb\tc"), false, nil},
		{"control characters", with("essay", "bell\a"), false, []FieldProblem{{Field: "essay", Message: "contains control characters"}}},
		{"longtext too long", with("essay", strings.Repeat("x", 21)), false, []FieldProblem{{Field: "essay", Message: "must be at most 20 characters (it is 21)"}}},
		{"email", with("mail", "not an address"), false, []FieldProblem{{Field: "mail", Message: "must be an email address such as name@example.org"}}},
		{"email with a display name", with("mail", "Ada <ada@example.org>"), false, []FieldProblem{{Field: "mail", Message: "must be an email address such as name@example.org"}}},
		{"email without a domain dot", with("mail", "ada@localhost"), false, []FieldProblem{{Field: "mail", Message: "must be an email address such as name@example.org"}}},
		{"country lower case", with("country", "br"), false, []FieldProblem{{Field: "country", Message: "must be an ISO 3166-1 alpha-2 country code such as KE or BR"}}},
		{"country not assigned", with("country", "ZZ"), false, []FieldProblem{{Field: "country", Message: "must be an ISO 3166-1 alpha-2 country code such as KE or BR"}}},
		{"date not a date", with("born", "1990-02-30"), false, []FieldProblem{{Field: "born", Message: "must be a date written YYYY-MM-DD"}}},
		{"date in another format", with("born", "28/02/1990"), false, []FieldProblem{{Field: "born", Message: "must be a date written YYYY-MM-DD"}}},
		{"bool not a bool", with("agree", "yes"), false, []FieldProblem{{Field: "agree", Message: "must be true or false"}}},
		{"required bool must be ticked", with("agree", false), true, []FieldProblem{{Field: "agree", Message: "must be accepted"}}},
		{"unticked bool in a draft", with("agree", false), false, nil},
		{"file in values", with("cv", "cv.pdf"), false, []FieldProblem{{Field: "cv", Message: "is a file: upload it as an attachment"}}},
		{"unknown fields sorted", with("zeta", "x"), false, []FieldProblem{{Field: "zeta", Message: "is not a field of this form"}}},
		{"nil is unanswered", with("essay", nil), true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := d.CheckFields(tt.values, tt.complete)
			if !reflect.DeepEqual(plainProblems(got), tt.want) {
				t.Errorf("CheckFields = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIncomplete(t *testing.T) {
	d := mustParse(t, fieldsYAML)
	values := map[string]any{"group": "a", "org": "IGF", "agree": true}
	tests := []struct {
		name        string
		attachments map[string]int
		want        []FieldProblem
	}{
		{"one CV", map[string]int{"cv": 1}, nil},
		{"no CV", nil, []FieldProblem{{Field: "cv", Message: "is required: upload a file"}}},
		{"too many CVs", map[string]int{"cv": 3}, []FieldProblem{{Field: "cv", Message: "takes at most 2 file(s)"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Subject{State: "draft", Fields: values, Attachments: tt.attachments}
			if got := d.Incomplete(s); !reflect.DeepEqual(plainProblems(got), tt.want) {
				t.Errorf("Incomplete = %v, want %v", got, tt.want)
			}
			// The guard `complete` agrees with Incomplete.
			st := d.Available(s, owner, envNow)
			if st[0].Allowed != (len(tt.want) == 0) {
				t.Errorf("submit allowed = %v with problems %v", st[0].Allowed, tt.want)
			}
		})
	}
}

func TestFieldDefaults(t *testing.T) {
	d := mustParse(t, fieldsYAML)
	tests := []struct {
		name   string
		field  string
		maxLen int
		label  string
		visibl bool
	}{
		{"email default length", "mail", 254, "Mail", true},
		{"longtext explicit length", "essay", 20, "Essay", true},
		{"country length", "country", 2, "Country", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := d.Field(tt.field)
			if !ok {
				t.Fatalf("no field %q", tt.field)
			}
			if f.MaxLen != tt.maxLen || f.Label != tt.label || f.ReviewerVisible != tt.visibl {
				t.Errorf("field = %+v", f)
			}
		})
	}
	cv, _ := d.Field("cv")
	if cv.MaxBytes != 10<<20 || cv.MaxFiles != 2 || !reflect.DeepEqual(cv.Accept, []string{"application/pdf"}) {
		t.Errorf("cv = %+v", cv)
	}
}

func TestShippedFieldsFollowDesign(t *testing.T) {
	groups := []string{"government", "private_sector", "civil_society", "technical_community"}
	regions := []string{"african", "asia_pacific", "eastern_european", "latin_american_caribbean", "western_european_others"}
	genders := []string{"female", "male", "other", "undisclosed"}
	tests := []struct {
		id     string
		groups []string
	}{
		{"mag", groups},
		{"leadership-panel", append(append([]string(nil), groups...), "at_large")},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			d := mustShipped(t, tt.id)
			for _, want := range []struct {
				name, typ string
				choices   []string
			}{
				{"stakeholder_group", TypeChoice, tt.groups},
				{"region", TypeChoice, regions},
				{"gender", TypeChoice, genders},
				{"nationality", TypeCountry, nil},
				{"organization", TypeText, nil},
				{"motivation", TypeLongText, nil},
				{"cv", TypeFile, nil},
			} {
				f, ok := d.Field(want.name)
				if !ok {
					t.Errorf("no field %q", want.name)
					continue
				}
				if f.Type != want.typ || !f.Required {
					t.Errorf("field %q: type %s required %v", want.name, f.Type, f.Required)
				}
				if want.choices != nil && !reflect.DeepEqual(f.Choices, want.choices) {
					t.Errorf("field %q choices = %v, want %v", want.name, f.Choices, want.choices)
				}
				if f.Type == TypeFile && !reflect.DeepEqual(f.Accept, []string{"application/pdf"}) {
					t.Errorf("cv accepts %v", f.Accept)
				}
			}
			states := []string{"draft", "submitted", "panel_review", "secretariat_review", "shortlisted", "appointed", "not_selected", "rejected", "withdrawn"}
			for _, s := range states {
				if _, ok := d.State(s); !ok {
					t.Errorf("no state %q", s)
				}
			}
			for _, a := range []string{"submit", "withdraw", "admit", "reject", "shortlist", "appoint", "not_select"} {
				if _, ok := d.Action(a); !ok {
					t.Errorf("no action %q", a)
				}
			}
			if sub, _ := d.Action("submit"); sub.From[0] != "draft" || sub.To != "submitted" {
				t.Errorf("submit goes %v -> %s", sub.From, sub.To)
			}
			if adm, _ := d.Action("admit"); adm.From[0] != "submitted" || adm.To != "panel_review" || !reflect.DeepEqual(adm.Roles, []string{RoleSecretariat}) {
				t.Errorf("admit = %+v", adm)
			}
			if rej, _ := d.Action("reject"); !reflect.DeepEqual(rej.Inputs, []string{InputReason}) || !reflect.DeepEqual(rej.Roles, []string{RoleSecretariat}) {
				t.Errorf("reject = %+v", rej)
			}
		})
	}
}

func TestCountryCodes(t *testing.T) {
	if n := len(strings.Fields(countryCodes)); n != 249 {
		t.Errorf("%d country codes, want 249", n)
	}
	tests := []struct {
		code string
		ok   bool
	}{{"KE", true}, {"BR", true}, {"PS", true}, {"XK", false}, {"ZZ", false}, {"ke", false}, {"K", false}, {"KEN", false}, {"D ", false}, {"", false}}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := IsCountryCode(tt.code); got != tt.ok {
				t.Errorf("IsCountryCode(%q) = %v", tt.code, got)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"72h", 72 * time.Hour, false},
		{"14d", 14 * 24 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"90m", 90 * time.Minute, false},
		{"0d", 0, true},
		{"-1d", 0, true},
		{"d", 0, true},
		{"+3d", 0, true},
		{"3 days", 0, true},
		{"4000d", 0, true},
		{"1d-2h", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseDuration(tt.in)
			if (err != nil) != tt.err || got != tt.want {
				t.Errorf("parseDuration(%q) = %v, %v", tt.in, got, err)
			}
		})
	}
}
