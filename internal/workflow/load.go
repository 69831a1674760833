package workflow

// This file holds the only functions of the package that touch the file
// system: they read files and hand their bytes to the pure Parse and
// CheckTemplate.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/igf/nomina/internal/phrase"
)

// TemplatesDir is the directory, inside a workflows directory, holding the
// email templates.
const TemplatesDir = "templates"

// ErrInvalid is wrapped by the errors of LoadDir, LoadFile and
// LoadTemplates when a file has an error diagnostic.
var ErrInvalid = errors.New("invalid workflow files")

// LoadDir loads every *.yaml file of dir, with the templates of
// dir/templates, into a new registry. Diagnostics (warnings included) are
// returned in any case. The error is non-nil — wrapping ErrInvalid and
// naming the files — when any file has an error: then no registry is
// returned, so a broken file can never be partly in use. Reading failures
// are returned as errors too.
func LoadDir(dir string) (*Registry, []Diagnostic, error) {
	return LoadFS(os.DirFS(dir), dir)
}

// LoadFS is LoadDir over the root of fsys (the workflows built into the
// binary, say); diagnostics name files under label.
func LoadFS(fsys fs.FS, label string) (*Registry, []Diagnostic, error) {
	dir := label
	templates, diags, err := loadTemplates(fsys, TemplatesDir, filepath.Join(label, TemplatesDir))
	if err != nil && !errors.Is(err, ErrInvalid) {
		return nil, diags, err
	}
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, diags, fmt.Errorf("list workflows in %s: %w", dir, err)
	}
	sort.Strings(names)
	if others, _ := fs.Glob(fsys, "*.yml"); len(others) > 0 {
		for _, p := range others {
			diags = append(diags, Diagnostic{File: filepath.Join(label, p), Severity: SeverityWarning, Message: "ignored: workflow files end in .yaml"})
		}
	}
	var paths []string
	for _, n := range names {
		paths = append(paths, filepath.Join(label, n))
	}
	if len(paths) == 0 {
		diags = append(diags, Diagnostic{File: dir, Severity: SeverityError, Message: "no workflow files (*.yaml) in the directory"})
	}
	var defs []*Definition
	seen := map[string]string{}
	for i, p := range paths {
		d, ds, err := loadFile(fsys, names[i], p, templates)
		if err != nil {
			return nil, diags, err
		}
		diags = append(diags, ds...)
		if d == nil {
			continue
		}
		key := d.Key()
		if prev, dup := seen[key]; dup {
			diags = append(diags, Diagnostic{File: p, Line: 1, Col: 1, Severity: SeverityError,
				Message: fmt.Sprintf("workflow %s is also defined in %s: give one of them a new version", key, prev)})
			continue
		}
		seen[key] = p
		defs = append(defs, d)
	}
	if bad := filesWithErrors(diags); len(bad) > 0 {
		return nil, diags, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(bad, ", "))
	}
	return NewRegistry(defs...), diags, nil
}

// LoadFile loads one workflow file, with the templates of the templates
// directory beside it. The definition is nil and the error wraps
// ErrInvalid when the file (or a template) has an error diagnostic.
func LoadFile(path string) (*Definition, []Diagnostic, error) {
	templates, diags, err := LoadTemplates(filepath.Join(filepath.Dir(path), TemplatesDir))
	if err != nil && !errors.Is(err, ErrInvalid) {
		return nil, diags, err
	}
	d, ds, err := loadFile(os.DirFS(filepath.Dir(path)), filepath.Base(path), path, templates)
	if err != nil {
		return nil, diags, err
	}
	diags = append(diags, ds...)
	if bad := filesWithErrors(diags); len(bad) > 0 {
		return nil, diags, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(bad, ", "))
	}
	return d, diags, nil
}

// loadFile parses the file name of fsys, naming it path in diagnostics.
func loadFile(fsys fs.FS, name, path string, templates TemplateSet) (*Definition, []Diagnostic, error) {
	data, tooBig, err := readLimited(fsys, name, path)
	if err != nil {
		return nil, nil, err
	}
	if tooBig {
		return nil, []Diagnostic{{File: path, Line: 1, Col: 1, Severity: SeverityError,
			Message: fmt.Sprintf("file is larger than the %d bytes allowed", MaxFileSize)}}, nil
	}
	d, diags := Parse(path, data, templates)
	return d, diags, nil
}

// readLimited reads at most MaxFileSize bytes of a file, reporting whether
// it is larger, so a huge file is never read whole.
func readLimited(fsys fs.FS, name, path string) ([]byte, bool, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, true, nil
	}
	return data, false, nil
}

// LoadTemplates checks the email templates of dir (pairs <name>.txt and
// <name>.html) and returns the set of their names with the diagnostics.
// A missing directory gives an empty set. The error wraps ErrInvalid when a
// template has an error; the set then holds the templates without errors.
func LoadTemplates(dir string) (TemplateSet, []Diagnostic, error) {
	return loadTemplates(os.DirFS(dir), ".", dir)
}

// LoadTemplatesFS is LoadTemplates over the templates directory of the
// workflows in fsys; diagnostics name files under label.
func LoadTemplatesFS(fsys fs.FS, label string) (TemplateSet, []Diagnostic, error) {
	return loadTemplates(fsys, TemplatesDir, filepath.Join(label, TemplatesDir))
}

// loadTemplates reads the templates in the directory sub of fsys, naming
// them under dir in diagnostics.
func loadTemplates(fsys fs.FS, sub, dir string) (TemplateSet, []Diagnostic, error) {
	set := TemplateSet{}
	entries, err := fs.ReadDir(fsys, sub)
	if errors.Is(err, os.ErrNotExist) {
		return set, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list templates in %s: %w", dir, err)
	}
	names := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		ext := filepath.Ext(e.Name())
		if ext == ".txt" || ext == ".html" {
			names[strings.TrimSuffix(e.Name(), ext)] = true
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var diags []Diagnostic
	for _, name := range sorted {
		txtPath := filepath.Join(dir, name+".txt")
		htmlPath := filepath.Join(dir, name+".html")
		if !validName(name) {
			diags = append(diags, Diagnostic{File: txtPath, Severity: SeverityError,
				Message: fmt.Sprintf("template name %q is not valid: use lower-case letters, digits and _", name)})
			continue
		}
		txt, txtBig, err := readLimited(fsys, path.Join(sub, name+".txt"), txtPath)
		if errors.Is(err, os.ErrNotExist) {
			diags = append(diags, Diagnostic{File: htmlPath, Severity: SeverityError, Message: fmt.Sprintf("template %q has no text version %s", name, filepath.Base(txtPath))})
			continue
		}
		if err != nil {
			return nil, diags, err
		}
		html, htmlBig, err := readLimited(fsys, path.Join(sub, name+".html"), htmlPath)
		if errors.Is(err, os.ErrNotExist) {
			diags = append(diags, Diagnostic{File: txtPath, Severity: SeverityError, Message: fmt.Sprintf("template %q has no HTML version %s", name, filepath.Base(htmlPath))})
			continue
		}
		if err != nil {
			return nil, diags, err
		}
		if txtBig || htmlBig {
			diags = append(diags, Diagnostic{File: txtPath, Severity: SeverityError, Message: fmt.Sprintf("template %q is larger than %d bytes", name, MaxFileSize)})
			continue
		}
		ds := CheckTemplate(name, txtPath, txt, htmlPath, html)
		diags = append(diags, ds...)
		if !HasErrors(ds) {
			set[name] = struct{}{}
		}
	}
	diags = append(diags, checkTranslatedTemplates(fsys, sub, dir, entries, sorted)...)
	if bad := filesWithErrors(diags); len(bad) > 0 {
		return set, diags, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(bad, ", "))
	}
	return set, diags, nil
}

// checkTranslatedTemplates checks the translations of the templates:
// each subdirectory of dir is named by a language other than English and
// holds some of the English templates (same names, both versions), each
// checked as the English ones are. A template without a translation in a
// language is a warning, so that whoever edits a template sees the
// languages still to do.
func checkTranslatedTemplates(fsys fs.FS, sub, dir string, entries []fs.DirEntry, names []string) []Diagnostic {
	var diags []Diagnostic
	present := map[string]bool{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		lang := e.Name()
		where := filepath.Join(dir, lang)
		if lang == phrase.Languages[0] || !phrase.Supported(lang) {
			diags = append(diags, Diagnostic{File: where, Severity: SeverityError,
				Message: fmt.Sprintf("%q is not a language templates are translated into (%s)", lang, strings.Join(phrase.Languages[1:], ", "))})
			continue
		}
		present[lang] = true
		files, err := fs.ReadDir(fsys, path.Join(sub, lang))
		if err != nil {
			diags = append(diags, Diagnostic{File: where, Severity: SeverityError, Message: err.Error()})
			continue
		}
		for _, f := range files {
			ext := filepath.Ext(f.Name())
			name := strings.TrimSuffix(f.Name(), ext)
			if f.IsDir() || (ext != ".txt" && ext != ".html") || slices.Contains(names, name) {
				continue
			}
			diags = append(diags, Diagnostic{File: filepath.Join(where, f.Name()), Severity: SeverityError,
				Message: fmt.Sprintf("%s translates %q, which is not a template of %s", lang, name, dir)})
		}
	}
	for _, lang := range phrase.Languages[1:] {
		for _, name := range names {
			txtPath := filepath.Join(dir, lang, name+".txt")
			htmlPath := filepath.Join(dir, lang, name+".html")
			txt, _, errT := readLimited(fsys, path.Join(sub, lang, name+".txt"), txtPath)
			html, _, errH := readLimited(fsys, path.Join(sub, lang, name+".html"), htmlPath)
			switch {
			case errors.Is(errT, os.ErrNotExist) && errors.Is(errH, os.ErrNotExist):
				diags = append(diags, Diagnostic{File: txtPath, Severity: SeverityWarning,
					Message: fmt.Sprintf("template %q has no %s translation (%s/%s.txt and .html); it is sent in English", name, lang, lang, name)})
			case errT != nil || errH != nil:
				diags = append(diags, Diagnostic{File: txtPath, Severity: SeverityError,
					Message: fmt.Sprintf("the %s translation of template %q needs both %s.txt and %s.html", lang, name, name, name)})
			default:
				diags = append(diags, CheckTemplate(name, txtPath, txt, htmlPath, html)...)
			}
		}
	}
	return diags
}

// filesWithErrors lists, once each and in order, the files with an error.
func filesWithErrors(diags []Diagnostic) []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range diags {
		if d.Severity == SeverityError && !seen[d.File] {
			seen[d.File] = true
			out = append(out, d.File)
		}
	}
	return out
}
