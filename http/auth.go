package http

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/token"
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

// handleLogin checks a username and password and answers with a session cookie or a token
// pair, depending on the requested (or default) mode.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if err := s.checkOrigin(r); err != nil {
		s.writeCode(w, r, gatehouse.EFORBIDDEN, "cross-origin request refused")
		return
	}
	var req loginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	mode, err := s.loginMode(&req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.checkPassword(r, passwordCheck{username: req.Username, password: req.Password,
		action: gatehouse.AuditLogin, detail: "mode=" + mode, auditSuccess: true})
	s.Metrics.login(err)
	if wait, ok := retryAfter(err); ok {
		s.writeRateLimited(w, r, "login", wait)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if mode == gatehouse.AuthSession {
		s.startSession(w, r, u)
		return
	}
	s.issueTokens(w, r, u)
}

func (s *Server) loginMode(req *loginRequest) (string, error) {
	switch {
	case req.Username == "":
		return "", badRequest("username: is required")
	case req.Password == "":
		return "", badRequest("password: is required")
	}
	switch req.Mode {
	case "":
		return s.cfg.DefaultMode, nil
	case gatehouse.AuthSession, gatehouse.AuthToken:
		return req.Mode, nil
	}
	return "", badRequest(`mode: must be "session" or "token"`)
}

// startSession creates a session with a fresh id (never one the client offered) and sets the
// cookie.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u *gatehouse.User) {
	secret, sess, err := s.Sessions.Create(r.Context(), u.Principal(), s.clientIP(r), r.UserAgent())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.setSessionCookie(w, secret, sess.ExpiresAt)
	writeJSON(w, http.StatusOK, sessionLoginResponse{User: u, ExpiresAt: s.Sessions.ExpiresAt(sess)})
}

// issueTokens starts a refresh family and answers with an access token and its refresh token.
func (s *Server) issueTokens(w http.ResponseWriter, r *http.Request, u *gatehouse.User) {
	refresh, fam, err := s.Refresh.Start(r.Context(), u.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	access, err := s.issueAccess(r.Context(), u, fam)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeTokenPair(w, access, refresh)
}

// issueAccess signs an access token of u in family fam, stamped no earlier than u's
// not-before time.
func (s *Server) issueAccess(ctx context.Context, u *gatehouse.User, fam *gatehouse.RefreshFamily) (token.Issued, error) {
	nb, err := s.Revocations.NotBefore(ctx, u.ID)
	if err != nil {
		return token.Issued{}, err
	}
	access, t, err := s.Tokens.IssueFor(u, fam.ID, gatehouse.IssueStamp(s.now(), nb))
	if err != nil {
		return token.Issued{}, err
	}
	return token.Issued{AccessToken: access, ExpiresAt: t.ExpiresAt}, nil
}

// issueRefreshed is the token.IssueFunc of a refresh: the access token for the family's user
// as stored now, if the family may still have one (see refreshUser).
func (s *Server) issueRefreshed(ctx context.Context, fam *gatehouse.RefreshFamily) (token.Issued, error) {
	u, err := s.refreshUser(ctx, fam)
	if err != nil {
		return token.Issued{}, err
	}
	return s.issueAccess(ctx, u, fam)
}

// writeTokenPair answers with a token response. expires_in counts from now, so a pair handed
// out again within the refresh reuse grace states the time its access token has left.
func (s *Server) writeTokenPair(w http.ResponseWriter, access token.Issued, refresh string) {
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tokenResponse{
		Token: access.AccessToken, AccessToken: access.AccessToken, TokenType: "Bearer",
		ExpiresIn: int64(access.ExpiresAt.Sub(s.now()).Round(time.Second) / time.Second), RefreshToken: refresh,
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
		s.writeCode(w, r, gatehouse.EFORBIDDEN, "self-registration is disabled on this server")
		return
	}
	if err := s.checkOrigin(r); err != nil {
		s.writeCode(w, r, gatehouse.EFORBIDDEN, "cross-origin request refused")
		return
	}
	var req registerRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	limits := s.registration(r, req.Username)
	if wait, err := s.admitRegistration(r.Context(), limits); err != nil || wait > 0 {
		if err != nil {
			s.writeError(w, r, err)
		} else {
			s.writeRateLimited(w, r, "register", wait)
		}
		return
	}
	u, err := s.Accounts.Create(r.Context(), account.NewUser{
		Username: req.Username, Password: req.Password, Name: req.Name, Email: req.Email, Role: gatehouse.RoleUser,
	})
	s.registrationDone(r.Context(), limits, err)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit(r, gatehouse.AuditEvent{Action: gatehouse.AuditUserCreated, Outcome: gatehouse.AuditSuccess,
		UserID: u.ID, Detail: "self-registration, role " + string(u.Role)})
	writeJSON(w, http.StatusCreated, userResponse{User: u})
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// handleRefresh rotates a refresh token and issues a new access token for the user's current
// identity. A family whose user is gone, disabled or logged out everywhere since it began dies.
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
	rot, wait, err := s.rotateRefresh(r, req.RefreshToken)
	switch {
	case wait > 0:
		s.writeRateLimited(w, r, "credential", wait)
	case err != nil:
		s.writeError(w, r, err)
	default:
		s.writeTokenPair(w, rot.Issued, rot.RefreshToken)
	}
}

// rotateRefresh rotates a refresh token for both refresh routes (POST /api/token/refresh and
// the OAuth token endpoint), so that they behave alike: the reuse of a rotated token revokes
// its family and is audited here, once, as refresh_reuse; a replay within the reuse grace is
// logged; a failed token counts against the client's address (credentialFailed), and wait is
// the time to hold off once the address is over its budget.
func (s *Server) rotateRefresh(r *http.Request, raw string) (rot token.Rotation, wait time.Duration, err error) {
	rot, err = s.Refresh.Rotate(r.Context(), raw, s.issueRefreshed)
	if err == nil {
		s.logReplay(r, rot)
		return rot, 0, nil
	}
	if errors.Is(err, gatehouse.ErrRefreshReuse) {
		e := gatehouse.AuditEvent{Action: gatehouse.AuditRefreshReuse, Outcome: gatehouse.AuditFailure, Detail: "family revoked"}
		if fam := rot.Family; fam != nil {
			e.UserID, e.Detail = fam.UserID, "family "+fam.ID+" revoked"
		}
		s.audit(r, e)
	}
	return rot, s.credentialFailed(r, err), err
}

// logReplay notes a refresh answered within the reuse grace with the pair an earlier
// presentation of the same token got (its family id, never a token).
func (s *Server) logReplay(r *http.Request, rot token.Rotation) {
	if rot.Replay {
		s.log.InfoContext(r.Context(), "refresh token replayed within the reuse grace: same pair handed out again",
			"family", rot.Family.ID, "ip", s.clientIP(r))
	}
}

var errFamilyDead = gatehouse.Errorf(gatehouse.EINVALIDTOKEN, "the refresh token is no longer valid")

func (s *Server) refreshUser(ctx context.Context, fam *gatehouse.RefreshFamily) (*gatehouse.User, error) {
	u, err := s.Users.UserByID(ctx, fam.UserID)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, s.killFamily(ctx, fam)
	}
	if err != nil {
		return nil, err
	}
	nb, err := s.Revocations.NotBefore(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if u.Disabled || gatehouse.IssuedBefore(fam.CreatedAt, nb) {
		return nil, s.killFamily(ctx, fam)
	}
	return u, nil
}

func (s *Server) killFamily(ctx context.Context, fam *gatehouse.RefreshFamily) error {
	if err := s.Refresh.RevokeFamily(ctx, fam.ID); err != nil {
		return err
	}
	return errFamilyDead
}

// handleLogout ends what authenticated the request: the session (and its cookie), or the access
// token (by jti, until it expires) together with its refresh family.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, a *gatehouse.Auth) {
	var err error
	if a.Method == gatehouse.AuthSession {
		err = s.Sessions.Revoke(r.Context(), sessionSecretOf(s, r))
		s.signOutBrowser(w)
	} else {
		err = s.revokeAccessToken(r.Context(), a.Token)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit(r, gatehouse.AuditEvent{Action: gatehouse.AuditLogout, Outcome: gatehouse.AuditSuccess, UserID: a.UserID, Detail: "auth=" + a.Method})
	noContent(w)
}

func sessionSecretOf(s *Server, r *http.Request) string {
	secret, _ := s.sessionCookie(r)
	return secret
}

func (s *Server) revokeAccessToken(ctx context.Context, t *gatehouse.Token) error {
	// The denial must outlast the verifier's clock-skew allowance past exp.
	if err := s.Revocations.RevokeToken(ctx, t.ID, t.ExpiresAt.Add(s.Tokens.Leeway())); err != nil {
		return err
	}
	if t.Family == "" {
		return nil
	}
	return s.Refresh.RevokeFamily(ctx, t.Family)
}

// handleLogoutAll signs the caller out everywhere: every session, every token issued before now.
func (s *Server) handleLogoutAll(w http.ResponseWriter, r *http.Request, a *gatehouse.Auth) {
	if err := s.revokeEverywhere(r.Context(), a.UserID); err != nil {
		s.writeError(w, r, err)
		return
	}
	if a.Method == gatehouse.AuthSession {
		s.signOutBrowser(w)
	}
	s.audit(r, gatehouse.AuditEvent{Action: gatehouse.AuditLogoutAll, Outcome: gatehouse.AuditSuccess, UserID: a.UserID, Detail: "auth=" + a.Method})
	noContent(w)
}

// revokeEverywhere rejects every session and token of the user issued before now. The
// not-before time comes first: once it is stored, nothing older authenticates even if deleting
// the sessions and refresh families below fails half-way.
func (s *Server) revokeEverywhere(ctx context.Context, userID string) error {
	prev, err := s.Revocations.NotBefore(ctx, userID)
	if err != nil {
		return err
	}
	if err := s.Revocations.SetNotBefore(ctx, userID, gatehouse.NextNotBefore(s.now(), prev)); err != nil {
		return err
	}
	if err := s.Sessions.RevokeUser(ctx, userID); err != nil {
		return err
	}
	return s.Refresh.RevokeUser(ctx, userID)
}

type protectedResponse struct {
	Message string              `json:"message"`
	User    gatehouse.Principal `json:"user"`
	Auth    string              `json:"auth"`
}

// handleProtected is the example protected route: it answers who the caller is.
func (s *Server) handleProtected(w http.ResponseWriter, r *http.Request, a *gatehouse.Auth) {
	writeProtected(w, a) // protectedResponse, without reflection
}

type meResponse struct {
	User *gatehouse.User `json:"user"`
	Auth string          `json:"auth"`
}

// handleMe answers with the caller's account as stored now.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request, a *gatehouse.Auth) {
	u, err := s.Users.UserByID(r.Context(), a.UserID)
	if errors.Is(err, gatehouse.ErrNotFound) {
		err = gatehouse.ErrSessionExpired
		if a.Method == gatehouse.AuthToken {
			err = errTokenRevoked
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, meResponse{User: u, Auth: a.Method})
}

func noContent(w http.ResponseWriter) {
	w.Header()["Cache-Control"] = noStore
	w.WriteHeader(http.StatusNoContent)
}
