package web

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"

	"github.com/igf/nomina/internal/locale"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/phrase"
)

// The message catalogs of the pages: one file per language,
// active.<lang>.yaml, English the source language and the fallback of
// every message; glossary.yaml beside them fixes the terms every
// translation uses.
//
//go:embed locales/active.*.yaml
var localeFiles embed.FS

// Localizer translates the messages of one request: every word a page
// shows goes through it.
type Localizer = locale.Localizer

// newCatalog joins the pages' catalog with the catalog of the messages
// the domain raises (phrase.Catalogs), which the pages say too.
func newCatalog(log *slog.Logger) (*locale.Catalog, error) {
	pages, err := fs.Sub(localeFiles, "locales")
	if err != nil {
		return nil, err
	}
	domain, err := fs.Sub(phrase.Catalogs, "locales")
	if err != nil {
		return nil, err
	}
	return locale.New(log, pages, domain)
}

// langCookie keeps the language a reader chose with the language switch,
// for readers without an account (and over an account's preference, in
// this browser, until the account's language is saved again).
const langCookie = "nomina_lang"

// langParam is the query parameter (and form field) of the language
// switch.
const langParam = "lang"

// readerLanguage picks the language of a request: the language the switch
// asks for now (?lang=), the one chosen earlier in this browser (cookie),
// the account's preference, the browser's Accept-Language, English.
func (rq *request) readerLanguage() string {
	var prefs []string
	if l := rq.r.URL.Query().Get(langParam); locale.Supported(l) {
		prefs = append(prefs, l)
	}
	if c, err := rq.r.Cookie(langCookie); err == nil && locale.Supported(c.Value) {
		prefs = append(prefs, c.Value)
	}
	if rq.user != nil {
		prefs = append(prefs, rq.user.Language)
	}
	return locale.Match(rq.r.Header.Get("Accept-Language"), prefs...)
}

// rememberLanguage keeps lang as the reader's choice in this browser.
func (rq *request) rememberLanguage(lang string) {
	http.SetCookie(rq.w, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: rq.h.secure, SameSite: http.SameSiteLaxMode})
}

// forgetLanguage drops the choice kept in this browser, so that the
// account's preference applies again.
func (rq *request) forgetLanguage() {
	http.SetCookie(rq.w, &http.Cookie{Name: langCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: rq.h.secure, SameSite: http.SameSiteLaxMode})
}

// say returns a text of the domain in the reader's language.
func say(L *Localizer, t phrase.Text) string { return L.Say(t) }

// sayAll says each of texts in the reader's language.
func sayAll(L *Localizer, texts []phrase.Text) []string {
	out := make([]string, len(texts))
	for i, t := range texts {
		out[i] = say(L, t)
	}
	return out
}

// sayError returns the message of a domain error in the reader's
// language, or "" when err is no *nomination.Error.
func sayError(L *Localizer, err error) string {
	de := asDomain(err)
	if de == nil {
		return ""
	}
	if de.Text.English == "" {
		return de.Message
	}
	return say(L, de.Text)
}

// sayField returns a field problem in the reader's language.
func sayField(L *Localizer, f nomination.FieldError) string {
	if f.Text.English == "" {
		return f.Message
	}
	return say(L, f.Text)
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
