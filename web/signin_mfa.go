package web

import (
	"net/http"
	"slices"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

// The second step of a sign-in on the page: a code from an authenticator app or a recovery
// code, in a plain form (no script). Security keys and passkeys need the browser's WebAuthn
// API, which the JSON API serves.

// secondStepView is the second step's form.
type secondStepView struct {
	Token, Next  string
	Method, Code fieldView
	FormError    string
}

// pageMethods are the methods the form offers: those that need no script.
var pageMethods = []string{gatehouse.FactorTOTP, gatehouse.FactorRecoveryCode}

func (s *Pages) renderSecondStep(w http.ResponseWriter, r *http.Request, status int, token, next string, methods []string, method, formErr string) {
	var offered []string
	for _, m := range methods {
		if slices.Contains(pageMethods, m) {
			offered = append(offered, m)
		}
	}
	if len(offered) == 0 {
		s.renderSignIn(w, r, http.StatusUnauthorized, "", next, nil,
			"This account signs in with a security key or passkey, which this page does not support yet.")
		return
	}
	v := secondStepView{Token: token, Next: next, FormError: formErr,
		Method: field("method", "Method", "select", method, nil),
		Code:   field("code", "Code", "text", "", nil).auto("one-time-code").required()}
	v.Method.Options = offered
	s.render(w, r, status, "signin_mfa.html", s.newPageData(nil, "Sign in", "signin", v))
}

// handleSecondStep checks the second step like POST /api/login/mfa does and starts a session.
func (s *Pages) handleSecondStep(w http.ResponseWriter, r *http.Request) {
	if s.api.CheckOrigin(r) != nil {
		s.renderForgery(w, r)
		return
	}
	if err := parsePageForm(w, r); err != nil {
		s.renderError(w, r, err)
		return
	}
	token, method := r.PostForm.Get("mfa_token"), r.PostForm.Get("method")
	next := safeNext(r.PostForm.Get("next"))
	res, err := s.authn.CompleteSecondFactor(r.Context(), authn.SecondFactorInput{Token: token, Method: method,
		Code: r.PostForm.Get("code"), Client: s.api.Client(r)})
	if wait, ok := authn.RetryAfter(err); ok {
		s.api.NoteThrottled(w, "second_factor", wait)
	}
	switch code := gatehouse.ErrorCode(err); {
	case err == nil && res.Session != nil:
		s.api.SetSessionCookie(w, res.Session.Secret, res.Session.Session.ExpiresAt)
		s.log.InfoContext(r.Context(), "signed in on the web with a second factor", "user_id", res.User.ID)
		redirect(w, r, orDefault(next, "/account"))
	case err == nil:
		s.renderError(w, r, gatehouse.ErrForbidden)
	case code == gatehouse.EINVALIDCREDENTIALS || code == gatehouse.ERATELIMITED || code == gatehouse.EBADREQUEST:
		msg := "Incorrect code, or a code that was used already."
		if code != gatehouse.EINVALIDCREDENTIALS {
			msg = sentence(gatehouse.ErrorMessage(err))
		}
		s.renderSecondStep(w, r, ghttp.StatusOf(code), token, next, pageMethods, method, msg)
	case code == gatehouse.EINVALIDTOKEN:
		s.renderSignIn(w, r, http.StatusUnauthorized, "", next, nil, "The sign-in took too long or was finished already. Please sign in again.")
	case code == gatehouse.EFORBIDDEN || code == gatehouse.EUNAVAILABLE:
		s.renderSignIn(w, r, ghttp.StatusOf(code), "", next, nil, sentence(gatehouse.ErrorMessage(err)))
	default:
		s.renderError(w, r, err)
	}
}
