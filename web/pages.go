// Package web is gatehouse's server-rendered pages: sign-in, the account page and the
// administration pages. They run on the same use cases as the JSON API (package authn), so a
// page action and the matching API call behave the same, and mount themselves on the API
// server (package http), whose session cookie, client-address and cross-origin helpers they
// share.
package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/access"
	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

var noStore = []string{"no-store"}

func isSafeMethod(m string) bool { return m == "GET" || m == "HEAD" || m == "OPTIONS" }

// isCode reports whether err carries the application error code.
func isCode(err error, code string) bool { return gatehouse.ErrorCode(err) == code }

// The web pages: server-rendered HTML (html/template, which escapes everything it prints), with
// templates, stylesheet, icon and one small script embedded in the binary, and no build step. They
// authenticate with the session cookie alone and call the same authn use cases as the JSON
// API, so a page action and the matching API call behave the same. The only script,
// webauthn.js, runs the WebAuthn ceremonies (security keys and passkeys, which browsers offer
// to scripts only) on the few pages that need them, allowed by a nonce new in every response;
// everything else works without JavaScript.
//
// Every form POST passes two checks against cross-site request forgery: net/http's
// CrossOriginProtection (Sec-Fetch-Site / Origin, with the scheme compared too: checkOrigin, as
// for the API) and, once signed
// in, a synchronizer token derived from the session secret (see csrfToken).

//go:embed html
var htmlFS embed.FS

// PageLink is an extra link in the navigation bar of the signed-in pages.
type PageLink struct {
	Label string
	Href  string
}

// Pages are the web pages over one authn service, mounted on one API server.
type Pages struct {
	authn     *authn.Service
	api       *ghttp.Server
	log       *slog.Logger
	links     []PageLink      // extra navigation links
	returns   *access.Returns // where the sign-in page may send a browser back to
	signinCSP string          // the sign-in page's policy, whose form may lead to the return domains
	// nextOrigin names the origin beyond this site where a sign-in that continues to next ends
	// (see SetNextOrigin); nil for none.
	nextOrigin func(ctx context.Context, next string) string
}

// Config holds the pages' settings.
type Config struct {
	// Logger receives page errors and events (default slog.Default()). Secrets never reach it.
	Logger *slog.Logger
	// Returns says where the sign-in page may send a browser back to after signing in (its
	// "next" or "rd" parameter); nil allows paths on this server only.
	Returns *access.Returns
}

// Mount mounts the pages on api (GET / is the sign-in page) over the use cases a. Call it
// before the server starts serving.
func Mount(api *ghttp.Server, a *authn.Service, cfg Config) *Pages {
	s := &Pages{authn: a, api: api, log: cfg.Logger, returns: cfg.Returns, signinCSP: signinCSP(cfg.Returns)}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.routes(api.Handle)
	return s
}

// SetLinks adds links to the navigation bar of the signed-in pages (the shop demo adds
// itself). Call it before the server starts serving.
func (s *Pages) SetLinks(links ...PageLink) { s.links = append(s.links[:0:0], links...) }

// SetNextOrigin tells the sign-in pages where a sign-in that continues to a path of this site
// ends: fn returns the origin (scheme://host:port) that the redirects after next lead to, or ""
// when they stay here. The OpenID Provider's sign-in step ends at the application's redirect
// URI; browsers apply a form's form-action to the redirects that follow its submission, so the
// sign-in pages' policy allows that origin too. Call it before the server starts serving.
func (s *Pages) SetNextOrigin(fn func(ctx context.Context, next string) string) { s.nextOrigin = fn }

func (s *Pages) routes(handle func(method, path string, h http.HandlerFunc)) {
	handle("GET", "/{$}", s.handleSignInPage)
	handle("POST", "/{$}", s.handleSignIn)
	handle("POST", "/signin/second-factor", s.handleSecondStep)
	handle("POST", "/signin/enrol", s.handleEnrol)
	handle("POST", "/signin/passkey", s.handlePasskeyBegin)
	handle("POST", "/signin/passkey/finish", s.handlePasskeyFinish)
	handle("POST", "/signout", s.page(gatehouse.RoleUser, s.handleSignOut))
	handle("GET", "/register", s.handleRegisterPage)
	handle("POST", "/register", s.handleRegister)
	handle("GET", "/forgot", s.handleForgotPage)
	handle("POST", "/forgot", s.handleForgot)
	handle("GET", "/reset", s.handleResetPage)
	handle("POST", "/reset", s.handleReset)
	handle("GET", "/verify", s.handleVerifyPage)
	handle("POST", "/verify", s.handleVerify)
	handle("GET", "/assets/{name}", s.handleAsset)

	handle("GET", "/account", s.page(gatehouse.RoleUser, s.handleAccountPage))
	handle("POST", "/account/password", s.page(gatehouse.RoleUser, s.handleChangePassword))
	handle("POST", "/account/mfa/totp", s.page(gatehouse.RoleUser, s.handleTOTPSetup))
	handle("POST", "/account/mfa/totp/confirm", s.page(gatehouse.RoleUser, s.handleTOTPConfirm))
	handle("POST", "/account/mfa/totp/delete", s.page(gatehouse.RoleUser, s.handleTOTPDelete))
	handle("POST", "/account/mfa/recovery-codes", s.page(gatehouse.RoleUser, s.handleRecoveryCodes))
	handle("POST", "/account/mfa/webauthn", s.page(gatehouse.RoleUser, s.handleWebAuthnBegin))
	handle("POST", "/account/mfa/webauthn/finish", s.page(gatehouse.RoleUser, s.handleWebAuthnFinish))
	handle("POST", "/account/mfa/webauthn/{id}/rename", s.page(gatehouse.RoleUser, s.handleWebAuthnRename))
	handle("POST", "/account/mfa/webauthn/{id}/delete", s.page(gatehouse.RoleUser, s.handleWebAuthnDelete))
	handle("POST", "/account/sessions/{id}/revoke", s.page(gatehouse.RoleUser, s.handleAccountRevokeSession))
	handle("POST", "/account/signout-everywhere", s.page(gatehouse.RoleUser, s.handleAccountSignOutEverywhere))
	handle("POST", "/account/grants/{client_id}/revoke", s.page(gatehouse.RoleUser, s.handleAccountRevokeGrant))
	handle("POST", "/account/delete", s.page(gatehouse.RoleUser, s.handleDeleteAccount))

	handle("GET", "/admin", s.page(gatehouse.RoleAdmin, s.handleAdminPage))
	handle("POST", "/admin/users", s.page(gatehouse.RoleAdmin, s.handleAdminCreatePage))
	handle("GET", "/admin/users/{id}", s.page(gatehouse.RoleAdmin, s.handleAdminUserPage))
	handle("POST", "/admin/users/{id}/role", s.page(gatehouse.RoleAdmin, s.handleAdminRolePage))
	handle("POST", "/admin/users/{id}/disabled", s.page(gatehouse.RoleAdmin, s.handleAdminDisablePage))
	handle("POST", "/admin/users/{id}/password", s.page(gatehouse.RoleAdmin, s.handleAdminPasswordPage))
	handle("POST", "/admin/users/{id}/delete", s.page(gatehouse.RoleAdmin, s.handleAdminDeletePage))
	handle("POST", "/admin/users/{id}/signout-everywhere", s.page(gatehouse.RoleAdmin, s.handleAdminSignOutUserPage))
	handle("POST", "/admin/users/{id}/mfa/reset", s.page(gatehouse.RoleAdmin, s.handleAdminResetFactorsPage))
	handle("POST", "/admin/sessions/{id}/revoke", s.page(gatehouse.RoleAdmin, s.handleAdminRevokeSessionPage))
	handle("POST", "/admin/clients", s.page(gatehouse.RoleAdmin, s.handleAdminRegisterClientPage))
	handle("GET", "/admin/clients/{id}", s.page(gatehouse.RoleAdmin, s.handleAdminClientPage))
	handle("POST", "/admin/clients/{id}/update", s.page(gatehouse.RoleAdmin, s.handleAdminUpdateClientPage))
	handle("POST", "/admin/clients/{id}/secret", s.page(gatehouse.RoleAdmin, s.handleAdminRotateClientSecretPage))
	handle("POST", "/admin/clients/{id}/delete", s.page(gatehouse.RoleAdmin, s.handleAdminDeleteClientPage))
}

// pageReq is a signed-in page request.
type pageReq struct {
	auth   gatehouse.Auth
	sess   *gatehouse.Session // shared with the session cache: read only
	secret string
	csrf   string
}

func (p *pageReq) user() gatehouse.Principal { return p.sess.User }

type pageHandler func(w http.ResponseWriter, r *http.Request, p *pageReq)

// page authenticates a page request by its session cookie, checks a form POST against
// cross-site forgery (origin, then the synchronizer token), checks the role, and calls h. A
// request without a live session is sent to the sign-in page.
func (s *Pages) page(role gatehouse.Role, h pageHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		unsafe := !isSafeMethod(r.Method)
		if unsafe && s.api.CheckOrigin(r) != nil {
			s.renderForgery(w, r)
			return
		}
		p, err := s.pageSession(r)
		if err != nil {
			s.pageAuthFailed(w, r, err)
			return
		}
		if unsafe {
			if err := parsePageForm(w, r); err != nil {
				s.renderError(w, r, err)
				return
			}
			if !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(p.csrf)) {
				s.renderForgery(w, r)
				return
			}
		}
		if !p.user().Role.Allows(role) {
			s.renderMessage(w, r, p, http.StatusForbidden, "Not allowed",
				"This page is for administrators. Your account does not have the "+string(role)+" role.")
			return
		}
		h(w, r, p)
	}
}

// pageSession authenticates the request's session cookie; bearer tokens do not open pages.
func (s *Pages) pageSession(r *http.Request) (*pageReq, error) {
	secret, ok := s.api.SessionCookie(r)
	if !ok {
		return nil, gatehouse.ErrTokenMissing
	}
	a, err := s.authn.AuthenticateSession(r.Context(), secret)
	if err != nil {
		return nil, err
	}
	return &pageReq{auth: a, sess: a.Session, secret: secret, csrf: csrfToken(secret)}, nil
}

// AuthenticateSession returns the live session of the request's session cookie, for handlers
// mounted beside the server (such as the shop demo). Bearer tokens are not considered. It
// returns gatehouse.ErrTokenMissing without a cookie, gatehouse.ErrSessionExpired for a dead
// one and gatehouse.ErrUnavailable when the store fails. The session may be shared with the
// session cache: do not modify it.
func (s *Pages) AuthenticateSession(r *http.Request) (*gatehouse.Session, error) {
	p, err := s.pageSession(r)
	if err != nil {
		return nil, err
	}
	return p.sess, nil
}

// pageAuthFailed sends a request without a live session to the sign-in page (coming back to
// the page afterwards), or shows the store failure. A session whose sign-in used one factor
// while the user's role requires two (--require-mfa-roles) is ended the same way: the next
// sign-in asks for the second factor, or to enrol one.
func (s *Pages) pageAuthFailed(w http.ResponseWriter, r *http.Request, err error) {
	code := gatehouse.ErrorCode(err)
	if code != gatehouse.ESESSIONEXPIRED && code != gatehouse.ETOKENMISSING && code != gatehouse.EINSUFFICIENTAUTH {
		s.renderError(w, r, err)
		return
	}
	q := url.Values{}
	if code == gatehouse.ESESSIONEXPIRED || code == gatehouse.EINSUFFICIENTAUTH {
		s.api.ClearSessionCookie(w)
		q.Set("msg", "expired")
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		q.Set("next", r.URL.RequestURI())
	}
	if len(q) == 0 {
		redirect(w, r, "/")
		return
	}
	redirect(w, r, "/?"+q.Encode())
}

// redirect answers 303 See Other, so that the browser follows with a GET.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	w.Header()["Cache-Control"] = noStore
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// csrfLabel separates the synchronizer token from every other use of the session secret.
const csrfLabel = "gatehouse csrf token v1"

// csrfToken returns the session's synchronizer token: HMAC-SHA256 keyed with the session
// secret, so it needs no storage, dies with the session, and reveals nothing about the secret
// (nor about the stored SHA-256 of it) to whoever sees a page.
func csrfToken(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(csrfLabel))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// postedForm checks that a form post comes from this site and reads it; when either fails it
// answers the page that says so and returns false.
func (s *Pages) postedForm(w http.ResponseWriter, r *http.Request) bool {
	if s.api.CheckOrigin(r) != nil {
		s.renderForgery(w, r)
		return false
	}
	if err := parsePageForm(w, r); err != nil {
		s.renderError(w, r, err)
		return false
	}
	return true
}

// parsePageForm reads a url-encoded form body of at most ghttp.MaxBodyBytes.
func parsePageForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, ghttp.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return gatehouse.Errorf(gatehouse.ETOOLARGE, "the form is larger than %d bytes", ghttp.MaxBodyBytes)
		}
		return badRequest("the form could not be read")
	}
	return nil
}

// pageData is what the layout template gets; Page is the page's own view.
type pageData struct {
	Title   string
	Section string
	Who     *gatehouse.Principal
	IsAdmin bool
	CSRF    string
	Links   []PageLink
	Flash   string
	Error   string
	// Nonce is the response's CSP nonce, set by render on the pages that load the script.
	Nonce string
	Page  any
}

func (s *Pages) newPageData(p *pageReq, title, section string, view any) *pageData {
	d := &pageData{Title: title, Section: section, Page: view}
	if p != nil {
		who := p.user()
		d.Who, d.IsAdmin, d.CSRF, d.Links = &who, who.Role.Allows(gatehouse.RoleAdmin), p.csrf, s.links
	}
	return d
}

// pageCSP allows nothing but this origin's stylesheet and images, and no frame around the page
// (clickjacking). The pages of scriptPages add script-src with the response's nonce, and no
// other script source: no inline script or handler runs without that nonce.
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// signinCSP is pageCSP with the sign-in form allowed to lead (through the redirect that
// follows it) to the domains a browser may return to: browsers apply form-action to redirects.
func signinCSP(r *access.Returns) string {
	var extra strings.Builder
	for _, d := range r.Domains() {
		extra.WriteString(" " + d + ":* *." + d + ":*") // any port, as Returns allows
	}
	return strings.Replace(pageCSP, "form-action 'self'", "form-action 'self'"+extra.String(), 1)
}

// continuesTo returns the origin beyond this site where the sign-in step shown by view ends
// (SetNextOrigin), or "".
func (s *Pages) continuesTo(ctx context.Context, view any) string {
	if s.nextOrigin == nil {
		return ""
	}
	var next string
	switch v := view.(type) {
	case signinView:
		next = v.Next
	case secondStepView:
		next = v.Next
	case passkeyView:
		next = v.Next
	case enrolView:
		next = v.Next
	}
	if next == "" || !strings.HasPrefix(next, "/") {
		return ""
	}
	return s.nextOrigin(ctx, next)
}

// withFormAction adds origin to csp's form-action; an origin that could end the directive or
// the policy is left out.
func withFormAction(csp, origin string) string {
	if origin == "" || strings.ContainsAny(origin, " ;,'\"") {
		return csp
	}
	return strings.Replace(csp, "form-action 'self'", "form-action 'self' "+origin, 1)
}

// consentCSP lets the consent form lead to the application: browsers apply form-action to the
// redirects that follow a form's submission, and the decision ends at the redirect URI.
func consentCSP(v ghttp.ConsentView) string { return withFormAction(pageCSP, v.RedirectOrigin) }

// RenderConsent renders the consent page of an application's sign-in request (the OpenID
// Provider's).
func (s *Pages) RenderConsent(w http.ResponseWriter, r *http.Request, v ghttp.ConsentView) {
	s.render(w, r, http.StatusOK, "consent.html", s.newPageData(nil, "Allow "+v.ClientName+"?", "consent", v))
}

// scriptPages load webauthn.js; signinPages are the steps of signing in, whose forms may lead
// to the return domains.
var (
	scriptPages = map[string]bool{"account_webauthn.html": true, "signin_passkey.html": true, "signin_mfa.html": true}
	signinPages = map[string]bool{"signin.html": true, "signin_passkey.html": true, "signin_mfa.html": true, "signin_enrol.html": true}
)

// newNonce returns a CSP nonce: 128 bits from crypto/rand, new for every response.
func newNonce() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return base64.RawURLEncoding.EncodeToString(b)
}

// pagePolicy returns the Content-Security-Policy of page name, with the nonce of d when the
// page loads the script (render sets it).
func (s *Pages) pagePolicy(ctx context.Context, name string, d *pageData) string {
	csp := pageCSP
	if signinPages[name] {
		csp = withFormAction(s.signinCSP, s.continuesTo(ctx, d.Page))
	}
	if v, ok := d.Page.(ghttp.ConsentView); ok && name == "consent.html" {
		csp = consentCSP(v)
	}
	if scriptPages[name] {
		d.Nonce = newNonce()
		csp += "; script-src 'nonce-" + d.Nonce + "'"
	}
	return csp
}

func setPageHeaders(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h["Cache-Control"] = noStore
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
}

// render executes the named page into a buffer first, so that a template failure never leaves
// half a page behind.
func (s *Pages) render(w http.ResponseWriter, r *http.Request, status int, name string, d *pageData) {
	var buf bytes.Buffer
	csp := s.pagePolicy(r.Context(), name, d)
	if err := pageTemplates[name].ExecuteTemplate(&buf, "layout", d); err != nil {
		s.log.ErrorContext(r.Context(), "page template", "page", name, "err", err)
		setPageHeaders(w.Header())
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte("<!doctype html><title>Error</title><p>internal error</p>"))
		return
	}
	setPageHeaders(w.Header())
	w.Header().Set("Content-Security-Policy", csp)
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		if w.Header().Get("Retry-After") == "" { // a throttle may have said how long
			w.Header().Set("Retry-After", "1")
		}
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type messageView struct {
	Heading, Message, Back, BackLabel string
}

// renderMessage shows a page with a heading and a sentence, and a way back.
func (s *Pages) renderMessage(w http.ResponseWriter, r *http.Request, p *pageReq, status int, heading, msg string) {
	v := messageView{Heading: heading, Message: msg, Back: "/", BackLabel: "Go to sign-in"}
	if p != nil {
		v.Back, v.BackLabel = "/account", "Back to your account"
	}
	s.render(w, r, status, "error.html", s.newPageData(p, heading, "", v))
}

// renderError shows err as a page with the status that the API would answer. Internal errors
// are logged and shown as such; store failures say to try again.
func (s *Pages) renderError(w http.ResponseWriter, r *http.Request, err error) {
	code := gatehouse.ErrorCode(err)
	heading, msg := "Something went wrong", gatehouse.ErrorMessage(err)
	switch code {
	case gatehouse.EINTERNAL:
		s.log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "Something went wrong on our side. Please try again."
	case gatehouse.EUNAVAILABLE:
		s.log.WarnContext(r.Context(), "unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		heading, msg = "Try again in a moment", "The server is busy or one of its stores is unavailable. Nothing was changed."
	case gatehouse.ENOTFOUND:
		heading = "Not found"
	}
	s.renderMessage(w, r, nil, ghttp.StatusOf(code), heading, sentence(msg))
}

// renderForgery refuses a form that came from another site or without this session's token.
func (s *Pages) renderForgery(w http.ResponseWriter, r *http.Request) {
	s.log.WarnContext(r.Context(), "form refused: cross-origin or missing token", "path", r.URL.Path, "ip", s.api.Client(r).IP)
	s.renderMessage(w, r, nil, http.StatusForbidden, "Request refused",
		"This form was sent from another site, or the page it came from has expired. Nothing was changed. Open the page again and retry.")
}

// flashes are the messages a redirect can ask the next page to show (?msg=key): fixed
// sentences, so nothing from the URL is ever echoed.
var flashes = map[string]string{
	"grant-revoked":           "The application's access is revoked.",
	"grant-gone":              "That application had no access any more.",
	"expired":                 "Your session has ended. Please sign in again.",
	"signed-out":              "You are signed out.",
	"signed-out-everywhere":   "You are signed out everywhere: every session and token of your account has ended.",
	"session-revoked":         "That session is signed out.",
	"session-gone":            "That session had already ended.",
	"password-changed":        "Your password is changed. Every other session and token has been signed out.",
	"password-reset":          "Your new password is set, and every session and token of your account has been signed out. Sign in with it.",
	"registered":              "Your account is created. Sign in with it.",
	"account-deleted":         "Your account is deleted, and every session and token of it has ended.",
	"registered-verify":       "Your account is created. Sign in with it; a link to confirm your e-mail address is on its way to it.",
	"user-created":            "The user is created.",
	"user-updated":            "The user is updated and signed out everywhere.",
	"user-deleted":            "The user is deleted.",
	"user-signed-out":         "The user is signed out everywhere.",
	"user-session-revoked":    "The session is signed out.",
	"user-password-set":       "The password is set. The user is signed out everywhere.",
	"user-unchanged":          "Nothing changed.",
	"user-signed-out-already": "That session had already ended.",
	"key-added":               "The security key or passkey is added. It is asked for after your password, and a passkey signs you in on its own.",
	"key-removed":             "The security key or passkey is removed.",
	"key-renamed":             "The security key or passkey is renamed.",
	"factors-reset":           "Every second factor of the user is removed, and the user is signed out everywhere.",
	"totp-removed":            "The authenticator app is removed.",
	"client-registered":       "The application is registered. It is public, so it has no secret.",
	"client-updated":          "The application is updated.",
	"client-deleted":          "The application is deleted, with every user's grant to it.",
}

func flash(r *http.Request) string { return flashes[r.URL.Query().Get("msg")] }

// sentence makes an API message ("password: must be ...") read as a sentence.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// fieldError splits an API validation message "field: text" into the form field it names
// (one of fields) and the sentence to show there; other errors belong to the whole form.
func fieldError(err error, fields ...string) (field, msg string) {
	m := gatehouse.ErrorMessage(err)
	if name, rest, ok := strings.Cut(m, ": "); ok {
		for _, f := range fields {
			if f == name {
				return f, sentence(rest)
			}
		}
	}
	return "", sentence(m)
}

// fieldView is one labelled form control for the "field" template.
type fieldView struct {
	ID, Name, Label, Type, Value, Autocomplete, Hint, Err string
	Required                                              bool
	Options                                               []string
}

func field(name, label, typ, value string, errs map[string]string) fieldView {
	return fieldView{ID: name, Name: name, Label: label, Type: typ, Value: value, Err: errs[name]}
}

func (f fieldView) auto(a string) fieldView    { f.Autocomplete = a; return f }
func (f fieldView) hint(h string) fieldView    { f.Hint = h; return f }
func (f fieldView) required() fieldView        { f.Required = true; return f }
func (f fieldView) id(prefix string) fieldView { f.ID = prefix + f.Name; return f }

// Template helpers: times are shown in UTC with minute precision.
var pageFuncs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2 Jan 2006, 15:04 UTC")
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}

var pageTemplates = parsePages("signin.html", "signin_mfa.html", "signin_passkey.html", "signin_enrol.html", "account_totp.html",
	"account_webauthn.html", "account_codes.html", "error.html", "account.html", "admin.html", "admin_user.html", "admin_client.html",
	"forgot.html", "reset.html", "verify.html", "register.html", "consent.html")

func parsePages(names ...string) map[string]*template.Template {
	out := make(map[string]*template.Template, len(names))
	for _, n := range names {
		out[n] = template.Must(template.New(n).Funcs(pageFuncs).ParseFS(htmlFS, "html/layout.html", "html/"+n))
	}
	return out
}

// asset is an embedded static file with its validator.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

var assets = loadAssets(map[string]string{"style.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml",
	"webauthn.js": "text/javascript; charset=utf-8"})

func loadAssets(types map[string]string) map[string]asset {
	out := make(map[string]asset, len(types))
	for name, ct := range types {
		b, err := fs.ReadFile(htmlFS, "html/"+name)
		if err != nil {
			panic(err) // embedded at build time: a missing file is a build mistake
		}
		sum := sha256.Sum256(b)
		out[name] = asset{body: b, contentType: ct, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
	}
	return out
}

// handleAsset serves the stylesheet, icon and script: public, cacheable, revalidated by ETag.
func (s *Pages) handleAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := assets[r.PathValue("name")]
	if !ok {
		s.api.WriteCode(w, r, gatehouse.ENOTFOUND, "no such asset")
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
