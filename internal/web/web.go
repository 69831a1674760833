// Package web serves Nomina's pages for candidates, nominees and endorsers:
// server-rendered HTML (html/template, no code generator) over the same
// domain services as the API, with templates, styles and scripts embedded
// in the binary. Every page works without JavaScript: forms are plain POSTs
// answered with 303 (post/redirect/get) or re-rendered with 422 and the
// errors shown; scripts only enhance.
//
// The package is plain net/http: it exposes an http.Handler and the list
// of its routes, which the HTTP edge mounts beside the API. Browsers are
// signed in by a server-side session (auth.Sessions) whose id is the only
// thing the cookie holds; cross-site form posts are refused by
// net/http.CrossOriginProtection; every page carries a Content-Security-
// Policy without inline scripts or styles.
//
// Every word a page shows goes through one Localizer (go-i18n), with the
// English catalog in locales/: templates hold message ids, never English.
package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/clientclose"
	"github.com/igf/nomina/internal/locale"
	"github.com/igf/nomina/internal/membership"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/workflow"
)

// ContentSecurityPolicy is sent with every page.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Config is what the pages need from the outside.
type Config struct {
	Accounts    *auth.Service
	Sessions    *auth.Sessions
	Nominations *nomination.Service
	Workflows   *workflow.Registry
	// BaseURL is the service's public address; https makes the session
	// cookie Secure and __Host- prefixed.
	BaseURL string
	Logger  *slog.Logger
	// MaxFormBytes bounds a form post; MaxUploadBytes a file upload (the
	// field's own limit applies when smaller).
	MaxFormBytes   int64
	MaxUploadBytes int64
	// ClientIP returns the address a sign-in is throttled under; nil uses
	// the connection's address.
	ClientIP func(*http.Request) string
	Now      func() time.Time
	// Members runs the roster, the rotation plan and imports; nil shows
	// the members page as unavailable.
	Members *membership.Service
	// Mail is the mail log and its retry; nil shows the mail page as
	// unavailable.
	Mail MailLog
	// Setup creates the first administrator from the logged setup link;
	// nil answers the setup page with "not found".
	Setup *auth.Setup
}

// MailLog is the record of mail sent, pending and dead, with the retry of
// a dead job; cmd/nomina wires the store's mail queue.
type MailLog interface {
	MailLog(ctx context.Context, nominationID, status string, limit int) ([]nomination.MailRecord, error)
	RetryDead(ctx context.Context, jobID string, now time.Time) error
}

// Route is one route of the pages, in net/http.ServeMux pattern syntax,
// with who may use it.
type Route struct {
	Method string
	Path   string
	// Access is AccessPublic, AccessSignedIn, AccessReviewer or
	// AccessSecretariat.
	Access string
}

// Who may use a page: anyone, or a signed-in person (anyone else is sent
// to the sign-in page), or a signed-in reviewer or secretariat member
// (anyone else signed in gets "you cannot do this", 403). What a
// signed-in person sees on it is the domain's answer for them.
const (
	AccessPublic      = "public"
	AccessSignedIn    = "signed-in"
	AccessReviewer    = "reviewer"
	AccessSecretariat = "secretariat"
)

// Handler serves the pages.
type Handler struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	handler http.Handler
	routes  []Route
	pages   map[string]*template.Template
	i18n    *locale.Catalog
	assets  *assets
	// switchable lists the form posts that the language switch may
	// submit: their pages re-render with the posted values in the new
	// language instead of acting (see request.switched).
	switchable map[string]bool
	cookie     string
	secure     bool
}

// New builds the pages. It returns an error when a template or the message
// catalog does not parse.
func New(cfg Config) (*Handler, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxFormBytes <= 0 {
		cfg.MaxFormBytes = 1 << 20
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = 10 << 20
	}
	h := &Handler{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), cookie: "nomina_session"}
	if u, err := url.Parse(cfg.BaseURL); err == nil && u.Scheme == "https" {
		h.secure, h.cookie = true, "__Host-nomina_session"
	}
	var err error
	if h.i18n, err = newCatalog(cfg.Logger); err != nil {
		return nil, err
	}
	if h.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if h.pages, err = h.parseTemplates(); err != nil {
		return nil, err
	}
	h.register()
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.log.Warn("cross-origin form post refused", "method", r.Method, "path", routeOf(r))
		rq := h.newRequest(w, r)
		rq.fail(http.StatusForbidden, "ErrorForbiddenTitle", "ErrorCrossSiteBody")
	}))
	h.handler = cop.Handler(h.mux)
	return h, nil
}

// Routes lists the routes the pages answer.
func (h *Handler) Routes() []Route { return append([]Route(nil), h.routes...) }

// ServeHTTP serves a page.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.handler.ServeHTTP(w, r) }

// NotFound answers a path no route matches with the "page not found" page.
func (h *Handler) NotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rq := h.newRequest(w, r)
		if rq.gone != nil {
			rq.closed(rq.gone)
			return
		}
		rq.notFound()
	})
}

// handle registers a page anyone may use: pattern is "METHOD /path".
func (h *Handler) handle(pattern string, fn func(*request)) { h.route(pattern, AccessPublic, fn) }

func (h *Handler) route(pattern, access string, fn func(*request)) {
	method, p, _ := strings.Cut(pattern, " ")
	// "/{$}" is ServeMux's "exactly /"; the route table says "/".
	h.routes = append(h.routes, Route{Method: method, Path: strings.TrimSuffix(p, "{$}"), Access: access})
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		rq := h.newRequest(w, r)
		if rq.gone != nil {
			rq.closed(rq.gone)
			return
		}
		defer rq.recover()
		if r.Method == http.MethodPost {
			lang, ok := rq.switchRequested()
			if !ok {
				return // the form could not be read; answered
			}
			if lang != "" {
				rq.rememberLanguage(lang)
				if !h.switchable[pattern] {
					// Nothing typed to keep: the page itself, in the
					// language chosen.
					rq.redirect(withLang(r.URL, lang))
					return
				}
				rq.switched, rq.L = true, h.i18n.In(lang)
				rq.ctx = nomination.WithReaderLanguage(r.Context(), lang)
			}
		}
		fn(rq)
	})
}

// private registers a page for signed-in users: anyone else is sent to
// the sign-in page and brought back afterwards.
func (h *Handler) private(pattern string, fn func(*request)) {
	h.signedIn(pattern, AccessSignedIn, fn)
}

// reviewer registers a page for reviewers, staff registers one for the
// secretariat (and admins): a browser without a session is sent to sign
// in, anyone else signed in is refused with 403.
func (h *Handler) reviewer(pattern string, fn func(*request)) {
	h.signedIn(pattern, AccessReviewer, h.withRole(auth.RoleReviewer, fn))
}

func (h *Handler) staff(pattern string, fn func(*request)) {
	h.signedIn(pattern, AccessSecretariat, h.withRole(auth.RoleSecretariat, fn))
}

func (h *Handler) withRole(role auth.Role, fn func(*request)) func(*request) {
	return func(rq *request) {
		if !rq.actor().HasRole(string(role)) {
			rq.fail(http.StatusForbidden, "ErrorForbiddenTitle", "ErrorForbiddenBody")
			return
		}
		fn(rq)
	}
}

func (h *Handler) signedIn(pattern, access string, fn func(*request)) {
	h.route(pattern, access, func(rq *request) {
		if rq.user == nil {
			if rq.r.Method == http.MethodGet {
				rq.redirect("/signin?next=" + url.QueryEscape(rq.r.URL.RequestURI()))
			} else {
				rq.redirect("/signin")
			}
			return
		}
		fn(rq)
	})
}

// request is one page request: the writer, the request, the signed-in
// user (nil when nobody is) and the reader's language.
type request struct {
	h    *Handler
	w    http.ResponseWriter
	r    *http.Request
	ctx  context.Context
	user *auth.Principal
	L    *Localizer
	// token is the session id from the cookie, when it opened a session.
	token string
	// switched is set on a form post sent by the language switch: the
	// page shows the posted values again, in the language chosen (now
	// rq.L's), and does nothing else.
	switched bool
	// gone is the cancellation met while the session was resumed: the
	// reader left before the page began (see clientGone).
	gone error
}

func (h *Handler) newRequest(w http.ResponseWriter, r *http.Request) *request {
	rq := &request{h: h, w: w, r: r, ctx: r.Context()}
	hd := w.Header()
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	rq.loadSession()
	rq.L = h.i18n.In(rq.readerLanguage())
	rq.ctx = nomination.WithReaderLanguage(rq.ctx, rq.L.Lang)
	if l := r.URL.Query().Get(langParam); locale.Supported(l) && r.Method == http.MethodGet {
		rq.rememberLanguage(l)
	}
	hd.Add("Vary", "Accept-Language")
	hd.Set("Content-Language", rq.L.Lang)
	return rq
}

// recover turns a panic into the "sorry" page; the stack goes to the log.
func (rq *request) recover() {
	v := recover()
	if v == nil {
		return
	}
	if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
		panic(v)
	}
	rq.h.log.Error("panic serving page", "method", rq.r.Method, "path", routeOf(rq.r), "panic", v, "stack", string(debug.Stack()))
	rq.fail(http.StatusInternalServerError, "ErrorInternalTitle", "ErrorInternalBody")
}

// routeOf names the request's route pattern for the log, never the raw
// path: it may hold a mailed token.
func routeOf(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return "unmatched"
}

// redirect answers 303 See Other to a local path.
func (rq *request) redirect(to string) {
	rq.w.Header().Set("Location", to)
	rq.w.Header().Set("Cache-Control", "no-store")
	rq.w.WriteHeader(http.StatusSeeOther)
}

// render executes a page template with data and writes it with status.
// The page is rendered into memory first, so a template error is a clean
// 500, never half a page.
func (rq *request) render(status int, page string, data any) {
	t, ok := rq.h.pages[page]
	if !ok {
		rq.h.log.Error("no such page template", "page", page)
		rq.writeInternal()
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		rq.h.log.Error("render page", "page", page, "err", err)
		rq.writeInternal()
		return
	}
	rq.write(status, "text/html; charset=utf-8", buf.Bytes())
}

// renderFragment executes a named template alone (an htmx partial).
func (rq *request) renderFragment(status int, page, name string, data any) {
	var buf bytes.Buffer
	t, ok := rq.h.pages[page]
	if !ok {
		rq.writeInternal()
		return
	}
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		rq.h.log.Error("render fragment", "page", page, "fragment", name, "err", err)
		rq.writeInternal()
		return
	}
	rq.write(status, "text/html; charset=utf-8", buf.Bytes())
}

func (rq *request) write(status int, ctype string, body []byte) {
	h := rq.w.Header()
	h.Set("Content-Type", ctype)
	if h.Get("Cache-Control") == "" {
		// Pages hold personal data: no cache keeps them.
		h.Set("Cache-Control", "no-store")
	}
	h.Add("Vary", "Accept-Encoding")
	if len(body) > 1024 && acceptsGzip(rq.r) {
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
		_, _ = zw.Write(body)
		_ = zw.Close()
		h.Set("Content-Encoding", "gzip")
		body = gz.Bytes()
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	rq.w.WriteHeader(status)
	if rq.r.Method != http.MethodHead {
		_, _ = rq.w.Write(body)
	}
}

func (rq *request) writeInternal() {
	rq.w.Header().Set("Cache-Control", "no-store")
	rq.write(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte(rq.L.T("ErrorInternalBody")+"\n"))
}

// messagePage is the data of the plain pages that say one thing: errors,
// expired links, "check your email".
type messagePage struct {
	Page
	Heading string
	Body    []string
	Links   []Link
}

// Link is a link with its text.
type Link struct {
	Href, Text string
}

// fail answers with a page of status saying title and body (message ids).
func (rq *request) fail(status int, title, body string, links ...Link) {
	p := messagePage{Page: rq.page(rq.L.T(title)), Heading: rq.L.T(title), Body: []string{rq.L.T(body)}, Links: links}
	if len(links) == 0 {
		p.Links = []Link{{Href: "/", Text: rq.L.T("GoHome")}}
	}
	rq.render(status, "message", p)
}

// tooMany answers a request over a limit (429): what happened (body, a
// message id), how long to wait, with Retry-After, and where to go.
func (rq *request) tooMany(err error, body string, links ...Link) {
	L := rq.L
	secs := 0
	var de *nomination.Error
	if errors.As(err, &de) {
		secs = de.RetryAfter
	}
	secs = max(secs, 1)
	rq.w.Header().Set("Retry-After", strconv.Itoa(secs))
	p := messagePage{Page: rq.page(L.T("ErrorTooManyTitle")), Heading: L.T("ErrorTooManyTitle"),
		Body: []string{L.T(body), L.T("ErrorTooManyWait", "Wait", waitWords(L, secs))}, Links: links}
	if rq.user != nil {
		p.Links = append(p.Links, Link{Href: "/nominations", Text: L.T("NavNominations")})
	}
	p.Links = append(p.Links, Link{Href: "/", Text: L.T("GoHome")})
	rq.render(http.StatusTooManyRequests, "message", p)
}

// waitWords says a wait of secs seconds in words, rounded up to the unit
// a person would use.
func waitWords(L *Localizer, secs int) string {
	switch {
	case secs < 60:
		return L.N("WaitSeconds", secs)
	case secs < 3600:
		return L.N("WaitMinutes", (secs+59)/60)
	case secs < 48*3600:
		return L.N("WaitHours", (secs+3599)/3600)
	default:
		return L.N("WaitDays", (secs+86399)/86400)
	}
}

func (rq *request) notFound() {
	rq.fail(http.StatusNotFound, "ErrorNotFoundTitle", "ErrorNotFoundBody")
}

// clientGone reports that the request failed only because its reader
// went away (closed the tab, followed another link).
func (rq *request) clientGone(err error) bool { return clientclose.Is(rq.r.Context(), err) }

// closed records a request its reader abandoned: logged at info as a
// client close, 499 in the access log, and no page written.
func (rq *request) closed(err error) {
	rq.h.log.Info("client closed request", rq.logAttrs("err", err)...)
	rq.w.WriteHeader(clientclose.Status)
}

// cut logs a download that err ended after its headers went out: a
// client close when the reader went away (the request's context
// cancelled, and err that cancellation or a write to the reader
// failing), else failed at level with what.
func (rq *request) cut(d *clientclose.Download, err error, level slog.Level, what string) {
	if d.Cut(rq.r.Context(), err) {
		rq.h.log.Info("client closed request", rq.logAttrs("download", "cut short", "err", err)...)
		return
	}
	rq.h.log.Log(rq.ctx, level, what, rq.logAttrs("err", err)...)
}

// logAttrs are the method, the route and the request id (the HTTP edge
// sets it on the answer) of a page request's log line, then more.
func (rq *request) logAttrs(more ...any) []any {
	attrs := []any{"method", rq.r.Method, "route", routeOf(rq.r)}
	if id := rq.w.Header().Get("X-Request-ID"); id != "" {
		attrs = append(attrs, "request_id", id)
	}
	return append(attrs, more...)
}

// failWith answers a domain error that the page does not show at its
// fields: not found, conflicts, throttling, and internal errors (logged).
// An error that is only the reader going away is recorded as a client
// close, and nothing is written.
func (rq *request) failWith(err error) {
	if rq.clientGone(err) {
		rq.closed(err)
		return
	}
	var de *nomination.Error
	code := nomination.ErrorCode(err)
	errors.As(err, &de)
	switch code {
	case nomination.ENOTFOUND:
		rq.notFound()
	case nomination.EUNAUTHORIZED:
		rq.redirect("/signin?next=" + url.QueryEscape(rq.r.URL.RequestURI()))
	case nomination.EFORBIDDEN:
		rq.fail(http.StatusForbidden, "ErrorForbiddenTitle", "ErrorForbiddenBody")
	case nomination.ECONFLICT:
		p := messagePage{Page: rq.page(rq.L.T("ErrorConflictTitle")), Heading: rq.L.T("ErrorConflictTitle"),
			Body: []string{rq.L.T("ErrorConflictBody")}, Links: []Link{{Href: "/nominations", Text: rq.L.T("NavNominations")}}}
		if de != nil {
			p.Body = append(p.Body, sayError(rq.L, de))
		}
		rq.render(http.StatusConflict, "message", p)
	case nomination.ETOOMANY:
		rq.tooMany(err, "ErrorTooManyBody")
	case nomination.ETOOLARGE:
		rq.fail(http.StatusRequestEntityTooLarge, "ErrorTooLargeTitle", "ErrorTooLargeBody")
	case nomination.EBADREQUEST, nomination.EINVALID:
		// A problem the page does not show at a field: the form itself
		// was not what the page sends.
		rq.h.log.Warn("page request refused", "method", rq.r.Method, "path", routeOf(rq.r), "err", err)
		rq.fail(http.StatusBadRequest, "ErrorBadRequestTitle", "ErrorBadRequestBody")
	case nomination.EPRECONDITION:
		rq.fail(http.StatusConflict, "ErrorConflictTitle", "ErrorChangedBody")
	case nomination.EUNAVAILABLE:
		rq.h.log.Warn("dependency unavailable", "path", routeOf(rq.r), "err", err)
		rq.fail(http.StatusServiceUnavailable, "ErrorUnavailableTitle", "ErrorUnavailableBody")
	default:
		rq.h.log.Error("page failed", "method", rq.r.Method, "path", routeOf(rq.r), "err", err)
		rq.fail(http.StatusInternalServerError, "ErrorInternalTitle", "ErrorInternalBody")
	}
}

// parseForm reads a url-encoded form of at most MaxFormBytes. A body over
// the limit is answered (413) and reported false.
func (rq *request) parseForm() bool {
	limit := rq.h.cfg.MaxFormBytes
	if rq.r.ContentLength > limit {
		rq.w.Header().Set("Connection", "close")
		rq.fail(http.StatusRequestEntityTooLarge, "ErrorTooLargeTitle", "ErrorTooLargeBody")
		return false
	}
	rq.r.Body = http.MaxBytesReader(rq.w, rq.r.Body, limit)
	if err := rq.r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			rq.fail(http.StatusRequestEntityTooLarge, "ErrorTooLargeTitle", "ErrorTooLargeBody")
			return false
		}
		rq.fail(http.StatusBadRequest, "ErrorBadRequestTitle", "ErrorBadRequestBody")
		return false
	}
	return true
}

// form returns a posted value, trimmed of surrounding spaces.
func (rq *request) form(name string) string { return strings.TrimSpace(rq.r.PostForm.Get(name)) }

// clientIP is the address a sign-in attempt is throttled under.
func (rq *request) clientIP() string {
	if rq.h.cfg.ClientIP != nil {
		return rq.h.cfg.ClientIP(rq.r)
	}
	host := rq.r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

// actor describes the signed-in user to the nomination domain.
func (rq *request) actor() nomination.Actor {
	u := rq.user
	if u == nil {
		return nomination.Actor{}
	}
	roles := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		roles[i] = string(r)
	}
	// As the API does: the confirmed address lets the domain mail others
	// on the user's behalf, and the client address is what the limits per
	// address count.
	return nomination.Actor{UserID: u.UserID, Email: u.Email, Name: u.Name, Roles: roles, Panels: u.Panels, Organization: u.Organization,
		EmailConfirmed: u.EmailConfirmed, Address: rq.clientIP()}
}

func (rq *request) optionalActor() *nomination.Actor {
	if rq.user == nil {
		return nil
	}
	a := rq.actor()
	return &a
}

var errNoTemplate = fmt.Errorf("no template")

// switchField is the name of the language switch's buttons when they
// submit a page's form.
const switchField = "switch_lang"

// switchRequested reads a form post for the language switch: the
// language asked for, or "" when the post is not the switch's. ok is
// false when the form could not be read (the answer is written).
func (rq *request) switchRequested() (lang string, ok bool) {
	ct := rq.r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return "", true
	}
	if !rq.parseForm() {
		return "", false
	}
	if l := rq.r.PostForm.Get(switchField); locale.Supported(l) {
		return l, true
	}
	return "", true
}

// withLang returns the local address of u with the language parameter
// set to lang.
func withLang(u *url.URL, lang string) string {
	q := u.Query()
	q.Set(langParam, lang)
	return u.EscapedPath() + "?" + q.Encode()
}

// asDomain returns the domain error in err's chain, or nil.
func asDomain(err error) *nomination.Error {
	var de *nomination.Error
	if errors.As(err, &de) {
		return de
	}
	return nil
}
