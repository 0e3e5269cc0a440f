package web

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/gatehouse-auth/gatehouse/emaillink"
)

// The pages of the links gatehouse mails: "Forgot password?", the reset form a reset link opens,
// and the landing page of a verification link. They need no session; their forms pass the
// cross-origin check. Opening a link (GET) never uses it up, so that a mail scanner fetching
// links does not spend them: the user's button press (POST) does.

type forgotView struct {
	Email   fieldView
	Sent    bool
	Message string
}

func (s *Pages) handleForgotPage(w http.ResponseWriter, r *http.Request) {
	d := s.newPageData(nil, "Forgot password", "signin", forgotView{Email: field("email", "E-mail address", "email", "", nil).auto("email").required()})
	s.render(w, r, http.StatusOK, "forgot.html", d)
}

// handleForgot asks for a reset link (authn.Service.ForgotPassword): the page answers the same
// for every address.
func (s *Pages) handleForgot(w http.ResponseWriter, r *http.Request) {
	if !s.postedForm(w, r) {
		return
	}
	email := r.PostForm.Get("email")
	err := s.authn.ForgotPassword(r.Context(), email, s.api.Client(r))
	if wait, ok := authn.RetryAfter(err); ok {
		s.api.NoteThrottled(w, "mail", wait)
	}
	switch {
	case isCode(err, gatehouse.EBADREQUEST):
		v := forgotView{Email: field("email", "E-mail address", "email", email, map[string]string{"email": sentence(gatehouse.ErrorMessage(err))}).auto("email").required()}
		s.render(w, r, http.StatusBadRequest, "forgot.html", s.newPageData(nil, "Forgot password", "signin", v))
	case err != nil:
		s.renderError(w, r, err)
	default:
		v := forgotView{Sent: true, Message: "If an account has this address, a link to choose a new password is on its way to it. It works once, for a limited time."}
		s.render(w, r, http.StatusOK, "forgot.html", s.newPageData(nil, "Forgot password", "signin", v))
	}
}

type linkView struct {
	Token    string
	Password fieldView
	Confirm  fieldView
	Error    string
}

func resetView(token string, errs map[string]string) linkView {
	return linkView{Token: token,
		Password: field("password", "New password", "password", "", errs).auto("new-password").required(),
		Confirm:  field("confirm_password", "New password again", "password", "", errs).auto("new-password").required()}
}

// handleResetPage shows the form of a reset link; the token is used only when the form is sent.
func (s *Pages) handleResetPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if !emaillink.WellFormed(token) {
		s.renderDeadLink(w, r)
		return
	}
	s.render(w, r, http.StatusOK, "reset.html", s.newPageData(nil, "Choose a new password", "signin", resetView(token, nil)))
}

// handleReset sets the new password (authn.Service.ResetPassword) and sends the user to sign in.
func (s *Pages) handleReset(w http.ResponseWriter, r *http.Request) {
	if !s.postedForm(w, r) {
		return
	}
	token, pw := r.PostForm.Get("token"), r.PostForm.Get("password")
	if pw != r.PostForm.Get("confirm_password") {
		s.render(w, r, http.StatusBadRequest, "reset.html", s.newPageData(nil, "Choose a new password", "signin",
			resetView(token, map[string]string{"confirm_password": "The two passwords differ."})))
		return
	}
	_, err := s.authn.ResetPassword(r.Context(), token, pw, s.api.Client(r))
	switch {
	case err == nil:
		redirect(w, r, "/?msg=password-reset")
	case isCode(err, gatehouse.EINVALIDTOKEN):
		s.renderDeadLink(w, r)
	case isCode(err, gatehouse.EBADREQUEST):
		s.render(w, r, http.StatusBadRequest, "reset.html", s.newPageData(nil, "Choose a new password", "signin",
			resetView(token, map[string]string{"password": sentence(gatehouse.ErrorMessage(err))})))
	default:
		s.renderError(w, r, err)
	}
}

// handleVerifyPage is the landing page of a verification link: a button confirms.
func (s *Pages) handleVerifyPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if !emaillink.WellFormed(token) {
		s.renderDeadLink(w, r)
		return
	}
	s.render(w, r, http.StatusOK, "verify.html", s.newPageData(nil, "Confirm your address", "signin", linkView{Token: token}))
}

// handleVerify redeems a verification link (authn.Service.VerifyEmail).
func (s *Pages) handleVerify(w http.ResponseWriter, r *http.Request) {
	if !s.postedForm(w, r) {
		return
	}
	_, err := s.authn.VerifyEmail(r.Context(), r.PostForm.Get("token"), s.api.Client(r))
	switch {
	case err == nil:
		s.renderMessage(w, r, nil, http.StatusOK, "Address confirmed", "Your e-mail address is confirmed. Thank you.")
	case isCode(err, gatehouse.EINVALIDTOKEN):
		s.renderDeadLink(w, r)
	default:
		s.renderError(w, r, err)
	}
}

func (s *Pages) renderDeadLink(w http.ResponseWriter, r *http.Request) {
	s.renderMessage(w, r, nil, http.StatusUnauthorized, "This link does not work",
		"The link is invalid, has expired or was already used. A newer mail may hold a newer link; or ask for a new one.")
}
