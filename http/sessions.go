package http

import (
	"context"
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// SetSessionCookie sends the session id: HttpOnly, SameSite=Lax, Path=/, Secure (with the
// __Host- prefix) when configured. It expires with the session's absolute lifetime; the idle
// timeout is enforced by the server.
func (s *Server) SetSessionCookie(w http.ResponseWriter, secret string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName, Value: secret, Path: "/", Expires: expires, Domain: s.cfg.CookieDomain,
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
}

// ClearSessionCookie tells the browser to drop the session cookie.
func (s *Server) ClearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName, Value: "", Path: "/", MaxAge: -1, Domain: s.cfg.CookieDomain,
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
}

// SignOutBrowser clears the session cookie and asks the browser to drop every cookie of this
// site (Clear-Site-Data, honoured over HTTPS and on localhost): what an explicit sign-out of a
// browser answers, so that nothing the site set survives it.
func (s *Server) SignOutBrowser(w http.ResponseWriter) {
	s.ClearSessionCookie(w)
	w.Header()["Clear-Site-Data"] = clearCookies
}

var clearCookies = []string{`"cookies"`}

// SessionView is a session as the API lists it.
type SessionView struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	Current    bool      `json:"current"`
}

type sessionsResponse struct {
	Sessions []SessionView `json:"sessions"`
}

// SessionViews lists the user's live sessions; current marks the one with that handle.
func (s *Server) SessionViews(ctx context.Context, userID, current string) ([]SessionView, error) {
	list, err := s.Authn.Sessions(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]SessionView, 0, len(list))
	for _, ss := range list {
		out = append(out, SessionView{
			ID: ss.Handle, CreatedAt: ss.CreatedAt, LastSeenAt: ss.LastSeenAt,
			ExpiresAt: s.Authn.SessionExpiresAt(ss), IP: ss.IP, UserAgent: ss.UserAgent,
			Current: current != "" && ss.Handle == current,
		})
	}
	return out, nil
}

func (s *Server) writeSessions(w http.ResponseWriter, r *http.Request, userID string, a gatehouse.Auth) {
	current := ""
	if a.Session != nil {
		current = a.Session.Handle
	}
	views, err := s.SessionViews(r.Context(), userID, current)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sessionsResponse{Sessions: views})
}

func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	s.writeSessions(w, r, a.UserID, a)
}

// handleDeleteSession signs out one of the caller's own sessions. Another user's session, an
// unknown or a malformed id all answer not_found, so nothing reveals which ids exist.
func (s *Server) handleDeleteSession(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	handle := r.PathValue("id")
	if err := s.Authn.RevokeSession(r.Context(), a.UserID, handle, s.Client(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	if a.Session != nil && a.Session.Handle == handle {
		s.SignOutBrowser(w)
	}
	noContent(w)
}
