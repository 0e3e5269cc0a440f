package http

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
)

// grantsResponse lists the applications the caller granted access to.
type grantsResponse struct {
	Grants []authn.GrantView `json:"grants"`
}

// handleListGrants answers the caller's grants to applications (OpenID Connect clients).
func (s *Server) handleListGrants(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	grants, err := s.Authn.ListGrants(r.Context(), a.UserID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, grantsResponse{Grants: grants})
}

// handleRevokeGrant withdraws the caller's grant to one application. An unknown or malformed
// client id is not_found.
func (s *Server) handleRevokeGrant(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	if err := s.Authn.RevokeGrant(r.Context(), a.UserID, r.PathValue("client_id"), s.Client(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	noContent(w)
}
