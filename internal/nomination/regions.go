package nomination

import (
	_ "embed"
	"encoding/csv"
	"strings"
)

// The five UN regional groups by ISO 3166-1 alpha-2 code: all member states
// and the State of Palestine. A nationality not listed has no group; the
// candidate chooses one and the secretariat confirms it.
//
//go:embed un-regional-groups.csv
var regionalGroupsCSV string

var regionOf = func() map[string]string {
	rows, err := csv.NewReader(strings.NewReader(regionalGroupsCSV)).ReadAll()
	if err != nil {
		panic("embedded un-regional-groups.csv: " + err.Error())
	}
	m := make(map[string]string, len(rows))
	for _, r := range rows[1:] {
		m[r[0]] = r[1]
	}
	return m
}()

// RegionOf returns the UN regional group of an ISO alpha-2 nationality, and
// whether the code is listed.
func RegionOf(iso string) (string, bool) {
	r, ok := regionOf[strings.ToUpper(iso)]
	return r, ok
}

// deriveRegion fills region from nationality where the nationality is
// listed and region is not answered.
func deriveRegion(fields map[string]any) {
	nat, _ := fields["nationality"].(string)
	if _, has := fields["region"]; has || nat == "" {
		return
	}
	if r, ok := RegionOf(nat); ok {
		fields["region"] = r
	}
}

// checkRegion refuses a region that contradicts a listed nationality.
func checkRegion(fields map[string]any) *FieldError {
	nat, _ := fields["nationality"].(string)
	region, _ := fields["region"].(string)
	if nat == "" || region == "" {
		return nil
	}
	if want, ok := RegionOf(nat); ok && want != region {
		return &FieldError{Field: "fields.region", Message: "nationality " + strings.ToUpper(nat) + " belongs to the " + want + " group"}
	}
	return nil
}
