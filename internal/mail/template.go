package mail

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	texttemplate "text/template"
	"text/template/parse"
	"time"

	"github.com/igf/nomina/internal/locale"
	"github.com/igf/nomina/internal/nomination"
)

// Message is a rendered mail: a one-line subject, the text body and, when
// the template has one, the HTML body.
type Message struct {
	Subject string
	Text    string
	HTML    string
	// Language is the language the message is written in.
	Language string
}

// Recipient is the person a message is addressed to.
type Recipient struct {
	Name  string
	Email string
}

// Nomination is what a template may say about the nomination a message is
// about.
type Nomination struct {
	ID          string
	State       string
	NomineeName string
	Fields      map[string]any
}

// Call is what a template may say about the call a message belongs to.
type Call struct {
	Title    string
	Slug     string
	ClosesAt time.Time
}

// Data is everything a template renders with. Links hold absolute URLs;
// Extra holds the job's additional values.
type Data struct {
	Recipient  Recipient
	Nomination Nomination
	Call       Call
	Links      map[string]string
	Comment    string
	Reason     string
	Extra      map[string]string
	// Language is the language to write in (one of locale.Languages; ""
	// or one without the template: English, the templates' source).
	Language string
}

// Templates is a set of mail templates loaded from one directory: for each
// name, "<name>.txt" holds the subject line and the text body, and the
// optional "<name>.html" the HTML body, in English; a subdirectory named
// by a language ("fr", "ar", ...) holds the same templates in it.
type Templates struct {
	byName map[string]*template
	byLang map[string]map[string]*template
}

type template struct {
	lang    string
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template // nil when the template has no HTML body
	// refs lists the .Links, .Nomination.Fields and .Extra keys the template
	// uses, so Preview can fill them in.
	refs refs
}

type refs struct {
	links, fields, extra map[string]bool
}

var templateName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// formats writes dates as each language does; it holds no messages.
var formats = func() *locale.Catalog {
	c, err := locale.New(nil)
	if err != nil {
		panic(err) // no catalog to read: cannot fail
	}
	return c
}()

// funcsIn are the functions templates in lang may call besides the
// built-in ones.
func funcsIn(lang string) map[string]any {
	L := formats.In(lang)
	if lang == locale.Source {
		// The English templates' dates as they always were.
		return map[string]any{
			"date": func(t time.Time) string { return t.UTC().Format("2 January 2006 15:04 MST") },
			"day":  func(t time.Time) string { return t.UTC().Format("2 January 2006") },
		}
	}
	return map[string]any{
		// date writes a time for people in the template's language, in
		// UTC: "31 March 2026, 23:59 UTC", "31 mars 2026 à 23:59 UTC".
		"date": L.DateTime,
		// day writes the date alone: "31 March 2026".
		"day": L.Date,
	}
}

// LoadTemplates reads every "*.txt" and "*.html" file at the root of fsys
// and parses them. A ".txt" file starts with a "Subject: ..." line and a
// blank line; the rest is the text body. An ".html" file needs its ".txt"
// sibling. Templates stop with an error at a map key that is not there
// (for example a misspelt link name) rather than print a placeholder.
// It returns an error naming the file and the problem.
func LoadTemplates(fsys fs.FS) (*Templates, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read mail templates: %w", err)
	}
	en, err := loadLanguage(fsys, locale.Source, "")
	if err != nil {
		return nil, err
	}
	t := &Templates{byName: en, byLang: map[string]map[string]*template{locale.Source: en}}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		lang := e.Name()
		if !locale.Supported(lang) || lang == locale.Source {
			continue // not a translation; nomina workflows validate says so
		}
		sub, err := fs.Sub(fsys, lang)
		if err != nil {
			return nil, err
		}
		byName, err := loadLanguage(sub, lang, lang+"/")
		if err != nil {
			return nil, err
		}
		for name := range byName {
			if _, ok := en[name]; !ok {
				return nil, fmt.Errorf("mail template %s%s.txt: no English template %s.txt to translate", lang+"/", name, name)
			}
		}
		t.byLang[lang] = byName
	}
	return t, nil
}

// loadLanguage reads the templates at the root of fsys, in lang; prefix
// names their folder in errors.
func loadLanguage(fsys fs.FS, lang, prefix string) (map[string]*template, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read mail templates: %w", err)
	}
	funcs := funcsIn(lang)
	t := &Templates{byName: map[string]*template{}}
	var htmlFiles []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		file := e.Name()
		ext := path.Ext(file)
		if ext != ".txt" && ext != ".html" {
			continue
		}
		name := strings.TrimSuffix(file, ext)
		if !templateName.MatchString(name) {
			return nil, fmt.Errorf("mail template %s%s: name must be lower-case letters, digits, _ or -", prefix, file)
		}
		if ext == ".html" {
			htmlFiles = append(htmlFiles, file)
			continue
		}
		src, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("read mail template: %w", err)
		}
		tpl, err := parseText(prefix+file, string(src), funcs)
		if err != nil {
			return nil, err
		}
		tpl.lang = lang
		t.byName[name] = tpl
	}
	for _, file := range htmlFiles {
		name := strings.TrimSuffix(file, ".html")
		tpl, ok := t.byName[name]
		if !ok {
			return nil, fmt.Errorf("mail template %s%s: no %s.txt beside it for the subject and text body", prefix, file, name)
		}
		src, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("read mail template: %w", err)
		}
		h, err := htmltemplate.New(file).Option("missingkey=error").Funcs(funcs).Parse(string(src))
		if err != nil {
			return nil, fmt.Errorf("mail template %s%s: %w", prefix, file, err)
		}
		tpl.html = h
		tpl.refs.collect(h.Tree.Root)
	}
	return t.byName, nil
}

// parseText splits a ".txt" template into its subject line and text body.
func parseText(file, src string, funcs map[string]any) (*template, error) {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	first, rest, _ := strings.Cut(src, "\n")
	subject, ok := cutPrefixFold(first, "Subject:")
	if !ok {
		return nil, fmt.Errorf("mail template %s:1: the first line must be \"Subject: ...\"", file)
	}
	blank, body, _ := strings.Cut(rest, "\n")
	if strings.TrimSpace(blank) != "" {
		return nil, fmt.Errorf("mail template %s:2: a blank line must follow the subject", file)
	}
	tpl := &template{refs: refs{links: map[string]bool{}, fields: map[string]bool{}, extra: map[string]bool{}}}
	var err error
	if tpl.subject, err = texttemplate.New(file + ":subject").Option("missingkey=error").Funcs(funcs).Parse(strings.TrimSpace(subject)); err != nil {
		return nil, fmt.Errorf("mail template %s:1: %w", file, err)
	}
	if tpl.text, err = texttemplate.New(file).Option("missingkey=error").Funcs(funcs).Parse(body); err != nil {
		return nil, fmt.Errorf("mail template %s: %w", file, err)
	}
	tpl.refs.collect(tpl.subject.Tree.Root)
	tpl.refs.collect(tpl.text.Tree.Root)
	return tpl, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	return s[len(prefix):], true
}

// Languages returns, for the template of that name, the languages it is
// written in, English first.
func (t *Templates) Languages(name string) []string {
	var out []string
	for _, l := range locale.Languages {
		if _, ok := t.byLang[l][name]; ok {
			out = append(out, l)
		}
	}
	return out
}

// in returns the template of that name in lang, or in English.
func (t *Templates) in(lang, name string) (*template, bool) {
	if tpl, ok := t.byLang[lang][name]; ok {
		return tpl, true
	}
	tpl, ok := t.byName[name]
	return tpl, ok
}

// Has reports whether a template of that name was loaded.
func (t *Templates) Has(name string) bool {
	_, ok := t.byName[name]
	return ok
}

// Names returns the names of the loaded templates, sorted.
func (t *Templates) Names() []string {
	names := make([]string, 0, len(t.byName))
	for n := range t.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Render renders the named template with data. The subject comes out as one
// line: line breaks and other control characters from the data become
// spaces, so nothing a person typed can start a header of its own. HTML
// bodies are escaped by html/template. It returns a *nomination.Error with
// ENOTFOUND for an unknown name, and an error naming the template when
// rendering fails (for example an unknown link name).
func (t *Templates) Render(name string, data Data) (Message, error) {
	tpl, ok := t.in(data.Language, name)
	if !ok {
		return Message{}, nomination.Errorf(nomination.ENOTFOUND, "no mail template %q", name)
	}
	msg := Message{Language: tpl.lang}
	var buf bytes.Buffer
	if err := tpl.subject.Execute(&buf, data); err != nil {
		return Message{}, fmt.Errorf("render mail template %s: %w", name, err)
	}
	msg.Subject = oneLine(buf.String())
	if msg.Subject == "" {
		return Message{}, fmt.Errorf("render mail template %s: the subject is empty", name)
	}
	buf.Reset()
	if err := tpl.text.Execute(&buf, data); err != nil {
		return Message{}, fmt.Errorf("render mail template %s: %w", name, err)
	}
	msg.Text = buf.String()
	if tpl.html != nil {
		buf.Reset()
		if err := tpl.html.Execute(&buf, data); err != nil {
			return Message{}, fmt.Errorf("render mail template %s: %w", name, err)
		}
		msg.HTML = buf.String()
	}
	return msg, nil
}

// oneLine turns s into a single header-safe line: every control character
// (CR and LF above all) becomes a space, runs of spaces collapse, and the
// ends are trimmed.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\t' || r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' || r == '\u0085'
	}), " ")
}

// PreviewBaseURL is the base of the links in a preview.
const PreviewBaseURL = "https://nomina.example.org"

// Preview renders the named template with sample data: a sample recipient,
// nomination and call, and a sample value for every link, form field and
// extra value the template uses. links gives the paths of links by name
// (the pages the real message leads to, as PreviewBaseURL + path); a link
// the template uses and links lacks gets a sample. It returns the errors
// of Render.
func (t *Templates) Preview(name string, links map[string]string) (Message, error) {
	return t.PreviewIn(locale.Source, name, links)
}

// PreviewIn is Preview in lang: the template in that language, or in
// English when it has no translation.
func (t *Templates) PreviewIn(lang, name string, links map[string]string) (Message, error) {
	tpl, ok := t.in(lang, name)
	if !ok {
		return Message{}, nomination.Errorf(nomination.ENOTFOUND, "no mail template %q", name)
	}
	d := sampleData(tpl.refs)
	d.Language = lang
	for k := range d.Links {
		if p, ok := links[k]; ok {
			d.Links[k] = PreviewBaseURL + p
		}
	}
	return t.Render(name, d)
}

func sampleData(r refs) Data {
	d := Data{
		Recipient: Recipient{Name: "Ada Lovelace", Email: "ada.lovelace@example.org"},
		Nomination: Nomination{
			ID:          "n-sample",
			State:       "submitted",
			NomineeName: "Grace Hopper",
			Fields: map[string]any{
				"stakeholder_group": "civil_society",
				"region":            "african",
				"gender":            "female",
				"nationality":       "KE",
				"organization":      "Example Foundation",
				"motivation":        "Ten years of work on community networks.",
			},
		},
		Call:    Call{Title: "MAG renewal 2026", Slug: "mag-2026", ClosesAt: time.Date(2026, 3, 31, 23, 59, 0, 0, time.UTC)},
		Links:   map[string]string{},
		Comment: "Please add the missing CV.",
		Reason:  "The nominee is not eligible for this call.",
		Extra:   map[string]string{},
	}
	for k := range r.links {
		d.Links[k] = PreviewBaseURL + "/sample/" + k
	}
	for k := range r.fields {
		if _, ok := d.Nomination.Fields[k]; !ok {
			d.Nomination.Fields[k] = "sample " + k
		}
	}
	for k := range r.extra {
		d.Extra[k] = "sample " + k
	}
	return d
}

// collect records the keys of .Links, .Nomination.Fields and .Extra that the
// template names, as fields (.Links.review) or through index
// (index .Links "review").
func (r *refs) collect(n parse.Node) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			r.collect(c)
		}
	case *parse.ActionNode:
		r.collect(n.Pipe)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			r.collect(c)
		}
	case *parse.CommandNode:
		if len(n.Args) == 3 {
			if id, ok := n.Args[0].(*parse.IdentifierNode); ok && id.Ident == "index" {
				f, fok := n.Args[1].(*parse.FieldNode)
				key, kok := n.Args[2].(*parse.StringNode)
				if fok && kok {
					r.add(append(append([]string(nil), f.Ident...), key.Text))
				}
			}
		}
		for _, a := range n.Args {
			r.collect(a)
		}
	case *parse.FieldNode:
		r.add(n.Ident)
	case *parse.ChainNode:
		r.collect(n.Node)
	case *parse.IfNode:
		r.collect(n.Pipe)
		r.collect(n.List)
		r.collect(n.ElseList)
	case *parse.RangeNode:
		r.collect(n.Pipe)
		r.collect(n.List)
		r.collect(n.ElseList)
	case *parse.WithNode:
		r.collect(n.Pipe)
		r.collect(n.List)
		r.collect(n.ElseList)
	case *parse.TemplateNode:
		r.collect(n.Pipe)
	}
}

func (r *refs) add(ident []string) {
	switch {
	case len(ident) >= 2 && ident[0] == "Links":
		r.links[ident[1]] = true
	case len(ident) >= 2 && ident[0] == "Extra":
		r.extra[ident[1]] = true
	case len(ident) >= 3 && ident[0] == "Nomination" && ident[1] == "Fields":
		r.fields[ident[2]] = true
	}
}
