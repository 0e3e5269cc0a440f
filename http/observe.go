package http

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// What the server records of every request: its count by route and status, its duration by
// route and credential, and, with Config.AccessLog, one log line. Labels are route patterns
// ("GET /api/sessions/{id}"), never raw paths, so their number is bounded by the routes.

// Credentials a request may carry, as labelled in metrics and the access log: the kind only,
// never the value.
const (
	credNone = iota
	credCookie
	credBearer
	credBasic
	credKinds
)

var credNames = [credKinds]string{"none", "cookie", "bearer", "basic"}

// credentialKind returns the kind of credential r carries: an Authorization header (bearer, or
// basic for resource servers' client credentials), else the session cookie, else none.
func (s *Server) credentialKind(r *http.Request) int {
	if v := r.Header["Authorization"]; len(v) > 0 {
		if len(v[0]) >= 6 && strings.EqualFold(v[0][:6], "basic ") {
			return credBasic
		}
		return credBearer // any other scheme is checked, and refused, as a bearer token
	}
	for _, c := range r.Header["Cookie"] {
		if strings.Contains(c, s.cookieName+"=") {
			return credCookie
		}
	}
	return credNone
}

// routeObservers are one route's duration histograms, one per credential kind, made on first use
// (a route that never sees a kind has no series for it).
type routeObservers struct {
	once [credKinds]sync.Once
	obs  [credKinds]prometheus.Observer
}

func (o *routeObservers) get(m *Metrics, route string, cred int) prometheus.Observer {
	o.once[cred].Do(func() { o.obs[cred] = m.durations.WithLabelValues(route, credNames[cred]) })
	return o.obs[cred]
}

// observe wraps h, the handler of route, to count, time and (with Config.AccessLog) log each
// request. Counters and histograms are looked up once per label set and kept, so the hot path
// does no label hashing.
func (s *Server) observe(route string, h http.Handler) http.Handler {
	var byCode sync.Map // int -> prometheus.Counter
	var durations routeObservers
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		cred := s.credentialKind(r)
		rec := recorderPool.Get().(*statusRecorder)
		rec.ResponseWriter, rec.code, rec.user = w, 0, ""
		h.ServeHTTP(rec, r)
		code, user := rec.code, rec.user
		if code == 0 {
			code = http.StatusOK
		}
		rec.ResponseWriter, rec.user = nil, ""
		recorderPool.Put(rec)
		elapsed := time.Since(start)
		c, ok := byCode.Load(code)
		if !ok {
			c, _ = byCode.LoadOrStore(code, s.Metrics.requests.WithLabelValues(route, strconv.Itoa(code)))
		}
		c.(prometheus.Counter).Inc()
		durations.get(s.Metrics, route, cred).Observe(elapsed.Seconds())
		if s.cfg.AccessLog {
			s.logRequest(r, route, code, elapsed, cred, user)
		}
	})
}

// logRequest writes the access log line of one request. It carries the path without its query
// string (where a reset link's token would be), the kind of credential but never its value,
// and the user id once a credential was accepted.
func (s *Server) logRequest(r *http.Request, route string, code int, elapsed time.Duration, cred int, user string) {
	ctx := r.Context()
	if !s.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "request",
		slog.String("method", r.Method), slog.String("route", route), slog.String("path", r.URL.Path),
		slog.Int("status", code), slog.Duration("duration", elapsed), slog.String("auth", credNames[cred]),
		slog.String("user", user), slog.String("client_ip", s.clientIPText(r)))
}

// clientIPText is the client's address (clientAddr: the peer, or what trusted proxies say) as
// text, without an allocation when the client is the peer: then the text is RemoteAddr's own.
func (s *Server) clientIPText(r *http.Request) string {
	a := s.clientAddr(r)
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	switch {
	case err != nil && !a.IsValid():
		return r.RemoteAddr
	case !a.IsValid():
		return host
	case err == nil:
		if peer, err := netip.ParseAddr(host); err == nil && peer == a {
			return host
		}
	}
	return a.String()
}

// noteUser tells the request's observer (and so the access log) which user the request
// authenticated as.
func noteUser(w http.ResponseWriter, userID string) {
	for w != nil {
		if rec, ok := w.(*statusRecorder); ok {
			rec.user = userID
			return
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return
		}
		w = u.Unwrap()
	}
}
