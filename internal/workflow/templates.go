package workflow

import (
	"bytes"
	"errors"
	htmltemplate "html/template"
	"regexp"
	"sort"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"
)

// TemplateSet is the set of email template names available to a workflow:
// the names of the <name>.txt files of the templates directory.
type TemplateSet map[string]struct{}

// NewTemplateSet returns a set holding names.
func NewTemplateSet(names ...string) TemplateSet {
	t := make(TemplateSet, len(names))
	for _, n := range names {
		t[n] = struct{}{}
	}
	return t
}

// Has reports whether the set holds name.
func (t TemplateSet) Has(name string) bool {
	_, ok := t[name]
	return ok
}

// Names returns the set's names, sorted.
func (t TemplateSet) Names() []string {
	out := make([]string, 0, len(t))
	for n := range t {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// SubjectPrefix starts the first line of every text template.
const SubjectPrefix = "Subject: "

// TemplateData is the shape of the data templates are rendered with; the
// mail package fills it. CheckTemplate renders every template once with
// sample data of this shape to catch misspelt references.
type TemplateData struct {
	Recipient  TemplateRecipient
	Nomination TemplateNomination
	Call       TemplateCall
	// Links holds absolute URLs: nomination, review, consent, endorse, reset.
	Links   map[string]string
	Comment string
	Reason  string
	// Extra holds additional values a message's job carries.
	Extra map[string]string
}

// TemplateRecipient is who a message is addressed to.
type TemplateRecipient struct {
	Name  string
	Email string
}

// TemplateNomination is the nomination a message is about.
type TemplateNomination struct {
	ID          string
	State       string
	Fields      map[string]any
	NomineeName string
}

// TemplateCall is the call a nomination belongs to.
type TemplateCall struct {
	Title    string
	Slug     string
	ClosesAt time.Time
}

// SplitTextTemplate splits a text template into its subject line (without
// the "Subject: " prefix) and body. It returns an error when the first line
// is not a subject or the second line is not blank.
func SplitTextTemplate(src []byte) (subject, body string, err error) {
	s := strings.ReplaceAll(string(src), "\r\n", "\n")
	first, rest, found := strings.Cut(s, "\n")
	if !strings.HasPrefix(first, SubjectPrefix) {
		return "", "", errors.New(`the first line must be "Subject: ..."`)
	}
	subject = strings.TrimSpace(strings.TrimPrefix(first, SubjectPrefix))
	if subject == "" {
		return "", "", errors.New("the subject is empty")
	}
	if !found {
		return subject, "", nil
	}
	blank, body, _ := strings.Cut(rest, "\n")
	if strings.TrimSpace(blank) != "" {
		return "", "", errors.New("the subject line must be followed by a blank line")
	}
	return subject, body, nil
}

// templateLine finds the line number text/template and html/template put
// in their error messages ("template: name:LINE: ...").
var templateLine = regexp.MustCompile(`^(?:html/)?template: ?[^:]*:(\d+):(?:(\d+):)? ?`)

// CheckTemplate checks one template pair: the text version (subject line,
// blank line, body; Go text/template) and the HTML version (body; Go
// html/template). It parses both and renders them with sample data,
// returning diagnostics for files textFile and htmlFile: errors for what
// would stop a message from being sent, warnings for references the sample
// templateFuncs are the functions mail templates may call besides the
// built-in ones (package mail gives them, writing in the template's
// language): date writes a time with its UTC hour, day the date alone.
var templateFuncs = map[string]any{
	"date": func(t time.Time) string { return t.UTC().Format("2 January 2006, 15:04 MST") },
	"day":  func(t time.Time) string { return t.UTC().Format("2 January 2006") },
}

// data lacks. It does no I/O and never panics.
func CheckTemplate(name, textFile string, text []byte, htmlFile string, html []byte) (diags []Diagnostic) {
	defer func() {
		if p := recover(); p != nil {
			diags = append(diags, Diagnostic{File: textFile, Line: 1, Severity: SeverityError, Message: "template could not be checked"})
		}
	}()
	add := func(file string, line int, sev, msg string) {
		diags = append(diags, Diagnostic{File: file, Line: line, Severity: sev, Message: msg})
	}
	for _, f := range []struct {
		file string
		data []byte
	}{{textFile, text}, {htmlFile, html}} {
		if len(f.data) > MaxFileSize {
			add(f.file, 1, SeverityError, "template is larger than "+strconv.Itoa(MaxFileSize)+" bytes")
			return diags
		}
		if !utf8.Valid(f.data) {
			add(f.file, 1, SeverityError, "template is not valid UTF-8")
			return diags
		}
	}
	sample := sampleTemplateData()
	subject, body, err := SplitTextTemplate(text)
	if err != nil {
		add(textFile, 1, SeverityError, err.Error())
	} else {
		check := func(part string, lineOffset int, src string) {
			t, err := texttemplate.New(name).Option("missingkey=zero").Funcs(templateFuncs).Parse(src)
			if err != nil {
				line, msg := templateError(err)
				add(textFile, line+lineOffset, SeverityError, msg)
				return
			}
			out := &limitedBuffer{max: 64 << 10}
			if err := t.Execute(out, sample); err != nil {
				line, msg := templateError(err)
				add(textFile, line+lineOffset, SeverityWarning, part+": "+msg)
				return
			}
			if part == "subject" && strings.ContainsAny(out.String(), "\r\n") {
				add(textFile, 1, SeverityError, "the subject renders with a line break")
			}
		}
		check("subject", 0, subject)
		check("body", 2, body)
	}
	ht, err := htmltemplate.New(name).Option("missingkey=zero").Funcs(templateFuncs).Parse(string(html))
	if err != nil {
		line, msg := templateError(err)
		add(htmlFile, line, SeverityError, msg)
		return diags
	}
	if err := ht.Execute(&limitedBuffer{max: 256 << 10}, sample); err != nil {
		line, msg := templateError(err)
		sev := SeverityWarning
		var ee *htmltemplate.Error
		if errors.As(err, &ee) {
			sev = SeverityError // an escaping problem: the template is unusable
		}
		add(htmlFile, line, sev, msg)
	}
	return diags
}

// unclosedAt finds where an unclosed action began, which is where the
// mistake is (the error itself is reported at the end of the file).
var unclosedAt = regexp.MustCompile(` started at [^:]*:(\d+)$`)

func templateError(err error) (int, string) {
	msg := err.Error()
	line := 1
	if m := templateLine.FindStringSubmatch(msg); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil {
			line = n
		}
		msg = msg[len(m[0]):]
	}
	if m := unclosedAt.FindStringSubmatch(msg); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil {
			line = n
		}
		msg = msg[:len(msg)-len(m[0])]
	}
	return line, msg
}

func sampleTemplateData() TemplateData {
	return TemplateData{
		Recipient:  TemplateRecipient{Name: "Ada Lovelace", Email: "ada@example.org"},
		Nomination: TemplateNomination{ID: "n-1", State: "submitted", Fields: map[string]any{"stakeholder_group": "civil_society"}, NomineeName: "Ada Lovelace"},
		Call:       TemplateCall{Title: "MAG 2026", Slug: "mag-2026", ClosesAt: time.Date(2026, 3, 31, 23, 59, 0, 0, time.UTC)},
		Links:      map[string]string{"nomination": "https://nomina.example.org/n/1"},
		Extra:      map[string]string{},
		Comment:    "comment",
		Reason:     "reason",
	}
}

// limitedBuffer stops a runaway template (recursion, huge ranges) early.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

var errTooLong = errors.New("template output is too long")

// Write appends p, or fails once the output would pass the limit.
func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, errTooLong
	}
	return b.Buffer.Write(p)
}
