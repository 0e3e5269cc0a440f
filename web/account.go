package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/access"
	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

// client is what the use cases get to know of the browser.
func (s *Pages) client(r *http.Request) authn.Client { return s.api.Client(r) }

// signinView is the sign-in form.
type signinView struct {
	Next               string
	Username, Password fieldView
	FormError          string
	// Passkeys offers "Sign in with a passkey" (when the server has a WebAuthn relying party).
	Passkeys bool
	// Register shows the link to the registration page (self-registration is on).
	Register bool
}

func (s *Pages) signinView(username, next string, errs map[string]string) signinView {
	return signinView{
		Next:     next,
		Passkeys: s.authn.WebAuthnEnabled(),
		Username: field("username", "Username", "text", username, errs).auto("username").required(),
		Password: field("password", "Password", "password", "", errs).auto("current-password").required(),
		Register: s.api.RegistrationAllowed(),
	}
}

// handleSignInPage shows the sign-in form, or sends a signed-in browser on its way. With
// fresh=1 (an application asked for a new sign-in: prompt=login or max_age) it shows the form
// to a signed-in browser too; login_hint (a username an application suggests) fills the
// username field when it has the shape of one.
func (s *Pages) handleSignInPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	next := s.returnAddress(q)
	if _, ok := s.api.SessionCookie(r); ok && q.Get("fresh") != "1" {
		if _, err := s.pageSession(r); err == nil {
			redirect(w, r, orDefault(next, "/account"))
			return
		}
	}
	hint := q.Get("login_hint")
	if len(hint) > 64 || strings.ContainsFunc(hint, func(c rune) bool { return c < ' ' || c == 0x7f }) {
		hint = ""
	}
	d := s.newPageData(nil, "Sign in", "signin", s.signinView(hint, next, nil))
	d.Flash = flash(r)
	s.render(w, r, http.StatusOK, "signin.html", d)
}

// handleSignIn checks the form like POST /api/login does and starts a session. Wrong
// credentials get one message that does not say which part was wrong.
func (s *Pages) handleSignIn(w http.ResponseWriter, r *http.Request) {
	if !s.postedForm(w, r) {
		return
	}
	username, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	next := s.returnAddress(r.PostForm)
	errs := map[string]string{}
	if username == "" {
		errs["username"] = "Enter your username."
	}
	if password == "" {
		errs["password"] = "Enter your password."
	}
	if len(errs) > 0 {
		s.renderSignIn(w, r, http.StatusBadRequest, username, next, errs, "")
		return
	}
	// The same use case as POST /api/login (throttles, audit trail): the form is no way around
	// them. A browser that was signed in as someone else ends that session first.
	old, _ := s.api.SessionCookie(r)
	res, err := s.authn.Login(r.Context(), authn.LoginInput{Username: username, Password: password,
		Mode: gatehouse.AuthSession, Client: s.api.Client(r), PreviousSession: old})
	if wait, ok := authn.RetryAfter(err); ok {
		s.api.NoteThrottled(w, "login", wait)
	}
	if err != nil {
		if res.User != nil { // signed in, but the session could not be made
			s.renderError(w, r, err)
			return
		}
		s.signInFailed(w, r, username, next, err)
		return
	}
	if res.Step == authn.StepSecondFactor {
		st, err := newSecondStep(res.SecondFactor.Token, res.SecondFactor.Methods, res.SecondFactor.WebAuthn, res.SecondFactor.WebAuthn != nil)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		s.renderSecondStep(w, r, http.StatusOK, st, next, "", "")
		return
	}
	if res.Step == authn.StepEnrolFactor {
		s.renderEnrolStep(w, r, http.StatusOK, res.SecondFactor.Token, next, "")
		return
	}
	s.api.SetSessionCookie(w, res.Session.Secret, res.Session.Session.ExpiresAt)
	s.log.InfoContext(r.Context(), "signed in on the web", "user_id", res.User.ID)
	redirect(w, r, orDefault(next, "/account"))
}

func (s *Pages) signInFailed(w http.ResponseWriter, r *http.Request, username, next string, err error) {
	code := gatehouse.ErrorCode(err)
	switch code {
	case gatehouse.EINVALIDCREDENTIALS:
		s.renderSignIn(w, r, http.StatusUnauthorized, username, next, nil, "Incorrect username or password.")
	case gatehouse.EBADREQUEST:
		f, msg := fieldError(err, "username", "password")
		if f == "" {
			s.renderSignIn(w, r, http.StatusBadRequest, username, next, nil, msg)
			return
		}
		s.renderSignIn(w, r, http.StatusBadRequest, username, next, map[string]string{f: msg}, "")
	case gatehouse.EFORBIDDEN, gatehouse.ERATELIMITED:
		s.renderSignIn(w, r, ghttp.StatusOf(code), username, next, nil, sentence(gatehouse.ErrorMessage(err)))
	case gatehouse.EUNAVAILABLE:
		s.log.WarnContext(r.Context(), "sign-in unavailable", "err", err)
		s.renderSignIn(w, r, http.StatusServiceUnavailable, username, next, nil,
			"The server is busy or one of its stores is unavailable. Please try again in a moment.")
	default:
		s.renderError(w, r, err)
	}
}

func (s *Pages) renderSignIn(w http.ResponseWriter, r *http.Request, status int, username, next string, errs map[string]string, formErr string) {
	v := s.signinView(username, next, errs)
	v.FormError = formErr
	s.render(w, r, status, "signin.html", s.newPageData(nil, "Sign in", "signin", v))
}

// returnAddress returns where to send the browser after signing in: the "next" parameter, or
// "rd" (the forward-auth endpoint's), if Config.Returns allows it (a path on this server, or an
// address on a return domain), else "": the sign-in page is no open redirect.
func (s *Pages) returnAddress(q url.Values) string {
	next := q.Get("next")
	if next == "" {
		next = q.Get("rd")
	}
	next, _ = s.returns.Check(next)
	return next
}

// safeNext returns next if it is a path on this site, else "".
func safeNext(next string) string {
	next, _ = (*access.Returns)(nil).Check(next)
	return next
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// handleSignOut ends this browser's session.
func (s *Pages) handleSignOut(w http.ResponseWriter, r *http.Request, p *pageReq) {
	if err := s.authn.Logout(r.Context(), p.auth, authn.Credential{SessionID: p.secret}, s.client(r)); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.api.SignOutBrowser(w)
	redirect(w, r, "/?msg=signed-out")
}

// accountView is the account page.
type accountView struct {
	User                  *gatehouse.User
	Sessions              sessionsView
	Grants                []authn.GrantView
	Current, New, Confirm fieldView
	PasswordError         string
	// Factors is the second-factor section; nil on a server without second factors.
	Factors *factorsView
	// Delete is the "Delete my account" form; nil unless the server allows it.
	Delete *deleteView
}

// sessionsView is a table of sessions with a "sign out" form per row, posting to
// Action/{handle}/revoke.
type sessionsView struct {
	Rows    []sessionRow
	Action  string
	CSRF    string
	Caption string
}

type sessionRow struct {
	ghttp.SessionView
	Handle string
	Device string
}

func (s *Pages) handleAccountPage(w http.ResponseWriter, r *http.Request, p *pageReq) {
	s.renderAccount(w, r, p, http.StatusOK, nil, "")
}

func (s *Pages) renderAccount(w http.ResponseWriter, r *http.Request, p *pageReq, status int, errs map[string]string, formErr string) {
	s.renderAccountWith(w, r, p, status, func(v *accountView) {
		v.PasswordError = formErr
		v.Current.Err, v.New.Err, v.Confirm.Err = errs["current_password"], errs["new_password"], errs["confirm_password"]
	})
}

// renderAccountWith shows the account page after edit changed its view (to show an error).
func (s *Pages) renderAccountWith(w http.ResponseWriter, r *http.Request, p *pageReq, status int, edit func(*accountView)) {
	u, err := s.authn.User(r.Context(), p.user().UserID)
	if err != nil {
		s.pageUserGone(w, r, err)
		return
	}
	sessions, err := s.sessionRows(r, u.ID, p.sess.Handle, "/account/sessions", p.csrf)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	grants, err := s.authn.ListGrants(r.Context(), u.ID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	factors, err := s.factorsOf(r, u.ID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := accountView{
		User: u, Sessions: sessions, Factors: factors, Grants: grants,
		Current: field("current_password", "Current password", "password", "", nil).auto("current-password"),
		New: field("new_password", "New password", "password", "", nil).auto("new-password").
			hint("At least as long as the server's minimum (15 characters by default) without your username; any characters you can type, spaces welcome; no repeated or consecutive runs such as aaaa or 1234."),
		Confirm: field("confirm_password", "New password again", "password", "", nil).auto("new-password"),
	}
	if s.api.AccountDeletionAllowed() {
		v.Delete = deleteForm(nil, "")
	}
	edit(&v)
	d := s.newPageData(p, "Your account", "account", &v)
	if status == http.StatusOK {
		d.Flash = flash(r)
	}
	s.render(w, r, status, "account.html", d)
}

// pageUserGone handles a session whose user was deleted a moment ago: it is signed out.
func (s *Pages) pageUserGone(w http.ResponseWriter, r *http.Request, err error) {
	if isCode(err, gatehouse.ENOTFOUND) {
		s.pageAuthFailed(w, r, gatehouse.ErrSessionExpired)
		return
	}
	s.renderError(w, r, err)
}

// sessionRows lists the user's live sessions for a sessions table; current marks this browser's.
func (s *Pages) sessionRows(r *http.Request, userID, current, action, csrf string) (sessionsView, error) {
	views, err := s.api.SessionViews(r.Context(), userID, current)
	if err != nil {
		return sessionsView{}, err
	}
	out := sessionsView{Action: action, CSRF: csrf, Caption: "Active sessions", Rows: make([]sessionRow, 0, len(views))}
	for _, v := range views {
		out.Rows = append(out.Rows, sessionRow{SessionView: v, Handle: v.ID, Device: deviceName(v.UserAgent)})
	}
	return out, nil
}

// handleAccountRevokeSession signs out one of the caller's sessions (as DELETE
// /api/sessions/{id}); this browser's own session signs the browser out.
func (s *Pages) handleAccountRevokeSession(w http.ResponseWriter, r *http.Request, p *pageReq) {
	handle := r.PathValue("id")
	err := s.authn.RevokeSession(r.Context(), p.user().UserID, handle, s.client(r))
	switch {
	case isCode(err, gatehouse.ENOTFOUND):
		redirect(w, r, "/account?msg=session-gone")
	case err != nil:
		s.renderError(w, r, err)
	case handle == p.sess.Handle:
		s.api.SignOutBrowser(w)
		redirect(w, r, "/?msg=signed-out")
	default:
		s.log.InfoContext(r.Context(), "session signed out on the web", "user_id", p.user().UserID)
		redirect(w, r, "/account?msg=session-revoked")
	}
}

// handleAccountRevokeGrant is DELETE /api/me/grants/{client_id} for the browser.
func (s *Pages) handleAccountRevokeGrant(w http.ResponseWriter, r *http.Request, p *pageReq) {
	err := s.authn.RevokeGrant(r.Context(), p.user().UserID, r.PathValue("client_id"), s.client(r))
	switch {
	case isCode(err, gatehouse.ENOTFOUND):
		redirect(w, r, "/account?msg=grant-gone")
	case err != nil:
		s.renderError(w, r, err)
	default:
		redirect(w, r, "/account?msg=grant-revoked")
	}
}

// handleAccountSignOutEverywhere is POST /api/logout-all for the browser.
func (s *Pages) handleAccountSignOutEverywhere(w http.ResponseWriter, r *http.Request, p *pageReq) {
	c := s.client(r)
	c.Channel = "page"
	if err := s.authn.LogoutAll(r.Context(), p.auth, c); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.api.SignOutBrowser(w)
	redirect(w, r, "/?msg=signed-out-everywhere")
}

// handleChangePassword is POST /account/password, the form twin of POST /api/me/password (see changePassword: the
// current password is checked under the login throttles and audited), then signs this browser
// in again with a brand-new session, so only the other devices are signed out.
func (s *Pages) handleChangePassword(w http.ResponseWriter, r *http.Request, p *pageReq) {
	current, next, confirm := r.PostForm.Get("current_password"), r.PostForm.Get("new_password"), r.PostForm.Get("confirm_password")
	errs := map[string]string{}
	switch {
	case current == "":
		errs["current_password"] = "Enter your current password."
	case next == "":
		errs["new_password"] = "Enter a new password."
	case next != confirm:
		errs["confirm_password"] = "The two new passwords differ."
	}
	if len(errs) > 0 {
		s.renderAccount(w, r, p, http.StatusBadRequest, errs, "")
		return
	}
	res, err := s.authn.ChangePassword(r.Context(), p.user(), p.sess.AMR, current, next, gatehouse.AuthSession, s.client(r))
	if wait, ok := authn.RetryAfter(err); ok {
		s.api.NoteThrottled(w, "login", wait)
	}
	if err != nil && res.User != nil {
		// The password is changed, but this browser's new session could not be made.
		s.log.InfoContext(r.Context(), "password changed on the web", "user_id", res.User.ID)
		s.api.ClearSessionCookie(w)
		s.renderError(w, r, err)
		return
	}
	if err != nil {
		s.pageFormFailed(w, r, err, func(status int, errs map[string]string, formErr string) {
			if f, msg := fieldError(err, "current_password", "new_password"); f != "" {
				errs, formErr = map[string]string{f: msg}, ""
			}
			if errors.Is(err, authn.ErrWrongCurrentPassword) {
				errs["current_password"] = "The current password is not correct."
			}
			s.renderAccount(w, r, p, status, errs, formErr)
		})
		return
	}
	s.log.InfoContext(r.Context(), "password changed on the web", "user_id", res.User.ID)
	s.api.SetSessionCookie(w, res.Session.Secret, res.Session.Session.ExpiresAt)
	redirect(w, r, "/account?msg=password-changed")
}

// pageFormFailed shows a validation error on the form (through show) with the API's status;
// store failures and internal errors get an error page.
func (s *Pages) pageFormFailed(w http.ResponseWriter, r *http.Request, err error, show func(status int, errs map[string]string, formErr string)) {
	switch code := gatehouse.ErrorCode(err); code {
	case gatehouse.EBADREQUEST, gatehouse.ECONFLICT, gatehouse.EFORBIDDEN, gatehouse.ERATELIMITED, gatehouse.ETOOLARGE:
		show(ghttp.StatusOf(code), nil, sentence(gatehouse.ErrorMessage(err)))
	default:
		s.renderError(w, r, err)
	}
}

// deviceName summarises a user agent as "Browser on System" for the sessions table; the full
// string is kept in the row's title.
func deviceName(ua string) string {
	if ua == "" {
		return "Unknown device"
	}
	browser := ""
	for _, b := range [...]struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"HeadlessChrome/", "Headless Chrome"},
		{"Chromium/", "Chromium"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	system := ""
	for _, o := range [...]struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			system = o.name
			break
		}
	}
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "Browser on " + system
	}
	if len(ua) > 40 {
		ua = strings.ToValidUTF8(ua[:40], "") + "…"
	}
	return ua
}
