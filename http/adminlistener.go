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

// opsRoutes mounts the metrics, on the public mux or, with an admin listener, on the admin mux
// with the probes (which stay on the public mux too: load balancers probe the public port).
func (s *Server) opsRoutes() {
	s.patterns = append(s.patterns, "GET /metrics")
	mux, allowed := s.mux, s.allowed
	if s.cfg.AdminListener {
		mux, allowed = s.admin, s.adminAllowed
		s.handleOn(s.admin, s.adminAllowed, "GET", "/healthz", http.HandlerFunc(s.handleHealth))
		s.handleOn(s.admin, s.adminAllowed, "GET", "/readyz", http.HandlerFunc(s.handleReady))
	}
	// The scrapes are not counted: a metric of the metrics' own requests would only measure
	// the scraper.
	mux.Handle("GET /metrics", s.Metrics.Handler())
	allowed["/metrics"] = &[]string{"GET"} // the 405 below is this path's
	mux.Handle("/metrics", s.observe("405", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{gatehouse.EBADREQUEST,
			"method " + r.Method + " is not allowed here; allowed: GET, HEAD"})
	})))
}
