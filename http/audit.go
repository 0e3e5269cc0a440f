package http

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
)

// auditRoutes mounts the route of the audit trail.
func (s *Server) auditRoutes(handle func(method, path string, h http.HandlerFunc)) {
	handle("GET", "/api/admin/audit", s.authed(gatehouse.RoleAdmin, s.handleAdminAudit))
}

// audit records e, completed with its id, time, and the client's address and user agent: in
// the logs (always, as a structured "audit" record) and in the audit store when there is one.
// Storing is best effort: the action it records has already happened, so a failure is logged
// and does not change the answer. No event carries a secret.
func (s *Server) audit(r *http.Request, e gatehouse.AuditEvent) {
	now := s.now()
	e.ID, e.Time = gatehouse.NewID(now), now
	e.IP, e.UserAgent = s.clientIPTrustingProxies(r), gatehouse.CleanUserAgent(r.UserAgent(), '?')
	// The client hanging up must not lose the record.
	ctx := context.WithoutCancel(r.Context())
	level := slog.LevelInfo
	if e.Outcome != gatehouse.AuditSuccess {
		level = slog.LevelWarn
	}
	s.log.LogAttrs(ctx, level, "audit", slog.String("event_id", e.ID), slog.String("action", e.Action),
		slog.String("outcome", e.Outcome), slog.String("user_id", e.UserID), slog.String("actor_id", e.ActorID),
		slog.String("ip", e.IP), slog.String("user_agent", e.UserAgent), slog.String("detail", e.Detail))
	if s.Audit == nil {
		return
	}
	if err := s.Audit.AppendAudit(ctx, &e); err != nil {
		s.log.WarnContext(ctx, "audit: storing an event failed", "event_id", e.ID, "action", e.Action, "err", err)
	}
}

// accountID returns the id of the account username names, or "".
func (s *Server) accountID(ctx context.Context, username string) string {
	if account.ValidateUsername(username) != nil {
		return ""
	}
	u, err := s.Users.UserByUsername(ctx, username)
	if err != nil {
		return ""
	}
	return u.ID
}

// auditUserUpdate records each change an admin's update made.
func (s *Server) auditUserUpdate(r *http.Request, actor string, old, u *gatehouse.User, upd gatehouse.UserUpdate) {
	ev := func(action, detail string) {
		s.audit(r, gatehouse.AuditEvent{Action: action, Outcome: gatehouse.AuditSuccess, UserID: u.ID, ActorID: actor, Detail: detail})
	}
	if old.Role != u.Role {
		ev(gatehouse.AuditRoleChanged, string(old.Role)+"->"+string(u.Role))
	}
	if !old.Disabled && u.Disabled {
		ev(gatehouse.AuditUserDisabled, "")
	}
	if old.Disabled && !u.Disabled {
		ev(gatehouse.AuditUserEnabled, "")
	}
	if upd.PasswordHash != nil {
		ev(gatehouse.AuditPasswordChanged, "")
	}
}

type auditResponse struct {
	Events []*gatehouse.AuditEvent `json:"events"`
	// Next is the "after" value of the next (older) page; empty on the last page.
	Next string `json:"next,omitempty"`
}

// handleAdminAudit pages through the audit trail, newest first: ?limit= (1 to 500, default
// 50), ?after= (the "next" of the previous page), ?user_id= and ?action= to filter.
func (s *Server) handleAdminAudit(w http.ResponseWriter, r *http.Request, a *gatehouse.Auth) {
	if s.Audit == nil {
		s.writeCode(w, r, gatehouse.ENOTFOUND, "this server keeps no audit trail")
		return
	}
	q, err := auditQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit := q.Limit
	q.Limit++
	events, err := s.Audit.ListAudit(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp := auditResponse{Events: events}
	if len(events) > limit {
		resp.Events = events[:limit]
		resp.Next = events[limit-1].ID
	}
	if resp.Events == nil {
		resp.Events = []*gatehouse.AuditEvent{}
	}
	writeJSON(w, http.StatusOK, resp)
}

func auditQuery(r *http.Request) (gatehouse.AuditQuery, error) {
	limit, _, err := pageParams(r)
	if err != nil {
		return gatehouse.AuditQuery{}, err
	}
	v := r.URL.Query()
	q := gatehouse.AuditQuery{Limit: limit, After: v.Get("after"), UserID: v.Get("user_id"), Action: v.Get("action")}
	switch {
	case q.After != "" && !gatehouse.ValidID(q.After):
		return q, badRequest("after: must be the \"next\" value of a previous page")
	case q.UserID != "" && !gatehouse.ValidID(q.UserID):
		return q, badRequest("user_id: must be a user id")
	case q.Action != "" && !validAction(q.Action):
		return q, badRequest("action: must be one of " + strings.Join(auditActions, ", "))
	}
	return q, nil
}

var auditActions = []string{
	gatehouse.AuditLogin, gatehouse.AuditLogout, gatehouse.AuditLogoutAll, gatehouse.AuditSessionRevoked,
	gatehouse.AuditSessionsRevoked, gatehouse.AuditTokenRevoked, gatehouse.AuditRefreshReuse,
	gatehouse.AuditUserCreated, gatehouse.AuditUserDeleted, gatehouse.AuditRoleChanged,
	gatehouse.AuditUserDisabled, gatehouse.AuditUserEnabled, gatehouse.AuditPasswordChanged, gatehouse.AuditKeyRotated,
	gatehouse.AuditDataRestored, gatehouse.AuditDataMigrated,
}

func validAction(a string) bool {
	for _, x := range auditActions {
		if a == x {
			return true
		}
	}
	return false
}
