package web

import (
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/igf/nomina/internal/nomination"
)

// loadSession resumes the session the cookie names, if any. A cookie that
// opens no session (ended, expired, forged) is cleared.
func (rq *request) loadSession() {
	c, err := rq.r.Cookie(rq.h.cookie)
	if err != nil || c.Value == "" || rq.h.cfg.Sessions == nil {
		return
	}
	p, err := rq.h.cfg.Sessions.Resume(rq.ctx, c.Value)
	if err != nil {
		if rq.clientGone(err) {
			rq.gone = err
			return
		}
		if nomination.ErrorCode(err) != nomination.EUNAUTHORIZED {
			rq.h.log.Error("resume session", "err", err)
			return
		}
		rq.clearCookie()
		return
	}
	rq.user, rq.token = p, c.Value
}

// setSession gives the browser a new session's cookie: only the id,
// HttpOnly, SameSite=Lax, Path=/, Secure with the __Host- prefix on https.
// It lives as long as the browser session; the server ends it sooner.
func (rq *request) setSession(token string) {
	http.SetCookie(rq.w, &http.Cookie{
		Name: rq.h.cookie, Value: token, Path: "/",
		HttpOnly: true, Secure: rq.h.secure, SameSite: http.SameSiteLaxMode,
	})
	rq.token = token
}

func (rq *request) clearCookie() {
	http.SetCookie(rq.w, &http.Cookie{
		Name: rq.h.cookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: rq.h.secure, SameSite: http.SameSiteLaxMode,
	})
}

// localPath returns next when it is a path on this site, and "" for
// anything that could leave it: absolute and scheme-relative URLs
// ("//evil", "/\evil"), schemes, control characters and their
// percent-encoded forms.
func localPath(next string) string {
	if next == "" || len(next) > 2000 || next[0] != '/' {
		return ""
	}
	for _, s := range []string{next, unescapeAll(next)} {
		if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
			return ""
		}
		if strings.ContainsRune(s, '\\') || strings.IndexFunc(s, unicode.IsControl) >= 0 || strings.ContainsAny(s, " \t") {
			return ""
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return ""
	}
	return u.RequestURI()
}

// unescapeAll undoes percent-encoding until nothing changes (a few
// rounds), so a doubly encoded "//" is seen too.
func unescapeAll(s string) string {
	for range 4 {
		u, err := url.PathUnescape(s)
		if err != nil || u == s {
			return s
		}
		s = u
	}
	return s
}
