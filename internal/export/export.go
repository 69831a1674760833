// Package export turns nominations into the files and figures the
// secretariat works with: streamed CSV, XLSX and JSON exports of a call's
// nominations, the balance report of a composition against the call's
// targets, and the suggested shortlist that maximises the total review score
// while meeting those targets.
//
// The package knows nothing of the store or of HTTP. Callers convert their
// records into Row and Candidate values, describe the columns with a Layout
// built from the workflow's field list, and pass a row iterator, so an export
// of any size is written with memory bounded by one row (plus a fixed buffer).
package export

import (
	"fmt"
	"iter"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/phrase"
)

// Column names one variable column of an export: a form field or a review
// stage. Key is the machine name (the form field key or the review state);
// Header is what a person reads at the top of the column, in English;
// Texts the same heading in each language the workflow writes it in
// (English included; nil: Header in every language).
type Column struct {
	Key    string            `json:"key"`
	Header string            `json:"header"`
	Texts  map[string]string `json:"-"`
}

// heading is the column's heading in every language it is written in.
func (c Column) heading() phrase.Text { return phrase.Text{English: c.Header, Texts: c.Texts} }

// Row is one nomination as it appears in an export. Fields and Stages are
// keyed by the Column keys of the Layout; a key the Layout does not name is
// ignored and a Layout key missing from the row leaves its cell empty.
type Row struct {
	ID           string
	Call         string
	State        string
	NomineeName  string
	NomineeEmail string
	// Organization is the nominee's organisation. When it is empty the
	// form field "organization", if any, fills the column instead.
	Organization string
	Fields       map[string]string
	// SubmittedAt is the time of the first submission; the zero time
	// leaves the cell empty (a draft never submitted).
	SubmittedAt  time.Time
	Stages       map[string]Tally
	Endorsements int
	Attachments  []Attachment
}

// Tally is the vote count of one review stage. Scored counts the votes that
// carried a score and MeanScore is their mean; with Scored == 0 the mean
// score cell is left empty rather than showing a misleading 0.
type Tally struct {
	Approve        int
	Reject         int
	RequestChanges int
	Recuse         int
	Scored         int
	MeanScore      float64
}

// Attachment is one uploaded file of a nomination, linked by URL.
type Attachment struct {
	Kind     string
	Filename string
	URL      string
}

// Layout describes the variable columns of an export, in the workflow's
// order: the form fields, then the review stages. Build it with NewLayout.
type Layout struct {
	fields []Column
	stages []Column
}

// fixedKeys are the column keys every export starts or ends with. A form
// field may not reuse one, except "organization", which the fixed
// Organisation column already shows.
var fixedKeys = map[string]bool{
	"id": true, "call": true, "state": true, "nominee_name": true, "nominee_email": true,
	"organization": true, "submitted_at": true, "endorsements": true, "attachments": true,
}

var keyPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// NewLayout returns the layout for the given form fields and review stages,
// in the order given. A form field keyed "organization" is folded into the
// fixed Organisation column. It returns an EINVALID *nomination.Error naming
// each offending column when a key is malformed, repeated, or collides with
// a fixed column, or a header is empty.
func NewLayout(fields, stages []Column) (Layout, error) {
	var problems []nomination.FieldError
	check := func(list string, cols []Column, seen map[string]bool, allowFixed bool) []Column {
		var kept []Column
		for i, c := range cols {
			name := fmt.Sprintf("%s[%d]", list, i)
			switch {
			case !keyPattern.MatchString(c.Key):
				problems = append(problems, nomination.Problem(name+".key", "ColumnKeyFormat", "must be lower case letters, digits and underscores, starting with a letter"))
				continue
			case seen[c.Key]:
				problems = append(problems, nomination.Problem(name+".key", "AppearsTwice", "\"{{.Value}}\" appears twice", "Value", c.Key))
				continue
			case strings.TrimSpace(c.Header) == "":
				problems = append(problems, nomination.Problem(name+".header", "NotEmpty", "must not be empty"))
				continue
			}
			seen[c.Key] = true
			if fixedKeys[c.Key] {
				if allowFixed && c.Key == "organization" {
					continue // shown in the fixed Organisation column
				}
				problems = append(problems, nomination.Problem(name+".key", "FixedColumn", "\"{{.Value}}\" is a fixed export column", "Value", c.Key))
				continue
			}
			kept = append(kept, c)
		}
		return kept
	}
	l := Layout{
		fields: check("fields", fields, map[string]bool{}, true),
		stages: check("stages", stages, map[string]bool{}, false),
	}
	if len(problems) > 0 {
		return Layout{}, nomination.Invalidf("ColumnsInvalid", "the export columns are invalid", problems...)
	}
	return l, nil
}

// Fields returns the form field columns of the layout, in order.
func (l Layout) Fields() []Column { return append([]Column(nil), l.fields...) }

// Stages returns the review stage columns of the layout, in order.
func (l Layout) Stages() []Column { return append([]Column(nil), l.stages...) }

// stagePart is one of the per-stage columns: its machine key suffix and
// its heading, said with the stage's header.
type stagePart struct {
	key     string
	heading func(stage string) phrase.Text
}

// stageParts are the per-stage columns, in order.
var stageParts = []stagePart{
	{"approve", func(s string) phrase.Text { return phrase.New("ExportStageApprove", "{{.Stage}}: approve", "Stage", s) }},
	{"reject", func(s string) phrase.Text { return phrase.New("ExportStageReject", "{{.Stage}}: reject", "Stage", s) }},
	{"request_changes", func(s string) phrase.Text {
		return phrase.New("ExportStageRequestChanges", "{{.Stage}}: request changes", "Stage", s)
	}},
	{"recuse", func(s string) phrase.Text { return phrase.New("ExportStageRecuse", "{{.Stage}}: recuse", "Stage", s) }},
	{"mean_score", func(s string) phrase.Text {
		return phrase.New("ExportStageMeanScore", "{{.Stage}}: mean score", "Stage", s)
	}},
}

// fixedHead and fixedTail are the fixed columns before the form fields and
// after the review stages: their machine keys and headings.
var (
	fixedHead = []struct {
		key     string
		heading phrase.Text
	}{
		{"id", phrase.New("ExportColID", "ID")},
		{"call", phrase.New("ExportColCall", "Call")},
		{"state", phrase.New("ExportColState", "State")},
		{"nominee_name", phrase.New("ExportColNominee", "Nominee")},
		{"nominee_email", phrase.New("ExportColNomineeEmail", "Nominee email")},
		{"organization", phrase.New("ExportColOrganisation", "Organisation")},
		{"submitted_at", phrase.New("ExportColSubmittedAt", "Submitted at")},
	}
	fixedTail = []struct {
		key     string
		heading phrase.Text
	}{
		{"endorsements", phrase.New("ExportColEndorsements", "Endorsements")},
		{"attachments", phrase.New("ExportColAttachments", "Attachments")},
	}
)

// Header returns the column headings of a CSV or XLSX export in English,
// in order: the fixed nomination columns, one per form field, five per
// review stage (the four vote counts and the mean score), the endorsement
// count and the attachment links.
func (l Layout) Header() []string { return l.HeaderSaid(phrase.Text.String) }

// HeaderSaid returns the column headings as Header orders them, each said
// by say (a localizer's Say: the reader's language): the fixed headings
// from the catalogs, the form fields' and stages' from the translations
// their columns carry (the workflow's), English where they have none.
func (l Layout) HeaderSaid(say func(phrase.Text) string) []string {
	h := make([]string, 0, l.width())
	for _, c := range fixedHead {
		h = append(h, say(c.heading))
	}
	for _, f := range l.fields {
		h = append(h, say(f.heading()))
	}
	for _, s := range l.stages {
		stage := say(s.heading())
		for _, p := range stageParts {
			h = append(h, say(p.heading(stage)))
		}
	}
	for _, c := range fixedTail {
		h = append(h, say(c.heading))
	}
	return h
}

// Keys returns the stable machine keys of the columns, in Header's order,
// the same in every language: the fixed columns' snake_case keys, each
// form field's key, "<stage>_approve", "<stage>_reject",
// "<stage>_request_changes", "<stage>_recuse" and "<stage>_mean_score" per
// review stage, then "endorsements" and "attachments".
func (l Layout) Keys() []string {
	h := make([]string, 0, l.width())
	for _, c := range fixedHead {
		h = append(h, c.key)
	}
	for _, f := range l.fields {
		h = append(h, f.Key)
	}
	for _, s := range l.stages {
		for _, p := range stageParts {
			h = append(h, s.Key+"_"+p.key)
		}
	}
	for _, c := range fixedTail {
		h = append(h, c.key)
	}
	return h
}

func (l Layout) width() int { return 9 + len(l.fields) + len(stageParts)*len(l.stages) }

// cellKind tells the spreadsheet writers whether a cell holds text (which
// is neutralised) or a number Nomina computed (which is written as a number).
type cellKind uint8

const (
	textCell cellKind = iota
	intCell
	floatCell
	emptyCell
)

// cell is one value of a spreadsheet row before it is written.
type cell struct {
	kind cellKind
	text string
	num  int
	flt  float64
}

// cells fills dst (reused between rows to keep allocation flat) with the
// spreadsheet cells of r under layout l and returns it. Text is cleaned and
// neutralised here, once, so CSV and XLSX cannot disagree.
func (l Layout) cells(dst []cell, r Row) []cell {
	dst = dst[:0]
	text := func(s string) { dst = append(dst, cell{kind: textCell, text: CellText(s)}) }
	text(r.ID)
	text(r.Call)
	text(r.State)
	text(r.NomineeName)
	text(r.NomineeEmail)
	org := r.Organization
	if org == "" {
		org = r.Fields["organization"]
	}
	text(org)
	if r.SubmittedAt.IsZero() {
		text("")
	} else {
		text(r.SubmittedAt.UTC().Format(time.RFC3339))
	}
	for _, f := range l.fields {
		text(r.Fields[f.Key])
	}
	for _, s := range l.stages {
		t := r.Stages[s.Key]
		dst = append(dst,
			cell{kind: intCell, num: t.Approve},
			cell{kind: intCell, num: t.Reject},
			cell{kind: intCell, num: t.RequestChanges},
			cell{kind: intCell, num: t.Recuse})
		if t.Scored > 0 && finite(t.MeanScore) {
			dst = append(dst, cell{kind: floatCell, flt: roundScore(t.MeanScore)})
		} else {
			dst = append(dst, cell{kind: emptyCell})
		}
	}
	dst = append(dst, cell{kind: intCell, num: r.Endorsements})
	text(attachmentText(r.Attachments))
	return dst
}

// roundScore rounds a mean score to two decimals for the spreadsheet
// formats: a person reads "7.33", and the CSV and the XLSX then carry the
// same figure. The JSON export keeps the full value.
func roundScore(v float64) float64 { return math.Round(v*100) / 100 }

// finite reports whether v is a number every format can carry (not NaN
// or an infinity, which would break JSON and mean nothing in a cell).
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// formatScore is the text form of a rounded mean score.
func formatScore(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// attachmentText lists the attachments one per line as "kind: URL", so a
// spreadsheet shows each link on its own line within the cell.
func attachmentText(as []Attachment) string {
	switch len(as) {
	case 0:
		return ""
	case 1:
		return attachmentLine(as[0])
	}
	var b strings.Builder
	for i, a := range as {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(attachmentLine(a))
	}
	return b.String()
}

func attachmentLine(a Attachment) string {
	if a.Kind == "" {
		return a.URL
	}
	return a.Kind + ": " + a.URL
}

// Rows returns an iterator over the given rows, for callers (and tests)
// that already hold them in memory.
func Rows(rows ...Row) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// FormatValue returns the text form of a form field value as stored (a
// string, number, bool, time, or a list of those from a multi-choice field),
// so every caller renders values the same way: lists are joined with "; ",
// times are RFC 3339 in UTC, nil is empty.
func FormatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32)
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	case []string:
		return strings.Join(v, "; ")
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = FormatValue(e)
		}
		return strings.Join(parts, "; ")
	default:
		return fmt.Sprint(v)
	}
}

// Format is an export file format.
type Format string

// The export formats.
const (
	CSV  Format = "csv"
	XLSX Format = "xlsx"
	JSON Format = "json"
)

// ParseFormat returns the Format named by s (case-insensitive). It returns
// an EINVALID *nomination.Error on the field "format" for any other name.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case CSV, XLSX, JSON:
		return f, nil
	}
	return "", nomination.Invalid(nomination.Problem("format", "FormatOneOf", "must be csv, xlsx or json"))
}

// ContentType returns the media type to send with a file of format f, or
// application/octet-stream for an unknown format.
func (f Format) ContentType() string {
	switch f {
	case CSV:
		return "text/csv; charset=utf-8"
	case XLSX:
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case JSON:
		return "application/json"
	}
	return "application/octet-stream"
}

var unsafeNameRun = regexp.MustCompile(`[^a-z0-9_-]+`)

// FileName returns the download name of an export of the call callSlug in
// format, dated date (in date's own location), for example
// "mag-2026-nominations-2026-03-01.csv". Anything but lower-case letters,
// digits, '-' and '_' is replaced by '-', so the name is safe in a
// Content-Disposition header and on any file system.
func FileName(callSlug, format string, date time.Time) string {
	slug := strings.Trim(unsafeNameRun.ReplaceAllString(strings.ToLower(callSlug), "-"), "-")
	if slug == "" {
		slug = "call"
	}
	ext := strings.Trim(unsafeNameRun.ReplaceAllString(strings.ToLower(format), ""), "-")
	if ext == "" {
		ext = "dat"
	}
	return slug + "-nominations-" + date.Format("2006-01-02") + "." + ext
}
