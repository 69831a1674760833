package web

import (
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"strings"
	"sync"

	"github.com/goccy/go-yaml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// The message catalogs: one file per language, active.<tag>.yaml. English is
// the source language and the fallback of every message.
//
//go:embed locales/*.yaml
var localeFiles embed.FS

// catalog holds every language's messages and picks the language of a
// request.
type catalog struct {
	bundle  *i18n.Bundle
	matcher language.Matcher
	tags    []language.Tag
	log     *slog.Logger
	// missing remembers message ids already reported missing, so a
	// missing translation is logged once, not on every page.
	missing sync.Map
}

func newCatalog(log *slog.Logger) (*catalog, error) {
	b := i18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("yaml", func(data []byte, v any) error { return yaml.Unmarshal(data, v) })
	files, err := fs.Glob(localeFiles, "locales/active.*.yaml")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		data, err := localeFiles.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if _, err := b.ParseMessageFileBytes(data, path.Base(f)); err != nil {
			return nil, fmt.Errorf("message catalog %s: %w", f, err)
		}
	}
	// English first: the matcher falls back to its first tag.
	tags := []language.Tag{language.English}
	for _, t := range b.LanguageTags() {
		if t != language.English {
			tags = append(tags, t)
		}
	}
	return &catalog{bundle: b, matcher: language.NewMatcher(tags), tags: tags, log: log}, nil
}

// rtlScripts are the scripts written right to left among those the UN
// languages and their neighbours use.
var rtlLanguages = map[string]bool{"ar": true, "fa": true, "he": true, "ur": true}

// localizer returns the localizer for a reader who prefers, in order, the
// account's language (may be empty) and the browser's Accept-Language.
func (c *catalog) localizer(preferred, acceptLanguage string) *Localizer {
	var prefs []language.Tag
	if preferred != "" {
		if t, err := language.Parse(preferred); err == nil {
			prefs = append(prefs, t)
		}
	}
	if acceptLanguage != "" && len(acceptLanguage) < 512 {
		if ts, _, err := language.ParseAcceptLanguage(acceptLanguage); err == nil {
			prefs = append(prefs, ts...)
		}
	}
	_, i, _ := c.matcher.Match(prefs...)
	tag := c.tags[i]
	base, _ := tag.Base()
	dir := "ltr"
	if rtlLanguages[base.String()] {
		dir = "rtl"
	}
	return &Localizer{c: c, loc: i18n.NewLocalizer(c.bundle, tag.String()), Tag: tag, Lang: tag.String(), Dir: dir}
}

// Localizer translates the messages of one request: every word a page
// shows goes through it.
type Localizer struct {
	c   *catalog
	loc *i18n.Localizer
	// Tag is the language the pages are shown in; Lang is its BCP 47 form
	// for <html lang>, Dir "ltr" or "rtl" for <html dir>.
	Tag  language.Tag
	Lang string
	Dir  string
}

// T returns message id with its template data given as name, value pairs.
func (l *Localizer) T(id string, kv ...any) string {
	return l.localize(id, nil, kv)
}

// N returns the plural form of message id for count; the count is in the
// template data as .Count.
func (l *Localizer) N(id string, count int, kv ...any) string {
	return l.localize(id, count, append([]any{"Count", count}, kv...))
}

func (l *Localizer) localize(id string, count any, kv []any) string {
	var data map[string]any
	if len(kv) > 0 {
		data = make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			if k, ok := kv[i].(string); ok {
				data[k] = kv[i+1]
			}
		}
	}
	s, err := l.loc.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: count})
	if err != nil {
		if _, seen := l.c.missing.LoadOrStore(id, true); !seen && l.c.log != nil {
			l.c.log.Error("message missing from the catalog", "id", id, "lang", l.Lang, "err", err)
		}
		if s == "" {
			return id
		}
	}
	return s
}

// humanize turns a machine name such as "panel_review" into words, for
// names the catalog does not know (a workflow's own states).
func humanize(name string) string {
	s := strings.ReplaceAll(name, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// TOr returns message id, or fallback when the catalog has no such
// message (a workflow's own names, which may or may not be translated).
func (l *Localizer) TOr(id, fallback string) string {
	s, err := l.loc.Localize(&i18n.LocalizeConfig{MessageID: id})
	if err != nil || s == "" {
		return fallback
	}
	return s
}
