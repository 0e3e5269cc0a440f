package web

import (
	"html/template"
	"net/http"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

// The enrolment step of the sign-in page (--require-mfa-roles): after the right password, a
// user whose role requires a second factor and who has none sets up an authenticator app (the
// key as a QR code and as text, no script), confirms it with a first code, and only then gets
// a session, with the recovery codes shown once. The step's token stands in for the session
// meanwhile; it is single-use and expires like a second step's.

// enrolView is the enrolment page: the key and the code form, or the recovery codes.
type enrolView struct {
	Token, Next, Secret string
	QR                  template.HTML
	Code                fieldView
	FormError           string
	Codes               []string
}

// renderEnrolStep shows the authenticator-app key of the sign-in waiting on token (a new key
// at each showing: only the last one shown can be confirmed).
func (s *Pages) renderEnrolStep(w http.ResponseWriter, r *http.Request, status int, token, next, formErr string) {
	en, err := s.authn.BeginEnrolmentTOTP(r.Context(), token)
	if err != nil {
		s.enrolFailed(w, r, next, err)
		return
	}
	svg, err := qrSVG(en.URL)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := enrolView{Token: token, Next: next, Secret: en.Secret, QR: svg, FormError: formErr,
		Code: field("code", "Code from the app", "text", "", nil).auto("one-time-code").required()}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, status, "signin_enrol.html", s.newPageData(nil, "Set up a second factor", "signin", v))
}

// enrolFailed sends a sign-in whose enrolment token is no good back to the sign-in form.
func (s *Pages) enrolFailed(w http.ResponseWriter, r *http.Request, next string, err error) {
	if gatehouse.ErrorCode(err) == gatehouse.EINVALIDTOKEN {
		s.renderSignIn(w, r, http.StatusUnauthorized, "", next, nil, "That sign-in has expired. Sign in again.")
		return
	}
	s.renderError(w, r, err)
}

// handleEnrol confirms the enrolment as POST /api/login/mfa/totp/confirm does and starts the
// session.
func (s *Pages) handleEnrol(w http.ResponseWriter, r *http.Request) {
	if !s.postedForm(w, r) {
		return
	}
	token, next := r.PostForm.Get("mfa_token"), s.returnAddress(r.PostForm)
	res, codes, err := s.authn.ConfirmEnrolmentTOTP(r.Context(), token, r.PostForm.Get("code"), s.api.Client(r))
	if wait, ok := authn.RetryAfter(err); ok {
		s.api.NoteThrottled(w, "second_factor", wait)
	}
	switch code := gatehouse.ErrorCode(err); {
	case err == nil && res.Session != nil:
		s.api.SetSessionCookie(w, res.Session.Secret, res.Session.Session.ExpiresAt)
		s.log.InfoContext(r.Context(), "signed in on the web after enrolling a second factor", "user_id", res.User.ID)
		if codes == nil {
			codes = []string{}
		}
		w.Header().Set("Cache-Control", "no-store")
		s.render(w, r, http.StatusOK, "signin_enrol.html", s.newPageData(nil, "Second factor set up", "signin",
			enrolView{Next: orDefault(next, "/account"), Codes: codes}))
	case err == nil:
		s.renderError(w, r, gatehouse.ErrForbidden)
	case code == gatehouse.EINVALIDCREDENTIALS || code == gatehouse.ERATELIMITED:
		msg := "That code is not right. Scan the new key below and enter the code it shows."
		if code == gatehouse.ERATELIMITED {
			msg = sentence(gatehouse.ErrorMessage(err))
		}
		s.renderEnrolStep(w, r, ghttp.StatusOf(code), token, next, msg)
	default:
		s.enrolFailed(w, r, next, err)
	}
}
