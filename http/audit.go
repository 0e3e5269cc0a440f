package http

import (
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
)

// auditRoutes mounts the route of the audit trail.
func (s *Server) auditRoutes(handle func(method, path string, h http.HandlerFunc)) {
	handle("GET", "/api/admin/audit", s.authed(gatehouse.RoleAdmin, s.handleAdminAudit))
}

type auditResponse struct {
	Events []*gatehouse.AuditEvent `json:"events"`
	// Next is the "after" value of the next (older) page; empty on the last page.
	Next string `json:"next,omitempty"`
}

// handleAdminAudit pages through the audit trail, newest first: ?limit= (1 to 500, default
// 50), ?after= (the "next" of the previous page), ?user_id= and ?action= to filter.
func (s *Server) handleAdminAudit(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	if !s.Authn.KeepsAudit() {
		s.writeError(w, r, authn.ErrNoAuditTrail)
		return
	}
	q, err := auditQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit := q.Limit
	q.Limit++
	events, err := s.Authn.ListAudit(r.Context(), q)
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
	gatehouse.AuditDataRestored, gatehouse.AuditDataMigrated, gatehouse.AuditClientCreated, gatehouse.AuditClientDeleted,
	gatehouse.AuditClientUpdated, gatehouse.AuditClientSecretRotated, gatehouse.AuditGrantRevoked, gatehouse.AuditBackchannelLogout,
}

func validAction(a string) bool {
	for _, x := range auditActions {
		if a == x {
			return true
		}
	}
	return false
}
