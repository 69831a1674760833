package web

import (
	"net/http"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/nomination"
)

// setupRoutes mounts the first-administrator setup page, reached from the
// one-time link the service logs when the store has no administrator.
func (h *Handler) setupRoutes() {
	h.handle("GET /setup/{token}", h.setup)
	h.handle("POST /setup/{token}", h.setup)
}

type setupForm struct {
	Page
	Action                string
	Name, Email, Password Input
	Submit                Button
}

// setup shows the form that creates the first administrator and, on a
// good post, creates it, spends the link and signs the new administrator
// in. A link that does not work (wrong, expired, used, or an administrator
// exists) gets one "link does not work" page, whichever it is.
func (h *Handler) setup(rq *request) {
	L := rq.L
	token := rq.r.PathValue("token")
	if h.cfg.Setup == nil {
		rq.notFound()
		return
	}
	if err := h.cfg.Setup.Check(rq.ctx, token); err != nil {
		h.setupGone(rq, err)
		return
	}
	d := setupForm{Page: rq.page(L.T("SetupTitle")), Action: rq.r.URL.Path}
	var name, email string
	fe := newFormErrors(L)
	if rq.r.Method == http.MethodPost {
		if !rq.parseForm() {
			return
		}
		name, email = rq.form("name"), rq.form("email")
		u, err := h.cfg.Setup.Complete(rq.ctx, token, auth.NewUser{Name: name, Email: email, Password: rq.r.PostForm.Get("password")})
		if err == nil {
			session, _, serr := h.cfg.Sessions.Start(rq.ctx, u.ID)
			if serr != nil {
				// The account exists: signing in by hand still works.
				h.log.ErrorContext(rq.ctx, "session after setup", "user_id", u.ID, "err", serr)
				rq.redirect("/signin")
				return
			}
			if rq.token != "" {
				_ = h.cfg.Sessions.End(rq.ctx, rq.token)
			}
			rq.setSession(session)
			rq.redirect("/secretariat")
			return
		}
		if nomination.ErrorCode(err) == nomination.ENOTFOUND {
			h.setupGone(rq, err)
			return
		}
		if !fe.addDomain(err,
			field{"name", "name", L.T("LabelFullName"), "RequiredName"},
			field{"email", "email", L.T("LabelEmail"), "RequiredEmail"},
			field{"password", "password", L.T("LabelPassword"), "RequiredPassword"}) {
			rq.failWith(err)
			return
		}
	}
	d.Errors = fe.summary()
	d.Name, d.Email, d.Password = accountInputs(L, fe, name, email, L.T("SetupEmailHint"))
	d.Submit = Button{Text: L.T("SetupButton")}
	rq.render(fe.status(), "setup", d)
}

// setupGone answers a setup link that does not work.
func (h *Handler) setupGone(rq *request, err error) {
	if nomination.ErrorCode(err) != nomination.ENOTFOUND {
		rq.failWith(err)
		return
	}
	rq.fail(http.StatusNotFound, "SetupGoneTitle", "SetupGoneBody", Link{Href: "/signin", Text: rq.L.T("NavSignIn")})
}
