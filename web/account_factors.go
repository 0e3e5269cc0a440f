package web

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

// The account page's second factors: security keys and passkeys (added through the page's
// script, which runs the browser's WebAuthn ceremony), the authenticator app, and recovery
// codes. Removing a factor asks for the password or a current code, as DELETE
// /api/me/mfa/totp does: a stolen session alone removes no factor.

// factorsView is the account page's second-factor section; nil when the server has none.
type factorsView struct {
	TOTP, TOTPPending bool
	// WebAuthn is true when the server offers security keys and passkeys.
	WebAuthn bool
	Keys     []keyRow
	// RecoveryCodes is the number of unused recovery codes.
	RecoveryCodes int
	Name          fieldView
	// TOTPProof is the form that removes the authenticator app.
	TOTPProof proofView
	Error     string
}

// keyRow is one security key or passkey, with the form that removes it.
type keyRow struct {
	ID, Name             string
	CreatedAt, LastUsed  time.Time
	Discoverable, Synced bool
	Proof                proofView
	Rename               fieldView
}

// proofView is the password and code fields of a removal form; ids are unique on the page.
type proofView struct {
	Password, Code fieldView
	WithCode       bool
}

func newProof(prefix string, withCode bool) proofView {
	return proofView{WithCode: withCode,
		Password: field("password", "Your password", "password", "", nil).auto("current-password").id(prefix),
		Code:     field("code", "Or a code from your authenticator app", "text", "", nil).auto("one-time-code").id(prefix)}
}

// factorsOf returns the section of the user's factors, nil when the server has no second
// factors.
func (s *Pages) factorsOf(r *http.Request, userID string) (*factorsView, error) {
	sum, err := s.authn.Factors(r.Context(), userID)
	if errors.Is(err, authn.ErrMFADisabled) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v := &factorsView{TOTP: sum.TOTP, TOTPPending: sum.TOTPPending, WebAuthn: s.authn.WebAuthnEnabled(),
		RecoveryCodes: sum.RecoveryCodes, TOTPProof: newProof("totp-", sum.TOTP),
		Name: field("name", "Name of a new key", "text", "", nil).hint("So that you can tell your keys apart, such as \"work laptop\".")}
	for i, c := range sum.WebAuthn {
		v.Keys = append(v.Keys, keyRow{ID: base64.RawURLEncoding.EncodeToString(c.ID), Name: c.Name,
			CreatedAt: c.CreatedAt, LastUsed: c.LastUsedAt, Discoverable: c.Discoverable, Synced: c.BackupEligible,
			Proof:  newProof("key"+strconv.Itoa(i)+"-", sum.TOTP),
			Rename: field("name", "New name", "text", c.Name, nil).id("key" + strconv.Itoa(i) + "-")})
	}
	return v, nil
}

// webauthnView is the ceremony page that adds a security key or passkey.
type webauthnView struct {
	Token, Name, Options string
}

// handleWebAuthnBegin starts adding a security key or passkey named by the form and shows the
// ceremony page, whose script asks the browser.
func (s *Pages) handleWebAuthnBegin(w http.ResponseWriter, r *http.Request, p *pageReq) {
	reg, err := s.authn.BeginWebAuthnRegistration(r.Context(), p.user())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	options, err := json.Marshal(reg.Options)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := webauthnView{Token: reg.Token, Name: strings.TrimSpace(r.PostForm.Get("name")), Options: string(options)}
	s.render(w, r, http.StatusOK, "account_webauthn.html", s.newPageData(p, "Add a security key or passkey", "account", v))
}

// codesView shows recovery codes once.
type codesView struct {
	Heading string
	Codes   []string
}

// handleWebAuthnFinish stores the credential the browser made, as POST
// /api/me/mfa/webauthn/finish does. The first factor of an account brings recovery codes,
// shown once.
func (s *Pages) handleWebAuthnFinish(w http.ResponseWriter, r *http.Request, p *pageReq) {
	answer := r.PostForm.Get("credential")
	if answer == "" {
		s.renderMessage(w, r, p, http.StatusBadRequest, "No security key added",
			"No answer came from a security key or passkey. Adding one needs JavaScript.")
		return
	}
	cred, codes, err := s.authn.FinishWebAuthnRegistration(r.Context(), p.user(), r.PostForm.Get("registration_token"),
		r.PostForm.Get("name"), json.RawMessage(answer), s.client(r))
	switch code := gatehouse.ErrorCode(err); {
	case err == nil && len(codes) > 0:
		s.log.InfoContext(r.Context(), "security key added on the web", "user_id", p.user().UserID)
		s.render(w, r, http.StatusOK, "account_codes.html", s.newPageData(p, "Security key added", "account",
			codesView{Heading: "\u201c" + cred.Name + "\u201d added", Codes: codes}))
	case err == nil:
		s.log.InfoContext(r.Context(), "security key added on the web", "user_id", p.user().UserID)
		redirect(w, r, "/account?msg=key-added")
	case code == gatehouse.EINVALIDCREDENTIALS || code == gatehouse.EINVALIDTOKEN:
		s.renderMessage(w, r, p, http.StatusBadRequest, "No security key added",
			"The answer of the security key or passkey could not be verified, or the request took too long. Start again from your account page.")
	case code == gatehouse.ECONFLICT:
		s.renderMessage(w, r, p, http.StatusConflict, "No security key added", "That security key or passkey is registered already.")
	case code == gatehouse.EBADREQUEST:
		s.renderMessage(w, r, p, http.StatusBadRequest, "No security key added", sentence(gatehouse.ErrorMessage(err)))
	default:
		s.renderError(w, r, err)
	}
}

// handleWebAuthnDelete removes one of the user's security keys or passkeys once the form's
// password or code proves it is the user.
func (s *Pages) handleWebAuthnDelete(w http.ResponseWriter, r *http.Request, p *pageReq) {
	id, ok := authn.CredentialID(r.PathValue("id"))
	if !ok {
		s.renderMessage(w, r, p, http.StatusNotFound, "Not found", "No such security key or passkey.")
		return
	}
	if !s.proved(w, r, p) {
		return
	}
	err := s.authn.RemoveWebAuthnCredential(r.Context(), p.user(), id, s.client(r))
	switch {
	case isCode(err, gatehouse.ENOTFOUND):
		s.renderMessage(w, r, p, http.StatusNotFound, "Not found", "No such security key or passkey.")
	case err != nil:
		s.factorFailed(w, r, p, err)
	default:
		s.log.InfoContext(r.Context(), "security key removed on the web", "user_id", p.user().UserID)
		redirect(w, r, "/account?msg=key-removed")
	}
}

// proved checks the removal form's password or code (authn.Reauthenticate); when it fails it
// answers the account page with the reason and returns false.
func (s *Pages) proved(w http.ResponseWriter, r *http.Request, p *pageReq) bool {
	password, code := r.PostForm.Get("password"), r.PostForm.Get("code")
	err := s.authn.Reauthenticate(r.Context(), p.user(), password, code, s.client(r))
	if err == nil {
		return true
	}
	s.factorFailed(w, r, p, err)
	return false
}

// factorFailed shows why a factor change failed on the account page, with the API's status.
func (s *Pages) factorFailed(w http.ResponseWriter, r *http.Request, p *pageReq, err error) {
	if wait, ok := authn.RetryAfter(err); ok {
		s.api.NoteThrottled(w, "second_factor", wait)
	}
	code := gatehouse.ErrorCode(err)
	msg := sentence(gatehouse.ErrorMessage(err))
	switch code {
	case gatehouse.EINVALIDCREDENTIALS:
		code, msg = gatehouse.EBADREQUEST, "That code is not right, or was used already."
	case gatehouse.EBADREQUEST:
		if strings.HasPrefix(gatehouse.ErrorMessage(err), "password or code") {
			msg = "Enter your password, or a code from your authenticator app, to remove a factor."
		} else if strings.HasPrefix(gatehouse.ErrorMessage(err), "password") {
			msg = "That password is not right."
		}
	case gatehouse.ERATELIMITED, gatehouse.EFORBIDDEN, gatehouse.ENOTFOUND, gatehouse.ECONFLICT:
	default:
		s.renderError(w, r, err)
		return
	}
	s.renderAccountWith(w, r, p, ghttp.StatusOf(code), func(v *accountView) {
		if v.Factors != nil {
			v.Factors.Error = msg
		}
	})
}

// handleTOTPDelete removes the authenticator app, as DELETE /api/me/mfa/totp does (with the
// password or a current code).
func (s *Pages) handleTOTPDelete(w http.ResponseWriter, r *http.Request, p *pageReq) {
	err := s.authn.RemoveTOTP(r.Context(), p.user(), r.PostForm.Get("password"), r.PostForm.Get("code"), s.client(r))
	if err != nil {
		s.factorFailed(w, r, p, err)
		return
	}
	s.log.InfoContext(r.Context(), "authenticator app removed on the web", "user_id", p.user().UserID)
	redirect(w, r, "/account?msg=totp-removed")
}

// handleRecoveryCodes gives the user ten new recovery codes, shown once, and voids the old
// ones, as POST /api/me/mfa/recovery-codes does.
func (s *Pages) handleRecoveryCodes(w http.ResponseWriter, r *http.Request, p *pageReq) {
	codes, err := s.authn.RegenerateRecoveryCodes(r.Context(), p.user(), s.client(r))
	if err != nil {
		s.factorFailed(w, r, p, err)
		return
	}
	s.render(w, r, http.StatusOK, "account_codes.html", s.newPageData(p, "New recovery codes", "account",
		codesView{Heading: "New recovery codes", Codes: codes}))
}

// handleWebAuthnRename renames one of the user's security keys or passkeys.
func (s *Pages) handleWebAuthnRename(w http.ResponseWriter, r *http.Request, p *pageReq) {
	id, ok := authn.CredentialID(r.PathValue("id"))
	if !ok {
		s.renderMessage(w, r, p, http.StatusNotFound, "Not found", "No such security key or passkey.")
		return
	}
	err := s.authn.RenameWebAuthnCredential(r.Context(), p.user(), id, r.PostForm.Get("name"), s.client(r))
	switch {
	case isCode(err, gatehouse.ENOTFOUND):
		s.renderMessage(w, r, p, http.StatusNotFound, "Not found", "No such security key or passkey.")
	case err != nil:
		s.factorFailed(w, r, p, err)
	default:
		redirect(w, r, "/account?msg=key-renamed")
	}
}
