package authn

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
)

// RevokeEverywhere rejects every session and token of the user issued before now. The
// not-before time comes first: once it is stored, nothing older authenticates even if deleting
// the sessions and refresh families below fails half-way. Each of these writes ends with the
// store's barrier, so that no instance accepts a revoked credential after it returns.
func (s *Service) RevokeEverywhere(ctx context.Context, userID string) error {
	prev, err := s.d.Revocations.NotBefore(ctx, userID)
	if err != nil {
		return err
	}
	if err := s.d.Revocations.SetNotBefore(ctx, userID, gatehouse.NextNotBefore(s.now(), prev)); err != nil {
		return err
	}
	if err := s.d.Sessions.RevokeUser(ctx, userID); err != nil {
		return err
	}
	if err := s.d.Refresh.RevokeUser(ctx, userID); err != nil {
		return err
	}
	s.announce(SignOut{UserID: userID, Everywhere: true})
	return nil
}

// LogoutAll signs the caller of a out everywhere (every session, every token issued before
// now), audited as logout_all.
func (s *Service) LogoutAll(ctx context.Context, a gatehouse.Auth, c Client) error {
	if err := s.RevokeEverywhere(ctx, a.UserID); err != nil {
		return err
	}
	s.Audit(ctx, c, gatehouse.AuditEvent{Action: gatehouse.AuditLogoutAll, Outcome: gatehouse.AuditSuccess, UserID: a.UserID,
		Detail: "auth=" + a.Method + c.channel()})
	return nil
}

// UserChange lists what an update changes; nil fields stay as they are.
type UserChange struct {
	// Name and Email change the profile; a session or token does not depend on them, so they
	// revoke nothing. A new address (other than in case) is unverified.
	Name  *string
	Email *string
	// Groups replaces the user's groups; the list is normalised (sorted, without duplicates).
	Groups   *[]string
	Role     *gatehouse.Role
	Disabled *bool
	// Password is the new password in clear; it is checked against the policy (with the
	// user's username) and stored hashed.
	Password *string
}

// UpdateUser applies ch to the user id on behalf of actor (the user id of who asks). A change
// that a session or token depends on (a new password, another role, disabling or enabling)
// revokes every session and token of the user FIRST (RevokeEverywhere), then is written, so
// that no request sees the new state with an old credential; each change is audited. It
// returns the user before and after. Errors: ErrUserNotFound, bad_request naming the field
// (role, password), gatehouse.ErrBusy from the hasher, and the stores' errors.
func (s *Service) UpdateUser(ctx context.Context, actor, id string, ch UserChange, c Client) (old, u *gatehouse.User, err error) {
	if !gatehouse.ValidID(id) {
		return nil, nil, ErrUserNotFound
	}
	upd, err := s.userUpdate(ctx, id, ch)
	if err != nil {
		return nil, nil, notFoundAs(err, ErrUserNotFound)
	}
	old, u, err = s.applyUserUpdate(ctx, id, upd)
	if err != nil {
		return nil, nil, notFoundAs(err, ErrUserNotFound)
	}
	s.auditUserUpdate(ctx, c, actor, old, u, upd)
	return old, u, nil
}

// userUpdate validates ch for the user id and hashes a new password (checked against the
// policy with the user's username).
func (s *Service) userUpdate(ctx context.Context, id string, ch UserChange) (gatehouse.UserUpdate, error) {
	var upd gatehouse.UserUpdate
	if ch.Role != nil && !ch.Role.Valid() {
		return upd, badRequest(`role: must be "user" or "admin"`)
	}
	upd.Role, upd.Disabled = ch.Role, ch.Disabled
	if err := profileUpdate(&upd, ch); err != nil {
		return upd, err
	}
	if ch.Password != nil {
		u, err := s.d.Users.UserByID(ctx, id)
		if err != nil {
			return upd, err
		}
		h, err := s.d.Accounts.HashPassword(ctx, u.Username, *ch.Password)
		if err != nil {
			return upd, err
		}
		upd.PasswordHash = &h
	}
	return upd, nil
}

// applyUserUpdate stores upd and, if it changes anything that a session or token depends on,
// revokes the user's sessions and tokens first.
func (s *Service) applyUserUpdate(ctx context.Context, id string, upd gatehouse.UserUpdate) (old, u *gatehouse.User, err error) {
	old, err = s.d.Users.UserByID(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	changed := upd.PasswordHash != nil ||
		upd.Role != nil && *upd.Role != old.Role ||
		upd.Disabled != nil && *upd.Disabled != old.Disabled ||
		upd.Groups != nil && !slices.Equal(*upd.Groups, old.Groups)
	if upd.Email != nil && upd.EmailVerified == nil && gatehouse.NormalizeEmail(*upd.Email) != gatehouse.NormalizeEmail(old.Email) {
		no := false
		upd.EmailVerified = &no // a new address is not verified
	}
	if changed {
		if err := s.RevokeEverywhere(ctx, id); err != nil {
			return nil, nil, err
		}
		s.revokeLinks(ctx, id)
	}
	u, err = s.d.Users.UpdateUser(ctx, id, upd)
	return old, u, err
}

// ChangePassword is a user's change of their own password (POST /api/me/password and the
// account page). The new password is checked against the policy first (nothing is counted for
// a new password the policy refuses: bad_request naming new_password), then the current one
// under the login throttles (a failure is audited as a failed password_changed and answered
// ErrWrongCurrentPassword; a ThrottledError while the client must hold off), then the new one
// is stored through UpdateUser, which signs the user out everywhere and records
// password_changed. The caller then gets a new credential of the kind mode names, as a login
// answers, so that only the other devices are signed out; it keeps amr, the methods of the
// caller's credential (with the password, just proved again).
//
// When the password was changed but the new credential could not be made, the error is set
// and the result's User too.
func (s *Service) ChangePassword(ctx context.Context, who gatehouse.Principal, amr gatehouse.AuthMethods, current, next, mode string, c Client) (LoginResult, error) {
	if _, err := s.d.Accounts.ValidatePassword(who.Username, next); err != nil {
		return LoginResult{}, asField(err, "password", "new_password")
	}
	u, err := s.checkPassword(ctx, c, passwordCheck{username: who.Username, password: current,
		action: gatehouse.AuditPasswordChanged, what: "current password"})
	switch gatehouse.ErrorCode(err) {
	case gatehouse.EINVALIDCREDENTIALS, gatehouse.EBADREQUEST:
		return LoginResult{}, ErrWrongCurrentPassword
	}
	if err != nil {
		return LoginResult{}, err
	}
	upd, err := s.userUpdate(ctx, u.ID, UserChange{Password: &next})
	if err != nil {
		return LoginResult{}, asField(err, "password", "new_password")
	}
	old, u, err := s.applyUserUpdate(ctx, u.ID, upd)
	if err != nil {
		return LoginResult{}, err
	}
	s.auditUserUpdate(ctx, c, u.ID, old, u, upd)
	return s.credential(ctx, u, amr|gatehouse.MethodPassword, mode, c)
}

// asField renames the field a bad_request names ("password: ..." to "new_password: ...").
func asField(err error, from, to string) error {
	if gatehouse.ErrorCode(err) != gatehouse.EBADREQUEST {
		return err
	}
	if f, msg, ok := strings.Cut(gatehouse.ErrorMessage(err), ": "); ok && f == from {
		return badRequest(to + ": " + msg)
	}
	return err
}

// CreateUser creates a user on behalf of the admin actor, audited as user_created. Errors are
// account.Service.Create's.
func (s *Service) CreateUser(ctx context.Context, actor string, in account.NewUser, c Client) (*gatehouse.User, error) {
	u, err := s.d.Accounts.Create(ctx, in)
	if err != nil {
		return nil, err
	}
	s.Audit(ctx, c, gatehouse.AuditEvent{Action: gatehouse.AuditUserCreated, Outcome: gatehouse.AuditSuccess,
		UserID: u.ID, ActorID: actor, Detail: "role " + string(u.Role)})
	return u, nil
}

// Register is self-registration of a user with the user role, throttled per client address
// and per username (a ThrottledError while the client must hold off) and audited as
// user_created. Whether self-registration is allowed at all is the transport's setting.
func (s *Service) Register(ctx context.Context, in account.NewUser, c Client) (*gatehouse.User, error) {
	in.Role = gatehouse.RoleUser
	limits := s.registration(c, in.Username)
	wait, err := s.admitRegistration(ctx, limits)
	switch {
	case err != nil:
		return nil, err
	case wait > 0:
		return nil, &ThrottledError{Wait: wait, err: gatehouse.Errorf(gatehouse.ERATELIMITED,
			"too many registrations from this address or for this username; try again in %s s", retryAfterText(wait))}
	}
	u, err := s.d.Accounts.Create(ctx, in)
	s.registrationDone(ctx, limits, err)
	if err != nil {
		return nil, err
	}
	s.Audit(ctx, c, gatehouse.AuditEvent{Action: gatehouse.AuditUserCreated, Outcome: gatehouse.AuditSuccess,
		UserID: u.ID, Detail: "self-registration, role " + string(u.Role)})
	if u.Email != "" && s.d.Mailer != nil && s.d.Links != nil {
		// The account exists whatever happens to the mail; the user can ask again.
		s.inBackground(ctx, func(ctx context.Context) {
			if err := s.sendVerificationTo(ctx, u, u.Email, c); err != nil {
				s.log.WarnContext(ctx, "registration: the verification mail was not sent", "user_id", u.ID, "err", err)
			}
		})
	}
	return u, nil
}

// DeleteUser deletes the user id on behalf of the admin actor: every session and token of the
// user is revoked first, then the account goes; audited as user_deleted. ErrUserNotFound for
// an unknown or malformed id.
func (s *Service) DeleteUser(ctx context.Context, actor, id string, c Client) error {
	if _, err := s.User(ctx, id); err != nil {
		return err
	}
	if err := s.RevokeEverywhere(ctx, id); err != nil {
		return err
	}
	if err := s.d.Users.DeleteUser(ctx, id); err != nil {
		return notFoundAs(err, ErrUserNotFound)
	}
	s.Audit(ctx, c, gatehouse.AuditEvent{Action: gatehouse.AuditUserDeleted, Outcome: gatehouse.AuditSuccess, UserID: id, ActorID: actor})
	return nil
}

// SignOutUser signs the user id out everywhere on behalf of the admin actor, audited as
// sessions_revoked. ErrUserNotFound for an unknown or malformed id.
func (s *Service) SignOutUser(ctx context.Context, actor, id string, c Client) error {
	if _, err := s.User(ctx, id); err != nil {
		return err
	}
	if err := s.RevokeEverywhere(ctx, id); err != nil {
		return err
	}
	s.Audit(ctx, c, gatehouse.AuditEvent{Action: gatehouse.AuditSessionsRevoked, Outcome: gatehouse.AuditSuccess, UserID: id, ActorID: actor,
		Detail: "every session and token"})
	return nil
}

// User returns the user id as stored now; ErrUserNotFound for an unknown or malformed id.
func (s *Service) User(ctx context.Context, id string) (*gatehouse.User, error) {
	if !gatehouse.ValidID(id) {
		return nil, ErrUserNotFound
	}
	u, err := s.d.Users.UserByID(ctx, id)
	return u, notFoundAs(err, ErrUserNotFound)
}

// Me returns the account of the caller a as stored now. A user deleted since a was issued
// answers as a dead credential: gatehouse.ErrSessionExpired, or ErrTokenRevoked.
func (s *Service) Me(ctx context.Context, a gatehouse.Auth) (*gatehouse.User, error) {
	u, err := s.d.Users.UserByID(ctx, a.UserID)
	if errors.Is(err, gatehouse.ErrNotFound) {
		err = gatehouse.ErrSessionExpired
		if a.Method == gatehouse.AuthToken {
			err = ErrTokenRevoked
		}
	}
	return u, err
}

// ListUsers returns up to limit users ordered by id, after the id after ("" for the first page).
func (s *Service) ListUsers(ctx context.Context, after string, limit int) ([]*gatehouse.User, error) {
	return s.d.Users.ListUsers(ctx, after, limit)
}

// Sessions returns the user's live sessions, oldest first.
func (s *Service) Sessions(ctx context.Context, userID string) ([]*gatehouse.Session, error) {
	return s.d.Sessions.List(ctx, userID)
}

// RevokeSession signs out the session with that handle if it is one of the user's own,
// audited as session_revoked. Another user's session, an unknown or a malformed handle are
// all ErrSessionNotFound, so nothing reveals which handles exist.
func (s *Service) RevokeSession(ctx context.Context, userID, handle string, c Client) error {
	if !gatehouse.ValidID(handle) {
		return ErrSessionNotFound
	}
	if err := s.d.Sessions.RevokeHandle(ctx, userID, handle); err != nil {
		return notFoundAs(err, ErrSessionNotFound)
	}
	s.Audit(ctx, c, gatehouse.AuditEvent{Action: gatehouse.AuditSessionRevoked, Outcome: gatehouse.AuditSuccess, UserID: userID,
		Detail: "session " + handle})
	return nil
}

// RevokeAnySession signs out the session with that handle, whoever owns it, on behalf of the
// admin actor, audited as session_revoked; it returns the owner's id. ErrSessionNotFound for
// an unknown or malformed handle.
func (s *Service) RevokeAnySession(ctx context.Context, actor, handle string, c Client) (owner string, err error) {
	if !gatehouse.ValidID(handle) {
		return "", ErrSessionNotFound
	}
	owner, err = s.d.Sessions.RevokeAnyHandle(ctx, handle)
	if err != nil {
		return "", notFoundAs(err, ErrSessionNotFound)
	}
	s.Audit(ctx, c, gatehouse.AuditEvent{Action: gatehouse.AuditSessionRevoked, Outcome: gatehouse.AuditSuccess, UserID: owner, ActorID: actor,
		Detail: "session " + handle})
	return owner, nil
}

// ValidatePassword checks a new password of the user username against the policy (for forms
// that show every mistake at once); errors are bad_request naming the password field.
func (s *Service) ValidatePassword(username, password string) (prepared string, err error) {
	return s.d.Accounts.ValidatePassword(username, password)
}

// profileUpdate checks the profile fields and groups of ch and puts them in upd.
func profileUpdate(upd *gatehouse.UserUpdate, ch UserChange) error {
	if ch.Name != nil {
		if err := account.ValidateName(*ch.Name); err != nil {
			return err
		}
		upd.Name = ch.Name
	}
	if ch.Email != nil {
		if err := account.ValidateEmail(*ch.Email); err != nil {
			return err
		}
		upd.Email = ch.Email
	}
	if ch.Groups != nil {
		groups, err := gatehouse.NormalizeGroups(*ch.Groups)
		if err != nil {
			return err
		}
		upd.Groups = &groups
	}
	return nil
}

// revokeLinks voids the user's pending e-mail links after a change of credentials (a new
// password, a role, disabling): a link mailed before must not undo it.
func (s *Service) revokeLinks(ctx context.Context, id string) {
	if s.d.Links == nil {
		return
	}
	if err := s.d.Links.Revoke(ctx, id, ""); err != nil {
		s.log.WarnContext(ctx, "voiding the e-mail links of a changed user failed", "user_id", id, "err", err)
	}
}

// SearchUsers returns up to limit users ordered by id, after the id after, whose username,
// name or e-mail address contains q without regard to case ("" for every user).
func (s *Service) SearchUsers(ctx context.Context, q, after string, limit int) ([]*gatehouse.User, error) {
	return s.d.Users.SearchUsers(ctx, gatehouse.UserQuery{Search: q, After: after, Limit: limit})
}
