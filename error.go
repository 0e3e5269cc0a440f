package gatehouse

import (
	"errors"
	"fmt"
)

// Error codes. They are the "error" values of the HTTP API contract; the http package alone maps
// them to status codes.
const (
	EBADREQUEST         = "bad_request"
	EINVALIDCREDENTIALS = "invalid_credentials"
	ETOKENMISSING       = "token_missing"
	EINVALIDTOKEN       = "invalid_token"
	ETOKENEXPIRED       = "token_expired"
	ESESSIONEXPIRED     = "session_expired"
	// EINSUFFICIENTAUTH: the credential is valid but its sign-in did not use a second factor
	// that the route or the user's role needs (RFC 9470).
	EINSUFFICIENTAUTH = "insufficient_user_authentication"
	EFORBIDDEN        = "forbidden"
	ENOTFOUND         = "not_found"
	ECONFLICT         = "conflict"
	ETOOLARGE         = "too_large"
	EMEDIATYPE        = "unsupported_media_type"
	ERATELIMITED      = "rate_limited"
	EUNAVAILABLE      = "unavailable"
	EINTERNAL         = "internal"
)

// Error is gatehouse's application error: a code from the list above and a human sentence that
// is safe to show to the client. Any other error reaching the API is reported as "internal error".
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinel errors that callers branch on with errors.Is. Adapters wrap them with %w to add
// detail; the detail is logged, never sent to clients.
var (
	ErrNotFound           = &Error{ENOTFOUND, "not found"}
	ErrConflict           = &Error{ECONFLICT, "already exists"}
	ErrInvalidCredentials = &Error{EINVALIDCREDENTIALS, "invalid username or password"}
	ErrTokenMissing       = &Error{ETOKENMISSING, "authentication required: send a session cookie or a bearer token"}
	ErrInvalidToken       = &Error{EINVALIDTOKEN, "the token is invalid"}
	ErrTokenExpired       = &Error{ETOKENEXPIRED, "the token has expired"}
	ErrSessionExpired     = &Error{ESESSIONEXPIRED, "the session has expired or was signed out"}
	ErrForbidden          = &Error{EFORBIDDEN, "you are not allowed to do this"}
	ErrTooLarge           = &Error{ETOOLARGE, "the request is too large"}
	// ErrUnavailable means a backing store (database, Redis) could not answer. Requests that
	// need it fail closed with 503.
	ErrUnavailable = &Error{EUNAVAILABLE, "a backing store is unavailable, try again later"}
	// ErrBusy means a bounded resource (such as the password hashing queue) stayed full for
	// longer than the configured wait.
	ErrBusy = &Error{EUNAVAILABLE, "the server is busy, try again later"}
	// ErrRefreshReuse means a refresh token that was already rotated was presented again; its
	// whole family has been revoked.
	ErrRefreshReuse = &Error{EINVALIDTOKEN, "the refresh token was already used; its family has been revoked"}
)

// ErrorCode returns the code of the first *Error in err's chain, or EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or "internal error".
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// Unavailable wraps a driver error as ErrUnavailable, keeping the cause for the logs.
func Unavailable(op string, cause error) error {
	return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, cause)
}
