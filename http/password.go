package http

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
)

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// handleAccountPassword is POST /api/me/password: the caller changes their own password,
// giving the current one (authn.Service.ChangePassword). Every session and token of the user
// ends; the caller gets a new credential of the kind it used, as a login answers (a session
// cookie, or a token pair), so only the other devices are signed out.
func (s *Server) handleAccountPassword(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	var req changePasswordRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	switch {
	case req.CurrentPassword == "":
		s.writeError(w, r, badRequest("current_password: is required"))
		return
	case req.NewPassword == "":
		s.writeError(w, r, badRequest("new_password: is required"))
		return
	}
	res, err := s.Authn.ChangePassword(r.Context(), a.Principal, a.AMR(), req.CurrentPassword, req.NewPassword, a.Method, s.Client(r))
	if wait, ok := authn.RetryAfter(err); ok {
		s.writeRateLimited(w, r, "login", wait)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeCredential(w, r, res)
}
