package web

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"time"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/nomination"
)

// The pages of address confirmation: "check your email" after signing up,
// the mailed link's page, and the account's confirmation status with a
// button that mails a new link.

// signUpCookie carries the address just signed up with to the "check your
// email" page, for ten minutes, on that page's path only.
const signUpCookie = "nomina_signup"

// rememberSignUp keeps the address for the page after the redirect.
func (rq *request) rememberSignUp(email string) {
	name := signUpCookie
	if rq.h.secure {
		name = "__Secure-" + signUpCookie
	}
	http.SetCookie(rq.w, &http.Cookie{
		Name: name, Value: base64.RawURLEncoding.EncodeToString([]byte(email)), Path: "/signup/check-email",
		MaxAge: 600, HttpOnly: true, Secure: rq.h.secure, SameSite: http.SameSiteLaxMode,
	})
}

// signedUpAddress returns the address remembered by rememberSignUp, or ""
// when there is none that reads as an address.
func (rq *request) signedUpAddress() string {
	name := signUpCookie
	if rq.h.secure {
		name = "__Secure-" + signUpCookie
	}
	c, err := rq.r.Cookie(name)
	if err != nil || len(c.Value) > 512 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return ""
	}
	email, _, err := auth.NormalizeEmail(string(b))
	if err != nil {
		return ""
	}
	return email
}

// lifetime writes how long a link works, in days or hours.
func lifetime(L *Localizer, d time.Duration) string {
	if d >= 48*time.Hour {
		return L.N("WaitDays", int(d/(24*time.Hour)))
	}
	return L.N("WaitHours", max(int(d/time.Hour), 1))
}

// signUpSent is the page after signing up: it says the same whether the
// address was new or had an account already (the email tells its owner
// which), and what happens next.
func (h *Handler) signUpSent(rq *request) {
	L := rq.L
	next := localPath(rq.r.URL.Query().Get("next"))
	signIn := "/signin"
	if next != "" {
		signIn += "?next=" + url.QueryEscape(next)
	}
	d := struct {
		Page
		Email, Lifetime        string
		ResendHref, SignUpHref string
		SignIn                 Button
	}{Page: rq.page(L.T("SignUpSentTitle")), Email: rq.signedUpAddress(), Lifetime: lifetime(L, h.cfg.Accounts.ConfirmLinkTTL()),
		ResendHref: "/signin?next=" + url.QueryEscape("/account/confirm-email"), SignUpHref: "/signup"}
	d.SignIn = Button{Text: L.T("NavSignIn"), Href: signIn}
	rq.render(http.StatusOK, "signup-sent", d)
}

// confirmData is the data of the confirmation pages.
type confirmData struct {
	Page
	Heading, Lead, Email string
	Panel                *Panel
	Body                 []string
	MoreHeading          string
	More                 []string
	// Action, when set, is where the form posts; Next is its hidden next.
	Action, Next string
	Submit       Button
	Continue     *Button
}

// confirmEmail serves the mailed confirmation link: GET shows the address
// and a button, the button's POST confirms it.
func (h *Handler) confirmEmail(rq *request) {
	L := rq.L
	token := rq.r.PathValue("token")
	c, err := h.cfg.Accounts.CheckLink(rq.ctx, token, auth.PurposeConfirmEmail)
	if err != nil {
		rq.failWith(err)
		return
	}
	again := Link{Href: "/signin?next=" + url.QueryEscape("/account/confirm-email"), Text: L.T("ConfirmLinkAgain")}
	if rq.user != nil {
		again.Href = "/account/confirm-email"
	}
	switch c.Status {
	case auth.LinkUnknown:
		rq.fail(http.StatusNotFound, "LinkInvalidTitle", "ConfirmLinkInvalidBody", again)
		return
	case auth.LinkSpent:
		rq.fail(http.StatusGone, "ConfirmLinkGoneTitle", "ConfirmLinkGoneBody", again)
		return
	}
	if rq.r.Method == http.MethodPost {
		if !rq.parseForm() {
			return
		}
		if err := h.cfg.Accounts.ConfirmEmail(rq.ctx, token); err != nil {
			if isBadLink(err) {
				rq.fail(http.StatusGone, "ConfirmLinkGoneTitle", "ConfirmLinkGoneBody", again)
				return
			}
			rq.failWith(err)
			return
		}
		rq.redirect(rq.r.URL.Path)
		return
	}
	if c.EmailConfirmed {
		rq.render(http.StatusOK, "confirm", h.confirmedData(rq, c.Email, "/nominations"))
		return
	}
	d := confirmData{Page: rq.page(L.T("ConfirmTitle")), Heading: L.T("ConfirmTitle"), Email: c.Email, Action: rq.r.URL.Path}
	d.Lead = L.T("ConfirmLead")
	d.Body = []string{L.T("ConfirmWhatFor")}
	d.Submit = Button{Text: L.T("ConfirmButton")}
	rq.render(http.StatusOK, "confirm", d)
}

// confirmedData is the page of a confirmed address: a confirmation panel
// and the way on (sign in, or next for someone signed in).
func (h *Handler) confirmedData(rq *request, email, next string) confirmData {
	L := rq.L
	d := confirmData{Page: rq.page(L.T("ConfirmedTitle")), Panel: &Panel{Title: L.T("ConfirmedTitle"), Body: email}}
	d.Body = []string{L.T("ConfirmedBody")}
	if rq.user != nil {
		d.Continue = &Button{Text: L.T("ContinueButton"), Href: next}
	} else {
		d.Continue = &Button{Text: L.T("NavSignIn"), Href: "/signin?next=" + url.QueryEscape(next)}
	}
	return d
}

// confirmationStatus is the signed-in person's page about their address:
// confirmed, or how to confirm it, with a button that mails a new link.
func (h *Handler) confirmationStatus(rq *request) {
	L := rq.L
	q := rq.r.URL.Query()
	next := orDefault(localPath(q.Get("next")), "/nominations")
	if rq.user.EmailConfirmed {
		rq.render(http.StatusOK, "confirm", h.confirmedData(rq, rq.user.Email, next))
		return
	}
	d := confirmData{Page: rq.page(L.T("ConfirmTitle")), Heading: L.T("ConfirmTitle"), Action: "/account/confirm-email", Next: next}
	d.Nav = "account"
	d.Back = &Link{Href: next, Text: L.T("Back")}
	if q.Get("sent") == "1" {
		d.Banner = &Banner{Title: L.T("BannerSuccess"), Heading: L.T("ConfirmSentAgain", "Email", rq.user.Email), Success: true}
	}
	life := lifetime(L, h.cfg.Accounts.ConfirmLinkTTL())
	d.Body = []string{L.T("ConfirmStatusSent", "Email", rq.user.Email, "Lifetime", life), L.T("ConfirmStatusWhy")}
	d.MoreHeading = L.T("ConfirmMissingHeading")
	d.More = []string{L.T("ConfirmMissingBody")}
	// Just sent: going on is the main way, sending again the other.
	sent := q.Get("sent") == "1"
	d.Submit = Button{Text: L.T("ConfirmSendAgain"), Secondary: sent}
	d.Continue = &Button{Text: L.T("ContinueButton"), Href: next, Secondary: !sent}
	rq.render(http.StatusOK, "confirm", d)
}

// resendConfirmation mails the signed-in person a new confirmation link
// and shows the status page, which says so.
func (h *Handler) resendConfirmation(rq *request) {
	if !rq.parseForm() {
		return
	}
	next := orDefault(localPath(rq.form("next")), "/nominations")
	err := h.cfg.Accounts.RequestEmailConfirmation(rq.ctx, rq.user)
	switch nomination.ErrorCode(err) {
	case "":
		rq.redirect("/account/confirm-email?sent=1&next=" + url.QueryEscape(next))
	case nomination.ETOOMANY:
		rq.tooMany(err, "ConfirmTooManyBody", Link{Href: "/account/confirm-email?next=" + url.QueryEscape(next), Text: rq.L.T("ConfirmTitle")})
	default:
		rq.failWith(err)
	}
}
