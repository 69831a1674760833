package nomination

import (
	_ "embed"
	"encoding/csv"
	"strings"

	"github.com/igf/nomina/internal/workflow"
)

// The five UN regional groups by ISO 3166-1 alpha-2 code: all member states
// and the State of Palestine. A nationality not listed has no group; the
// candidate chooses one and the secretariat confirms it.
//
//go:embed un-regional-groups.csv
var regionalGroupsCSV string

// The three economic groups MAG calls balance (developed, developing,
// transition) by ISO 3166-1 alpha-2 code, after the country classification
// of the UN's World Economic Situation and Prospects; the same countries as
// the regional groups. A nationality not listed has no group; the
// candidate chooses one and the secretariat confirms it.
//
//go:embed economic-groups.csv
var economicGroupsCSV string

var (
	regionOf        = readGroups("un-regional-groups.csv", regionalGroupsCSV)
	economicGroupOf = readGroups("economic-groups.csv", economicGroupsCSV)
)

// readGroups reads an embedded table of ISO code and group.
func readGroups(name, data string) map[string]string {
	rows, err := csv.NewReader(strings.NewReader(data)).ReadAll()
	if err != nil {
		panic("embedded " + name + ": " + err.Error())
	}
	m := make(map[string]string, len(rows))
	for _, r := range rows[1:] {
		m[r[0]] = r[1]
	}
	return m
}

// RegionOf returns the UN regional group of an ISO alpha-2 nationality, and
// whether the code is listed.
func RegionOf(iso string) (string, bool) {
	r, ok := regionOf[strings.ToUpper(iso)]
	return r, ok
}

// EconomicGroupOf returns the economic group (developed, developing,
// transition) of an ISO alpha-2 nationality, and whether the code is
// listed.
func EconomicGroupOf(iso string) (string, bool) {
	g, ok := economicGroupOf[strings.ToUpper(iso)]
	return g, ok
}

// derivedGroups are the form answers that follow the nationality: each is
// derived from a listed nationality when not answered, and an answer that
// contradicts a listed nationality is refused.
var derivedGroups = []struct {
	field string
	of    func(string) (string, bool)
	// id and english are the message refusing a contradicting answer.
	id, english string
}{
	{"region", RegionOf, "NationalityRegion", "nationality {{.Nationality}} belongs to the {{.Group}} group"},
	{"economic_group", EconomicGroupOf, "NationalityEconomicGroup", "nationality {{.Nationality}} belongs to the {{.Group}} economic group"},
}

// deriveGroups fills, for each derived group the form has, the answer the
// nationality gives where the nationality is listed and the group is not
// answered.
func deriveGroups(def *workflow.Definition, fields map[string]any) {
	nat, _ := fields["nationality"].(string)
	if nat == "" {
		return
	}
	for _, g := range derivedGroups {
		if _, has := fields[g.field]; has {
			continue
		}
		if _, ok := def.Field(g.field); !ok {
			continue
		}
		if v, ok := g.of(nat); ok {
			fields[g.field] = v
		}
	}
}

// checkGroups refuses derived groups that contradict a listed nationality.
func checkGroups(fields map[string]any) []FieldError {
	nat, _ := fields["nationality"].(string)
	if nat == "" {
		return nil
	}
	var out []FieldError
	for _, g := range derivedGroups {
		v, _ := fields[g.field].(string)
		if v == "" {
			continue
		}
		if want, ok := g.of(nat); ok && want != v {
			out = append(out, Problem("fields."+g.field, g.id, g.english, "Nationality", strings.ToUpper(nat), "Group", want))
		}
	}
	return out
}
