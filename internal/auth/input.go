package auth

import (
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/oneline"
	"github.com/trustelem/zxcvbn"
	"golang.org/x/text/unicode/norm"
)

// Limits on user input.
const (
	MinPasswordLength = 8    // characters (Unicode code points)
	MaxPasswordLength = 1024 // characters
	MaxEmailLength    = 254  // bytes, as RFC 5321 allows in a path
	MaxNameLength     = 200  // characters
	MaxOrgLength      = 200  // characters
	MaxPanels         = 50
	// minPasswordScore is the lowest zxcvbn score (0–4) accepted: 2 means
	// at least a million guesses, which refuses the common-password lists,
	// keyboard walks, repeats, dates and the user's own name or address,
	// while still accepting a random eight-character password.
	minPasswordScore = 2
	// strengthPrefix bounds the part of a password given to the strength
	// estimator, whose cost grows quickly with length; a password whose
	// first 64 characters are guessable is refused as a whole.
	strengthPrefix = 64
)

var panelPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// NormalizeEmail checks an email address and returns it as given (without
// surrounding spaces) together with its key: the NFC-normalised lower-case
// form that makes addresses unique regardless of case. It refuses control
// characters (CR, LF, NUL, ...), invalid UTF-8, display names and
// comments, and over-long addresses, with an EINVALID error naming "email".
func NormalizeEmail(email string) (string, string, error) {
	bad := func(id, msg string, args ...any) (string, string, error) {
		return "", "", nomination.Invalid(nomination.Problem("email", id, msg, args...))
	}
	if email == "" {
		return bad("Required", "is required")
	}
	if len(email) > MaxEmailLength {
		return bad("AtMostBytesLong", "must be at most {{.Max}} bytes", "Max", MaxEmailLength)
	}
	if !utf8.ValidString(email) {
		return bad("ValidUTF8", "must be valid UTF-8")
	}
	if strings.IndexFunc(email, unicode.IsControl) >= 0 {
		return bad("NoControlCharacters", "must not contain control characters")
	}
	email = strings.TrimSpace(email)
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return bad("NotAnEmail", "is not a valid email address")
	}
	at := strings.LastIndexByte(email, '@')
	local, domain := email[:at], email[at+1:]
	if local == "" || len(local) > 64 {
		return bad("NotAnEmail", "is not a valid email address")
	}
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") ||
		strings.Contains(domain, "..") {
		return bad("EmailDomain", "must have a domain such as example.org")
	}
	return email, emailKey(email), nil
}

// emailKey is the uniqueness key of an already checked address.
func emailKey(email string) string {
	return strings.ToLower(norm.NFC.String(email))
}

// checkText checks a single-line text (a name, an organisation) with the
// shared one-line rule and returns it trimmed and NFC-normalised; min is 0
// or 1. It returns an EINVALID error naming field.
func checkText(field, s string, min, max int) (string, error) {
	out, msg := oneline.Clean(s, min, max)
	if msg.English != "" {
		return "", nomination.Invalid(nomination.ProblemText(field, msg))
	}
	return out, nil
}

// CheckPassword applies the password policy: 8 to 1024 characters of valid
// UTF-8 without NUL, no composition rules, and not common or guessable
// (judged by the zxcvbn estimator, which also penalises the userInputs such
// as the account's name and address). It returns an EINVALID error naming
// "password", whose message never contains the password.
func CheckPassword(password string, userInputs ...string) error {
	bad := func(id, msg string, args ...any) error {
		return nomination.Invalid(nomination.Problem("password", id, msg, args...))
	}
	if len(password) > 4*MaxPasswordLength {
		return bad("TextTooLong", "must be at most {{.Max}} characters", "Max", MaxPasswordLength)
	}
	if !utf8.ValidString(password) {
		return bad("ValidUTF8", "must be valid UTF-8")
	}
	if strings.IndexByte(password, 0) >= 0 {
		return bad("NoNUL", "must not contain NUL characters")
	}
	n := utf8.RuneCountInString(password)
	if n < MinPasswordLength {
		return bad("TextTooShort", "must be at least {{.Min}} characters", "Min", MinPasswordLength)
	}
	if n > MaxPasswordLength {
		return bad("TextTooLong", "must be at most {{.Max}} characters", "Max", MaxPasswordLength)
	}
	prefix := password
	if n > strengthPrefix {
		prefix = string([]rune(password)[:strengthPrefix])
	}
	inputs := []string{"nomina", "igf", "internet governance forum"}
	for _, in := range userInputs {
		if in == "" {
			continue
		}
		// The parts of an address or name count on their own and run
		// together ("Ana Lopez": "ana", "lopez", "analopez").
		parts := strings.FieldsFunc(in, func(r rune) bool {
			return r == '@' || r == '.' || r == ' ' || r == '-' || r == '_' || r == '+'
		})
		inputs = append(inputs, in, strings.Join(parts, ""))
		inputs = append(inputs, parts...)
	}
	if zxcvbn.PasswordStrength(prefix, inputs).Score < minPasswordScore {
		return bad("PasswordWeak", "is too common or too easy to guess; a few unrelated words make a good password")
	}
	return nil
}

// checkRoles returns roles without duplicates, in privilege order, refusing
// unknown roles and an empty list.
func checkRoles(roles []Role) ([]Role, error) {
	if len(roles) == 0 {
		return nil, nomination.Invalid(nomination.Problem("roles", "RolesRequired", "at least one role is required"))
	}
	if len(roles) > len(Roles) {
		return nil, nomination.Invalid(nomination.Problem("roles", "RoleTwice", "lists a role more than once"))
	}
	var out []Role
	for i, r := range roles {
		if !r.Valid() {
			return nil, nomination.Invalid(nomination.Problem(fmt.Sprintf("roles[%d]", i), "RoleOneOf", "must be one of candidate, reviewer, secretariat, admin"))
		}
	}
	for _, r := range Roles {
		if slices.Contains(roles, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// checkPanels returns panels without duplicates, refusing names that are
// not lower-case slugs and over-long lists.
func checkPanels(panels []string) ([]string, error) {
	if len(panels) > MaxPanels {
		return nil, nomination.Invalid(nomination.Problem("panels", "TooManyPanels", "must list at most {{.Max}} panels", "Max", MaxPanels))
	}
	out := []string{}
	for i, p := range panels {
		if !panelPattern.MatchString(p) {
			return nil, nomination.Invalid(nomination.Problem(fmt.Sprintf("panels[%d]", i), "PanelName", "must be a lower-case name of letters, digits, '_' and '-'"))
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}
