package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/authn"
)

// badRequest returns a bad_request error with msg.
func badRequest(msg string) error { return &gatehouse.Error{Code: gatehouse.EBADREQUEST, Message: msg} }

// Paging of the admin page's user list. The user store lists by id only, so a search reads
// pages of users and keeps those that match, looking through at most adminScanLimit users per
// page shown; the pager continues where it stopped.
const (
	adminPageSize  = 20
	adminScanBatch = 200
	adminScanLimit = 5000
	maxSearchLen   = 100
)

var roleOptions = []string{string(gatehouse.RoleUser), string(gatehouse.RoleAdmin)}

// adminView is the admin page: the user list and the create form.
type adminView struct {
	Query, SearchError string
	After              string
	Users              []*gatehouse.User
	NextURL, FirstURL  string
	Partial            bool
	Scanned            int

	NewUsername, NewPassword, NewName, NewEmail, NewRole fieldView
	// Clients are the first registered OpenID Connect clients (adminClients of them).
	Clients     []*gatehouse.Client
	CreateError string
	// NewClient is the form that registers a client; NoProvider is true on a server without
	// an OpenID Provider, which registers none.
	NewClient  clientFormView
	NoProvider bool
}

// adminForms are the admin page's two forms as they were posted, with their errors.
type adminForms struct {
	user    account.NewUser
	userErr map[string]string
	// userFormErr is the create form's error that belongs to no field.
	userFormErr string
	// client is the registration form as posted; nil for an empty one.
	client *clientFormView
}

// adminClients is how many clients the admin page lists; the rest are a page away in
// GET /api/admin/clients or "gatehouse client list".
const adminClients = 100

func (s *Pages) handleAdminPage(w http.ResponseWriter, r *http.Request, p *pageReq) {
	s.renderAdminWith(w, r, p, http.StatusOK, adminForms{})
}

// renderAdmin shows the admin page with the create-user form as posted.
func (s *Pages) renderAdmin(w http.ResponseWriter, r *http.Request, p *pageReq, status int, in account.NewUser, errs map[string]string, formErr string) {
	s.renderAdminWith(w, r, p, status, adminForms{user: in, userErr: errs, userFormErr: formErr})
}

func (s *Pages) renderAdminWith(w http.ResponseWriter, r *http.Request, p *pageReq, status int, f adminForms) {
	in, errs := f.user, f.userErr
	if in.Role == "" {
		in.Role = gatehouse.RoleUser
	}
	if f.client == nil {
		empty := clientForm(newClientInput(), nil, "", true)
		f.client = &empty
	}
	q := r.URL.Query()
	v := adminView{Query: strings.TrimSpace(q.Get("q")), After: q.Get("after"), CreateError: f.userFormErr, NewClient: *f.client}
	v.NewUsername = field("username", "Username", "text", in.Username, errs).id("new-").auto("off").required()
	v.NewPassword = field("password", "Password", "password", "", errs).id("new-").auto("new-password").required()
	v.NewName = field("name", "Name (optional)", "text", in.Name, errs).id("new-").auto("off")
	v.NewEmail = field("email", "E-mail (optional)", "email", in.Email, errs).id("new-").auto("off")
	v.NewRole = field("role", "Role", "select", string(in.Role), errs).id("new-")
	v.NewRole.Options = roleOptions
	switch {
	case utf8.RuneCountInString(v.Query) > maxSearchLen || !utf8.ValidString(v.Query):
		v.SearchError = "Search for at most 100 characters."
		status = http.StatusBadRequest
	case v.After != "" && !gatehouse.ValidID(v.After):
		v.SearchError = "That page link is not valid; start from the first page."
		status, v.After = http.StatusBadRequest, ""
	default:
		if err := s.findUsers(r.Context(), &v); err != nil {
			s.renderError(w, r, err)
			return
		}
	}
	clients, err := s.authn.ListClients(r.Context(), "", adminClients)
	switch {
	case isCode(err, gatehouse.ENOTFOUND): // no OpenID Provider
		v.NoProvider = true
	case err != nil:
		s.renderError(w, r, err)
		return
	}
	v.Clients = clients
	d := s.newPageData(p, "Administration", "admin", v)
	if status == http.StatusOK {
		d.Flash = flash(r)
	}
	s.render(w, r, status, "admin.html", d)
}

// findUsers fills v with a page of users that match v.Query, after v.After.
func (s *Pages) findUsers(ctx context.Context, v *adminView) error {
	needle := strings.ToLower(v.Query)
	cursor, more := v.After, false
	for {
		batch, err := s.authn.ListUsers(ctx, cursor, adminScanBatch)
		if err != nil {
			return err
		}
		for _, u := range batch {
			if len(v.Users) == adminPageSize || v.Scanned == adminScanLimit {
				// Another user exists: the pager goes on from the last one looked at.
				more, v.Partial = true, len(v.Users) < adminPageSize
				break
			}
			v.Scanned++
			cursor = u.ID
			if matchesUser(u, needle) {
				v.Users = append(v.Users, u)
			}
		}
		if more || len(batch) < adminScanBatch {
			break
		}
	}
	if more {
		v.NextURL = adminURL(v.Query, cursor)
	}
	v.FirstURL = adminURL(v.Query, "")
	return nil
}

func matchesUser(u *gatehouse.User, needle string) bool {
	return needle == "" || strings.Contains(strings.ToLower(u.Username), needle) ||
		strings.Contains(strings.ToLower(u.Name), needle) || strings.Contains(strings.ToLower(u.Email), needle)
}

func adminURL(q, after string) string {
	v := url.Values{}
	if q != "" {
		v.Set("q", q)
	}
	if after != "" {
		v.Set("after", after)
	}
	if len(v) == 0 {
		return "/admin"
	}
	return "/admin?" + v.Encode()
}

// handleAdminCreatePage creates a user as POST /api/admin/users does.
func (s *Pages) handleAdminCreatePage(w http.ResponseWriter, r *http.Request, p *pageReq) {
	f := r.PostForm
	in := account.NewUser{Username: f.Get("username"), Password: f.Get("password"), Name: f.Get("name"),
		Email: f.Get("email"), Role: gatehouse.Role(f.Get("role"))}
	if errs := s.newUserErrors(in); len(errs) > 0 {
		if !in.Role.Valid() {
			in.Role = gatehouse.RoleUser
		}
		s.renderAdmin(w, r, p, http.StatusBadRequest, in, errs, "")
		return
	}
	u, err := s.authn.CreateUser(r.Context(), p.user().UserID, in, s.client(r))
	if err != nil {
		if !in.Role.Valid() {
			in.Role = gatehouse.RoleUser
		}
		s.pageFormFailed(w, r, err, func(status int, _ map[string]string, formErr string) {
			errs := map[string]string{}
			if name, msg := fieldError(err, "username", "password", "name", "email", "role"); name != "" {
				errs[name], formErr = msg, ""
			} else if isCode(err, gatehouse.ECONFLICT) {
				errs["username"], formErr = "This username is taken.", ""
			}
			s.renderAdmin(w, r, p, status, in, errs, formErr)
		})
		return
	}
	redirect(w, r, "/admin/users/"+u.ID+"?msg=user-created")
}

// newUserErrors checks every field of the create form with the account rules, so that each
// mistake is shown next to its field at once (Create stops at the first).
func (s *Pages) newUserErrors(in account.NewUser) map[string]string {
	errs := map[string]string{}
	check := func(err error) {
		if f, msg := fieldError(err, "username", "password", "name", "email", "role"); f != "" {
			errs[f] = msg
		}
	}
	if err := account.ValidateUsername(in.Username); err != nil {
		check(err)
	}
	if _, err := s.authn.ValidatePassword(in.Username, in.Password); err != nil {
		check(err)
	}
	if err := account.ValidateName(in.Name); err != nil {
		check(err)
	}
	if err := account.ValidateEmail(in.Email); err != nil {
		check(err)
	}
	if in.Role != "" && !in.Role.Valid() {
		errs["role"] = `Must be "user" or "admin".`
	}
	return errs
}

// adminUserView is the page of one user.
type adminUserView struct {
	U              *gatehouse.User
	Self           bool
	Sessions       sessionsView
	Role, Password fieldView
	FormError      string
	ConfirmError   string
	// Factors are the user's second factors; nil on a server without them.
	Factors    *factorsView
	ResetError string
}

func (s *Pages) handleAdminUserPage(w http.ResponseWriter, r *http.Request, p *pageReq) {
	s.renderAdminUser(w, r, p, http.StatusOK, nil, "")
}

func (s *Pages) renderAdminUser(w http.ResponseWriter, r *http.Request, p *pageReq, status int, errs map[string]string, formErr string) {
	id := r.PathValue("id")
	u, err := s.pageUser(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	current := ""
	if u.ID == p.user().UserID {
		current = p.sess.Handle
	}
	sessions, err := s.sessionRows(r, u.ID, current, "/admin/sessions", p.csrf)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	factors, err := s.factorsOf(r, u.ID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := adminUserView{U: u, Self: u.ID == p.user().UserID, Sessions: sessions, FormError: formErr, ConfirmError: errs["confirm"],
		Factors: factors, ResetError: errs["confirm_reset"]}
	v.Role = field("role", "Role", "select", string(u.Role), errs)
	v.Role.Options = roleOptions
	v.Password = field("password", "New password", "password", "", errs).auto("new-password")
	d := s.newPageData(p, u.Username, "admin", v)
	if status == http.StatusOK {
		d.Flash = flash(r)
	}
	s.render(w, r, status, "admin_user.html", d)
}

// pageUser loads a user by the id in a URL; a malformed id is not found, like an unknown one.
func (s *Pages) pageUser(ctx context.Context, id string) (*gatehouse.User, error) {
	return s.authn.User(ctx, id)
}

var errOwnAccount = badRequest("you cannot change the role of, disable or delete your own account here; ask another administrator")

// adminUpdate validates and applies req to the user in the URL exactly as PATCH
// /api/admin/users/{id} does (any change signs the user out everywhere), then shows the result.
func (s *Pages) adminUpdate(w http.ResponseWriter, r *http.Request, p *pageReq, req *authn.UserChange, field string) {
	id := r.PathValue("id")
	u, err := s.pageUser(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if (req.Role != nil || req.Disabled != nil) && u.ID == p.user().UserID {
		s.renderAdminUser(w, r, p, http.StatusBadRequest, nil, sentence(gatehouse.ErrorMessage(errOwnAccount)))
		return
	}
	changed := req.Password != nil || req.Role != nil && *req.Role != u.Role || req.Disabled != nil && *req.Disabled != u.Disabled
	_, u, err = s.authn.UpdateUser(r.Context(), p.user().UserID, id, *req, s.client(r))
	if err != nil {
		s.adminUpdateFailed(w, r, p, err, field)
		return
	}
	s.log.InfoContext(r.Context(), "user updated", "user_id", id, "role", u.Role, "disabled", u.Disabled,
		"password_changed", req.Password != nil, "by", p.user().UserID)
	switch {
	case req.Password != nil && id == p.user().UserID:
		// Setting one's own password signs oneself out everywhere too, this browser included.
		s.api.SignOutBrowser(w)
		redirect(w, r, "/?msg=signed-out-everywhere")
	case req.Password != nil:
		redirect(w, r, "/admin/users/"+id+"?msg=user-password-set")
	case changed:
		redirect(w, r, "/admin/users/"+id+"?msg=user-updated")
	default:
		redirect(w, r, "/admin/users/"+id+"?msg=user-unchanged")
	}
}

func (s *Pages) adminUpdateFailed(w http.ResponseWriter, r *http.Request, p *pageReq, err error, field string) {
	if isCode(err, gatehouse.ENOTFOUND) {
		s.renderError(w, r, authn.ErrUserNotFound)
		return
	}
	s.pageFormFailed(w, r, err, func(status int, _ map[string]string, formErr string) {
		if name, msg := fieldError(err, field); name != "" {
			s.renderAdminUser(w, r, p, status, map[string]string{name: msg}, "")
			return
		}
		s.renderAdminUser(w, r, p, status, nil, formErr)
	})
}

func (s *Pages) handleAdminRolePage(w http.ResponseWriter, r *http.Request, p *pageReq) {
	role := gatehouse.Role(r.PostForm.Get("role"))
	s.adminUpdate(w, r, p, &authn.UserChange{Role: &role}, "role")
}

func (s *Pages) handleAdminDisablePage(w http.ResponseWriter, r *http.Request, p *pageReq) {
	var disabled bool
	switch r.PostForm.Get("disabled") {
	case "true":
		disabled = true
	case "false":
	default:
		s.renderAdminUser(w, r, p, http.StatusBadRequest, nil, `Disabled: must be "true" or "false".`)
		return
	}
	s.adminUpdate(w, r, p, &authn.UserChange{Disabled: &disabled}, "disabled")
}

func (s *Pages) handleAdminPasswordPage(w http.ResponseWriter, r *http.Request, p *pageReq) {
	pw := r.PostForm.Get("password")
	if pw == "" {
		s.renderAdminUser(w, r, p, http.StatusBadRequest, map[string]string{"password": "Enter the new password."}, "")
		return
	}
	s.adminUpdate(w, r, p, &authn.UserChange{Password: &pw}, "password")
}

// handleAdminDeletePage deletes a user as DELETE /api/admin/users/{id} does: the user's sessions
// and tokens are revoked first, then the account goes.
func (s *Pages) handleAdminDeletePage(w http.ResponseWriter, r *http.Request, p *pageReq) {
	id := r.PathValue("id")
	u, err := s.pageUser(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	switch {
	case u.ID == p.user().UserID:
		s.renderAdminUser(w, r, p, http.StatusBadRequest, nil, sentence(gatehouse.ErrorMessage(errOwnAccount)))
		return
	case r.PostForm.Get("confirm") != "yes":
		s.renderAdminUser(w, r, p, http.StatusBadRequest, map[string]string{"confirm": "Tick the box to confirm the deletion."}, "")
		return
	}
	if err := s.authn.DeleteUser(r.Context(), p.user().UserID, id, s.client(r)); err != nil {
		s.renderError(w, r, err)
		return
	}
	redirect(w, r, "/admin?msg=user-deleted")
}

// handleAdminSignOutUserPage is DELETE /api/admin/users/{id}/sessions for the browser.
func (s *Pages) handleAdminSignOutUserPage(w http.ResponseWriter, r *http.Request, p *pageReq) {
	id := r.PathValue("id")
	if err := s.authn.SignOutUser(r.Context(), p.user().UserID, id, s.client(r)); err != nil {
		s.renderError(w, r, err)
		return
	}
	if id == p.user().UserID {
		s.api.SignOutBrowser(w)
		redirect(w, r, "/?msg=signed-out-everywhere")
		return
	}
	redirect(w, r, "/admin/users/"+id+"?msg=user-signed-out")
}

// handleAdminRevokeSessionPage is DELETE /api/admin/sessions/{id} for the browser.
func (s *Pages) handleAdminRevokeSessionPage(w http.ResponseWriter, r *http.Request, p *pageReq) {
	handle := r.PathValue("id")
	owner, err := s.authn.RevokeAnySession(r.Context(), p.user().UserID, handle, s.client(r))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if handle == p.sess.Handle {
		s.api.SignOutBrowser(w)
		redirect(w, r, "/?msg=signed-out")
		return
	}
	redirect(w, r, "/admin/users/"+owner+"?msg=user-session-revoked")
}

// handleAdminResetFactorsPage removes every second factor of a user who lost them, as DELETE
// /api/admin/users/{id}/mfa does (audited; the user is signed out everywhere). An admin's own
// factors are managed on the account page, which asks for a proof.
func (s *Pages) handleAdminResetFactorsPage(w http.ResponseWriter, r *http.Request, p *pageReq) {
	id := r.PathValue("id")
	u, err := s.pageUser(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	switch {
	case u.ID == p.user().UserID:
		s.renderAdminUser(w, r, p, http.StatusBadRequest, map[string]string{"confirm_reset": "Manage your own second factors on your account page."}, "")
		return
	case r.PostForm.Get("confirm") != "yes":
		s.renderAdminUser(w, r, p, http.StatusBadRequest, map[string]string{"confirm_reset": "Tick the box to confirm the reset."}, "")
		return
	}
	if err := s.authn.ResetFactors(r.Context(), p.user().UserID, id, s.client(r)); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "second factors reset on the web", "user_id", id, "actor_id", p.user().UserID)
	redirect(w, r, "/admin/users/"+id+"?msg=factors-reset")
}
