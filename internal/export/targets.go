package export

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/phrase"
)

// Targets is the balance a call aims for, stored with the call as JSON. It
// is a list of rules over choice fields of the nomination form, for example
// for the MAG:
//
//	{"rules": [
//	  {"field": "stakeholder_group", "values": ["government"], "max_percent": 40},
//	  {"field": "stakeholder_group", "values": ["private_sector", "civil_society", "technical_community"], "max_spread": 1},
//	  {"field": "region", "min_seats": 6},
//	  {"field": "gender", "values": ["female", "male"], "max_percent": 50}]}
//
// Choices lists a field's values in form order; it lets a rule without
// "values" apply to all of them and lets reports show values nobody holds.
// The IGF fields stakeholder_group, region, economic_group and gender have
// their values built in (the IGF vocabulary) and need no entry. Labels gives the words a report
// uses for a value ("government" → "Government") or a field, keyed by
// "field.value", by the bare value, or by the field; the IGF values have
// built-in labels.
type Targets struct {
	Choices map[string][]string `json:"choices,omitempty"`
	Labels  map[string]string   `json:"labels,omitempty"`
	Rules   []Rule              `json:"rules,omitempty"`
}

// Rule is one balance target over the choice field Field. The seat bounds
// apply to each value in Values separately (all the field's choices when
// Values is empty); MaxSpread applies to the values together.
//
// Percentages are of the seats and are converted to whole seats so that a
// share is never exceeded or missed by rounding: a maximum rounds down (max
// seats = floor(max_percent × seats / 100), so 40 % of 42 seats, 16.8,
// allows 16 seats, never 17) and a minimum rounds up (min seats =
// ceil(min_percent × seats / 100), so 10 % of 41 seats, 4.1, requires 5).
// Percentages are taken to two decimals and converted in integer
// arithmetic, so 40 % of 40 seats is exactly 16. When a rule gives both a
// seat count and a percentage for the same side, the stricter one counts.
type Rule struct {
	Field      string   `json:"field"`
	Values     []string `json:"values,omitempty"`
	MinSeats   *int     `json:"min_seats,omitempty"`
	MaxSeats   *int     `json:"max_seats,omitempty"`
	MinPercent *float64 `json:"min_percent,omitempty"`
	MaxPercent *float64 `json:"max_percent,omitempty"`
	// MaxSpread requires the values to hold seat counts at most this far
	// apart. "The rest shared equally" is a spread of 1, as the rest
	// rarely divides exactly.
	MaxSpread *int `json:"max_spread,omitempty"`
}

// MAGTargets returns the IGF balance rules for the MAG as targets: government at
// most 40 % of the seats; private sector, civil society and technical
// community sharing the rest equally (at most one seat apart); each of the
// five UN regions at least regionMinPercent of the seats; and neither women
// nor men above 50 % (gender parity).
func MAGTargets(regionMinPercent float64) Targets {
	return Targets{Rules: []Rule{
		{Field: "stakeholder_group", Values: []string{"government"}, MaxPercent: ptr(40.0)},
		{Field: "stakeholder_group", Values: []string{"private_sector", "civil_society", "technical_community"}, MaxSpread: ptr(1)},
		{Field: "region", MinPercent: ptr(regionMinPercent)},
		{Field: "gender", Values: []string{"female", "male"}, MaxPercent: ptr(50.0)},
	}}
}

// WithEconomicGroups adds to t the MAG calls' ask for candidates "from
// developed and developing countries as well as from countries with
// economies in transition": each of the three economic groups at least
// minPercent of the seats.
func (t Targets) WithEconomicGroups(minPercent float64) Targets {
	t.Rules = append(append([]Rule(nil), t.Rules...), Rule{Field: "economic_group", MinPercent: ptr(minPercent)})
	return t
}

func ptr[T any](v T) *T { return &v }

// igfChoices are the built-in values of the IGF form fields.
// at_large exists only in the Leadership Panel's form, so it is not listed
// for reports; a call that uses it lists it in Targets.Choices.
var igfChoices = map[string][]string{
	"stakeholder_group": {"government", "private_sector", "civil_society", "technical_community"},
	"region":            {"african", "asia_pacific", "eastern_european", "latin_american_caribbean", "western_european_others"},
	"gender":            {"female", "male", "other", "undisclosed"},
	"economic_group":    {"developed", "developing", "transition"},
}

// reportFields are the fields every balance report shows.
var reportFields = []string{"stakeholder_group", "region", "economic_group", "gender"}

var igfLabels = map[string]string{
	"stakeholder_group":        "Stakeholder group",
	"region":                   "Region",
	"gender":                   "Gender",
	"economic_group":           "Economic group",
	"developed":                "Developed countries",
	"developing":               "Developing countries",
	"transition":               "Economies in transition",
	"government":               "Government",
	"private_sector":           "Private sector",
	"civil_society":            "Civil society",
	"technical_community":      "Technical community",
	"at_large":                 "At-large",
	"african":                  "African Group",
	"asia_pacific":             "Asia-Pacific Group",
	"eastern_european":         "Eastern European Group",
	"latin_american_caribbean": "Latin American and Caribbean Group (GRULAC)",
	"western_european_others":  "Western European and Others Group (WEOG)",
	"female":                   "Women",
	"male":                     "Men",
	"gender.other":             "Other gender",
	"gender.undisclosed":       "Gender undisclosed",
}

// choices returns the values of field in form order, or nil when unknown.
func (t Targets) choices(field string) []string {
	if c, ok := t.Choices[field]; ok {
		return c
	}
	return igfChoices[field]
}

// valueLabel returns the words for value of field.
func (t Targets) valueLabel(field, value string) string {
	if value == "" {
		return "Not given"
	}
	for _, k := range []string{field + "." + value, value} {
		if l, ok := t.Labels[k]; ok && l != "" {
			return l
		}
		if l, ok := igfLabels[k]; ok {
			return l
		}
	}
	return humanise(value)
}

// fieldLabel returns the words for field.
func (t Targets) fieldLabel(field string) string {
	if l, ok := t.Labels[field]; ok && l != "" {
		return l
	}
	if l, ok := igfLabels[field]; ok {
		return l
	}
	return humanise(field)
}

// humanise turns a machine name into words: "civil_society" → "Civil society".
func humanise(s string) string {
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Validate checks the targets on their own (whether a set of candidates can
// meet them is Suggest's question). It returns nil, or an EINVALID
// *nomination.Error whose Fields name every problem by its JSON path under
// "targets", for example "targets.rules[2].max_percent".
func (t Targets) Validate() error {
	var fe []nomination.FieldError
	add := func(field, id, english string, args ...any) {
		fe = append(fe, nomination.Problem("targets."+field, id, english, args...))
	}
	addText := func(field string, t phrase.Text) { fe = append(fe, nomination.ProblemText("targets."+field, t)) }
	fields := make([]string, 0, len(t.Choices))
	for f := range t.Choices {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	for _, f := range fields {
		name := "choices." + f
		if !keyPattern.MatchString(f) {
			add(name, "NotAFieldName", "\"{{.Value}}\" is not a field name", "Value", f)
		}
		if len(t.Choices[f]) == 0 {
			add(name, "AtLeastOneValue", "must list at least one value")
		}
		if msg := checkValues(t.Choices[f]); msg.English != "" {
			addText(name, msg)
		}
	}
	for i, r := range t.Rules {
		name := fmt.Sprintf("rules[%d]", i)
		if !keyPattern.MatchString(r.Field) {
			add(name+".field", "ChoiceFieldName", "must name a choice field of the form")
			continue
		}
		values := r.Values
		if len(values) == 0 {
			values = t.choices(r.Field)
			if len(values) == 0 {
				add(name+".values", "NameValues", "name the values, or list the choices of \"{{.Field}}\" under choices", "Field", r.Field)
			}
		} else if msg := checkValues(values); msg.English != "" {
			addText(name+".values", msg)
		} else if known := t.choices(r.Field); known != nil {
			for _, v := range values {
				if !slices.Contains(known, v) {
					add(name+".values", "NotAChoiceOf", "\"{{.Value}}\" is not a choice of \"{{.Field}}\"", "Value", v, "Field", r.Field)
				}
			}
		}
		if r.MinSeats == nil && r.MaxSeats == nil && r.MinPercent == nil && r.MaxPercent == nil && r.MaxSpread == nil {
			add(name, "NoTarget", "sets no target: give min_seats, max_seats, min_percent, max_percent or max_spread")
		}
		for _, s := range []struct {
			key string
			v   *int
		}{{"min_seats", r.MinSeats}, {"max_seats", r.MaxSeats}, {"max_spread", r.MaxSpread}} {
			if s.v != nil && *s.v < 0 {
				add(name+"."+s.key, "NotNegative", "must not be negative")
			}
		}
		for _, p := range []struct {
			key string
			v   *float64
		}{{"min_percent", r.MinPercent}, {"max_percent", r.MaxPercent}} {
			if p.v != nil && (math.IsNaN(*p.v) || *p.v < 0 || *p.v > 100) {
				add(name+"."+p.key, "Between0And100", "must be between 0 and 100")
			}
		}
		if r.MinSeats != nil && r.MaxSeats != nil && *r.MinSeats > *r.MaxSeats {
			add(name+".min_seats", "AboveMaxSeats", "is above max_seats")
		}
		if r.MinPercent != nil && r.MaxPercent != nil && *r.MinPercent > *r.MaxPercent {
			add(name+".min_percent", "AboveMaxPercent", "is above max_percent")
		}
		if r.MaxSpread != nil && len(values) < 2 {
			add(name+".max_spread", "TwoValues", "needs at least two values to compare")
		}
	}
	if len(fe) > 0 {
		return nomination.Invalidf("TargetsInvalid", "the balance targets are invalid", fe...)
	}
	return nil
}

// checkValues returns what is wrong with a list of choice values, or "".
func checkValues(values []string) phrase.Text {
	seen := make(map[string]bool, len(values))
	for _, v := range values {
		if v == "" {
			return phrase.New("ValuesNotEmpty", "values must not be empty")
		}
		if seen[v] {
			return phrase.New("AppearsTwice", "\"{{.Value}}\" appears twice", "Value", v)
		}
		seen[v] = true
	}
	return phrase.Text{}
}

// boundKind says which side of a seat bound a constraint is.
type boundKind uint8

const (
	atLeast boundKind = iota
	atMost
)

// bound is one resolved seat bound: the count of field=value must be at
// least (or at most) seats.
type bound struct {
	rule    int
	field   string
	value   string
	kind    boundKind
	seats   int
	percent int // hundredths of a percent when the percentage set the bound, else -1
}

// spread is one resolved MaxSpread rule.
type spread struct {
	rule   int
	field  string
	values []string
	max    int
}

// resolved is the targets turned into whole-seat constraints for a
// number of seats.
type resolved struct {
	bounds  []bound
	spreads []spread
	fields  []string // fields the rules constrain, in rule order
}

// hundredths converts a percentage to hundredths of a percent, so that the
// seat arithmetic is exact integer arithmetic.
func hundredths(p float64) int { return int(math.Round(p * 100)) }

// maxSeatsFor returns floor(p% of seats) and minSeatsFor ceil(p% of seats),
// with p in hundredths of a percent.
func maxSeatsFor(p, seats int) int { return p * seats / 10000 }
func minSeatsFor(p, seats int) int { return (p*seats + 9999) / 10000 }

// resolve turns valid targets into seat constraints for seats seats.
func (t Targets) resolve(seats int) resolved {
	var rs resolved
	for i, r := range t.Rules {
		if !slices.Contains(rs.fields, r.Field) {
			rs.fields = append(rs.fields, r.Field)
		}
		values := r.Values
		if len(values) == 0 {
			values = t.choices(r.Field)
		}
		lo, loPct := -1, -1
		if r.MinSeats != nil {
			lo = *r.MinSeats
		}
		if r.MinPercent != nil {
			p := hundredths(*r.MinPercent)
			if s := minSeatsFor(p, seats); s >= lo {
				lo, loPct = s, p
			}
		}
		hi, hiPct := -1, -1
		if r.MaxSeats != nil {
			hi = *r.MaxSeats
		}
		if r.MaxPercent != nil {
			p := hundredths(*r.MaxPercent)
			if s := maxSeatsFor(p, seats); hi < 0 || s <= hi {
				hi, hiPct = s, p
			}
		}
		for _, v := range values {
			if lo > 0 { // a minimum of 0 constrains nothing
				rs.bounds = append(rs.bounds, bound{rule: i, field: r.Field, value: v, kind: atLeast, seats: lo, percent: loPct})
			}
			if hi >= 0 {
				rs.bounds = append(rs.bounds, bound{rule: i, field: r.Field, value: v, kind: atMost, seats: hi, percent: hiPct})
			}
		}
		if r.MaxSpread != nil && len(values) >= 2 {
			rs.spreads = append(rs.spreads, spread{rule: i, field: r.Field, values: values, max: *r.MaxSpread})
		}
	}
	return rs
}
