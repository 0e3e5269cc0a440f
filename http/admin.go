package http

import (
	"net/http"
	"strconv"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/authn"
)

// Paging limits of GET /api/admin/users.
const (
	defaultPageSize = 50
	maxPageSize     = 500
	maxSearchBytes  = 254 // the longest e-mail address
)

type usersResponse struct {
	Users []*gatehouse.User `json:"users"`
	// Next is the "after" value of the next page; empty on the last page.
	Next string `json:"next,omitempty"`
}

func (s *Server) handleAdminListUsers(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	limit, after, err := pageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query().Get("q")
	if len(q) > maxSearchBytes {
		s.writeError(w, r, badRequest("q: must be at most "+strconv.Itoa(maxSearchBytes)+" bytes"))
		return
	}
	users, err := s.Authn.SearchUsers(r.Context(), q, after, limit+1)
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

func (s *Server) handleAdminCreateUser(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	var req createUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.Authn.CreateUser(r.Context(), a.UserID, account.NewUser{
		Username: req.Username, Password: req.Password, Name: req.Name, Email: req.Email, Role: req.Role,
	}, s.Client(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, userResponse{User: u})
}

type updateUserRequest struct {
	Name     *string         `json:"name"`
	Email    *string         `json:"email"`
	Groups   *[]string       `json:"groups"`
	Role     *gatehouse.Role `json:"role"`
	Disabled *bool           `json:"disabled"`
	Password *string         `json:"password"`
}

// handleAdminUpdateUser changes a user's name, e-mail address, groups, role, disabled flag or
// password (authn.Service.UpdateUser); an unknown field is a bad_request naming it. A change
// of groups, role, disabled flag or password revokes every session and token of the user, so
// it takes effect on their next request; name and address revoke nothing.
func (s *Server) handleAdminUpdateUser(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	var req updateUserRequest
	if err := decodeJSONStrict(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	_, u, err := s.Authn.UpdateUser(r.Context(), a.UserID, r.PathValue("id"),
		authn.UserChange{Name: req.Name, Email: req.Email, Groups: req.Groups, Role: req.Role, Disabled: req.Disabled,
			Password: req.Password}, s.Client(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, userResponse{User: u})
}

func (s *Server) handleAdminDeleteUser(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	if err := s.Authn.DeleteUser(r.Context(), a.UserID, r.PathValue("id"), s.Client(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	noContent(w)
}

func (s *Server) handleAdminListSessions(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	id := r.PathValue("id")
	if _, err := s.Authn.User(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeSessions(w, r, id, a)
}

// handleAdminRevokeUser logs the user out everywhere: sessions and tokens.
func (s *Server) handleAdminRevokeUser(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	if err := s.Authn.SignOutUser(r.Context(), a.UserID, r.PathValue("id"), s.Client(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	noContent(w)
}

func (s *Server) handleAdminDeleteSession(w http.ResponseWriter, r *http.Request, a gatehouse.Auth) {
	if _, err := s.Authn.RevokeAnySession(r.Context(), a.UserID, r.PathValue("id"), s.Client(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	noContent(w)
}
