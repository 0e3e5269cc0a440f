package http

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/authn"
)

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Mode     string `json:"mode"`
}

type tokenResponse struct {
	Token        string `json:"token"`
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

type sessionLoginResponse struct {
	User      *gatehouse.User `json:"user"`
	ExpiresAt time.Time       `json:"expires_at"`
}

// handleLogin checks a username and password (authn.Service.Login: throttles, audit) and
// answers with a session cookie or a token pair, depending on the requested (or default) mode.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if !s.decodeSameOrigin(w, r, &req) {
		return
	}
	if req.Mode == "" {
		req.Mode = s.cfg.DefaultMode
	}
	res, err := s.Authn.Login(r.Context(), authn.LoginInput{Username: req.Username, Password: req.Password,
		Mode: req.Mode, Client: s.Client(r)})
	s.writeLoginResult(w, r, "login", res, err)
}

// writeCredential answers with the credential of a completed login: the session cookie and
// the user, or the token pair. A login that needs another step is not one this API completes
// yet: it answers an internal error rather than a credential.
func (s *Server) writeCredential(w http.ResponseWriter, r *http.Request, res authn.LoginResult) {
	if res.Step != authn.StepDone {
		s.writeError(w, r, fmt.Errorf("http: login step %d has no answer here", res.Step))
		return
	}
	if res.Session != nil {
		s.SetSessionCookie(w, res.Session.Secret, res.Session.Session.ExpiresAt)
		writeJSON(w, http.StatusOK, sessionLoginResponse{User: res.User, ExpiresAt: res.Session.ExpiresAt})
		return
	}
	s.writeTokenPair(w, *res.Tokens)
}

// writeTokenPair answers with a token response. expires_in counts from now, so a pair handed
// out again within the refresh reuse grace states the time its access token has left.
func (s *Server) writeTokenPair(w http.ResponseWriter, p authn.TokenPair) {
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tokenResponse{
		Token: p.AccessToken, AccessToken: p.AccessToken, TokenType: "Bearer",
		ExpiresIn: int64(p.ExpiresAt.Sub(s.now()).Round(time.Second) / time.Second), RefreshToken: p.RefreshToken,
	})
}

type registerRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Name     string `json:"name"`
	Email    string `json:"email"`
}

type userResponse struct {
	User *gatehouse.User `json:"user"`
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.AllowRegistration {
		s.WriteCode(w, r, gatehouse.EFORBIDDEN, "self-registration is disabled on this server")
		return
	}
	var req registerRequest
	if !s.decodeSameOrigin(w, r, &req) {
		return
	}
	u, err := s.Authn.Register(r.Context(), account.NewUser{
		Username: req.Username, Password: req.Password, Name: req.Name, Email: req.Email,
	}, s.Client(r))
	if wait, ok := authn.RetryAfter(err); ok {
		s.writeRateLimited(w, r, "register", wait)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, userResponse{User: u})
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// handleRefresh rotates a refresh token and issues a new access token for the user's current
// identity (authn.Service.Refresh).
func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	var req refreshRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.RefreshToken == "" {
		s.writeError(w, r, badRequest("refresh_token: is required"))
		return
	}
	res, err := s.Authn.Refresh(r.Context(), req.RefreshToken, s.Client(r))
	if wait, ok := authn.RetryAfter(err); ok {
		s.writeRateLimited(w, r, "credential", wait)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeTokenPair(w, res.TokenPair)
}

// handleLogout ends what authenticated the request: the session (and its cookie), or the access
// token together with its refresh family.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	var cred authn.Credential
	if a.Method == gatehouse.AuthSession {
		cred.SessionID, _ = s.SessionCookie(r)
		s.SignOutBrowser(w)
	}
	if err := s.Authn.Logout(r.Context(), a, cred, s.Client(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	noContent(w)
}

// handleLogoutAll signs the caller out everywhere: every session, every token issued before now.
func (s *Server) handleLogoutAll(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	if err := s.Authn.LogoutAll(r.Context(), a, s.Client(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	if a.Method == gatehouse.AuthSession {
		s.SignOutBrowser(w)
	}
	noContent(w)
}

type protectedResponse struct {
	Message string              `json:"message"`
	User    gatehouse.Principal `json:"user"`
	Auth    string              `json:"auth"`
}

// handleProtected is the example protected route: it answers who the caller is.
func (s *Server) handleProtected(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	writeProtected(w, &a) // protectedResponse, without reflection
}

// meResponse is the answer of GET /api/me: the account as stored now, and how the caller's
// credential was obtained (amr and acr are left out for a credential made before gatehouse
// recorded them).
type meResponse struct {
	User *gatehouse.User `json:"user"`
	Auth string          `json:"auth"`
	AMR  []string        `json:"amr,omitempty"`
	ACR  string          `json:"acr,omitempty"`
}

// handleMe answers with the caller's account as stored now.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	u, err := s.Authn.Me(r.Context(), a)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	amr := a.AMR()
	writeJSON(w, http.StatusOK, meResponse{User: u, Auth: a.Method, AMR: amr.AMR(), ACR: amr.ACR()})
}

func noContent(w http.ResponseWriter) {
	w.Header()["Cache-Control"] = noStore
	w.WriteHeader(http.StatusNoContent)
}

// decodeSameOrigin refuses a cross-origin request (403) and decodes the JSON body into v (the
// decoder's error answer otherwise); it reports whether the handler may go on.
func (s *Server) decodeSameOrigin(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := s.CheckOrigin(r); err != nil {
		s.WriteCode(w, r, gatehouse.EFORBIDDEN, "cross-origin request refused")
		return false
	}
	if err := decodeJSON(w, r, v); err != nil {
		s.writeError(w, r, err)
		return false
	}
	return true
}
