package workflow

import (
	"net/mail"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/igf/nomina/internal/oneline"
	"github.com/igf/nomina/internal/phrase"
)

// FieldProblem is one problem with one answer of the form: Message in
// English, and Text for saying it in the reader's language.
type FieldProblem struct {
	Field   string
	Message string
	Text    phrase.Text
}

// problem returns the problem of field with the catalog message id (see
// phrase.New).
func problem(field, id, english string, args ...any) FieldProblem {
	return problemText(field, phrase.New(id, english, args...))
}

func problemText(field string, t phrase.Text) FieldProblem {
	return FieldProblem{Field: field, Message: t.English, Text: t}
}

// CheckFields checks form values against the definition's fields and
// returns every problem found, in field order (an empty result means the
// values are acceptable). Types and limits are always checked and unknown
// names refused; `required` is enforced only when complete is set (at
// submission), so a draft may be saved half-filled. A nil or empty-string
// value counts as unanswered. File fields are never in values: attachments
// are checked by Incomplete and by the upload path.
//
// Values are as decoded from JSON: strings for every type but bool.
func (d *Definition) CheckFields(values map[string]any, complete bool) []FieldProblem {
	var out []FieldProblem
	for _, f := range d.Fields {
		v, present := values[f.Name]
		if f.Type == TypeFile {
			if present {
				out = append(out, problem(f.Name, "FieldIsFile", "is a file: upload it as an attachment"))
			}
			continue
		}
		if !present || v == nil || v == "" {
			if complete && f.Required {
				out = append(out, problem(f.Name, "Required", "is required"))
			}
			continue
		}
		if msg := f.check(v); msg.English != "" {
			out = append(out, problemText(f.Name, msg))
			continue
		}
		if complete && f.Required && f.Type == TypeBool && v == false {
			out = append(out, problem(f.Name, "MustBeAccepted", "must be accepted"))
		}
	}
	var unknown []string
	for name := range values {
		if _, ok := d.fieldIndex[name]; !ok {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		out = append(out, problem(name, "NotAField", "is not a field of this form"))
	}
	return out
}

// Incomplete returns what keeps the subject's form from being complete:
// the problems CheckFields finds with complete set, plus required file
// fields without an attachment and file fields with too many. An empty
// result means the nomination may be submitted; guards see it as the
// variable `complete`.
func (d *Definition) Incomplete(s Subject) []FieldProblem {
	out := d.CheckFields(s.Fields, true)
	for _, f := range d.Fields {
		if f.Type != TypeFile {
			continue
		}
		n := s.Attachments[f.Name]
		switch {
		case f.Required && n < 1:
			out = append(out, problem(f.Name, "RequiredUpload", "is required: upload a file"))
		case n > f.MaxFiles:
			out = append(out, problem(f.Name, "TooManyFiles", "takes at most {{.Max}} file(s)", "Max", f.MaxFiles))
		}
	}
	return out
}

// check returns what is wrong with one present, non-empty value, or the
// zero Text.
func (f *Field) check(v any) phrase.Text {
	if f.Type == TypeBool {
		if _, ok := v.(bool); !ok {
			return phrase.New("MustBeBool", "must be true or false")
		}
		return phrase.Text{}
	}
	s, ok := v.(string)
	if !ok {
		return phrase.New("MustBeText", "must be text")
	}
	if !utf8.ValidString(s) {
		return phrase.New("NotValidText", "is not valid text")
	}
	n := utf8.RuneCountInString(s)
	switch f.Type {
	case TypeChoice:
		if !contains(f.Choices, s) {
			return phrase.New("MustBeOneOf", "must be one of {{.Choices}}", "Choices", quoteList(f.Choices))
		}
	case TypeText, TypeLongText:
		if n > f.MaxLen {
			return phrase.New("TextTooLongIs", "must be at most {{.Max}} characters (it is {{.Length}})", "Max", f.MaxLen, "Length", n)
		}
		if n < f.MinLen {
			return phrase.New("TextTooShortIs", "must be at least {{.Min}} characters (it is {{.Length}})", "Min", f.MinLen, "Length", n)
		}
		if f.Type == TypeText {
			// A one-line answer (an organisation, a title) reaches mail
			// and exports: the shared one-line rule applies.
			if msg := oneline.Problem(s); msg.English != "" {
				return msg
			}
			break
		}
		for _, r := range s {
			if r == '\n' || r == '\r' || r == '\t' {
				continue
			}
			if unicode.IsControl(r) {
				return phrase.New("ControlCharacters", "contains control characters")
			}
		}
	case TypeEmail:
		if n > f.MaxLen {
			return phrase.New("TextTooLong", "must be at most {{.Max}} characters", "Max", f.MaxLen)
		}
		addr, err := mail.ParseAddress(s)
		if err != nil || addr.Address != s || addr.Name != "" || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
			return phrase.New("MustBeEmail", "must be an email address such as name@example.org")
		}
	case TypeCountry:
		if !IsCountryCode(s) {
			return phrase.New("MustBeCountry", "must be an ISO 3166-1 alpha-2 country code such as KE or BR")
		}
	case TypeDate:
		t, err := time.Parse(time.DateOnly, s)
		if err != nil || t.Format(time.DateOnly) != s {
			return phrase.New("MustBeDate", "must be a date written YYYY-MM-DD")
		}
	}
	return phrase.Text{}
}
