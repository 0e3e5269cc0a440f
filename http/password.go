package http

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// passwordCheck is one check of a password a person typed: to log in, or to confirm the
// current password before changing it (and, later, before a reset or a re-authentication).
type passwordCheck struct {
	username, password string
	// action is the audit action the check is recorded under; detail says more on a success.
	action, detail string
	// what names the password checked in the detail of a failure ("" for a login's).
	what string
	// auditSuccess records a right password too (a login); a password change records its
	// own success once the new password is stored.
	auditSuccess bool
}

// checkPassword checks a password under the login policy. Every check of a password goes
// through it, so that none is an oracle without limits: the attempt is counted per account,
// per account and address, and per address before the password is checked (a wrong password
// stays counted against the account like a failed login; the right one forgives the account's
// failures); while the client must hold off it checks nothing and returns a rate_limited error
// that retryAfter reads; and the outcome is audited. Other errors are those of
// account.Service.Login, and the throttle's.
func (s *Server) checkPassword(r *http.Request, c passwordCheck) (*gatehouse.User, error) {
	la := s.newLoginAttempt(r, c.username)
	wait, err := s.admitLogin(r.Context(), la)
	if err != nil {
		return nil, err
	}
	if wait > 0 {
		return nil, throttled(wait)
	}
	u, err := s.Accounts.Login(r.Context(), c.username, c.password)
	s.loginDone(r.Context(), la, err)
	s.auditPasswordCheck(r, c, u, err)
	return u, err
}

// throttledError is a rate_limited error that says how long the client must wait.
type throttledError struct {
	wait time.Duration
	err  *gatehouse.Error
}

func throttled(wait time.Duration) error {
	return &throttledError{wait: wait, err: gatehouse.Errorf(gatehouse.ERATELIMITED,
		"too many failed attempts; try again in %d s", retryAfterSeconds(wait))}
}

func (e *throttledError) Error() string { return e.err.Error() }
func (e *throttledError) Unwrap() error { return e.err }

// retryAfter returns the wait of a throttled attempt.
func retryAfter(err error) (time.Duration, bool) {
	var te *throttledError
	if errors.As(err, &te) {
		return te.wait, true
	}
	return 0, false
}

// noteThrottled sets Retry-After for a throttled attempt and counts the 429 answered.
func (s *Server) noteThrottled(w http.ResponseWriter, kind string, wait time.Duration) {
	s.limiter.limited.WithLabelValues(kind).Inc()
	w.Header().Set("Retry-After", strconv.FormatInt(retryAfterSeconds(wait), 10))
}

// auditPasswordCheck records a checked password. Only outcomes about the credentials are
// recorded (right, wrong or unknown account, disabled account); a busy hasher or a malformed
// request is not an authentication event. The username typed is not recorded (a user may have
// typed a password into it): the account's id is, when the account exists.
func (s *Server) auditPasswordCheck(r *http.Request, c passwordCheck, u *gatehouse.User, err error) {
	e := gatehouse.AuditEvent{Action: c.action, Outcome: gatehouse.AuditSuccess, Detail: c.detail}
	switch code := gatehouse.ErrorCode(err); {
	case err == nil:
		if !c.auditSuccess {
			return
		}
		e.UserID = u.ID
	case code == gatehouse.EINVALIDCREDENTIALS || code == gatehouse.EFORBIDDEN:
		e.Outcome, e.Detail = gatehouse.AuditFailure, code
		if code == gatehouse.EFORBIDDEN {
			e.Detail = "account disabled"
		}
		e.UserID = s.accountID(r.Context(), c.username)
		if e.UserID == "" {
			e.Detail = "unknown account"
		}
		if c.what != "" {
			e.Detail = c.what + ": " + e.Detail
		}
	default:
		return
	}
	s.audit(r, e)
}

// errWrongCurrentPassword answers a password change whose current password is wrong. It is a
// bad_request naming the field rather than a 401: the caller is authenticated, and a 401
// would tell a client that its session or token is the problem.
var errWrongCurrentPassword = badRequest("current_password: is not correct")

// changePassword is a user's change of their own password, for the account page and the API.
// The new password is checked against the policy first (nothing is counted for a new password
// the policy refuses), then the current one through checkPassword (throttled and audited as a
// failed password_changed), then the new one is stored through the administrator's update
// path, which signs the user out everywhere and records password_changed. It returns the
// updated user, errWrongCurrentPassword, a throttled error, a bad_request naming new_password,
// or the stores' errors.
func (s *Server) changePassword(r *http.Request, who gatehouse.Principal, current, next string) (*gatehouse.User, error) {
	if _, err := s.Accounts.ValidatePassword(who.Username, next); err != nil {
		return nil, asField(err, "password", "new_password")
	}
	u, err := s.checkPassword(r, passwordCheck{username: who.Username, password: current,
		action: gatehouse.AuditPasswordChanged, what: "current password"})
	switch gatehouse.ErrorCode(err) {
	case gatehouse.EINVALIDCREDENTIALS, gatehouse.EBADREQUEST:
		return nil, errWrongCurrentPassword
	}
	if err != nil {
		return nil, err
	}
	upd, err := s.userUpdate(r.Context(), u.ID, &updateUserRequest{Password: &next})
	if err != nil {
		return nil, asField(err, "password", "new_password")
	}
	old, u, err := s.applyUserUpdate(r.Context(), u.ID, upd)
	if err != nil {
		return nil, err
	}
	s.auditUserUpdate(r, u.ID, old, u, upd)
	return u, nil
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

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// handleAccountPassword is POST /api/me/password: the caller changes their own password,
// giving the current one. Every session and token of the user ends; the caller gets a new
// credential of the kind it used, as a login answers (a session cookie, or a token pair), so
// only the other devices are signed out.
func (s *Server) handleAccountPassword(w http.ResponseWriter, r *http.Request, a *gatehouse.Auth) {
	var req changePasswordRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	switch {
	case req.CurrentPassword == "":
		s.writeError(w, r, badRequest("current_password: is required"))
		return
	case req.NewPassword == "":
		s.writeError(w, r, badRequest("new_password: is required"))
		return
	}
	u, err := s.changePassword(r, a.Principal, req.CurrentPassword, req.NewPassword)
	if wait, ok := retryAfter(err); ok {
		s.writeRateLimited(w, r, "login", wait)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if a.Method == gatehouse.AuthSession {
		s.startSession(w, r, u)
		return
	}
	s.issueTokens(w, r, u)
}
