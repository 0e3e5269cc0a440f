package gatehouse

import "context"

// Auth methods, as reported in the "auth" field of protected responses.
const (
	AuthSession = "session"
	AuthToken   = "token"
)

// Auth is the authentication of one request: who, and by which method. Exactly one of Session
// and Token is set.
type Auth struct {
	Principal
	Method  string
	Session *Session
	Token   *Token
}

type authKey struct{}

// NewContext returns a copy of ctx carrying a.
func NewContext(ctx context.Context, a *Auth) context.Context {
	return context.WithValue(ctx, authKey{}, a)
}

// AuthFromContext returns the request's authentication, or nil if the request is anonymous.
func AuthFromContext(ctx context.Context) *Auth {
	a, _ := ctx.Value(authKey{}).(*Auth)
	return a
}
