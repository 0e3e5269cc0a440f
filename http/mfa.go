package http

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/gatehouse-auth/gatehouse/mfa"
)

// Second factors: the second step of a login, passkey sign-in, and a user's own factors. Each
// handler decodes, calls authn, and encodes.

func (s *Server) mfaRoutes(handle func(method, path string, h http.HandlerFunc)) {
	handle("POST", "/api/login/mfa", s.handleLoginMFA)
	handle("POST", "/api/login/mfa/totp", s.handleEnrolTOTPBegin)
	handle("POST", "/api/login/mfa/totp/confirm", s.handleEnrolTOTPConfirm)
	handle("POST", "/api/login/passkey", s.handlePasskeyBegin)
	handle("POST", "/api/login/passkey/finish", s.handlePasskeyFinish)
	handle("GET", "/api/me/mfa", s.authed(gatehouse.RoleUser, s.handleFactors))
	handle("POST", "/api/me/mfa/totp", s.authed(gatehouse.RoleUser, s.handleTOTPBegin))
	handle("DELETE", "/api/me/mfa/totp", s.authed(gatehouse.RoleUser, s.handleTOTPDelete))
	handle("POST", "/api/me/mfa/totp/confirm", s.authed(gatehouse.RoleUser, s.handleTOTPConfirm))
	handle("POST", "/api/me/mfa/recovery-codes", s.authed(gatehouse.RoleUser, s.handleRecoveryCodes))
	handle("POST", "/api/me/mfa/webauthn", s.authed(gatehouse.RoleUser, s.handleWebAuthnBegin))
	handle("POST", "/api/me/mfa/webauthn/finish", s.authed(gatehouse.RoleUser, s.handleWebAuthnFinish))
	handle("DELETE", "/api/me/mfa/webauthn/credentials/{id}", s.authed(gatehouse.RoleUser, s.handleWebAuthnDelete))
	handle("PATCH", "/api/me/mfa/webauthn/credentials/{id}", s.authed(gatehouse.RoleUser, s.handleWebAuthnRename))
	handle("DELETE", "/api/admin/users/{id}/mfa", s.authed(gatehouse.RoleAdmin, s.handleAdminResetFactors))
}

// mfaRequiredResponse is the answer of a login whose password was right and that needs a
// second step: no credential, only the mfa_token.
type mfaRequiredResponse struct {
	MFARequired bool `json:"mfa_required"`
	// EnrollmentRequired says that the user must first enrol a factor (the methods that may
	// be enrolled are Methods): see the enrolment step in mfa_enrol.go.
	EnrollmentRequired bool     `json:"mfa_enrollment_required,omitempty"`
	MFAToken           string   `json:"mfa_token"`
	Methods            []string `json:"methods"`
	// WebAuthn is the argument of navigator.credentials.get when "webauthn" is offered.
	WebAuthn *protocol.CredentialAssertion `json:"webauthn,omitempty"`
	// ExpiresIn is the mfa_token's lifetime in seconds.
	ExpiresIn int64 `json:"expires_in"`
}

func (s *Server) writeSecondFactor(w http.ResponseWriter, p *mfa.Pending) {
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, mfaRequiredResponse{MFARequired: true, MFAToken: p.Token, Methods: p.Methods,
		WebAuthn: p.WebAuthn, ExpiresIn: int64(mfa.DefaultChallengeTTL / time.Second)})
}

type loginMFARequest struct {
	MFAToken string          `json:"mfa_token"`
	Method   string          `json:"method"`
	Code     string          `json:"code"`
	WebAuthn json.RawMessage `json:"webauthn"`
}

// handleLoginMFA completes a login with its second step and answers exactly as a login does.
func (s *Server) handleLoginMFA(w http.ResponseWriter, r *http.Request) {
	var req loginMFARequest
	if !s.decodeSameOrigin(w, r, &req) {
		return
	}
	if req.MFAToken == "" || req.Method == "" {
		s.writeError(w, r, badRequest("mfa_token and method: are required"))
		return
	}
	res, err := s.Authn.CompleteSecondFactor(r.Context(), authn.SecondFactorInput{Token: req.MFAToken,
		Method: req.Method, Code: req.Code, WebAuthn: req.WebAuthn, Client: s.Client(r)})
	s.writeLoginResult(w, r, "second_factor", res, err)
}

// writeLoginResult answers a login-like use case: 429 when throttled, the error, a pending
// second step, or the credential.
func (s *Server) writeLoginResult(w http.ResponseWriter, r *http.Request, kind string, res authn.LoginResult, err error) {
	if wait, ok := authn.RetryAfter(err); ok {
		s.writeRateLimited(w, r, kind, wait)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	switch res.Step {
	case authn.StepSecondFactor:
		s.writeSecondFactor(w, res.SecondFactor)
		return
	case authn.StepEnrolFactor:
		s.writeEnrolStep(w, res.SecondFactor)
		return
	}
	if res.User != nil {
		noteUser(w, res.User.ID)
	}
	s.writeCredential(w, r, res)
}

type passkeyBeginRequest struct {
	Mode string `json:"mode"`
}

type passkeyBeginResponse struct {
	PasskeyToken string                        `json:"passkey_token"`
	Options      *protocol.CredentialAssertion `json:"options"`
}

// handlePasskeyBegin starts a sign-in with a passkey: the options for navigator.credentials.get.
func (s *Server) handlePasskeyBegin(w http.ResponseWriter, r *http.Request) {
	var req passkeyBeginRequest
	if !s.decodeSameOrigin(w, r, &req) {
		return
	}
	if req.Mode == "" {
		req.Mode = s.cfg.DefaultMode
	}
	p, err := s.Authn.BeginPasskeyLogin(r.Context(), req.Mode)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, passkeyBeginResponse{PasskeyToken: p.Token, Options: p.Options})
}

type passkeyFinishRequest struct {
	PasskeyToken string          `json:"passkey_token"`
	Credential   json.RawMessage `json:"credential"`
}

// handlePasskeyFinish checks the passkey's answer and answers as a login does.
func (s *Server) handlePasskeyFinish(w http.ResponseWriter, r *http.Request) {
	var req passkeyFinishRequest
	if !s.decodeSameOrigin(w, r, &req) {
		return
	}
	c := s.Client(r)
	res, err := s.Authn.FinishPasskeyLogin(r.Context(), req.PasskeyToken, req.Credential, c)
	if err != nil && gatehouse.ErrorCode(err) == gatehouse.EINVALIDCREDENTIALS {
		if wait := s.Authn.CredentialFailed(r.Context(), c, mfa.ErrInvalidChallenge); wait > 0 {
			s.writeRateLimited(w, r, "credential", wait)
			return
		}
	}
	s.writeLoginResult(w, r, "passkey", res, err)
}

// credentialJSON is a WebAuthn credential as the API shows it: nothing secret.
type credentialJSON struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	CreatedAt      time.Time  `json:"created_at"`
	LastUsedAt     *time.Time `json:"last_used_at"`
	Discoverable   bool       `json:"discoverable"`
	BackupEligible bool       `json:"backup_eligible"`
	Transports     []string   `json:"transports"`
}

func toCredentialJSON(c *gatehouse.WebAuthnCredential) credentialJSON {
	j := credentialJSON{ID: base64.RawURLEncoding.EncodeToString(c.ID), Name: c.Name, CreatedAt: c.CreatedAt,
		Discoverable: c.Discoverable, BackupEligible: c.BackupEligible, Transports: c.Transports}
	if j.Transports == nil {
		j.Transports = []string{}
	}
	if !c.LastUsedAt.IsZero() {
		t := c.LastUsedAt
		j.LastUsedAt = &t
	}
	return j
}

type factorsResponse struct {
	TOTP              bool             `json:"totp"`
	TOTPPending       bool             `json:"totp_pending"`
	WebAuthn          []credentialJSON `json:"webauthn"`
	RecoveryCodesLeft int              `json:"recovery_codes_left"`
}

func (s *Server) handleFactors(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	sum, err := s.Authn.Factors(r.Context(), a.UserID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp := factorsResponse{TOTP: sum.TOTP, TOTPPending: sum.TOTPPending, RecoveryCodesLeft: sum.RecoveryCodes,
		WebAuthn: []credentialJSON{}}
	for _, c := range sum.WebAuthn {
		resp.WebAuthn = append(resp.WebAuthn, toCredentialJSON(c))
	}
	writeJSON(w, http.StatusOK, resp)
}

type totpBeginResponse struct {
	Secret     string `json:"secret"`
	OTPAuthURL string `json:"otpauth_url"`
}

func (s *Server) handleTOTPBegin(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	en, err := s.Authn.BeginTOTP(r.Context(), a.Principal)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, totpBeginResponse{Secret: en.Secret, OTPAuthURL: en.URL})
}

type codeRequest struct {
	Code     string `json:"code"`
	Password string `json:"password"`
}

type recoveryCodesResponse struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

func recoveryCodes(codes []string) recoveryCodesResponse {
	if codes == nil {
		codes = []string{}
	}
	return recoveryCodesResponse{RecoveryCodes: codes}
}

func (s *Server) handleTOTPConfirm(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	var req codeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	codes, err := s.Authn.ConfirmTOTP(r.Context(), a.Principal, req.Code, s.Client(r))
	if wait, ok := authn.RetryAfter(err); ok {
		s.writeRateLimited(w, r, "second_factor", wait)
		return
	}
	if err != nil {
		s.writeError(w, r, asBadCode(err))
		return
	}
	writeJSON(w, http.StatusOK, recoveryCodes(codes))
}

// asBadCode turns a wrong code of an authenticated caller into a bad_request naming the field:
// a 401 would tell the client that its session or token is the problem.
func asBadCode(err error) error {
	if gatehouse.ErrorCode(err) == gatehouse.EINVALIDCREDENTIALS {
		return badRequest("code: " + gatehouse.ErrorMessage(err))
	}
	return err
}

func (s *Server) handleTOTPDelete(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	var req codeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	err := s.Authn.RemoveTOTP(r.Context(), a.Principal, req.Password, req.Code, s.Client(r))
	if wait, ok := authn.RetryAfter(err); ok {
		s.writeRateLimited(w, r, "second_factor", wait)
		return
	}
	if err != nil {
		s.writeError(w, r, asBadCode(err))
		return
	}
	noContent(w)
}

func (s *Server) handleRecoveryCodes(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	codes, err := s.Authn.RegenerateRecoveryCodes(r.Context(), a.Principal, s.Client(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, recoveryCodes(codes))
}

type webauthnBeginResponse struct {
	RegistrationToken string                       `json:"registration_token"`
	Options           *protocol.CredentialCreation `json:"options"`
}

func (s *Server) handleWebAuthnBegin(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	reg, err := s.Authn.BeginWebAuthnRegistration(r.Context(), a.Principal)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, webauthnBeginResponse{RegistrationToken: reg.Token, Options: reg.Options})
}

type webauthnFinishRequest struct {
	RegistrationToken string          `json:"registration_token"`
	Name              string          `json:"name"`
	Credential        json.RawMessage `json:"credential"`
}

type webauthnFinishResponse struct {
	Credential    credentialJSON `json:"credential"`
	RecoveryCodes []string       `json:"recovery_codes"`
}

func (s *Server) handleWebAuthnFinish(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	var req webauthnFinishRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	cred, codes, err := s.Authn.FinishWebAuthnRegistration(r.Context(), a.Principal, req.RegistrationToken, req.Name, req.Credential, s.Client(r))
	if err != nil {
		if gatehouse.ErrorCode(err) == gatehouse.EINVALIDCREDENTIALS || gatehouse.ErrorCode(err) == gatehouse.EINVALIDTOKEN {
			err = badRequest("credential: " + gatehouse.ErrorMessage(err))
		}
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, webauthnFinishResponse{Credential: toCredentialJSON(cred), RecoveryCodes: recoveryCodes(codes).RecoveryCodes})
}

var errNoCredential = gatehouse.Errorf(gatehouse.ENOTFOUND, "no such security key or passkey")

type renameRequest struct {
	Name string `json:"name"`
}

// handleWebAuthnRename renames one of the caller's security keys or passkeys.
func (s *Server) handleWebAuthnRename(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	id, ok := authn.CredentialID(r.PathValue("id"))
	var req renameRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !ok {
		s.writeError(w, r, errNoCredential)
		return
	}
	if err := s.Authn.RenameWebAuthnCredential(r.Context(), a.Principal, id, req.Name, s.Client(r)); err != nil {
		if gatehouse.ErrorCode(err) == gatehouse.ENOTFOUND {
			err = errNoCredential
		}
		s.writeError(w, r, err)
		return
	}
	noContent(w)
}

func (s *Server) handleWebAuthnDelete(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	id, ok := authn.CredentialID(r.PathValue("id"))
	if !ok {
		s.writeError(w, r, errNoCredential)
		return
	}
	if err := s.Authn.RemoveWebAuthnCredential(r.Context(), a.Principal, id, s.Client(r)); err != nil {
		if gatehouse.ErrorCode(err) == gatehouse.ENOTFOUND {
			err = errNoCredential
		}
		s.writeError(w, r, err)
		return
	}
	noContent(w)
}

func (s *Server) handleAdminResetFactors(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	if err := s.Authn.ResetFactors(r.Context(), a.UserID, r.PathValue("id"), s.Client(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	noContent(w)
}
