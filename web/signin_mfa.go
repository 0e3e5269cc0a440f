package web

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

// The second step of a sign-in on the page: a code from an authenticator app or a recovery
// code in a plain form (no script), or a security key or passkey, whose answer the page's
// script puts in a form of its own (see webauthn.js).

// secondStepView is the second step's forms.
type secondStepView struct {
	Token, Next  string
	Method, Code fieldView
	// Options is the JSON of the WebAuthn assertion request; "" when no key is offered.
	Options string
	// AppCode is true when an authenticator app's code is among the methods.
	AppCode   bool
	FormError string
}

// codeMethods are the methods of the code form: those that need no script.
var codeMethods = []string{gatehouse.FactorTOTP, gatehouse.FactorRecoveryCode}

// secondStep is a pending second step: its token, methods and, when "webauthn" is among them,
// the JSON of its assertion request.
type secondStep struct {
	token   string
	methods []string
	options string
}

// newSecondStep makes the view's input from a pending step; assertion is its WebAuthn request.
func newSecondStep(token string, methods []string, assertion any, hasAssertion bool) (secondStep, error) {
	st := secondStep{token: token, methods: methods}
	if hasAssertion && slices.Contains(methods, gatehouse.FactorWebAuthn) {
		b, err := json.Marshal(assertion)
		if err != nil {
			return st, err
		}
		st.options = string(b)
	}
	return st, nil
}

func (s *Pages) renderSecondStep(w http.ResponseWriter, r *http.Request, status int, st secondStep, next, method, formErr string) {
	var offered []string
	for _, m := range st.methods {
		if slices.Contains(codeMethods, m) {
			offered = append(offered, m)
		}
	}
	if len(offered) == 0 && st.options == "" {
		s.renderSignIn(w, r, http.StatusUnauthorized, "", next, nil,
			"This account's second factor cannot be used on this page. Ask an administrator to reset it.")
		return
	}
	v := secondStepView{Token: st.token, Next: next, FormError: formErr, Options: st.options,
		Method: field("method", "Method", "select", method, nil),
		Code:   field("code", "Code", "text", "", nil).auto("one-time-code").required()}
	v.Method.Options = offered
	v.AppCode = slices.Contains(offered, gatehouse.FactorTOTP)
	s.render(w, r, status, "signin_mfa.html", s.newPageData(nil, "Sign in", "signin", v))
}

// handleSecondStep checks the second step like POST /api/login/mfa does and starts a session.
func (s *Pages) handleSecondStep(w http.ResponseWriter, r *http.Request) {
	if !s.postedForm(w, r) {
		return
	}
	token, method := r.PostForm.Get("mfa_token"), r.PostForm.Get("method")
	next := s.returnAddress(r.PostForm)
	in := authn.SecondFactorInput{Token: token, Method: method, Code: r.PostForm.Get("code"), Client: s.api.Client(r)}
	if method == gatehouse.FactorWebAuthn {
		answer := r.PostForm.Get("credential")
		if answer == "" {
			// No ceremony ran (a browser without script): nothing to count against the user.
			s.secondStepFailed(w, r, http.StatusBadRequest, token, next, method, "No answer came from a security key or passkey.")
			return
		}
		in.WebAuthn = json.RawMessage(answer)
	}
	res, err := s.authn.CompleteSecondFactor(r.Context(), in)
	if wait, ok := authn.RetryAfter(err); ok {
		s.api.NoteThrottled(w, "second_factor", wait)
	}
	switch code := gatehouse.ErrorCode(err); {
	case err == nil && res.Session != nil:
		s.api.SetSessionCookie(w, res.Session.Secret, res.Session.Session.ExpiresAt)
		s.log.InfoContext(r.Context(), "signed in on the web with a second factor", "user_id", res.User.ID, "method", method)
		redirect(w, r, orDefault(next, "/account"))
	case err == nil:
		s.renderError(w, r, gatehouse.ErrForbidden)
	case code == gatehouse.EINVALIDCREDENTIALS || code == gatehouse.ERATELIMITED || code == gatehouse.EBADREQUEST:
		msg := "Incorrect code, or a code that was used already."
		if method == gatehouse.FactorWebAuthn {
			msg = "That security key or passkey was not accepted."
		}
		if code != gatehouse.EINVALIDCREDENTIALS {
			msg = sentence(gatehouse.ErrorMessage(err))
		}
		s.secondStepFailed(w, r, ghttp.StatusOf(code), token, next, method, msg)
	case code == gatehouse.EINVALIDTOKEN:
		s.renderSignIn(w, r, http.StatusUnauthorized, "", next, nil, "The sign-in took too long or was finished already. Please sign in again.")
	case code == gatehouse.EFORBIDDEN || code == gatehouse.EUNAVAILABLE:
		s.renderSignIn(w, r, ghttp.StatusOf(code), "", next, nil, sentence(gatehouse.ErrorMessage(err)))
	default:
		s.renderError(w, r, err)
	}
}

// secondStepFailed shows the second step of token again with msg, or the sign-in form when the
// token is no longer alive.
func (s *Pages) secondStepFailed(w http.ResponseWriter, r *http.Request, status int, token, next, method, msg string) {
	p, err := s.authn.PendingSecondFactor(r.Context(), token)
	if err != nil {
		if gatehouse.ErrorCode(err) == gatehouse.EINVALIDTOKEN {
			s.renderSignIn(w, r, http.StatusUnauthorized, "", next, nil, "The sign-in took too long or was finished already. Please sign in again.")
			return
		}
		s.renderError(w, r, err)
		return
	}
	st, err := newSecondStep(p.Token, p.Methods, p.WebAuthn, p.WebAuthn != nil)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if method == gatehouse.FactorWebAuthn {
		method = ""
	}
	s.renderSecondStep(w, r, status, st, next, method, msg)
}
