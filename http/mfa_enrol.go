package http

import (
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/gatehouse-auth/gatehouse/mfa"
)

// The enrolment step of a sign-in (--require-mfa-roles): the password was right, the user's
// role requires a second factor and the user has none. The login answers
// {"mfa_required": true, "mfa_enrollment_required": true, "mfa_token", "methods": ["totp"]}
// and no credential; POST /api/login/mfa/totp gives the authenticator-app key for that
// token, and POST /api/login/mfa/totp/confirm checks a first code and answers exactly as a
// login does, with the new recovery codes added.

// writeEnrolStep answers a login that must enrol a factor first.
func (s *Server) writeEnrolStep(w http.ResponseWriter, p *mfa.Pending) {
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, mfaRequiredResponse{MFARequired: true, EnrollmentRequired: true, MFAToken: p.Token,
		Methods: p.Methods, ExpiresIn: int64(mfa.DefaultChallengeTTL / time.Second)})
}

type enrolRequest struct {
	MFAToken string `json:"mfa_token"`
	Code     string `json:"code"`
}

// decodeEnrol decodes an enrolment request (same origin only, as the login) and checks that
// the token, and the code when needCode, are there.
func (s *Server) decodeEnrol(w http.ResponseWriter, r *http.Request, needCode bool) (enrolRequest, bool) {
	var req enrolRequest
	if !s.decodeSameOrigin(w, r, &req) {
		return req, false
	}
	switch {
	case req.MFAToken == "":
		s.writeError(w, r, badRequest("mfa_token: is required"))
		return req, false
	case needCode && req.Code == "":
		s.writeError(w, r, badRequest("code: is required"))
		return req, false
	}
	return req, true
}

// handleEnrolTOTPBegin starts the authenticator-app enrolment of a sign-in's enrolment step.
func (s *Server) handleEnrolTOTPBegin(w http.ResponseWriter, r *http.Request) {
	req, ok := s.decodeEnrol(w, r, false)
	if !ok {
		return
	}
	en, err := s.Authn.BeginEnrolmentTOTP(r.Context(), req.MFAToken)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, totpBeginResponse{Secret: en.Secret, OTPAuthURL: en.URL})
}

// enrolSessionResponse and enrolTokenResponse are the login answers with the recovery codes.
type enrolSessionResponse struct {
	sessionLoginResponse
	RecoveryCodes []string `json:"recovery_codes"`
}

type enrolTokenResponse struct {
	tokenResponse
	RecoveryCodes []string `json:"recovery_codes"`
}

// handleEnrolTOTPConfirm confirms the enrolment with a first code and completes the sign-in.
func (s *Server) handleEnrolTOTPConfirm(w http.ResponseWriter, r *http.Request) {
	req, ok := s.decodeEnrol(w, r, true)
	if !ok {
		return
	}
	res, codes, err := s.Authn.ConfirmEnrolmentTOTP(r.Context(), req.MFAToken, req.Code, s.Client(r))
	if wait, ok := authn.RetryAfter(err); ok {
		s.writeRateLimited(w, r, "second_factor", wait)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	noteUser(w, res.User.ID)
	codes = recoveryCodes(codes).RecoveryCodes
	if res.Session != nil {
		s.SetSessionCookie(w, res.Session.Secret, res.Session.Session.ExpiresAt)
		writeJSON(w, http.StatusOK, enrolSessionResponse{sessionLoginResponse{User: res.User, ExpiresAt: res.Session.ExpiresAt}, codes})
		return
	}
	p := res.Tokens
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, enrolTokenResponse{tokenResponse{Token: p.AccessToken, AccessToken: p.AccessToken, TokenType: "Bearer",
		ExpiresIn: int64(p.ExpiresAt.Sub(s.now()).Round(time.Second) / time.Second), RefreshToken: p.RefreshToken}, codes})
}
