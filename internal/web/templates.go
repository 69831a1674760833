package web

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"strings"
)

//go:embed templates/*.tmpl
var templateFiles embed.FS

// sharedTemplates are parsed into every page: the layout and the
// components.
var sharedTemplates = []string{"templates/layout.tmpl", "templates/components.tmpl"}

// parseTemplates parses one template set per page: the layout, the
// components and the page's own "content".
func (h *Handler) parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"t": func(l *Localizer, id string, kv ...any) string { return l.T(id, kv...) },
		"tn": func(l *Localizer, id string, n int, kv ...any) string {
			return l.N(id, n, kv...)
		},
		"asset": h.assets.url,
	}
	base, err := template.New("").Funcs(funcs).ParseFS(templateFiles, sharedTemplates...)
	if err != nil {
		return nil, err
	}
	files, err := fs.Glob(templateFiles, "templates/*.tmpl")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		if f == sharedTemplates[0] || f == sharedTemplates[1] {
			continue
		}
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(templateFiles, f); err != nil {
			return nil, fmt.Errorf("template %s: %w", f, err)
		}
		pages[strings.TrimSuffix(path.Base(f), ".tmpl")] = t
	}
	return pages, nil
}
