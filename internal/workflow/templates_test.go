package workflow

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestShippedTemplates checks that the shipped templates are free of
// diagnostics, that both workflows' notifications find theirs, and that
// the templates other parts of Nomina send are there.
func TestShippedTemplates(t *testing.T) {
	set := mustShippedTemplates(t)
	for _, name := range []string{"password_reset", "set_password", "nominee_consent", "endorsement_request"} {
		if !set.Has(name) {
			t.Errorf("template %q is missing", name)
		}
	}
	used := map[string]bool{}
	for _, d := range mustLoadShipped(t).All() {
		for _, st := range d.States {
			for _, n := range st.OnEnter {
				used[n.Template] = true
			}
			for _, tm := range st.Timers {
				if tm.Template != "" {
					used[tm.Template] = true
				}
			}
		}
		for _, a := range d.Actions {
			for _, n := range a.Notify {
				used[n.Template] = true
			}
		}
	}
	for name := range used {
		if !set.Has(name) {
			t.Errorf("workflows use template %q, which is missing", name)
		}
	}
	if len(used) < 10 {
		t.Errorf("the workflows use only %d templates", len(used))
	}
}

func TestCheckTemplate(t *testing.T) {
	const html = "<p>Dear {{.Recipient.Name}}</p>\n"
	tests := []struct {
		name string
		txt  string
		html string
		file string // the file the diagnostic names
		line int
		sev  string // "" when clean
		want string
	}{
		{name: "clean", txt: "Subject: Hello {{.Call.Title}}\n\nDear {{.Recipient.Name}},\n{{.Links.nomination}}\n", html: html},
		{name: "no subject", txt: "Hello\n\nbody\n", html: html, file: "t.txt", line: 1, sev: SeverityError, want: `the first line must be "Subject: ..."`},
		{name: "empty subject", txt: "Subject: \n\nbody\n", html: html, file: "t.txt", line: 1, sev: SeverityError, want: "the subject is empty"},
		{name: "no blank line", txt: "Subject: Hi\nbody\n", html: html, file: "t.txt", line: 1, sev: SeverityError, want: "followed by a blank line"},
		{name: "body syntax error", txt: "Subject: Hi\n\nline\n{{.Recipient.Name\n", html: html, file: "t.txt", line: 4, sev: SeverityError, want: "unclosed action"},
		{name: "misspelt field", txt: "Subject: Hi\n\n{{.Recipent.Name}}\n", html: html, file: "t.txt", line: 3, sev: SeverityWarning, want: "can't evaluate field Recipent"},
		{name: "subject misspelt", txt: "Subject: {{.Cal.Title}}\n\nbody\n", html: html, file: "t.txt", line: 1, sev: SeverityWarning, want: "can't evaluate field Cal"},
		{name: "unknown function", txt: "Subject: Hi\n\n{{shout .Comment}}\n", html: html, file: "t.txt", line: 3, sev: SeverityError, want: `function "shout" not defined`},
		{name: "html syntax error", txt: "Subject: Hi\n\nbody\n", html: "<p>\n{{if .Comment}}\n", file: "t.html", line: 3, sev: SeverityError, want: "unexpected EOF"},
		{name: "html misspelt field", txt: "Subject: Hi\n\nbody\n", html: "<p>{{.Nomination.Nominee}}</p>", file: "t.html", line: 1, sev: SeverityWarning, want: "can't evaluate field Nominee"},
		{name: "runaway recursion", txt: "Subject: Hi\n\n{{define \"x\"}}xxxxxxxx{{template \"x\"}}{{end}}{{template \"x\"}}\n", html: html, file: "t.txt", sev: SeverityWarning, want: "too long"},
		{name: "not UTF-8", txt: "Subject: Hi\n\n\xff\n", html: html, file: "t.txt", line: 1, sev: SeverityError, want: "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diags := CheckTemplate("t", "t.txt", []byte(tt.txt), "t.html", []byte(tt.html))
			if tt.sev == "" {
				if len(diags) != 0 {
					t.Fatalf("diagnostics for a clean template: %v", diags)
				}
				return
			}
			for _, d := range diags {
				if d.File == tt.file && d.Severity == tt.sev && strings.Contains(d.Message, tt.want) && (tt.line == 0 || d.Line == tt.line) {
					return
				}
			}
			t.Errorf("want %s %s:%d %q; got:\n%s", tt.sev, tt.file, tt.line, tt.want, diagLines(diags))
		})
	}
}

func TestSplitTextTemplate(t *testing.T) {
	subject, body, err := SplitTextTemplate([]byte("Subject: Hello there\r\n\r\nLine one\r\nLine two\r\n"))
	if err != nil || subject != "Hello there" || body != "Line one\nLine two\n" {
		t.Errorf("SplitTextTemplate = %q, %q, %v", subject, body, err)
	}
}

func TestTemplateSet(t *testing.T) {
	s := NewTemplateSet("b", "a")
	if !s.Has("a") || s.Has("c") || strings.Join(s.Names(), ",") != "a,b" {
		t.Errorf("set = %v", s.Names())
	}
	var none TemplateSet
	if none.Has("a") || len(none.Names()) != 0 {
		t.Error("a nil set holds names")
	}
}

// TestReadmeExample parses the annotated example of workflows/README.md,
// so the documentation cannot drift from the format.
func TestReadmeExample(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(shippedDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "## An annotated example\n\n```yaml\n")
	example, _, ok2 := strings.Cut(rest, "```\n")
	if !ok || !ok2 {
		t.Fatal("README.md has no annotated yaml example")
	}
	d, diags := Parse("README.md", []byte(example), mustShippedTemplates(t))
	if d == nil || len(diags) != 0 {
		t.Fatalf("the README example does not load cleanly:\n%s", diagLines(diags))
	}
	if d.ID != "mag" || len(d.States) != 8 {
		t.Errorf("example = %s with %d states", d.Key(), len(d.States))
	}
}
