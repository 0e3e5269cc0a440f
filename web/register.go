package web

import (
	"errors"
	"net/http"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/authn"
)

// The registration page, served when the server allows self-registration (--allow-registration)
// and answered 404 (a page that says so) otherwise. Its form goes through the use case of POST /api/register
// (authn.Service.Register): the same account rules, the same throttles per client address and
// per username, the same verification mail when an address is given and mail is configured,
// and the same cross-origin check as every page form.

type registerView struct {
	Username, Name, Email, Password, Confirm fieldView
	FormError                                string
}

func registerForm(in account.NewUser, errs map[string]string) registerView {
	return registerView{
		Username: field("username", "Username", "text", in.Username, errs).auto("username").required().hint("Letters, digits, '.', '_' and '-'."),
		Name:     field("name", "Name (optional)", "text", in.Name, errs).auto("name"),
		Email:    field("email", "E-mail address (optional, to reset a forgotten password)", "email", in.Email, errs).auto("email"),
		Password: field("password", "Password", "password", "", errs).auto("new-password").required(),
		Confirm:  field("confirm_password", "Password again", "password", "", errs).auto("new-password").required(),
	}
}

func (s *Pages) handleRegisterPage(w http.ResponseWriter, r *http.Request) {
	if !s.api.RegistrationAllowed() {
		s.renderRegistrationOff(w, r)
		return
	}
	s.renderRegister(w, r, http.StatusOK, account.NewUser{}, nil, "")
}

func (s *Pages) renderRegister(w http.ResponseWriter, r *http.Request, status int, in account.NewUser, errs map[string]string, formErr string) {
	v := registerForm(in, errs)
	v.FormError = formErr
	s.render(w, r, status, "register.html", s.newPageData(nil, "Create an account", "signin", v))
}

// handleRegister creates the account and sends the browser to sign in.
func (s *Pages) handleRegister(w http.ResponseWriter, r *http.Request) {
	if !s.api.RegistrationAllowed() {
		s.renderRegistrationOff(w, r)
		return
	}
	if !s.postedForm(w, r) {
		return
	}
	f := r.PostForm
	in := account.NewUser{Username: f.Get("username"), Password: f.Get("password"), Name: f.Get("name"), Email: f.Get("email")}
	if in.Password != f.Get("confirm_password") {
		s.renderRegister(w, r, http.StatusBadRequest, in, map[string]string{"confirm_password": "The two passwords differ."}, "")
		return
	}
	u, err := s.authn.Register(r.Context(), in, s.client(r))
	if wait, ok := authn.RetryAfter(err); ok {
		s.api.NoteThrottled(w, "register", wait)
	}
	if err != nil {
		s.pageFormFailed(w, r, err, func(status int, _ map[string]string, formErr string) {
			errs := map[string]string{}
			if name, msg := fieldError(err, "username", "password", "name", "email"); name != "" {
				errs[name], formErr = msg, ""
			} else if isCode(err, gatehouse.ECONFLICT) {
				errs[conflictField(err)], formErr = sentence(gatehouse.ErrorMessage(err)), ""
			}
			s.renderRegister(w, r, status, in, errs, formErr)
		})
		return
	}
	if u.Email != "" {
		redirect(w, r, "/?msg=registered-verify")
		return
	}
	redirect(w, r, "/?msg=registered")
}

func (s *Pages) renderRegistrationOff(w http.ResponseWriter, r *http.Request) {
	s.renderMessage(w, r, nil, http.StatusNotFound, "No registration here",
		"This server does not let visitors create accounts. Ask an administrator for one.")
}

// conflictField is the field a conflict names: the e-mail address or the username.
func conflictField(err error) string {
	if errors.Is(err, gatehouse.ErrEmailTaken) {
		return "email"
	}
	return "username"
}
