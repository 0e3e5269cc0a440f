package http

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/prometheus/client_golang/prometheus"
)

// Who sent a request (the client's address behind trusted proxies, its user agent), as the
// plain authn.Client the use cases take, and the 429 answers of the throttles that authn runs.

// Client returns what the server knows of the client that sent r.
func (s *Server) Client(r *http.Request) authn.Client {
	addr := s.clientAddr(r)
	ip := r.RemoteAddr
	if addr.IsValid() {
		ip = addr.String()
	} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		ip = host
	}
	return authn.Client{Addr: addr, IP: ip, UserAgent: r.UserAgent()}
}

// newLimitedCounter registers the counter of 429 answers, by kind.
func newLimitedCounter(m *Metrics) *prometheus.CounterVec {
	limited := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_rate_limited_total", Help: "Requests answered 429 rate_limited, by kind (login, credential or register).",
	}, []string{"kind"})
	if err := m.reg.Register(limited); err != nil {
		// A second server on the same Metrics shares the counter.
		are, ok := err.(prometheus.AlreadyRegisteredError)
		if !ok {
			panic(err)
		}
		limited = are.ExistingCollector.(*prometheus.CounterVec)
	}
	return limited
}

// NoteThrottled sets Retry-After for a throttled attempt and counts the 429 answered; kind is
// login, credential or register.
func (s *Server) NoteThrottled(w http.ResponseWriter, kind string, wait time.Duration) {
	s.limited.WithLabelValues(kind).Inc()
	w.Header().Set("Retry-After", strconv.FormatInt(authn.RetryAfterSeconds(wait), 10))
}

// writeRateLimited answers 429 rate_limited with Retry-After in whole seconds (at least 1).
func (s *Server) writeRateLimited(w http.ResponseWriter, r *http.Request, kind string, wait time.Duration) {
	s.NoteThrottled(w, kind, wait)
	what := "too many failed attempts"
	if kind == "register" {
		what = "too many registrations from this address or for this username"
	}
	s.WriteCode(w, r, gatehouse.ERATELIMITED, what+"; try again in "+strconv.FormatInt(authn.RetryAfterSeconds(wait), 10)+" s")
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
	if len(s.proxies) == 0 || !s.trustedProxy(peer) {
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
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHostAddr parses "addr", "addr:port" or "[v6]:port"; IPv4-mapped IPv6 addresses become
// IPv4. It returns the zero Addr for anything else.
func parseHostAddr(s string) netip.Addr {
	// Try the form that s has first: a failed parse allocates its error, and every request's
	// RemoteAddr has a port.
	if i := strings.LastIndexByte(s, ':'); i > 0 && (s[0] == '[' || strings.IndexByte(s, ':') == i) {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			return ap.Addr().Unmap().WithZone("")
		}
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	return netip.Addr{}
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
