package http

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse"
)

// registerClientRequest is the body of POST /api/admin/clients.
type registerClientRequest struct {
	Name                   string   `json:"name"`
	RedirectURIs           []string `json:"redirect_uris"`
	Public                 bool     `json:"public"`
	FirstParty             bool     `json:"first_party"`
	Scopes                 []string `json:"scopes"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	BackchannelLogoutURI   string   `json:"backchannel_logout_uri"`
	IDTokenAlg             string   `json:"id_token_signed_response_alg"`
}

// clientResponse is a client, with its secret once: at registration and after a rotation.
type clientResponse struct {
	*gatehouse.Client
	Secret string `json:"client_secret,omitempty"`
}

type clientsResponse struct {
	Clients []*gatehouse.Client `json:"clients"`
	Next    string              `json:"next,omitempty"`
}

func (s *Server) handleAdminRegisterClient(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	var req registerClientRequest
	if err := decodeJSONStrict(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	c, secret, err := s.Authn.RegisterClient(r.Context(), a.UserID, gatehouse.ClientSpec{
		Name: req.Name, RedirectURIs: req.RedirectURIs, Public: req.Public, FirstParty: req.FirstParty, Scopes: req.Scopes,
		PostLogoutRedirectURIs: req.PostLogoutRedirectURIs, BackchannelLogoutURI: req.BackchannelLogoutURI, IDTokenAlg: req.IDTokenAlg,
	}, s.Client(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, clientResponse{Client: c, Secret: secret})
}

func (s *Server) handleAdminListClients(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	limit, after, err := pageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cs, err := s.Authn.ListClients(r.Context(), after, limit+1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp := clientsResponse{Clients: cs}
	if len(cs) > limit {
		resp.Clients, resp.Next = cs[:limit], cs[limit-1].ID
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) handleAdminGetClient(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	c, err := s.Authn.GetClient(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, clientResponse{Client: c})
}

// handleAdminUpdateClient changes a client's fields (gatehouse.ClientPatch); an unknown field
// is a bad_request naming it.
func (s *Server) handleAdminUpdateClient(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	var p gatehouse.ClientPatch
	if err := decodeJSONStrict(w, r, &p); err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.Authn.UpdateClient(r.Context(), a.UserID, r.PathValue("id"), p, s.Client(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, clientResponse{Client: c})
}

func (s *Server) handleAdminRotateClientSecret(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	id := r.PathValue("id")
	secret, err := s.Authn.RotateClientSecret(r.Context(), a.UserID, id, s.Client(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"client_id": id, "client_secret": secret})
}

func (s *Server) handleAdminDeleteClient(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	if err := s.Authn.DeleteClient(r.Context(), a.UserID, r.PathValue("id"), s.Client(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	noContent(w)
}
