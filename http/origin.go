package http

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

var errCrossOrigin = errors.New("cross-origin request refused")

// CheckOrigin refuses a cross-origin unsafe request. It is net/http's CrossOriginProtection
// (Sec-Fetch-Site, then the Origin header) with a stricter fallback: for a browser that sends
// no Sec-Fetch-Site, CrossOriginProtection compares the Origin's host with the Host header
// only, so a page served over plain HTTP on the same host and port (or http://host for an
// HTTPS server) passes. Here the Origin's scheme must also be the one this request came over
// (see requestScheme); its host and port are already those of the Host header.
func (s *Server) CheckOrigin(r *http.Request) error {
	if err := s.cop.Check(r); err != nil {
		return err
	}
	if isSafeMethod(r.Method) || r.Header.Get("Sec-Fetch-Site") != "" {
		return nil // Sec-Fetch-Site is schemeful: "same-origin" already means the same scheme
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil // not a browser, or one that sends neither header: nothing to compare
	}
	o, err := url.Parse(origin)
	if err != nil || !strings.EqualFold(o.Scheme, s.requestScheme(r)) {
		return errCrossOrigin
	}
	return nil
}

// requestScheme returns the scheme the client used to reach the server: "https" when the
// request came over TLS here or the server is configured for secure cookies (it sits behind a
// TLS-terminating proxy); else what a trusted proxy says in X-Forwarded-Proto; else "http".
func (s *Server) requestScheme(r *http.Request) string {
	if r.TLS != nil || s.cfg.SecureCookies {
		return "https"
	}
	if proto, ok := s.forwardedProto(r); ok {
		return proto
	}
	return "http"
}

// forwardedProto returns X-Forwarded-Proto ("http" or "https") when the peer is a trusted proxy.
func (s *Server) forwardedProto(r *http.Request) (string, bool) {
	if len(s.proxies) == 0 {
		return "", false // the common case: nothing to look up
	}
	v := r.Header.Get("X-Forwarded-Proto")
	if v == "" || !s.trustedProxy(parseHostAddr(r.RemoteAddr)) {
		return "", false
	}
	// Proxies that append rather than set leave a list: the first value was written by the
	// proxy that faced the client. (A client can forge the header, but not through the
	// victim's browser in a cross-site request, and HSTS sent over plain HTTP is ignored.)
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	switch v = strings.ToLower(strings.TrimSpace(v)); v {
	case "http", "https":
		return v, true
	}
	return "", false
}

// overTLS reports whether the client reached the server over TLS: directly, or through a
// trusted proxy that says so in X-Forwarded-Proto.
func (s *Server) overTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	proto, ok := s.forwardedProto(r)
	return ok && proto == "https"
}
