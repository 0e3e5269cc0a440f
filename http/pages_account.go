package http

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
)

// signinView is the sign-in form.
type signinView struct {
	Next               string
	Username, Password fieldView
	FormError          string
}

func (s *Server) signinView(username, next string, errs map[string]string) signinView {
	return signinView{
		Next:     next,
		Username: field("username", "Username", "text", username, errs).auto("username").required(),
		Password: field("password", "Password", "password", "", errs).auto("current-password").required(),
	}
}

// handleSignInPage shows the sign-in form, or sends a signed-in browser on its way.
func (s *Server) handleSignInPage(w http.ResponseWriter, r *http.Request) {
	next := s.returnAddress(r.URL.Query())
	if _, ok := s.sessionCookie(r); ok {
		if _, err := s.pageSession(r); err == nil {
			redirect(w, r, orDefault(next, "/account"))
			return
		}
	}
	d := s.newPageData(nil, "Sign in", "signin", s.signinView("", next, nil))
	d.Flash = flash(r)
	s.render(w, r, http.StatusOK, "signin.html", d)
}

// handleSignIn checks the form like POST /api/login does and starts a session. Wrong
// credentials get one message that does not say which part was wrong.
func (s *Server) handleSignIn(w http.ResponseWriter, r *http.Request) {
	if s.checkOrigin(r) != nil {
		s.renderForgery(w, r)
		return
	}
	if err := parsePageForm(w, r); err != nil {
		s.renderError(w, r, err)
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
	// The same throttles and audit trail as POST /api/login: the form is no way around them.
	u, err := s.checkPassword(r, passwordCheck{username: username, password: password,
		action: gatehouse.AuditLogin, detail: "mode=" + gatehouse.AuthSession, auditSuccess: true})
	s.Metrics.login(err)
	if wait, ok := retryAfter(err); ok {
		s.noteThrottled(w, "login", wait)
	}
	if err != nil {
		s.signInFailed(w, r, username, next, err)
		return
	}
	// A browser that was signed in as someone else ends that session first.
	if old, ok := s.sessionCookie(r); ok {
		if err := s.Sessions.Revoke(r.Context(), old); err != nil {
			s.renderError(w, r, err)
			return
		}
	}
	secret, sess, err := s.Sessions.Create(r.Context(), u.Principal(), s.clientIP(r), r.UserAgent())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.setSessionCookie(w, secret, sess.ExpiresAt)
	s.log.InfoContext(r.Context(), "signed in on the web", "user_id", u.ID)
	redirect(w, r, orDefault(next, "/account"))
}

func (s *Server) signInFailed(w http.ResponseWriter, r *http.Request, username, next string, err error) {
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
		s.renderSignIn(w, r, statusOf(code), username, next, nil, sentence(gatehouse.ErrorMessage(err)))
	case gatehouse.EUNAVAILABLE:
		s.log.WarnContext(r.Context(), "sign-in unavailable", "err", err)
		s.renderSignIn(w, r, http.StatusServiceUnavailable, username, next, nil,
			"The server is busy or one of its stores is unavailable. Please try again in a moment.")
	default:
		s.renderError(w, r, err)
	}
}

func (s *Server) renderSignIn(w http.ResponseWriter, r *http.Request, status int, username, next string, errs map[string]string, formErr string) {
	v := s.signinView(username, next, errs)
	v.FormError = formErr
	s.render(w, r, status, "signin.html", s.newPageData(nil, "Sign in", "signin", v))
}

// returnAddress returns where to send the browser after signing in: the "next" parameter, or
// "rd" (the forward-auth endpoint's), if Config.Returns allows it (a path on this server, or an
// address on a return domain), else "": the sign-in page is no open redirect.
func (s *Server) returnAddress(q url.Values) string {
	next := q.Get("next")
	if next == "" {
		next = q.Get("rd")
	}
	next, _ = s.cfg.Returns.Check(next)
	return next
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// handleSignOut ends this browser's session.
func (s *Server) handleSignOut(w http.ResponseWriter, r *http.Request, p *pageReq) {
	if err := s.Sessions.Revoke(r.Context(), p.secret); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.signOutBrowser(w)
	redirect(w, r, "/?msg=signed-out")
}

// accountView is the account page.
type accountView struct {
	User                  *gatehouse.User
	Sessions              sessionsView
	Current, New, Confirm fieldView
	PasswordError         string
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
	sessionView
	Handle string
	Device string
}

func (s *Server) handleAccountPage(w http.ResponseWriter, r *http.Request, p *pageReq) {
	s.renderAccount(w, r, p, http.StatusOK, nil, "")
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, p *pageReq, status int, errs map[string]string, formErr string) {
	u, err := s.Users.UserByID(r.Context(), p.user().UserID)
	if err != nil {
		s.pageUserGone(w, r, err)
		return
	}
	sessions, err := s.sessionRows(r, u.ID, p.sess.Handle, "/account/sessions", p.csrf)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := accountView{
		User: u, Sessions: sessions, PasswordError: formErr,
		Current: field("current_password", "Current password", "password", "", errs).auto("current-password"),
		New: field("new_password", "New password", "password", "", errs).auto("new-password").
			hint("At least as long as the server's minimum (15 characters by default) without your username; any characters you can type, spaces welcome; no repeated or consecutive runs such as aaaa or 1234."),
		Confirm: field("confirm_password", "New password again", "password", "", errs).auto("new-password"),
	}
	d := s.newPageData(p, "Your account", "account", v)
	if status == http.StatusOK {
		d.Flash = flash(r)
	}
	s.render(w, r, status, "account.html", d)
}

// pageUserGone handles a session whose user was deleted a moment ago: it is signed out.
func (s *Server) pageUserGone(w http.ResponseWriter, r *http.Request, err error) {
	if isCode(err, gatehouse.ENOTFOUND) {
		s.pageAuthFailed(w, r, gatehouse.ErrSessionExpired)
		return
	}
	s.renderError(w, r, err)
}

// sessionRows lists the user's live sessions for a sessions table; current marks this browser's.
func (s *Server) sessionRows(r *http.Request, userID, current, action, csrf string) (sessionsView, error) {
	views, err := s.sessionViews(r, userID, current)
	if err != nil {
		return sessionsView{}, err
	}
	out := sessionsView{Action: action, CSRF: csrf, Caption: "Active sessions", Rows: make([]sessionRow, 0, len(views.Sessions))}
	for _, v := range views.Sessions {
		out.Rows = append(out.Rows, sessionRow{sessionView: v, Handle: v.ID, Device: deviceName(v.UserAgent)})
	}
	return out, nil
}

// handleAccountRevokeSession signs out one of the caller's sessions (as DELETE
// /api/sessions/{id}); this browser's own session signs the browser out.
func (s *Server) handleAccountRevokeSession(w http.ResponseWriter, r *http.Request, p *pageReq) {
	handle := r.PathValue("id")
	if !gatehouse.ValidID(handle) {
		redirect(w, r, "/account?msg=session-gone")
		return
	}
	err := s.Sessions.RevokeHandle(r.Context(), p.user().UserID, handle)
	switch {
	case isCode(err, gatehouse.ENOTFOUND):
		redirect(w, r, "/account?msg=session-gone")
	case err != nil:
		s.renderError(w, r, err)
	case handle == p.sess.Handle:
		s.signOutBrowser(w)
		redirect(w, r, "/?msg=signed-out")
	default:
		s.log.InfoContext(r.Context(), "session signed out on the web", "user_id", p.user().UserID)
		redirect(w, r, "/account?msg=session-revoked")
	}
}

// handleAccountSignOutEverywhere is POST /api/logout-all for the browser.
func (s *Server) handleAccountSignOutEverywhere(w http.ResponseWriter, r *http.Request, p *pageReq) {
	if err := s.revokeEverywhere(r.Context(), p.user().UserID); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.signOutBrowser(w)
	s.audit(r, gatehouse.AuditEvent{Action: gatehouse.AuditLogoutAll, Outcome: gatehouse.AuditSuccess, UserID: p.user().UserID, Detail: "auth=session page"})
	redirect(w, r, "/?msg=signed-out-everywhere")
}

// handleChangePassword is POST /account/password, the form twin of POST /api/me/password (see changePassword: the
// current password is checked under the login throttles and audited), then signs this browser
// in again with a brand-new session, so only the other devices are signed out.
func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request, p *pageReq) {
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
	u, err := s.changePassword(r, p.user(), current, next)
	if wait, ok := retryAfter(err); ok {
		s.noteThrottled(w, "login", wait)
	}
	if err != nil {
		s.pageFormFailed(w, r, err, func(status int, errs map[string]string, formErr string) {
			if f, msg := fieldError(err, "current_password", "new_password"); f != "" {
				errs, formErr = map[string]string{f: msg}, ""
			}
			if errors.Is(err, errWrongCurrentPassword) {
				errs["current_password"] = "The current password is not correct."
			}
			s.renderAccount(w, r, p, status, errs, formErr)
		})
		return
	}
	s.log.InfoContext(r.Context(), "password changed on the web", "user_id", u.ID)
	secret, sess, err := s.Sessions.Create(r.Context(), u.Principal(), s.clientIP(r), r.UserAgent())
	if err != nil {
		s.clearSessionCookie(w)
		s.renderError(w, r, err)
		return
	}
	s.setSessionCookie(w, secret, sess.ExpiresAt)
	redirect(w, r, "/account?msg=password-changed")
}

// pageFormFailed shows a validation error on the form (through show) with the API's status;
// store failures and internal errors get an error page.
func (s *Server) pageFormFailed(w http.ResponseWriter, r *http.Request, err error, show func(status int, errs map[string]string, formErr string)) {
	switch code := gatehouse.ErrorCode(err); code {
	case gatehouse.EBADREQUEST, gatehouse.ECONFLICT, gatehouse.EFORBIDDEN, gatehouse.ERATELIMITED, gatehouse.ETOOLARGE:
		show(statusOf(code), nil, sentence(gatehouse.ErrorMessage(err)))
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
