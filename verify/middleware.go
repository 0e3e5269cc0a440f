package verify

import (
	"context"
	"net/http"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/httpauth"
)

type tokenKey struct{}

// FromContext returns the verified token that Middleware put in ctx. The token is shared: do not
// modify it.
func FromContext(ctx context.Context) (*gatehouse.Token, bool) {
	t, ok := ctx.Value(tokenKey{}).(*gatehouse.Token)
	return t, ok
}

// NewContext returns a copy of ctx carrying t, as Middleware does (for tests of handlers).
func NewContext(ctx context.Context, t *gatehouse.Token) context.Context {
	return context.WithValue(ctx, tokenKey{}, t)
}

// Middleware lets through only requests with a valid bearer token ("Authorization: Bearer
// <token>", RFC 6750), with the token in the request's context (FromContext). Other requests
// get gatehouse's JSON errors: 401 token_missing, invalid_token or token_expired (with
// WWW-Authenticate), 413 too_large, or 503 unavailable when revocations are stale and the
// Verifier fails closed.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return v.Handler(func(w http.ResponseWriter, r *http.Request, t *gatehouse.Token) {
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), t)))
	})
}

// TokenHandler handles a request whose bearer token has been verified; t is shared and must
// not be modified.
type TokenHandler func(w http.ResponseWriter, r *http.Request, t *gatehouse.Token)

// Handler verifies the bearer token as Middleware does and passes it to h as an argument. It
// allocates nothing for a token seen before, where Middleware copies the request (two
// allocations) to put the token in its context.
func (v *Verifier) Handler(h TokenHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, present, ok := httpauth.Bearer(r)
		if !present {
			writeError(w, gatehouse.ErrTokenMissing, false)
			return
		}
		if !ok {
			writeError(w, errBadAuthorization, true)
			return
		}
		t, err := v.Verify(raw)
		if err != nil {
			writeError(w, err, true)
			return
		}
		h(w, r, t)
	})
}

// RequireRole lets through only requests whose token (put there by Middleware, which must run
// first) has a role that allows role (an admin may do what a user may). Others get 403
// forbidden, or 401 token_missing without a token.
func RequireRole(role gatehouse.Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t, ok := FromContext(r.Context())
			switch {
			case !ok:
				writeError(w, gatehouse.ErrTokenMissing, false)
			case !t.Role.Allows(role):
				writeError(w, gatehouse.Errorf(gatehouse.EFORBIDDEN, "this needs the %s role", role), false)
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}

// ErrMFARequired answers a request whose token's sign-in used no second factor, on a route
// behind RequireMFA: 401 insufficient_user_authentication (RFC 9470).
var ErrMFARequired = gatehouse.Errorf(gatehouse.EINSUFFICIENTAUTH, "this needs a sign-in with a second factor")

// RequireMFA lets through only requests whose token (put there by Middleware, which must run
// first) says that the user signed in with two or more factors ("amr" holds "mfa", "acr" is
// gatehouse.ACRMultiFactor): a password and a one-time code or security key, or a passkey that
// verified the user. Others get 401 insufficient_user_authentication with the RFC 9470
// challenge (acr_values="aal2"), which tells the client to sign the user in again with a
// second factor; without a token, 401 token_missing. A token issued before gatehouse recorded
// the methods counts as one factor.
func RequireMFA(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, ok := FromContext(r.Context())
		switch {
		case !ok:
			writeError(w, gatehouse.ErrTokenMissing, false)
		case !t.AMR.MultiFactor():
			httpauth.WriteError(w, gatehouse.EINSUFFICIENTAUTH, ErrMFARequired.Message,
				httpauth.StepUpChallenge("", gatehouse.ACRMultiFactor))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

var errBadAuthorization = gatehouse.Errorf(gatehouse.EINVALIDTOKEN, "the Authorization header must be \"Bearer <token>\"")

// writeError answers with gatehouse's error body for err. withToken says the request carried
// a bearer token (for the WWW-Authenticate challenge of RFC 6750).
func writeError(w http.ResponseWriter, err error, withToken bool) {
	httpauth.WriteError(w, gatehouse.ErrorCode(err), gatehouse.ErrorMessage(err), httpauth.Challenge("", withToken))
}
