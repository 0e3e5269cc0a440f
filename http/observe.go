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

	"github.com/gatehouse-auth/gatehouse"
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
	// credUnknown: not known yet (statusRecorder.cred before an authenticated handler says).
	credUnknown = -1
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
		if strings.Contains(c, s.cookieEq) {
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

// routeCounters are one route's request counters by status code, made on first use; the
// common 200 is kept apart so that most requests skip the map.
type routeCounters struct {
	okOnce sync.Once
	ok     prometheus.Counter
	byCode sync.Map // int -> prometheus.Counter
}

func (c *routeCounters) get(m *Metrics, route string, code int) prometheus.Counter {
	if code == http.StatusOK {
		c.okOnce.Do(func() { c.ok = m.requests.WithLabelValues(route, "200") })
		return c.ok
	}
	v, ok := c.byCode.Load(code)
	if !ok {
		v, _ = c.byCode.LoadOrStore(code, m.requests.WithLabelValues(route, strconv.Itoa(code)))
	}
	return v.(prometheus.Counter)
}

// observe wraps h, the handler of route, to count, time and (with Config.AccessLog) log each
// request. Counters and histograms are looked up once per label set and kept, so the hot path
// does no label hashing. The request is timed with two readings of the monotonic clock, and
// the access log's time comes from the second (wallClock): no other clock read. An
// authenticated handler tells the credential's kind (noteAuth), so that only the other
// requests are looked at again for it.
func (s *Server) observe(route string, h http.Handler) http.Handler {
	var counters routeCounters
	var durations routeObservers
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := monotonic()
		rec := recorderPool.Get().(*statusRecorder)
		rec.ResponseWriter, rec.code, rec.user, rec.cred = w, 0, "", credUnknown
		h.ServeHTTP(rec, r)
		code, user, cred := rec.code, rec.user, rec.cred
		if code == 0 {
			code = http.StatusOK
		}
		rec.ResponseWriter, rec.user = nil, ""
		recorderPool.Put(rec)
		end := monotonic()
		elapsed := time.Duration(end - start)
		if cred == credUnknown {
			cred = s.credentialKind(r)
		}
		counters.get(s.Metrics, route, code).Inc()
		durations.get(s.Metrics, route, cred).Observe(elapsed.Seconds())
		if s.cfg.AccessLog {
			s.logRequest(r, route, code, end, elapsed, cred, user)
		}
	})
}

// logRequest writes the access log line of one request, which ended at the monotonic reading
// end (its time in the log, through s.wall) and took elapsed. It carries the path without its
// query string (where a reset link's token would be), the kind of credential but never its
// value, and the user id once a credential was accepted. It builds the record
// itself, after asking the handler whether info is enabled: Logger.LogAttrs would also walk
// the stack for the caller's position, which an access log does not need.
func (s *Server) logRequest(r *http.Request, route string, code int, end int64, elapsed time.Duration, cred int, user string) {
	ctx := r.Context()
	h := s.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	rec := slog.NewRecord(s.wall.at(end), slog.LevelInfo, "request", 0)
	rec.AddAttrs(slog.String("method", r.Method), slog.String("route", route), slog.String("path", r.URL.Path),
		slog.Int("status", code), slog.Duration("duration", elapsed), slog.String("auth", credNames[cred]),
		slog.String("user", user), slog.String("client_ip", s.clientIPText(r)))
	_ = h.Handle(ctx, rec) // as Logger does: a failed log write is not the request's failure
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
// signed in as (a login).
func noteUser(w http.ResponseWriter, userID string) {
	if rec := recorderOf(w); rec != nil {
		rec.user = userID
	}
}

// noteAuth tells the request's observer which user the request authenticated as and with what
// kind of credential, so that it need not look at the headers again.
func noteAuth(w http.ResponseWriter, a *gatehouse.Auth) {
	rec := recorderOf(w)
	if rec == nil {
		return
	}
	rec.user, rec.cred = a.UserID, credCookie
	if a.Method == gatehouse.AuthToken {
		rec.cred = credBearer
	}
}

// recorderOf finds the request's statusRecorder under w, or nil.
func recorderOf(w http.ResponseWriter) *statusRecorder {
	for w != nil {
		if rec, ok := w.(*statusRecorder); ok {
			return rec
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
	return nil
}
