package membership

import (
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/oneline"
	"github.com/igf/nomina/internal/workflow"
)

// Profile is who a member is and the seat they hold: what the secretariat
// types in, an import row carries, or an appointment's form answers give.
type Profile struct {
	Email            string
	Name             string
	SeatKind         string
	StakeholderGroup string
	Region           string
	Gender           string
	Nationality      string
	Organization     string
}

// normalize trims every value, lower-cases the email, upper-cases the
// nationality, defaults the seat kind to a stakeholder seat and derives the
// region from a listed nationality when none is given.
func (p Profile) normalize() Profile {
	p.Email = strings.ToLower(strings.TrimSpace(p.Email))
	p.Name = strings.TrimSpace(p.Name)
	p.SeatKind = strings.TrimSpace(p.SeatKind)
	if p.SeatKind == "" {
		p.SeatKind = SeatStakeholder
	}
	p.StakeholderGroup = strings.TrimSpace(p.StakeholderGroup)
	p.Region = strings.TrimSpace(p.Region)
	p.Gender = strings.TrimSpace(p.Gender)
	p.Nationality = strings.ToUpper(strings.TrimSpace(p.Nationality))
	p.Organization = strings.TrimSpace(p.Organization)
	if p.Region == "" && p.Nationality != "" {
		if r, ok := nomination.RegionOf(p.Nationality); ok {
			p.Region = r
		}
	}
	return p
}

// check returns every problem of a normalised profile for body b, each
// naming its field: a missing or malformed email, a missing name, an
// unknown seat kind, stakeholder group, region or gender, a nationality
// that is no ISO 3166 code, a region contradicting the nationality.
func (p Profile) check(b Body) []nomination.FieldError {
	var fe []nomination.FieldError
	bad := func(field, id, english string, args ...any) {
		fe = append(fe, nomination.Problem(field, id, english, args...))
	}
	switch {
	case p.Email == "":
		bad("email", "RequiredShort", "required")
	case !validEmail(p.Email):
		bad("email", "NotPlainEmail", "\"{{.Email}}\" is not a plain email address", "Email", p.Email)
	}
	if p.Name == "" || len([]rune(p.Name)) > 200 {
		bad("name", "NameRequired", "required: 1 to 200 characters on one line")
	} else if msg := oneline.Problem(p.Name); msg.English != "" {
		fe = append(fe, nomination.ProblemText("name", msg))
	}
	if !slices.Contains(SeatKinds, p.SeatKind) {
		bad("seat_kind", "UnknownSeatKind", "unknown seat kind \"{{.Value}}\": one of {{.Values}}", "Value", p.SeatKind, "Values", strings.Join(SeatKinds, ", "))
	}
	switch {
	case p.StakeholderGroup == "" && p.SeatKind == SeatStakeholder:
		bad("stakeholder_group", "GroupRequired", "required for a stakeholder group seat")
	case p.StakeholderGroup != "" && !choice(b.Groups, p.StakeholderGroup):
		bad("stakeholder_group", "UnknownGroup", "unknown stakeholder group \"{{.Value}}\": one of {{.Values}}", "Value", p.StakeholderGroup, "Values", strings.Join(b.Groups, ", "))
	}
	if p.Nationality != "" && !workflow.IsCountryCode(p.Nationality) {
		bad("nationality", "NotCountryCode", "\"{{.Value}}\" is not an ISO 3166 alpha-2 country code", "Value", p.Nationality)
	}
	switch {
	case p.Region != "" && !choice(b.Regions, p.Region):
		bad("region", "UnknownRegion", "unknown region \"{{.Value}}\": one of {{.Values}}", "Value", p.Region, "Values", strings.Join(b.Regions, ", "))
	case p.Region != "" && p.Nationality != "":
		if want, ok := nomination.RegionOf(p.Nationality); ok && want != p.Region {
			bad("region", "RegionContradicts", "nationality {{.Nationality}} belongs to the {{.Group}} group, not {{.Region}}", "Nationality", p.Nationality, "Group", want, "Region", p.Region)
		}
	}
	if p.Gender != "" && !choice(b.Genders, p.Gender) {
		bad("gender", "UnknownGender", "unknown gender \"{{.Value}}\": one of {{.Values}}", "Value", p.Gender, "Values", strings.Join(b.Genders, ", "))
	}
	if len([]rune(p.Organization)) > 200 {
		bad("organization", "OrgTooLong", "at most 200 characters on one line")
	} else if msg := oneline.Problem(p.Organization); msg.English != "" {
		fe = append(fe, nomination.ProblemText("organization", msg))
	}
	return fe
}

// choice reports whether v is one of choices; with no choices declared (the
// form has no such field) any short lower-case key is accepted.
func choice(choices []string, v string) bool {
	if choices == nil {
		return len(v) <= 64 && strings.Trim(v, "abcdefghijklmnopqrstuvwxyz0123456789_") == ""
	}
	return slices.Contains(choices, v)
}

// validEmail reports whether e is a bare address with a dotted domain.
func validEmail(e string) bool {
	if len(e) > 254 || strings.ContainsAny(e, "\r\n\x00 <>,;\"") {
		return false
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e {
		return false
	}
	return strings.Contains(e[strings.LastIndexByte(e, '@')+1:], ".")
}

// checkPeriod returns the problems of a term's dates: both set, the end
// not before the start, within the years Nomina deals with.
func checkPeriod(start, end time.Time, startField, endField string) []nomination.FieldError {
	var fe []nomination.FieldError
	if start.IsZero() {
		fe = append(fe, nomination.Problem(startField, "StartDateRequired2026", "required: a date such as 2026-01-01"))
	} else if start.Year() < 1990 || start.Year() > 2200 {
		fe = append(fe, nomination.Problem(startField, "OutOfRange", "out of range"))
	}
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		fe = append(fe, nomination.Problem(endField, "EndBeforeStart", "must not be before the start"))
	}
	if !end.IsZero() && end.Year() > 2200 {
		fe = append(fe, nomination.Problem(endField, "OutOfRange", "out of range"))
	}
	return fe
}

// stringField returns a form answer as text, or "".
func stringField(fields map[string]any, key string) string {
	s, _ := fields[key].(string)
	return s
}
