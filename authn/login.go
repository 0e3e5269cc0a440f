package authn

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/mfa"
)

// LoginInput is a login with a username and password.
type LoginInput struct {
	Username, Password string
	// Mode is the credential wanted: gatehouse.AuthSession or gatehouse.AuthToken.
	Mode   string
	Client Client
	// PreviousSession is the secret of a session the client holds already (a browser signed
	// in as someone else), or "". It ends before the new session starts.
	PreviousSession string
}

// Step is what a login needs next.
type Step int

// Steps of a login.
const (
	// StepDone: the login is complete and the result carries its credential.
	StepDone Step = iota
	// StepSecondFactor: the password was right and the user has a second factor; the result
	// carries SecondFactor (the mfa_token and the methods) and no credential.
	// CompleteSecondFactor finishes the login.
	StepSecondFactor
)

// LoginResult is the outcome of a successful Login (or ChangePassword).
type LoginResult struct {
	// Step says what comes next; with StepDone exactly one of Session and Tokens is set.
	Step Step
	User *gatehouse.User
	// Session is the new session (mode session).
	Session *NewSession
	// Tokens is the new token pair (mode token).
	Tokens *TokenPair
	// SecondFactor is the pending second step (StepSecondFactor).
	SecondFactor *mfa.Pending
}

// NewSession is a session just started: its secret (for the cookie, sent once), the session,
// and when it ends if it stays in use.
type NewSession struct {
	Secret    string
	Session   *gatehouse.Session
	ExpiresAt time.Time
}

// TokenPair is an access token, its expiry, and the refresh token that goes with it.
type TokenPair struct {
	AccessToken  string
	ExpiresAt    time.Time
	RefreshToken string
}

// Login checks a username and password under the login throttles and starts a session or a
// token family. In order: the attempt is counted (per account, per account and address, per
// address) and refused with a ThrottledError while the client must hold off; the password is
// checked; the attempt is settled (a right password forgives the account's failures); the
// outcome is audited and reported to Hooks.Login; then the credential is made, with a fresh
// secret (never one the client offered).
//
// Errors: bad_request for an empty field or an unknown mode, gatehouse.ErrInvalidCredentials,
// forbidden for a disabled account, ErrEmailUnverified when Config.RequireVerifiedEmail is set
// and the (non-admin) account's address is not verified, a ThrottledError, gatehouse.ErrBusy, and the stores' errors.
// When the password was right but the credential could not be made (a store failed), the
// error is set and so is the result's User.
func (s *Service) Login(ctx context.Context, in LoginInput) (LoginResult, error) {
	switch {
	case in.Username == "":
		return LoginResult{}, badRequest("username: is required")
	case in.Password == "":
		return LoginResult{}, badRequest("password: is required")
	case in.Mode != gatehouse.AuthSession && in.Mode != gatehouse.AuthToken:
		return LoginResult{}, badRequest(`mode: must be "session" or "token"`)
	}
	start := time.Now() // the metric's duration is real time, whatever the injected clock
	u, err := s.checkPassword(ctx, in.Client, passwordCheck{username: in.Username, password: in.Password,
		action: gatehouse.AuditLogin, detail: "mode=" + in.Mode, auditSuccess: true})
	if s.hooks.Login != nil {
		s.hooks.Login(err, time.Since(start))
	}
	if err != nil {
		return LoginResult{}, err
	}
	if s.unverified(u) {
		// Only after the right password, so that the answer tells nothing to a guesser.
		return LoginResult{}, ErrEmailUnverified
	}
	if res, pending, err := s.startSecondFactor(ctx, u, in.Mode); err != nil || pending {
		return res, err
	}
	if in.PreviousSession != "" {
		if err := s.d.Sessions.Revoke(ctx, in.PreviousSession); err != nil {
			return LoginResult{User: u}, err
		}
	}
	return s.credential(ctx, u, gatehouse.MethodPassword, in.Mode, in.Client)
}

// unverified reports whether the verified-address rule refuses u a sign-in. Admins are exempt:
// the first admin has no address, and must not be locked out.
func (s *Service) unverified(u *gatehouse.User) bool {
	return s.requireVerified && !u.EmailVerified && u.Role != gatehouse.RoleAdmin
}

// credential makes the credential of a completed login of u, who signed in with amr.
func (s *Service) credential(ctx context.Context, u *gatehouse.User, amr gatehouse.AuthMethods, mode string, c Client) (LoginResult, error) {
	res := LoginResult{Step: StepDone, User: u}
	var err error
	if mode == gatehouse.AuthSession {
		res.Session, err = s.startSession(ctx, u, amr, c)
	} else {
		res.Tokens, err = s.issueTokens(ctx, u, amr)
	}
	if err != nil {
		return LoginResult{User: u}, err
	}
	return res, nil
}

// startSession creates a session with a fresh id.
func (s *Service) startSession(ctx context.Context, u *gatehouse.User, amr gatehouse.AuthMethods, c Client) (*NewSession, error) {
	secret, sess, err := s.d.Sessions.Create(ctx, u.Principal(), amr, c.IP, c.UserAgent)
	if err != nil {
		return nil, err
	}
	return &NewSession{Secret: secret, Session: sess, ExpiresAt: s.d.Sessions.ExpiresAt(sess)}, nil
}

// issueTokens starts a refresh family and issues its first access token.
func (s *Service) issueTokens(ctx context.Context, u *gatehouse.User, amr gatehouse.AuthMethods) (*TokenPair, error) {
	secret, fam, err := s.d.Refresh.Start(ctx, u.ID, amr)
	if err != nil {
		return nil, err
	}
	access, exp, err := s.issueAccess(ctx, u, fam)
	if err != nil {
		return nil, err
	}
	return &TokenPair{AccessToken: access, ExpiresAt: exp, RefreshToken: secret}, nil
}

// issueAccess signs an access token of u in family fam, carrying the family's methods and
// stamped no earlier than u's not-before time.
func (s *Service) issueAccess(ctx context.Context, u *gatehouse.User, fam *gatehouse.RefreshFamily) (string, time.Time, error) {
	nb, err := s.d.Revocations.NotBefore(ctx, u.ID)
	if err != nil {
		return "", time.Time{}, err
	}
	access, t, err := s.d.Tokens.IssueFor(u, fam.AMR, fam.ID, gatehouse.IssueStamp(s.now(), nb))
	if err != nil {
		return "", time.Time{}, err
	}
	return access, t.ExpiresAt, nil
}

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
// failures); while the client must hold off it checks nothing and returns a ThrottledError;
// and the outcome is audited. Other errors are those of account.Service.Login, and the
// throttle's.
func (s *Service) checkPassword(ctx context.Context, c Client, pc passwordCheck) (*gatehouse.User, error) {
	la := s.newLoginAttempt(c, pc.username)
	wait, err := s.admitLogin(ctx, la)
	if err != nil {
		return nil, err
	}
	if wait > 0 {
		return nil, Throttled(wait)
	}
	u, err := s.d.Accounts.Login(ctx, pc.username, pc.password)
	s.loginDone(ctx, la, err)
	s.auditPasswordCheck(ctx, c, pc, u, err)
	return u, err
}

// auditPasswordCheck records a checked password. Only outcomes about the credentials are
// recorded (right, wrong or unknown account, disabled account); a busy hasher or a malformed
// request is not an authentication event. The username typed is not recorded (a user may have
// typed a password into it): the account's id is, when the account exists.
func (s *Service) auditPasswordCheck(ctx context.Context, c Client, pc passwordCheck, u *gatehouse.User, err error) {
	e := gatehouse.AuditEvent{Action: pc.action, Outcome: gatehouse.AuditSuccess, Detail: pc.detail}
	switch code := gatehouse.ErrorCode(err); {
	case err == nil:
		if !pc.auditSuccess {
			return
		}
		e.UserID = u.ID
	case code == gatehouse.EINVALIDCREDENTIALS || code == gatehouse.EFORBIDDEN:
		e.Outcome, e.Detail = gatehouse.AuditFailure, code
		if code == gatehouse.EFORBIDDEN {
			e.Detail = "account disabled"
		}
		e.UserID = s.accountID(ctx, pc.username)
		if e.UserID == "" {
			e.Detail = "unknown account"
		}
		if pc.what != "" {
			e.Detail = pc.what + ": " + e.Detail
		}
	default:
		return
	}
	s.Audit(ctx, c, e)
}
