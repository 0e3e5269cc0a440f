package authn

import (
	"context"
	"net/netip"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
)

// The throttling policy of logins, password checks, self-registrations and presented
// credentials. The counting itself is a gatehouse.Throttle (in-process or shared); this file
// decides the keys, when an attempt counts, and how it is settled.

// Limits are the backoff policies of the server's throttles. Zero fields take the defaults
// below; a field's zero members take gatehouse.Backoff's defaults.
type Limits struct {
	// Account throttles failed logins on one account from anywhere, so that a distributed
	// guesser gets no more than a slow trickle. Default: 10 free, then 1 s doubling to 5 min
	// (short enough that an attacker cannot keep the real user out for long).
	Account gatehouse.Backoff
	// AccountIP throttles failed logins on one account from one client address. Default: 5
	// free, then 1 s doubling to 15 min.
	AccountIP gatehouse.Backoff
	// IP throttles failed logins from one client address across accounts (credential
	// stuffing). A success takes one failure back rather than forgiving them all, so that an
	// attacker cannot clear the count with an account of their own. Default: 100 free, then
	// 1 s doubling to 15 min.
	IP gatehouse.Backoff
	// Credential throttles unknown session ids and invalid tokens (access or refresh) from one
	// client address; only failures are counted, never a valid credential. Beyond it the
	// failures answer 429 instead of 401. Default: 100 free, then 1 s doubling to 1 min,
	// forgotten after 15 min.
	Credential gatehouse.Backoff
	// Register throttles self-registrations from one client address, successful or not (each
	// is an account created or a username found taken): account spam and username
	// enumeration. Default: 10 free, then 1 s doubling to 1 min, forgotten after 1 h.
	Register gatehouse.Backoff
	// RegisterUsername throttles self-registrations of one username from anywhere (a botnet
	// probing or racing for one name). Default: 3 free, then 1 s doubling to 1 min, forgotten
	// after 1 h.
	RegisterUsername gatehouse.Backoff
	// SecondFactor throttles failed second steps (a wrong TOTP or recovery code, a WebAuthn
	// answer that does not verify) of one user from anywhere. A right password does not
	// forgive them, so an attacker who knows the password cannot reset the count by signing
	// in again. Default: 5 free, then 1 s doubling to 15 min.
	SecondFactor gatehouse.Backoff
}

// DefaultLimits are the policies used for the zero fields of Limits.
var DefaultLimits = Limits{
	Account:    gatehouse.Backoff{Free: 10, Base: time.Second, Max: 5 * time.Minute},
	AccountIP:  gatehouse.Backoff{Free: 5, Base: time.Second, Max: 15 * time.Minute},
	IP:         gatehouse.Backoff{Free: 100, Base: time.Second, Max: 15 * time.Minute},
	Credential: gatehouse.Backoff{Free: 100, Base: time.Second, Max: time.Minute, Forget: 15 * time.Minute},
	Register:   gatehouse.Backoff{Free: 10, Base: time.Second, Max: time.Minute, Forget: time.Hour},
	// One name is registered once; a few more tries cover a retry after a network error.
	RegisterUsername: gatehouse.Backoff{Free: 3, Base: time.Second, Max: time.Minute, Forget: time.Hour},
	SecondFactor:     gatehouse.Backoff{Free: 5, Base: time.Second, Max: 15 * time.Minute},
}

func (l Limits) normalize() Limits {
	pick := func(b, def gatehouse.Backoff) gatehouse.Backoff {
		if b == (gatehouse.Backoff{}) {
			b = def
		}
		return b.Normalize()
	}
	n := Limits{
		Account: pick(l.Account, DefaultLimits.Account), AccountIP: pick(l.AccountIP, DefaultLimits.AccountIP),
		IP: pick(l.IP, DefaultLimits.IP), Credential: pick(l.Credential, DefaultLimits.Credential),
		Register: pick(l.Register, DefaultLimits.Register), RegisterUsername: pick(l.RegisterUsername, DefaultLimits.RegisterUsername),
		SecondFactor: pick(l.SecondFactor, DefaultLimits.SecondFactor),
	}
	// NIST SP 800-63B-4: no more than 100 consecutive failures on one account go unthrottled.
	n.Account.Free = min(n.Account.Free, MaxFreeAccountFailures)
	n.AccountIP.Free = min(n.AccountIP.Free, MaxFreeAccountFailures)
	return n
}

// MaxFreeAccountFailures caps Limits.Account.Free and Limits.AccountIP.Free (NIST SP
// 800-63B-4 allows at most 100 consecutive failed attempts on one account).
const MaxFreeAccountFailures = 100

// loginAttempt is the keys one login is counted under.
type loginAttempt struct {
	limits  []gatehouse.Limit
	ipKey   string
	acctKey []string // the account and account+address keys; none for a string that cannot be a username
}

func (s *Service) newLoginAttempt(c Client, username string) loginAttempt {
	ip := AddrKey(c.Addr)
	la := loginAttempt{ipKey: "login:ip:" + ip}
	la.limits = append(la.limits, gatehouse.Limit{Key: la.ipKey, Backoff: s.limits.IP})
	if account.ValidateUsername(username) == nil {
		u := gatehouse.NormalizeUsername(username)
		acct, acctIP := "login:acct:"+u, "login:acct-ip:"+u+"|"+ip
		la.acctKey = []string{acct, acctIP}
		la.limits = append(la.limits, gatehouse.Limit{Key: acct, Backoff: s.limits.Account},
			gatehouse.Limit{Key: acctIP, Backoff: s.limits.AccountIP})
	}
	return la
}

// admitLogin counts a login attempt; it returns the wait when the client must hold off.
func (s *Service) admitLogin(ctx context.Context, la loginAttempt) (time.Duration, error) {
	if s.d.Throttle == nil {
		return 0, nil
	}
	return s.d.Throttle.Attempt(ctx, la.limits...)
}

// loginDone settles a counted login attempt: a right password forgives the account's failures
// and takes this attempt back from the address; a wrong one stays counted; anything that did
// not check the password (a busy hasher, a store error, an oversized password) is taken back.
func (s *Service) loginDone(ctx context.Context, la loginAttempt, err error) {
	th := s.d.Throttle
	if th == nil {
		return
	}
	var terr error
	keep := func(e error) {
		if terr == nil {
			terr = e
		}
	}
	switch code := gatehouse.ErrorCode(err); {
	case code == gatehouse.EINVALIDCREDENTIALS:
		return
	case err == nil || code == gatehouse.EFORBIDDEN: // the password was right (a disabled account is forbidden)
		keep(th.Reset(ctx, la.acctKey...))
		keep(th.Refund(ctx, la.ipKey))
	default:
		for _, l := range la.limits {
			keep(th.Refund(ctx, l.Key))
		}
	}
	if terr != nil {
		s.log.WarnContext(ctx, "throttle: settling a login attempt failed", "err", terr)
	}
}

// registration is the keys one self-registration is counted under: the client's address, and
// the username asked for (none for a string that cannot be a username).
func (s *Service) registration(c Client, username string) []gatehouse.Limit {
	limits := []gatehouse.Limit{{Key: "register:ip:" + AddrKey(c.Addr), Backoff: s.limits.Register}}
	if account.ValidateUsername(username) == nil {
		limits = append(limits, gatehouse.Limit{Key: "register:name:" + gatehouse.NormalizeUsername(username),
			Backoff: s.limits.RegisterUsername})
	}
	return limits
}

// admitRegistration counts a self-registration; it returns the wait when the client must hold off.
func (s *Service) admitRegistration(ctx context.Context, limits []gatehouse.Limit) (time.Duration, error) {
	if s.d.Throttle == nil {
		return 0, nil
	}
	return s.d.Throttle.Attempt(ctx, limits...)
}

// registrationDone settles a counted registration: one that reached the user store (created,
// or the username taken) stays counted; one refused before (an invalid field, a busy hasher, a
// store error) is taken back, so that a user fixing a weak password is not held up.
func (s *Service) registrationDone(ctx context.Context, limits []gatehouse.Limit, err error) {
	if s.d.Throttle == nil || err == nil || gatehouse.ErrorCode(err) == gatehouse.ECONFLICT {
		return
	}
	for _, l := range limits {
		if terr := s.d.Throttle.Refund(ctx, l.Key); terr != nil {
			s.log.WarnContext(ctx, "throttle: settling a registration failed", "err", terr)
			return
		}
	}
}

// CredentialFailed counts a failed credential (an unknown session, an invalid access or
// refresh token: the error Authenticate or Refresh returned) from the client's address and
// returns the wait when the address is over its budget; a transport then answers 429 instead
// of 401. Transports call it only on the failure path, never for a valid credential. Other
// errors (a store that is down, a missing credential) count nothing.
func (s *Service) CredentialFailed(ctx context.Context, c Client, err error) time.Duration {
	if s.d.Throttle == nil {
		return 0
	}
	switch gatehouse.ErrorCode(err) {
	case gatehouse.EINVALIDTOKEN, gatehouse.ESESSIONEXPIRED:
	default:
		return 0
	}
	key := "cred:ip:" + AddrKey(c.Addr)
	wait, terr := s.d.Throttle.Attempt(ctx, gatehouse.Limit{Key: key, Backoff: s.limits.Credential})
	if terr != nil {
		// The request fails anyway; a throttle that cannot count does not turn it into a 503.
		s.log.WarnContext(ctx, "throttle: counting a failed credential failed", "err", terr)
		return 0
	}
	return wait
}

// AddrKey is the throttling key of a client address: the IPv4 address, or the /64 prefix of an
// IPv6 address (one subscriber usually holds a whole /64).
func AddrKey(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is4():
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}
