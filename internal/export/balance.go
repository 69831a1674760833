package export

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/igf/nomina/internal/nomination"
)

// Candidate is one nomination as the balance report and the suggested
// shortlist see it: its id, its mean review score, and the values of its
// choice fields by field key (stakeholder_group, region, gender, ...).
type Candidate struct {
	ID     string            `json:"id"`
	Score  float64           `json:"score"`
	Fields map[string]string `json:"fields,omitempty"`
}

// Report is the balance of a selection of nominations against a call's
// targets.
type Report struct {
	// Seats is what shares and targets are measured against: the seats
	// given to ComputeBalance, or the number of nominations when none
	// were given.
	Seats int `json:"seats"`
	// Members is the number of nominations in the selection.
	Members    int            `json:"members"`
	TotalScore float64        `json:"total_score"`
	Fields     []FieldBalance `json:"fields"`
	// Broken lists every target the selection misses, in rule order.
	Broken []Finding `json:"broken"`
}

// FieldBalance is the count per value of one choice field.
type FieldBalance struct {
	Field  string         `json:"field"`
	Label  string         `json:"label"`
	Values []ValueBalance `json:"values"`
}

// ValueBalance is how many nominations of the selection hold one value,
// with the seat bounds the targets set for it (the strictest, when
// several rules apply).
type ValueBalance struct {
	Value string `json:"value"`
	Label string `json:"label"`
	Count int    `json:"count"`
	// Share is Count divided by the report's Seats, between 0 and 1.
	Share    float64 `json:"share"`
	MinSeats *int    `json:"min_seats,omitempty"`
	MaxSeats *int    `json:"max_seats,omitempty"`
}

// Finding is one target judged against a selection: broken in a report,
// unmet or binding in a suggestion. Message says it in words for a
// secretariat officer.
type Finding struct {
	// Rule is the index of the rule in Targets.Rules, or -1 for the
	// number of seats itself.
	Rule int `json:"rule"`
	// Kind is "min", "max", "spread" or "seats".
	Kind   string   `json:"kind"`
	Field  string   `json:"field,omitempty"`
	Values []string `json:"values,omitempty"`
	// Have is the seats the value holds (for a spread, the gap between
	// the largest and smallest value; for "seats", the selection size).
	Have int `json:"have"`
	// Limit is the bound in seats the target sets.
	Limit int `json:"limit"`
	// Off is how many seats the selection misses the target by (0 when
	// the target is met, as for a binding target).
	Off int `json:"off"`
	// Gain is, for a binding target of a suggestion, how much the total
	// score would rise if the target allowed one more seat.
	Gain    float64 `json:"gain,omitempty"`
	Message string  `json:"message"`
}

// ComputeBalance returns the balance of items (the nominations of a
// selection, such as a call's shortlist) against targets for a body of
// seats seats. Counts cover stakeholder group, region, gender and every
// other field the targets name, including values nobody holds. With seats
// > 0, targets in percent are converted to seats as Rule describes and a
// selection larger or smaller than seats is reported as broken; with seats
// <= 0, the selection is judged as if it were the whole body (seats = the
// number of items), which suits looking at a pool of submissions.
//
// It returns an EINVALID *nomination.Error when the targets are invalid.
func ComputeBalance(items []Candidate, seats int, targets Targets) (Report, error) {
	if err := targets.Validate(); err != nil {
		return Report{}, err
	}
	pool := seats <= 0
	if pool {
		seats = len(items)
	}
	m := compile(targets, seats)
	counts := make([]int, len(m.groups))
	rep := Report{Seats: seats, Members: len(items)}
	for _, it := range items {
		rep.TotalScore += it.Score
		for g, k := range m.groups {
			if it.Fields[k.field] == k.value {
				counts[g]++
			}
		}
	}
	rep.Fields = m.fieldBalances(items, seats)
	w := m.wording(pool)
	if !pool && len(items) != seats {
		rep.Broken = append(rep.Broken, w.seatsFinding(len(items), seats))
	}
	rep.Broken = append(rep.Broken, m.findings(counts, w, false)...)
	if rep.Broken == nil {
		rep.Broken = []Finding{}
	}
	return rep, nil
}

// groupKey is one value of one field: the set of nominations holding it.
type groupKey struct{ field, value string }

// compiled is targets resolved for a number of seats, with every
// (field, value) group a target mentions numbered, so that a selection is
// judged from a slice of group counts.
type compiled struct {
	t       Targets
	seats   int
	rs      resolved
	groups  []groupKey
	gidx    map[groupKey]int
	bGroup  []int   // group of each bound
	sGroups [][]int // groups of each spread
}

func compile(t Targets, seats int) *compiled {
	m := &compiled{t: t, seats: seats, rs: t.resolve(seats), gidx: map[groupKey]int{}}
	group := func(f, v string) int {
		k := groupKey{f, v}
		if g, ok := m.gidx[k]; ok {
			return g
		}
		m.gidx[k] = len(m.groups)
		m.groups = append(m.groups, k)
		return len(m.groups) - 1
	}
	for _, b := range m.rs.bounds {
		m.bGroup = append(m.bGroup, group(b.field, b.value))
	}
	for _, s := range m.rs.spreads {
		gs := make([]int, len(s.values))
		for i, v := range s.values {
			gs[i] = group(s.field, v)
		}
		m.sGroups = append(m.sGroups, gs)
	}
	return m
}

// violation returns by how many seats, in total, group counts miss the
// targets: the shortfall under each minimum, the excess over each maximum
// and the excess of each spread. This is the measure the suggested
// shortlist minimises first.
func (m *compiled) violation(counts []int) int {
	v := 0
	for i, b := range m.rs.bounds {
		c := counts[m.bGroup[i]]
		if b.kind == atLeast && c < b.seats {
			v += b.seats - c
		} else if b.kind == atMost && c > b.seats {
			v += c - b.seats
		}
	}
	for i, s := range m.rs.spreads {
		lo, hi := spreadRange(counts, m.sGroups[i])
		if hi-lo > s.max {
			v += hi - lo - s.max
		}
	}
	return v
}

func spreadRange(counts []int, groups []int) (lo, hi int) {
	lo, hi = counts[groups[0]], counts[groups[0]]
	for _, g := range groups[1:] {
		lo, hi = min(lo, counts[g]), max(hi, counts[g])
	}
	return lo, hi
}

// findings returns the targets the counts break, or, with tight set, the
// targets they meet exactly (the candidates for binding constraints).
func (m *compiled) findings(counts []int, w wording, tight bool) []Finding {
	var out []Finding
	for i, b := range m.rs.bounds {
		c := counts[m.bGroup[i]]
		off := 0
		switch {
		case b.kind == atLeast && c < b.seats:
			off = b.seats - c
		case b.kind == atMost && c > b.seats:
			off = c - b.seats
		}
		if tight {
			if c != b.seats || (b.kind == atLeast && b.seats == 0) || (b.kind == atMost && b.seats >= m.seats) {
				continue
			}
		} else if off == 0 {
			continue
		}
		out = append(out, w.boundFinding(b, c, off, tight))
	}
	for i, s := range m.rs.spreads {
		lo, hi := spreadRange(counts, m.sGroups[i])
		gap := hi - lo
		if tight && gap != s.max || !tight && gap <= s.max {
			continue
		}
		vc := make([]int, len(s.values))
		for j, g := range m.sGroups[i] {
			vc[j] = counts[g]
		}
		out = append(out, w.spreadFinding(s, vc, gap, tight))
	}
	slices.SortStableFunc(out, func(a, b Finding) int { return a.Rule - b.Rule })
	return out
}

// fieldBalances counts items per value of every reported field.
func (m *compiled) fieldBalances(items []Candidate, seats int) []FieldBalance {
	fields := slices.Clone(reportFields)
	for _, f := range m.rs.fields {
		if !slices.Contains(fields, f) {
			fields = append(fields, f)
		}
	}
	extra := make([]string, 0, len(m.t.Choices))
	for f := range m.t.Choices {
		if !slices.Contains(fields, f) {
			extra = append(extra, f)
		}
	}
	slices.Sort(extra)
	fields = append(fields, extra...)

	out := make([]FieldBalance, 0, len(fields))
	for _, f := range fields {
		count := map[string]int{}
		for _, it := range items {
			count[it.Fields[f]]++
		}
		values := slices.Clone(m.t.choices(f))
		var seen []string
		for v := range count {
			if v != "" && !slices.Contains(values, v) {
				seen = append(seen, v)
			}
		}
		slices.Sort(seen)
		values = append(values, seen...)
		if count[""] > 0 {
			values = append(values, "")
		}
		fb := FieldBalance{Field: f, Label: m.t.fieldLabel(f), Values: make([]ValueBalance, 0, len(values))}
		for _, v := range values {
			vb := ValueBalance{Value: v, Label: m.t.valueLabel(f, v), Count: count[v]}
			if seats > 0 {
				vb.Share = float64(vb.Count) / float64(seats)
			}
			for _, b := range m.rs.bounds {
				if b.field != f || b.value != v {
					continue
				}
				s := b.seats
				if b.kind == atLeast && (vb.MinSeats == nil || s > *vb.MinSeats) {
					vb.MinSeats = &s
				}
				if b.kind == atMost && (vb.MaxSeats == nil || s < *vb.MaxSeats) {
					vb.MaxSeats = &s
				}
			}
			fb.Values = append(fb.Values, vb)
		}
		out = append(out, fb)
	}
	return out
}

// wording builds the sentences of findings. In a pool (no seats given) it
// speaks of nominations rather than seats.
type wording struct {
	t     Targets
	seats int
	noun  string // "seat" or "nomination"
}

func (m *compiled) wording(pool bool) wording {
	if pool {
		return wording{t: m.t, seats: m.seats, noun: "nomination"}
	}
	return wording{t: m.t, seats: m.seats, noun: "seat"}
}

// count returns "1 seat", "16 seats".
func (w wording) count(n int) string {
	if n == 1 {
		return "1 " + w.noun
	}
	return strconv.Itoa(n) + " " + w.noun + "s"
}

// held returns "Seats held by Government: 18 of 40 (45 %)".
func (w wording) held(label string, n int) string {
	lead := "Seats held by "
	if w.noun != "seat" {
		lead = "Nominations from "
	}
	return fmt.Sprintf("%s%s: %d of %d (%s)", lead, label, n, w.seats, percentOf(n, w.seats))
}

func (w wording) boundFinding(b bound, have, off int, tight bool) Finding {
	label := w.t.valueLabel(b.field, b.value)
	limit := w.count(b.seats)
	if b.percent >= 0 {
		limit = fmt.Sprintf("%s (%s)", formatPercent(b.percent), w.count(b.seats))
	}
	f := Finding{Rule: b.rule, Field: b.field, Values: []string{b.value}, Have: have, Limit: b.seats, Off: off}
	if b.kind == atLeast {
		f.Kind = "min"
		f.Message = fmt.Sprintf("%s; the minimum is %s.", w.held(label, have), limit)
		if tight {
			f.Message = fmt.Sprintf("%s, exactly the minimum of %s.", w.held(label, have), limit)
		}
	} else {
		f.Kind = "max"
		f.Message = fmt.Sprintf("%s; the limit is %s.", w.held(label, have), limit)
		if tight {
			f.Message = fmt.Sprintf("%s, exactly the limit of %s.", w.held(label, have), limit)
		}
	}
	return f
}

func (w wording) spreadFinding(s spread, counts []int, gap int, tight bool) Finding {
	parts := make([]string, len(s.values))
	for i, v := range s.values {
		parts[i] = fmt.Sprintf("%s (%d)", w.t.valueLabel(s.field, v), counts[i])
	}
	list := strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
	want := "equal numbers of " + w.noun + "s"
	if s.max > 0 {
		want = fmt.Sprintf("equal numbers of %ss, at most %s apart", w.noun, w.count(s.max))
	}
	msg := fmt.Sprintf("%s should hold %s; they are %s apart.", list, want, w.count(gap))
	if tight {
		msg = fmt.Sprintf("%s are %s apart, as far apart as allowed.", list, w.count(gap))
		if gap == 0 {
			msg = fmt.Sprintf("%s hold exactly equal numbers of %ss.", list, w.noun)
		}
	}
	off := 0
	if gap > s.max {
		off = gap - s.max
	}
	return Finding{Rule: s.rule, Kind: "spread", Field: s.field, Values: slices.Clone(s.values), Have: gap, Limit: s.max, Off: off, Message: msg}
}

func (w wording) seatsFinding(members, seats int) Finding {
	f := Finding{Rule: -1, Kind: "seats", Have: members, Limit: seats}
	if members > seats {
		f.Off = members - seats
		f.Message = fmt.Sprintf("The selection has %d nominations for %s: %d too many.", members, w.count(seats), f.Off)
	} else {
		f.Off = seats - members
		f.Message = fmt.Sprintf("The selection has %d nominations for %s: %s unfilled.", members, w.count(seats), w.count(f.Off))
	}
	return f
}

// percentOf returns n/total as a percentage for people: "45 %", "62.5 %",
// "33.3 %" (one decimal at most, none when whole).
func percentOf(n, total int) string {
	if total <= 0 {
		return "0 %"
	}
	tenths := int(float64(n)*1000/float64(total) + 0.5)
	return formatPercent(tenths * 10)
}

// formatPercent formats hundredths of a percent: 4000 → "40 %", 3333 →
// "33.33 %" for targets; percentOf rounds to one decimal first.
func formatPercent(h int) string {
	s := strconv.FormatFloat(float64(h)/100, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + " %"
}

// invalidSeats is the error for a seat count that cannot be filled.
func invalidSeats() error {
	return nomination.Invalid(nomination.Problem("seats", "PositiveSeats", "must be a positive number of seats"))
}
