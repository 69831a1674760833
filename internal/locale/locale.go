// Package locale says Nomina's texts in the reader's language. It owns the
// six official languages of the United Nations that Nomina speaks, the
// choice of a reader's language (an explicit choice, the account's
// preference, the browser's Accept-Language, English), the message
// catalogs with their CLDR plural rules (go-i18n), and numbers, dates and
// times as each language writes them.
//
// Catalogs are files beside the code whose texts they hold: the pages'
// in internal/web/locales, the domain's messages beside the packages that
// raise them. A Catalog joins them; a Localizer is one reader's view of
// it. Neither holds state that changes after New, so both are safe for
// concurrent use.
package locale

import (
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"strings"
	"sync"

	"github.com/goccy/go-yaml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"

	"github.com/igf/nomina/internal/phrase"
)

// Languages are the languages Nomina speaks, as BCP 47 tags: the six
// official languages of the UN. English is the source language of every
// text and the fallback of every missing one.
var Languages = phrase.Languages

// Source is the language every text is written in first.
const Source = "en"

// Supported reports whether lang is one of Languages.
func Supported(lang string) bool { return phrase.Supported(lang) }

// Name names a language in itself, as a reader looking for their own
// language expects to find it.
func Name(lang string) string {
	return map[string]string{
		"ar": "العربية", "en": "English", "es": "Español", "fr": "Français", "ru": "Русский", "zh": "中文",
	}[lang]
}

// rtl lists the languages written right to left.
var rtl = map[string]bool{"ar": true}

// Dir returns "rtl" for a language written right to left, else "ltr".
func Dir(lang string) string {
	if rtl[lang] {
		return "rtl"
	}
	return "ltr"
}

var (
	tags    = func() []language.Tag { return mustTags(Languages) }()
	matcher = language.NewMatcher(tags)
)

func mustTags(langs []string) []language.Tag {
	out := make([]language.Tag, len(langs))
	for i, l := range langs {
		out[i] = language.MustParse(l)
	}
	return out
}

// Match returns the language of a reader who prefers, in order, each of
// preferred that is set (an explicit choice, an account's preference:
// tags such as "fr") and then the languages of an Accept-Language header.
// Anything Nomina does not speak is skipped; with nothing left it is
// English. "zh-TW" and "zh-Hant" are read as Chinese, which Nomina writes
// in simplified characters as the UN does; "es-419" as Spanish.
func Match(acceptLanguage string, preferred ...string) string {
	for _, p := range preferred {
		if p == "" {
			continue
		}
		if Supported(p) {
			return p
		}
		if t, err := language.Parse(p); err == nil {
			if b, conf := t.Base(); conf != language.No && Supported(b.String()) {
				return b.String()
			}
		}
	}
	if acceptLanguage == "" || len(acceptLanguage) > 512 {
		return Source
	}
	ts, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(ts) == 0 {
		return Source
	}
	// Each tag in the reader's order: the first Nomina speaks wins, so
	// "de, fr;q=0.8" is French rather than the matcher's English default.
	for _, t := range ts {
		if _, i, conf := matcher.Match(t); conf >= language.High || conf == language.Low && sameBase(t, tags[i]) {
			return Languages[i]
		}
	}
	return Source
}

func sameBase(a, b language.Tag) bool {
	ab, _ := a.Base()
	bb, _ := b.Base()
	return ab == bb
}

// AcceptsOnly reports whether an Accept-Language header asks for nothing
// Nomina speaks but English: the API then answers in English without a
// Content-Language of its own choosing.
func AcceptsOnly(acceptLanguage string) bool { return Match(acceptLanguage) == Source }

// Catalog holds the messages of every language, from any number of
// catalog directories.
type Catalog struct {
	bundle *i18n.Bundle
	locs   map[string]*Localizer
	log    *slog.Logger
	// missing remembers message ids already reported missing, so a
	// missing translation is logged once, not on every page.
	missing sync.Map
}

// New reads every "*.<lang>.yaml" file at the root of each of catalogs
// (go-i18n's format: an id and its text, or for a plural message the
// text of each CLDR form) into one catalog. A message id in two
// catalogs is an error, as is a file of a language Nomina does not
// speak or one that does not parse; each names the file.
func New(log *slog.Logger, catalogs ...fs.FS) (*Catalog, error) {
	b := i18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("yaml", func(data []byte, v any) error { return yaml.Unmarshal(data, v) })
	owner := map[string]string{} // "<lang>/<id>" -> file, to refuse an id defined twice
	for i, fsys := range catalogs {
		files, err := fs.Glob(fsys, "*.yaml")
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			data, err := fs.ReadFile(fsys, f)
			if err != nil {
				return nil, err
			}
			name := fmt.Sprintf("catalog %d: %s", i+1, f)
			lang := FileLanguage(f)
			if !Supported(lang) {
				return nil, fmt.Errorf("%s: %q is not a language Nomina speaks (%s)", name, lang, strings.Join(Languages, ", "))
			}
			mf, err := b.ParseMessageFileBytes(data, path.Base(f))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			for _, m := range mf.Messages {
				k := lang + "/" + m.ID
				if prev, dup := owner[k]; dup {
					return nil, fmt.Errorf("%s: message %s is also in %s", name, m.ID, prev)
				}
				owner[k] = name
			}
		}
	}
	c := &Catalog{bundle: b, log: log, locs: map[string]*Localizer{}}
	for _, l := range Languages {
		c.locs[l] = &Localizer{c: c, loc: i18n.NewLocalizer(b, l), Lang: l, Dir: Dir(l), Tag: language.MustParse(l), f: formatsOf(l)}
	}
	return c, nil
}

// FileLanguage returns the language of a catalog file named
// "<name>.<lang>.yaml".
func FileLanguage(file string) string {
	parts := strings.Split(path.Base(file), ".")
	if len(parts) < 3 {
		return ""
	}
	return parts[len(parts)-2]
}

// In returns the localizer of lang (one of Languages; anything else is
// English).
func (c *Catalog) In(lang string) *Localizer {
	if l, ok := c.locs[lang]; ok {
		return l
	}
	return c.locs[Source]
}

// For returns the localizer of a reader, chosen as Match chooses.
func (c *Catalog) For(acceptLanguage string, preferred ...string) *Localizer {
	return c.In(Match(acceptLanguage, preferred...))
}

// Localizer says messages in one language.
type Localizer struct {
	c   *Catalog
	loc *i18n.Localizer
	f   *formats
	// Lang is the language (one of Languages) for <html lang>; Dir is
	// "ltr" or "rtl" for <html dir>; Tag is Lang as a language.Tag.
	Lang string
	Dir  string
	Tag  language.Tag
}

// T returns message id with its placeholders filled from name, value
// pairs. Whole numbers among the values are written as the language
// writes them (Arabic-Indic digits in Arabic). A message missing from
// the catalog is logged once and shown as its English, or as its id.
func (l *Localizer) T(id string, kv ...any) string {
	return l.localize(id, nil, kv)
}

// N returns the plural form of message id that count takes in the
// language (CLDR's rules); the count is in the placeholders as .Count.
func (l *Localizer) N(id string, count int, kv ...any) string {
	return l.localize(id, count, append([]any{"Count", count}, kv...))
}

// TOr returns message id, or fallback when no catalog has it (names a
// workflow brings along that the pages may or may not know).
func (l *Localizer) TOr(id, fallback string, kv ...any) string {
	s, err := l.loc.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: l.data(kv)})
	if err != nil || s == "" {
		return fallback
	}
	return s
}

// Has reports whether message id is in the catalog in this language
// (or, failing that, in English).
func (l *Localizer) Has(id string) bool {
	_, _, err := l.loc.LocalizeWithTag(&i18n.LocalizeConfig{MessageID: id})
	return err == nil
}

// Data returns name, value pairs as a message's placeholders, with whole
// numbers written as the language writes them.
func (l *Localizer) data(kv []any) map[string]any {
	if len(kv) == 0 {
		return nil
	}
	data := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			continue
		}
		data[k] = l.value(kv[i+1])
	}
	return data
}

// value writes a placeholder's value: whole numbers in the language's
// digits; anything else as it is.
func (l *Localizer) value(v any) any {
	switch n := v.(type) {
	case int:
		return l.Int(n)
	case int64:
		return l.Int(int(n))
	case int32:
		return l.Int(int(n))
	}
	return v
}

// Args returns a map of placeholder values as T would fill them.
func (l *Localizer) Args(args map[string]any) map[string]any {
	if len(args) == 0 {
		return nil
	}
	out := make(map[string]any, len(args))
	for k, v := range args {
		out[k] = l.value(v)
	}
	return out
}

// Message returns message id filled from args (placeholder name to value),
// and whether the catalog has it in this language or in English.
func (l *Localizer) Message(id string, args map[string]any) (string, bool) {
	s, err := l.loc.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: l.Args(args)})
	return s, err == nil && s != ""
}

func (l *Localizer) localize(id string, count any, kv []any) string {
	s, err := l.loc.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: l.data(kv), PluralCount: count})
	if err != nil {
		if _, seen := l.c.missing.LoadOrStore(l.Lang+"/"+id, true); !seen && l.c.log != nil {
			l.c.log.Error("message missing from the catalog", "id", id, "lang", l.Lang, "err", err)
		}
		if s == "" {
			return id
		}
	}
	return s
}

// PluralForms returns the CLDR plural forms a plural message needs in
// lang, the forms go-i18n's rules choose among for that language:
// Arabic six, Russian four, French and Spanish three (many: a million
// and more), English two, Chinese one.
func PluralForms(lang string) []string {
	switch lang {
	case "ar":
		return []string{"zero", "one", "two", "few", "many", "other"}
	case "ru":
		return []string{"one", "few", "many", "other"}
	case "fr", "es":
		return []string{"one", "many", "other"}
	case "zh":
		return []string{"other"}
	default:
		return []string{"one", "other"}
	}
}

// Say returns a text of the domain (see phrase.Text) in this language:
// the translation the text carries (a workflow's own), or its catalog
// message filled from its values, or its English.
func (l *Localizer) Say(t phrase.Text) string {
	if len(t.Parts) > 0 {
		parts := make([]string, len(t.Parts))
		for i, p := range t.Parts {
			parts[i] = l.Say(p)
		}
		return strings.Join(parts, t.Sep)
	}
	if s, ok := t.Texts[l.Lang]; ok && s != "" {
		return s
	}
	if t.ID != "" && l.Lang != Source {
		if s, ok := l.Message(t.ID, t.Args); ok {
			return s
		}
	}
	return t.English
}
