package http

import (
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
)

// The admin listener: a second address (such as 127.0.0.1:9090) for what only operators and
// their tools should reach, the metrics, the probes and, if chosen, the administration API.
// Without one (Config.AdminListener false) the public handler serves everything.

// adminAPIPrefix starts every path of the administration API.
const adminAPIPrefix = "/api/admin/"

// AdminHandler serves the admin listener's routes: GET /metrics, /healthz and /readyz, and
// /api/admin/* with Config.AdminAPIOnAdminListener. Anything else is 404.
func (s *Server) AdminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.hsts != nil && s.overTLS(r) {
			w.Header()["Strict-Transport-Security"] = s.hsts
		}
		s.admin.ServeHTTP(w, r)
	})
}

// adminOnly reports whether path is served by the admin listener only.
func (s *Server) adminOnly(path string) bool {
	return s.cfg.AdminListener && s.cfg.AdminAPIOnAdminListener && strings.HasPrefix(path, adminAPIPrefix)
}

// opsRoutes mounts the metrics and the probes: on the public mux, and with an admin listener
// the probes on both and the metrics on the admin mux only.
func (s *Server) opsRoutes(public, admin *routeMux) {
	metrics := s.Metrics.Handler()
	s.patterns = append(s.patterns, "GET /metrics")
	if s.cfg.AdminListener {
		admin.handle("GET", "/metrics", metrics)
		admin.handle("GET", "/healthz", s.observe("GET /healthz", http.HandlerFunc(s.handleHealth)))
		admin.handle("GET", "/readyz", s.observe("GET /readyz", http.HandlerFunc(s.handleReady)))
		return
	}
	public.handle("GET", "/metrics", metrics)
}

// routeMux is a ServeMux that remembers each path's methods, for its 405 answers.
type routeMux struct {
	*http.ServeMux
	allowed map[string][]string // path -> methods
}

func newRouteMux() *routeMux {
	return &routeMux{ServeMux: http.NewServeMux(), allowed: map[string][]string{}}
}

func (m *routeMux) handle(method, path string, h http.Handler) {
	m.Handle(method+" "+path, h)
	m.allowed[path] = append(m.allowed[path], method)
}

// finish adds the answers to what no route matches: a known path with another method is 405
// with Allow, anything else 404, both as JSON errors.
func (m *routeMux) finish(s *Server) http.Handler {
	for path, methods := range m.allowed {
		allow := strings.Join(append(methods, methodsImplied(methods)...), ", ")
		m.Handle(path, s.observe("405", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeJSON(w, http.StatusMethodNotAllowed, errorBody{gatehouse.EBADREQUEST,
				"method " + r.Method + " is not allowed here; allowed: " + allow})
		})))
	}
	m.Handle("/", s.observe("404", http.HandlerFunc(s.handleNotFound)))
	return m.ServeMux
}
