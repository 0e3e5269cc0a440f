package http

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/prometheus/client_golang/prometheus"
)

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
	}
	// NIST SP 800-63B-4: no more than 100 consecutive failures on one account go unthrottled.
	n.Account.Free = min(n.Account.Free, MaxFreeAccountFailures)
	n.AccountIP.Free = min(n.AccountIP.Free, MaxFreeAccountFailures)
	return n
}

// MaxFreeAccountFailures caps Limits.Account.Free and Limits.AccountIP.Free (NIST SP
// 800-63B-4 allows at most 100 consecutive failed attempts on one account).
const MaxFreeAccountFailures = 100

// limiter applies the throttles of the server; with no gatehouse.Throttle it admits everything.
type limiter struct {
	th      gatehouse.Throttle
	limits  Limits
	proxies []netip.Prefix
	limited *prometheus.CounterVec
}

func newLimiter(th gatehouse.Throttle, cfg Config, m *Metrics) *limiter {
	l := &limiter{th: th, limits: cfg.Limits.normalize(), proxies: cfg.TrustedProxies,
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_rate_limited_total", Help: "Requests answered 429 rate_limited, by kind (login, credential or register).",
		}, []string{"kind"})}
	if err := m.reg.Register(l.limited); err != nil {
		// A second server on the same Metrics shares the counter.
		are, ok := err.(prometheus.AlreadyRegisteredError)
		if !ok {
			panic(err)
		}
		l.limited = are.ExistingCollector.(*prometheus.CounterVec)
	}
	return l
}

// loginAttempt is the keys one login is counted under.
type loginAttempt struct {
	limits  []gatehouse.Limit
	ipKey   string
	acctKey []string // the account and account+address keys; none for a string that cannot be a username
}

func (s *Server) newLoginAttempt(r *http.Request, username string) loginAttempt {
	ip := addrKey(s.clientAddr(r))
	la := loginAttempt{ipKey: "login:ip:" + ip}
	la.limits = append(la.limits, gatehouse.Limit{Key: la.ipKey, Backoff: s.limiter.limits.IP})
	if account.ValidateUsername(username) == nil {
		u := gatehouse.NormalizeUsername(username)
		acct, acctIP := "login:acct:"+u, "login:acct-ip:"+u+"|"+ip
		la.acctKey = []string{acct, acctIP}
		la.limits = append(la.limits, gatehouse.Limit{Key: acct, Backoff: s.limiter.limits.Account},
			gatehouse.Limit{Key: acctIP, Backoff: s.limiter.limits.AccountIP})
	}
	return la
}

// admitLogin counts a login attempt; it returns the wait when the client must hold off.
func (s *Server) admitLogin(ctx context.Context, la loginAttempt) (time.Duration, error) {
	if s.limiter.th == nil {
		return 0, nil
	}
	return s.limiter.th.Attempt(ctx, la.limits...)
}

// loginDone settles a counted login attempt: a right password forgives the account's failures
// and takes this attempt back from the address; a wrong one stays counted; anything that did
// not check the password (a busy hasher, a store error, an oversized password) is taken back.
func (s *Server) loginDone(ctx context.Context, la loginAttempt, err error) {
	if s.limiter.th == nil {
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
		keep(s.limiter.th.Reset(ctx, la.acctKey...))
		keep(s.limiter.th.Refund(ctx, la.ipKey))
	default:
		for _, l := range la.limits {
			keep(s.limiter.th.Refund(ctx, l.Key))
		}
	}
	if terr != nil {
		s.log.WarnContext(ctx, "throttle: settling a login attempt failed", "err", terr)
	}
}

// registration is the keys one self-registration is counted under: the client's address, and
// the username asked for (none for a string that cannot be a username).
func (s *Server) registration(r *http.Request, username string) []gatehouse.Limit {
	limits := []gatehouse.Limit{{Key: "register:ip:" + addrKey(s.clientAddr(r)), Backoff: s.limiter.limits.Register}}
	if account.ValidateUsername(username) == nil {
		limits = append(limits, gatehouse.Limit{Key: "register:name:" + gatehouse.NormalizeUsername(username),
			Backoff: s.limiter.limits.RegisterUsername})
	}
	return limits
}

// admitRegistration counts a self-registration; it returns the wait when the client must hold off.
func (s *Server) admitRegistration(ctx context.Context, limits []gatehouse.Limit) (time.Duration, error) {
	if s.limiter.th == nil {
		return 0, nil
	}
	return s.limiter.th.Attempt(ctx, limits...)
}

// registrationDone settles a counted registration: one that reached the user store (created,
// or the username taken) stays counted; one refused before (an invalid field, a busy hasher, a
// store error) is taken back, so that a user fixing a weak password is not held up.
func (s *Server) registrationDone(ctx context.Context, limits []gatehouse.Limit, err error) {
	if s.limiter.th == nil || err == nil || gatehouse.ErrorCode(err) == gatehouse.ECONFLICT {
		return
	}
	for _, l := range limits {
		if terr := s.limiter.th.Refund(ctx, l.Key); terr != nil {
			s.log.WarnContext(ctx, "throttle: settling a registration failed", "err", terr)
			return
		}
	}
}

// credentialFailed counts a failed credential (unknown session, invalid token) from the
// client's address and returns the wait when the address is over its budget. It runs only on
// the failure path, never for a valid credential.
func (s *Server) credentialFailed(r *http.Request, err error) time.Duration {
	if s.limiter.th == nil {
		return 0
	}
	switch gatehouse.ErrorCode(err) {
	case gatehouse.EINVALIDTOKEN, gatehouse.ESESSIONEXPIRED:
	default:
		return 0
	}
	key := "cred:ip:" + addrKey(s.clientAddr(r))
	wait, terr := s.limiter.th.Attempt(r.Context(), gatehouse.Limit{Key: key, Backoff: s.limiter.limits.Credential})
	if terr != nil {
		// The request fails anyway; a throttle that cannot count does not turn it into a 503.
		s.log.WarnContext(r.Context(), "throttle: counting a failed credential failed", "err", terr)
		return 0
	}
	return wait
}

// writeRateLimited answers 429 rate_limited with Retry-After in whole seconds (at least 1).
func (s *Server) writeRateLimited(w http.ResponseWriter, r *http.Request, kind string, wait time.Duration) {
	s.noteThrottled(w, kind, wait)
	what := "too many failed attempts"
	if kind == "register" {
		what = "too many registrations from this address or for this username"
	}
	s.writeCode(w, r, gatehouse.ERATELIMITED, what+"; try again in "+strconv.FormatInt(retryAfterSeconds(wait), 10)+" s")
}

// retryAfterSeconds is wait in whole seconds, rounded up, at least 1: the Retry-After value.
func retryAfterSeconds(wait time.Duration) int64 {
	return max(int64((wait+time.Second-1)/time.Second), 1)
}

// clientAddr returns the address of the client that sent r. Without trusted proxies it is the
// peer's address. When the peer is a trusted proxy, X-Forwarded-For is read from the right:
// the first address that is not a trusted proxy is the client (addresses further left were
// written by the client itself and prove nothing). An unparsable entry stops the walk at the
// last trusted hop.
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	peer := parseHostAddr(r.RemoteAddr)
	if len(s.limiter.proxies) == 0 || !s.trustedProxy(peer) {
		return peer
	}
	last := peer
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		line := hops[i]
		for line != "" {
			var part string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				part, line = line[j+1:], line[:j]
			} else {
				part, line = line, ""
			}
			a := parseHostAddr(strings.TrimSpace(part))
			if !a.IsValid() {
				return last
			}
			if !s.trustedProxy(a) {
				return a
			}
			last = a
		}
	}
	return last
}

func (s *Server) trustedProxy(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range s.limiter.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHostAddr parses "addr", "addr:port" or "[v6]:port"; IPv4-mapped IPv6 addresses become
// IPv4. It returns the zero Addr for anything else.
func parseHostAddr(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	return netip.Addr{}
}

// addrKey is the throttling key of a client address: the IPv4 address, or the /64 prefix of an
// IPv6 address (one subscriber usually holds a whole /64).
func addrKey(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is4():
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// clientIPTrustingProxies returns the client's address as recorded with its sessions and audit
// events: clientAddr's, so the address a trusted proxy forwarded (--trusted-proxies) and else the
// connection's peer; a peer address that does not parse is kept as it is, without its port.
func (s *Server) clientIPTrustingProxies(r *http.Request) string {
	if a := s.clientAddr(r); a.IsValid() {
		return a.String()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ParseTrustedProxies parses a comma-separated list of CIDR prefixes or single addresses.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, err
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
