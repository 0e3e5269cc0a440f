package web

import (
	"encoding/json"
	"net/http"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

// Sign-in with a passkey and no username or password, as POST /api/login/passkey and
// /api/login/passkey/finish do: the sign-in page's button asks for a ceremony (a POST, so that
// nothing is stored for a mere page view), the ceremony page's script asks the browser, and its
// answer comes back in a form.

// passkeyView is the ceremony page of a passkey sign-in.
type passkeyView struct {
	Token, Next, Options string
}

// handlePasskeyBegin starts a passkey sign-in for a session and shows its ceremony page.
func (s *Pages) handlePasskeyBegin(w http.ResponseWriter, r *http.Request) {
	if !s.postedForm(w, r) {
		return
	}
	next := s.returnAddress(r.PostForm)
	req, err := s.authn.BeginPasskeyLogin(r.Context(), gatehouse.AuthSession)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	options, err := json.Marshal(req.Options)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := passkeyView{Token: req.Token, Next: next, Options: string(options)}
	s.render(w, r, http.StatusOK, "signin_passkey.html", s.newPageData(nil, "Sign in with a passkey", "signin", v))
}

// handlePasskeyFinish checks the passkey's answer and starts a session. An answer that does not
// verify is counted against the client's address like a bad credential.
func (s *Pages) handlePasskeyFinish(w http.ResponseWriter, r *http.Request) {
	if !s.postedForm(w, r) {
		return
	}
	next := s.returnAddress(r.PostForm)
	answer := r.PostForm.Get("credential")
	if answer == "" {
		s.renderSignIn(w, r, http.StatusBadRequest, "", next, nil, "No answer came from a passkey. Passkeys need JavaScript; sign in with your password instead.")
		return
	}
	c := s.client(r)
	res, err := s.authn.FinishPasskeyLogin(r.Context(), r.PostForm.Get("passkey_token"), json.RawMessage(answer), c)
	if err == nil && res.Session != nil {
		s.api.SetSessionCookie(w, res.Session.Secret, res.Session.Session.ExpiresAt)
		s.log.InfoContext(r.Context(), "signed in on the web with a passkey", "user_id", res.User.ID)
		redirect(w, r, orDefault(next, "/account"))
		return
	}
	s.passkeyFailed(w, r, c, next, err)
}

func (s *Pages) passkeyFailed(w http.ResponseWriter, r *http.Request, c authn.Client, next string, err error) {
	switch code := gatehouse.ErrorCode(err); {
	case err == nil:
		s.renderError(w, r, gatehouse.ErrForbidden)
	case code == gatehouse.EINVALIDCREDENTIALS:
		if wait := s.authn.CredentialFailed(r.Context(), c, gatehouse.ErrInvalidToken); wait > 0 {
			s.api.NoteThrottled(w, "credential", wait)
			s.renderSignIn(w, r, http.StatusTooManyRequests, "", next, nil, "Too many failed attempts from your address. Try again later.")
			return
		}
		s.renderSignIn(w, r, http.StatusUnauthorized, "", next, nil, "That passkey was not accepted. Sign in with your password, or try another passkey.")
	case code == gatehouse.EINVALIDTOKEN:
		s.renderSignIn(w, r, http.StatusUnauthorized, "", next, nil, "The sign-in took too long or was finished already. Please try again.")
	case code == gatehouse.EFORBIDDEN || code == gatehouse.EUNAVAILABLE || code == gatehouse.ERATELIMITED:
		s.renderSignIn(w, r, ghttp.StatusOf(code), "", next, nil, sentence(gatehouse.ErrorMessage(err)))
	default:
		s.renderError(w, r, err)
	}
}
