// Package http is gatehouse's HTTP API: routes, JSON errors, and the authentication, role and
// cross-origin middleware. It follows the contract in docs/api.md and docs/openapi.yaml; the
// mapping from application error codes to HTTP statuses lives here and nowhere else (error.go).
// It holds no domain rule: each handler decodes the request, calls a use case of package
// authn with plain values, and encodes the answer. The server-rendered pages (package web)
// mount themselves on the same server with Handle and share its cookie, client-address and
// cross-origin helpers.
package http

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/prometheus/client_golang/prometheus"
)

// Config holds the server's behaviour settings. The zero value of each field means its default.
type Config struct {
	// CookieName is the session cookie's name (default "gatehouse_session"). With SecureCookies
	// it gets the "__Host-" prefix.
	CookieName string
	// SecureCookies marks the session cookie Secure (set it when serving over TLS).
	SecureCookies bool
	// CookieDomain, if set, is the Domain of the session cookie, so that one sign-in covers
	// every subdomain of it (for forward-auth). A Secure cookie then gets the "__Secure-"
	// prefix instead of "__Host-", which forbids a Domain.
	CookieDomain string
	// DefaultMode is the login mode when the request names none: "token" (default) or "session".
	DefaultMode string
	// AllowRegistration enables POST /api/register (default off: 403).
	AllowRegistration bool
	// AllowAccountDeletion enables DELETE /api/me, a user's erasure of their own account
	// (default off: 403, and an administrator deletes accounts).
	AllowAccountDeletion bool
	// Logger receives request errors and events (default slog.Default()). Secrets never reach it.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time

	// Token interoperability (discovery.go, oauth.go, revstream.go).
	//
	// IntrospectionClientID and IntrospectionSecret are the HTTP Basic client credentials that
	// resource servers present to POST /oauth2/introspect and GET /api/revocations/stream (an
	// admin's bearer token works too). An empty secret disables them.
	IntrospectionClientID, IntrospectionSecret string
	// RevocationHeartbeat is how often the revocation stream sends a heartbeat when it has
	// nothing else to send (default DefaultRevocationHeartbeat).
	RevocationHeartbeat time.Duration

	// TrustedProxies are the peers whose X-Forwarded-For and X-Forwarded-Proto headers are
	// believed (default none: the client is the TCP peer).
	TrustedProxies []netip.Prefix
	// HSTSMaxAge is the max-age of the Strict-Transport-Security header sent with every answer
	// to a request that came over TLS (directly, or through a trusted proxy that says so in
	// X-Forwarded-Proto): browsers then refuse plain HTTP to this host for that long. Zero means
	// DefaultHSTSMaxAge; negative sends no header.
	HSTSMaxAge time.Duration

	// Operations (observe.go, adminlistener.go).
	//
	// AccessLog writes one line per request to Logger at info: method, route pattern, path
	// without its query, status, duration, kind of credential, user id, client address.
	AccessLog bool
	// AdminListener says that an admin listener serves AdminHandler: GET /metrics moves there
	// from the public handler (which answers it 404); /healthz and /readyz are on both.
	AdminListener bool
	// AdminAPIOnAdminListener serves /api/admin/* on AdminHandler only (the public handler
	// answers 404). It needs AdminListener.
	AdminAPIOnAdminListener bool
}

// DefaultHSTSMaxAge is the default Config.HSTSMaxAge: one year, as browsers' preload lists ask.
const DefaultHSTSMaxAge = 365 * 24 * time.Hour

// Deps are the components the server uses; cmd/gatehouse builds and wires them.
type Deps struct {
	// Authn runs the use cases.
	Authn *authn.Service
	// Ready lists checks that /readyz runs; each must answer within the request's deadline.
	Ready []func(context.Context) error
	// Metrics is where the server registers its metrics; nil creates a private registry. Give
	// authn.Hooks.Login the same Metrics' Login to count logins.
	Metrics *Metrics
}

// Server is the gatehouse HTTP API.
type Server struct {
	Deps
	cfg        Config
	log        *slog.Logger
	now        func() time.Time
	cookieName string
	cookieEq   string    // cookieName + "=", what credentialKind looks for
	wall       wallClock // the access log's times (observe.go)
	cop        *http.CrossOriginProtection
	proxies    []netip.Prefix         // trusted proxies (client.go)
	limited    *prometheus.CounterVec // 429 answers by kind (throttle.go)
	mux        *http.ServeMux
	handler    http.Handler
	allowed    map[string]*[]string // path -> methods, for the 405 answers
	streams    streamHub            // open revocation streams (revstream.go)
	hsts       []string             // the Strict-Transport-Security value, or nil for none
	patterns   []string             // every route as "METHOD /path", for the API contract's test
	// exactGET are the public GET routes without wildcards, by path: ServeHTTP calls them
	// without the ServeMux, whose path cleaning, escaping and tree walk were a tenth of the
	// instructions of BenchmarkAuthenticate/jwt-eddsa. Same handler, same answer: the mux
	// would pick the same route for that exact path.
	exactGET map[string]http.Handler

	// admin and adminAllowed are AdminHandler's routes (adminlistener.go).
	admin        *http.ServeMux
	adminAllowed map[string]*[]string
	provider     *OpenIDProvider // the OpenID Provider mounted on the server, or nil (discovery.go)
}

// New returns a server with its routes mounted.
func New(d Deps, cfg Config) *Server {
	s := &Server{Deps: d, cfg: cfg, log: cfg.Logger, now: cfg.Now}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.cfg.DefaultMode == "" {
		s.cfg.DefaultMode = gatehouse.AuthToken
	}
	s.cookieName = cfg.CookieName
	if s.cookieName == "" {
		s.cookieName = "gatehouse_session"
	}
	switch {
	case cfg.SecureCookies && cfg.CookieDomain != "":
		s.cookieName = "__Secure-" + s.cookieName
	case cfg.SecureCookies:
		s.cookieName = "__Host-" + s.cookieName
	}
	s.cookieEq = s.cookieName + "="
	if s.Metrics == nil {
		s.Metrics = NewMetrics(nil)
	}
	s.proxies = cfg.TrustedProxies
	s.limited = newLimitedCounter(s.Metrics)
	s.cop = http.NewCrossOriginProtection()
	s.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.WriteCode(w, r, gatehouse.EFORBIDDEN, "cross-origin request refused")
	}))
	s.hsts = hstsValue(cfg.HSTSMaxAge)
	s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.hsts != nil && s.overTLS(r) {
		w.Header()["Strict-Transport-Security"] = s.hsts
	}
	if r.Method == http.MethodGet {
		if h, ok := s.exactGET[r.URL.Path]; ok {
			h.ServeHTTP(w, r)
			return
		}
	}
	s.handler.ServeHTTP(w, r)
}

// hstsValue returns the Strict-Transport-Security header of maxAge (see Config.HSTSMaxAge).
func hstsValue(maxAge time.Duration) []string {
	switch {
	case maxAge < 0:
		return nil
	case maxAge == 0:
		maxAge = DefaultHSTSMaxAge
	}
	return []string{"max-age=" + strconv.FormatInt(int64(maxAge/time.Second), 10)}
}

// CookieName returns the session cookie's name as sent to browsers.
func (s *Server) CookieName() string { return s.cookieName }

// Handle mounts h on "METHOD path" (a net/http ServeMux pattern), counted and timed in the
// metrics by that route; another method on the same path answers 405 with Allow. The web pages
// mount themselves with it. Call it before the server starts serving.
func (s *Server) Handle(method, path string, h http.HandlerFunc) {
	s.patterns = append(s.patterns, method+" "+path)
	if s.adminOnly(path) {
		s.handleOn(s.admin, s.adminAllowed, method, path, h)
		return
	}
	s.handleOn(s.mux, s.allowed, method, path, h)
}

// handleOn mounts h on mux, whose paths' methods allowed records.
func (s *Server) handleOn(mux *http.ServeMux, allowed map[string]*[]string, method, path string, h http.Handler) {
	observed := s.observe(method+" "+path, h)
	mux.Handle(method+" "+path, observed)
	if mux == s.mux && method == http.MethodGet && exactPath(path) {
		s.exactGET[path] = observed
	}
	if methods, ok := allowed[path]; ok {
		*methods = append(*methods, method)
		return
	}
	methods := &[]string{method}
	allowed[path] = methods
	// A known path with another method: 405 with Allow, as a JSON error.
	mux.Handle(path, s.observe("405", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		allow := strings.Join(append(slices.Clone(*methods), methodsImplied(*methods)...), ", ")
		w.Header().Set("Allow", allow)
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{gatehouse.EBADREQUEST,
			"method " + r.Method + " is not allowed here; allowed: " + allow})
	})))
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.handler = s.mux
	s.exactGET = map[string]http.Handler{}
	s.allowed = map[string]*[]string{}
	s.admin, s.adminAllowed = http.NewServeMux(), map[string]*[]string{}
	handle := s.Handle

	handle("POST", "/api/register", s.handleRegister)
	handle("POST", "/api/login", s.handleLogin)
	handle("POST", "/api/token/refresh", s.handleRefresh)
	handle("POST", "/api/logout", s.authed(gatehouse.RoleUser, s.handleLogout))
	handle("POST", "/api/logout-all", s.authed(gatehouse.RoleUser, s.handleLogoutAll))
	handle("GET", "/api/protected", s.authed(gatehouse.RoleUser, s.handleProtected))
	handle("GET", "/api/me", s.authed(gatehouse.RoleUser, s.handleMe))
	handle("GET", "/api/sessions", s.authed(gatehouse.RoleUser, s.handleListSessions))
	handle("DELETE", "/api/sessions/{id}", s.authed(gatehouse.RoleUser, s.handleDeleteSession))
	handle("POST", "/api/me/password", s.authed(gatehouse.RoleUser, s.handleAccountPassword))
	handle("PATCH", "/api/me", s.authed(gatehouse.RoleUser, s.handleUpdateProfile))
	handle("DELETE", "/api/me", s.authed(gatehouse.RoleUser, s.handleDeleteAccount))
	handle("POST", "/api/me/email/verification", s.authed(gatehouse.RoleUser, s.handleResendVerification))
	handle("POST", "/api/email/verify", s.handleVerifyEmail)
	handle("POST", "/api/password/forgot", s.handleForgotPassword)
	handle("POST", "/api/password/reset", s.handleResetPassword)

	handle("GET", "/api/admin/users", s.authed(gatehouse.RoleAdmin, s.handleAdminListUsers))
	handle("POST", "/api/admin/users", s.authed(gatehouse.RoleAdmin, s.handleAdminCreateUser))
	handle("GET", "/api/admin/users/{id}", s.authed(gatehouse.RoleAdmin, s.handleAdminGetUser))
	handle("PATCH", "/api/admin/users/{id}", s.authed(gatehouse.RoleAdmin, s.handleAdminUpdateUser))
	handle("DELETE", "/api/admin/users/{id}", s.authed(gatehouse.RoleAdmin, s.handleAdminDeleteUser))
	handle("GET", "/api/admin/users/{id}/sessions", s.authed(gatehouse.RoleAdmin, s.handleAdminListSessions))
	handle("DELETE", "/api/admin/users/{id}/sessions", s.authed(gatehouse.RoleAdmin, s.handleAdminRevokeUser))
	handle("DELETE", "/api/admin/sessions/{id}", s.authed(gatehouse.RoleAdmin, s.handleAdminDeleteSession))
	s.auditRoutes(handle)
	s.mfaRoutes(handle)

	handle("GET", "/.well-known/jwks.json", s.handleJWKS)
	s.oauthRoutes(handle)
	handle("GET", "/healthz", s.handleHealth)
	handle("GET", "/readyz", s.handleReady)
	handle("GET", "/openapi.yaml", handleOpenAPI)
	s.opsRoutes()
	s.mux.Handle("/", s.observe("404", http.HandlerFunc(s.handleNotFound)))
	s.admin.Handle("/", s.observe("404", http.HandlerFunc(s.handleNotFound)))
}

// exactPath reports whether the ServeMux path pattern path matches one path only: no
// wildcard, and no trailing slash (which matches a whole subtree).
func exactPath(path string) bool {
	return !strings.Contains(path, "{") && !strings.HasSuffix(path, "/")
}

// methodsImplied returns HEAD when GET is among methods (the mux serves HEAD with GET routes).
func methodsImplied(methods []string) []string {
	for _, m := range methods {
		if m == "GET" {
			return []string{"HEAD"}
		}
	}
	return nil
}

func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	s.WriteCode(w, r, gatehouse.ENOTFOUND, "no such route: "+r.Method+" "+r.URL.Path)
}

// Timeouts used by NewHTTPServer. ReadHeaderTimeout bounds slow clients that never finish their
// headers (slowloris).
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 15 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 120 * time.Second
	// MaxHeaderBytes leaves room for an oversized bearer token to reach the handler, which
	// answers 413 too_large instead of the server's bare 431.
	MaxHeaderBytes = 256 << 10
)

// NewHTTPServer returns an *http.Server for h with gatehouse's timeouts and limits.
func NewHTTPServer(addr string, h http.Handler, tlsConfig *tls.Config, log *slog.Logger) *http.Server {
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if s, ok := h.(*Server); ok {
		srv.RegisterOnShutdown(s.CloseStreams) // Shutdown would otherwise wait for them
	}
	return srv
}
