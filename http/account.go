package http

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
)

// The account life cycle over the JSON API: profile, address verification, password reset,
// and the admin's look-ups. Each handler decodes, calls authn, and encodes.

// forgotAnswer is the one answer of POST /api/password/forgot, whatever happened.
const forgotAnswer = "If an account has this address, a link to choose a new password is on its way to it."

type forgotRequest struct {
	Email string `json:"email"`
}

type messageResponse struct {
	Message string `json:"message"`
}

// handleForgotPassword answers 202 with the same body for every well-formed request: the
// look-up and the mail happen after the answer (authn.Service.ForgotPassword).
func (s *Server) handleForgotPassword(w http.ResponseWriter, r *http.Request) {
	var req forgotRequest
	if err := decodeJSONStrict(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !s.writeMailError(w, r, s.Authn.ForgotPassword(r.Context(), req.Email, s.Client(r))) {
		writeJSON(w, http.StatusAccepted, messageResponse{Message: forgotAnswer})
	}
}

// writeMailError answers err (a throttled request gets 429 with Retry-After) and reports
// whether there was one.
func (s *Server) writeMailError(w http.ResponseWriter, r *http.Request, err error) bool {
	if err == nil {
		return false
	}
	if wait, ok := authn.RetryAfter(err); ok {
		s.NoteThrottled(w, "mail", wait)
	}
	s.writeError(w, r, err)
	return true
}

type resetRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// handleResetPassword sets a new password through a reset link's token; every session and
// token of the account is revoked (authn.Service.ResetPassword).
func (s *Server) handleResetPassword(w http.ResponseWriter, r *http.Request) {
	var req resetRequest
	if err := decodeJSONStrict(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Token == "" {
		s.writeError(w, r, badRequest("token: is required"))
		return
	}
	if _, err := s.Authn.ResetPassword(r.Context(), req.Token, req.Password, s.Client(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	noContent(w)
}

type verifyRequest struct {
	Token string `json:"token"`
}

// handleVerifyEmail redeems a verification link's token (authn.Service.VerifyEmail).
func (s *Server) handleVerifyEmail(w http.ResponseWriter, r *http.Request) {
	var req verifyRequest
	if err := decodeJSONStrict(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Token == "" {
		s.writeError(w, r, badRequest("token: is required"))
		return
	}
	if _, err := s.Authn.VerifyEmail(r.Context(), req.Token, s.Client(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	noContent(w)
}

// handleResendVerification mails the caller a new verification link (throttled).
func (s *Server) handleResendVerification(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	if !s.writeMailError(w, r, s.Authn.SendVerification(r.Context(), a.UserID, s.Client(r))) {
		writeJSON(w, http.StatusAccepted, messageResponse{Message: "If the address is not verified yet, a link to verify it is on its way."})
	}
}

type profileRequest struct {
	Name  *string `json:"name"`
	Email *string `json:"email"`
}

type profileResponse struct {
	User *gatehouse.User `json:"user"`
	// EmailVerificationSent says that a link went to the new address, which replaces the
	// current one once the link is opened.
	EmailVerificationSent bool `json:"email_verification_sent"`
}

// handleUpdateProfile changes the caller's name at once and their address through a
// verification link (authn.Service.UpdateProfile).
func (s *Server) handleUpdateProfile(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	var req profileRequest
	if err := decodeJSONStrict(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, sent, err := s.Authn.UpdateProfile(r.Context(), a, authn.ProfileChange{Name: req.Name, Email: req.Email}, s.Client(r))
	if s.writeMailError(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, profileResponse{User: u, EmailVerificationSent: sent})
}

type deleteAccountRequest struct {
	Password        string `json:"password"`
	ConfirmUsername string `json:"confirm_username"`
}

// handleDeleteAccount is a user's erasure of their own account (authn.Service.DeleteOwnAccount),
// when the server allows it: the password again and the username as confirmation; a browser's
// session cookie is cleared.
func (s *Server) handleDeleteAccount(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	if !s.cfg.AllowAccountDeletion {
		s.WriteCode(w, r, gatehouse.EFORBIDDEN, "deleting your own account is turned off on this server; ask an administrator")
		return
	}
	var req deleteAccountRequest
	if err := decodeJSONStrict(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	err := s.Authn.DeleteOwnAccount(r.Context(), a.Principal, req.Password, req.ConfirmUsername, s.Client(r))
	if wait, ok := authn.RetryAfter(err); ok {
		s.writeRateLimited(w, r, "login", wait)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if a.Method == gatehouse.AuthSession {
		s.SignOutBrowser(w)
	}
	noContent(w)
}

// handleAdminGetUser answers one user.
func (s *Server) handleAdminGetUser(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	u, err := s.Authn.User(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, userResponse{User: u})
}
