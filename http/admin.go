package http

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
)

// Paging limits of GET /api/admin/users.
const (
	defaultPageSize = 50
	maxPageSize     = 500
)

type usersResponse struct {
	Users []*gatehouse.User `json:"users"`
	// Next is the "after" value of the next page; empty on the last page.
	Next string `json:"next,omitempty"`
}

func (s *Server) handleAdminListUsers(w http.ResponseWriter, r *http.Request, a *gatehouse.Auth) {
	limit, after, err := pageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	users, err := s.Users.ListUsers(r.Context(), after, limit+1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp := usersResponse{Users: users}
	if len(users) > limit {
		resp.Users = users[:limit]
		resp.Next = users[limit-1].ID
	}
	if resp.Users == nil {
		resp.Users = []*gatehouse.User{}
	}
	writeJSON(w, http.StatusOK, resp)
}

func pageParams(r *http.Request) (limit int, after string, err error) {
	q := r.URL.Query()
	limit = defaultPageSize
	if v := q.Get("limit"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 || n > maxPageSize {
			return 0, "", badRequest("limit: must be a whole number from 1 to " + strconv.Itoa(maxPageSize))
		}
		limit = n
	}
	after = q.Get("after")
	if after != "" && !gatehouse.ValidID(after) {
		return 0, "", badRequest("after: must be a user id from a previous page")
	}
	return limit, after, nil
}

type createUserRequest struct {
	Username string         `json:"username"`
	Password string         `json:"password"`
	Role     gatehouse.Role `json:"role"`
	Name     string         `json:"name"`
	Email    string         `json:"email"`
}

func (s *Server) handleAdminCreateUser(w http.ResponseWriter, r *http.Request, a *gatehouse.Auth) {
	var req createUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.Accounts.Create(r.Context(), account.NewUser{
		Username: req.Username, Password: req.Password, Name: req.Name, Email: req.Email, Role: req.Role,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit(r, gatehouse.AuditEvent{Action: gatehouse.AuditUserCreated, Outcome: gatehouse.AuditSuccess,
		UserID: u.ID, ActorID: a.UserID, Detail: "role " + string(u.Role)})
	writeJSON(w, http.StatusCreated, userResponse{User: u})
}

type updateUserRequest struct {
	Role     *gatehouse.Role `json:"role"`
	Disabled *bool           `json:"disabled"`
	Password *string         `json:"password"`
}

// handleAdminUpdateUser changes a user's role, disabled flag or password. Any actual change
// revokes every session and token of the user, so it takes effect on their next request.
func (s *Server) handleAdminUpdateUser(w http.ResponseWriter, r *http.Request, a *gatehouse.Auth) {
	id := r.PathValue("id")
	var req updateUserRequest
	if err := decodeJSONStrict(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !gatehouse.ValidID(id) {
		s.writeError(w, r, errUserNotFound)
		return
	}
	upd, err := s.userUpdate(r.Context(), id, &req)
	if err != nil {
		s.writeError(w, r, notFoundAs(err, errUserNotFound))
		return
	}
	old, u, err := s.applyUserUpdate(r.Context(), id, upd)
	if err != nil {
		s.writeError(w, r, notFoundAs(err, errUserNotFound))
		return
	}
	s.auditUserUpdate(r, a.UserID, old, u, upd)
	writeJSON(w, http.StatusOK, userResponse{User: u})
}

// userUpdate validates the request for the user id and hashes a new password (checked against
// the policy with the user's username).
func (s *Server) userUpdate(ctx context.Context, id string, req *updateUserRequest) (gatehouse.UserUpdate, error) {
	var upd gatehouse.UserUpdate
	if req.Role != nil && !req.Role.Valid() {
		return upd, badRequest(`role: must be "user" or "admin"`)
	}
	upd.Role, upd.Disabled = req.Role, req.Disabled
	if req.Password != nil {
		u, err := s.Users.UserByID(ctx, id)
		if err != nil {
			return upd, err
		}
		h, err := s.Accounts.HashPassword(ctx, u.Username, *req.Password)
		if err != nil {
			return upd, err
		}
		upd.PasswordHash = &h
	}
	return upd, nil
}

// applyUserUpdate stores upd and, if it changes anything that a session or token depends on,
// revokes the user's sessions and tokens. The revocation comes first so that no request sees
// the new role with an old credential.
func (s *Server) applyUserUpdate(ctx context.Context, id string, upd gatehouse.UserUpdate) (old, u *gatehouse.User, err error) {
	old, err = s.Users.UserByID(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	changed := upd.PasswordHash != nil ||
		upd.Role != nil && *upd.Role != old.Role ||
		upd.Disabled != nil && *upd.Disabled != old.Disabled
	if changed {
		if err := s.revokeEverywhere(ctx, id); err != nil {
			return nil, nil, err
		}
	}
	u, err = s.Users.UpdateUser(ctx, id, upd)
	return old, u, err
}

func (s *Server) handleAdminDeleteUser(w http.ResponseWriter, r *http.Request, a *gatehouse.Auth) {
	id := r.PathValue("id")
	if !gatehouse.ValidID(id) {
		s.writeError(w, r, errUserNotFound)
		return
	}
	if _, err := s.Users.UserByID(r.Context(), id); err != nil {
		s.writeError(w, r, notFoundAs(err, errUserNotFound))
		return
	}
	if err := s.revokeEverywhere(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Users.DeleteUser(r.Context(), id); err != nil {
		s.writeError(w, r, notFoundAs(err, errUserNotFound))
		return
	}
	s.audit(r, gatehouse.AuditEvent{Action: gatehouse.AuditUserDeleted, Outcome: gatehouse.AuditSuccess, UserID: id, ActorID: a.UserID})
	noContent(w)
}

func (s *Server) handleAdminListSessions(w http.ResponseWriter, r *http.Request, a *gatehouse.Auth) {
	id := r.PathValue("id")
	if err := s.userExists(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	current := ""
	if a.Session != nil {
		current = a.Session.Handle
	}
	resp, err := s.sessionViews(r, id, current)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// handleAdminRevokeUser logs the user out everywhere: sessions and tokens.
func (s *Server) handleAdminRevokeUser(w http.ResponseWriter, r *http.Request, a *gatehouse.Auth) {
	id := r.PathValue("id")
	if err := s.userExists(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.revokeEverywhere(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit(r, gatehouse.AuditEvent{Action: gatehouse.AuditSessionsRevoked, Outcome: gatehouse.AuditSuccess, UserID: id, ActorID: a.UserID,
		Detail: "every session and token"})
	noContent(w)
}

func (s *Server) handleAdminDeleteSession(w http.ResponseWriter, r *http.Request, a *gatehouse.Auth) {
	handle := r.PathValue("id")
	if !gatehouse.ValidID(handle) {
		s.writeError(w, r, errSessionNotFound)
		return
	}
	owner, err := s.Sessions.RevokeAnyHandle(r.Context(), handle)
	if err != nil {
		s.writeError(w, r, notFoundAs(err, errSessionNotFound))
		return
	}
	s.audit(r, gatehouse.AuditEvent{Action: gatehouse.AuditSessionRevoked, Outcome: gatehouse.AuditSuccess, UserID: owner, ActorID: a.UserID,
		Detail: "session " + handle})
	noContent(w)
}

func (s *Server) userExists(ctx context.Context, id string) error {
	if !gatehouse.ValidID(id) {
		return errUserNotFound
	}
	_, err := s.Users.UserByID(ctx, id)
	return notFoundAs(err, errUserNotFound)
}
