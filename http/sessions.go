package http

import (
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// setSessionCookie sends the session id: HttpOnly, SameSite=Lax, Path=/, Secure (with the
// __Host- prefix) when configured. It expires with the session's absolute lifetime; the idle
// timeout is enforced by the server.
func (s *Server) setSessionCookie(w http.ResponseWriter, secret string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName, Value: secret, Path: "/", Expires: expires, Domain: s.cfg.CookieDomain,
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName, Value: "", Path: "/", MaxAge: -1, Domain: s.cfg.CookieDomain,
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
}

// signOutBrowser clears the session cookie and asks the browser to drop every cookie of this
// site (Clear-Site-Data, honoured over HTTPS and on localhost): what an explicit sign-out of a
// browser answers, so that nothing the site set survives it.
func (s *Server) signOutBrowser(w http.ResponseWriter) {
	s.clearSessionCookie(w)
	w.Header()["Clear-Site-Data"] = clearCookies
}

var clearCookies = []string{`"cookies"`}

type sessionView struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	Current    bool      `json:"current"`
}

type sessionsResponse struct {
	Sessions []sessionView `json:"sessions"`
}

// sessionViews lists the user's live sessions; current marks the one with that handle.
func (s *Server) sessionViews(r *http.Request, userID, current string) (sessionsResponse, error) {
	list, err := s.Sessions.List(r.Context(), userID)
	if err != nil {
		return sessionsResponse{}, err
	}
	out := sessionsResponse{Sessions: make([]sessionView, 0, len(list))}
	for _, ss := range list {
		out.Sessions = append(out.Sessions, sessionView{
			ID: ss.Handle, CreatedAt: ss.CreatedAt, LastSeenAt: ss.LastSeenAt,
			ExpiresAt: s.Sessions.ExpiresAt(ss), IP: ss.IP, UserAgent: ss.UserAgent,
			Current: current != "" && ss.Handle == current,
		})
	}
	return out, nil
}

func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request, a *gatehouse.Auth) {
	current := ""
	if a.Session != nil {
		current = a.Session.Handle
	}
	resp, err := s.sessionViews(r, a.UserID, current)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// handleDeleteSession signs out one of the caller's own sessions. Another user's session, an
// unknown or a malformed id all answer not_found, so nothing reveals which ids exist.
func (s *Server) handleDeleteSession(w http.ResponseWriter, r *http.Request, a *gatehouse.Auth) {
	handle := r.PathValue("id")
	if !gatehouse.ValidID(handle) {
		s.writeError(w, r, errSessionNotFound)
		return
	}
	if err := s.Sessions.RevokeHandle(r.Context(), a.UserID, handle); err != nil {
		s.writeError(w, r, notFoundAs(err, errSessionNotFound))
		return
	}
	if a.Session != nil && a.Session.Handle == handle {
		s.signOutBrowser(w)
	}
	s.audit(r, gatehouse.AuditEvent{Action: gatehouse.AuditSessionRevoked, Outcome: gatehouse.AuditSuccess, UserID: a.UserID,
		Detail: "session " + handle})
	noContent(w)
}

var (
	errSessionNotFound = gatehouse.Errorf(gatehouse.ENOTFOUND, "no such session")
	errUserNotFound    = gatehouse.Errorf(gatehouse.ENOTFOUND, "no such user")
)

// notFoundAs replaces a not_found error by a more specific one; other errors pass through.
func notFoundAs(err, nf error) error {
	if isCode(err, gatehouse.ENOTFOUND) {
		return nf
	}
	return err
}
