package authn

import (
	"errors"
	"strconv"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// Errors the use cases return besides the root package's sentinels. Transports map them by
// their code (gatehouse.ErrorCode) like any gatehouse error, and branch on them with errors.Is.
var (
	// ErrTokenRevoked: the access token was revoked (by jti or by its user's not-before time).
	ErrTokenRevoked = gatehouse.Errorf(gatehouse.EINVALIDTOKEN, "the token has been revoked")
	// ErrRefreshDead: the refresh token's family may not go on (its user is gone, disabled,
	// or was signed out everywhere since the family began); the family has been revoked.
	ErrRefreshDead = gatehouse.Errorf(gatehouse.EINVALIDTOKEN, "the refresh token is no longer valid")
	// ErrUserNotFound and ErrSessionNotFound are the not_found answers of an unknown (or
	// malformed, or someone else's) user or session id.
	ErrUserNotFound    = gatehouse.Errorf(gatehouse.ENOTFOUND, "no such user")
	ErrSessionNotFound = gatehouse.Errorf(gatehouse.ENOTFOUND, "no such session")
	// ErrWrongCurrentPassword answers a password change whose current password is wrong. It is
	// a bad_request naming the field rather than invalid_credentials: the caller is
	// authenticated, and a 401 would tell a client that its session or token is the problem.
	ErrWrongCurrentPassword = badRequest("current_password: is not correct")
	// ErrSecondFactorUnavailable: the password was right, but the user has a second factor
	// that this server cannot check (no factor key); the login fails closed.
	ErrSecondFactorUnavailable = gatehouse.Errorf(gatehouse.EUNAVAILABLE, "this account has a second factor that this server cannot check now, try again later")
	// ErrNoAuditTrail: the server keeps no audit store.
	ErrNoAuditTrail = gatehouse.Errorf(gatehouse.ENOTFOUND, "this server keeps no audit trail")
)

// ThrottledError is a rate_limited error that says how long the client must wait. Transports
// read the wait with RetryAfter (for a Retry-After header).
type ThrottledError struct {
	Wait time.Duration
	err  *gatehouse.Error
}

// Throttled returns a ThrottledError for a login-like attempt that must wait.
func Throttled(wait time.Duration) error {
	return &ThrottledError{Wait: wait, err: gatehouse.Errorf(gatehouse.ERATELIMITED,
		"too many failed attempts; try again in %d s", RetryAfterSeconds(wait))}
}

func (e *ThrottledError) Error() string { return e.err.Error() }
func (e *ThrottledError) Unwrap() error { return e.err }

// RetryAfter returns the wait of a throttled attempt.
func RetryAfter(err error) (time.Duration, bool) {
	var te *ThrottledError
	if errors.As(err, &te) {
		return te.Wait, true
	}
	return 0, false
}

// RetryAfterSeconds is wait in whole seconds, rounded up, at least 1: the Retry-After value.
func RetryAfterSeconds(wait time.Duration) int64 {
	return max(int64((wait+time.Second-1)/time.Second), 1)
}

// retryAfterText is RetryAfterSeconds as text.
func retryAfterText(wait time.Duration) string { return strconv.FormatInt(RetryAfterSeconds(wait), 10) }

// badRequest returns a bad_request error with msg.
func badRequest(msg string) error { return &gatehouse.Error{Code: gatehouse.EBADREQUEST, Message: msg} }

// notFoundAs replaces a not_found error by a more specific one; other errors pass through.
func notFoundAs(err, nf error) error {
	if isNotFound(err) {
		return nf
	}
	return err
}
