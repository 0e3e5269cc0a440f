package gatehouse

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

// AMR returns how the user of the request signed in: the session's or the token's record.
func (a *Auth) AMR() AuthMethods {
	switch {
	case a.Session != nil:
		return a.Session.AMR
	case a.Token != nil:
		return a.Token.AMR
	}
	return 0
}
