package forwardauth

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
)

// MaxURILen bounds the original request's URI.
const MaxURILen = 8192

var noStore = []string{"no-store"}

// forwarded reads the original request of Traefik and Caddy (X-Forwarded-*).
func forwarded(r *http.Request) (original, error) {
	o := original{
		method: strings.ToUpper(header(r, "X-Forwarded-Method")),
		scheme: strings.ToLower(header(r, "X-Forwarded-Proto")),
		host:   header(r, "X-Forwarded-Host"),
		uri:    header(r, "X-Forwarded-Uri"),
	}
	if o.method == "" {
		return o, errors.New("X-Forwarded-Method is required")
	}
	if o.scheme == "" {
		o.scheme = "https"
	}
	if o.uri == "" {
		o.uri = "/"
	}
	return o, o.check()
}

// originalURL reads the original request of nginx (X-Original-URL, X-Original-Method).
func originalURL(r *http.Request) (original, error) {
	raw := header(r, "X-Original-Url")
	o := original{method: strings.ToUpper(header(r, "X-Original-Method"))}
	if raw == "" || o.method == "" {
		return o, errors.New("X-Original-URL and X-Original-Method are required")
	}
	if len(raw) > MaxURILen {
		return o, errors.New("X-Original-URL is too long")
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return o, errors.New("X-Original-URL must be an absolute http or https URL")
	}
	o.scheme = strings.ToLower(scheme)
	o.host, o.uri = rest, "/"
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		o.host, o.uri = rest[:i], rest[i:]
	}
	return o, o.check()
}

// check validates the original request and sets its path for the rules: the URI's path,
// decoded and with "." and ".." resolved, as the app will see it.
func (o *original) check() error {
	if o.scheme != "http" && o.scheme != "https" {
		return errors.New("the original scheme must be http or https")
	}
	if !validHost(o.host) {
		return errors.New("the original host is missing or not a host name")
	}
	if !validMethod(o.method) {
		return errors.New("the original method is not an HTTP method")
	}
	if len(o.uri) > MaxURILen || o.uri[0] != '/' || strings.HasPrefix(o.uri, "//") {
		return errors.New("the original URI must be a path starting with one /")
	}
	for i := 0; i < len(o.uri); i++ {
		if c := o.uri[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return errors.New("the original URI has a character that must be escaped")
		}
	}
	p, _, _ := strings.Cut(o.uri, "?")
	p, _, _ = strings.Cut(p, "#")
	dec, err := url.PathUnescape(p)
	if err != nil {
		return errors.New("the original URI has a bad escape")
	}
	o.path = cleanPath(dec)
	return nil
}

// cleanPath resolves "." and ".." and doubled slashes, keeping a final slash.
func cleanPath(p string) string {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// validHost accepts host[:port] made of the characters of host names and IP literals.
func validHost(h string) bool {
	if len(h) == 0 || len(h) > 261 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}

func validMethod(m string) bool {
	if len(m) == 0 || len(m) > 16 {
		return false
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 'A' || m[i] > 'Z' {
			return false
		}
	}
	return true
}

// origin returns the original request's origin, the audience of its assertion: the scheme,
// the host in lower case and the port unless it is the scheme's default
// ("https://app.example.com", "http://app.example.com:8080").
func (o *original) origin() string {
	host := strings.ToLower(o.host)
	if h, port, err := net.SplitHostPort(host); err == nil && (port == "" || o.scheme == "https" && port == "443" || o.scheme == "http" && port == "80") {
		host = h
		if strings.Contains(h, ":") {
			host = "[" + h + "]"
		}
	}
	return o.scheme + "://" + host
}

// header returns the value of a header that the proxy sets exactly once; a header sent twice
// is treated as absent (the two could disagree). name is in canonical form ("X-Original-Url").
func header(r *http.Request, name string) string {
	v := r.Header[name]
	if len(v) != 1 {
		return ""
	}
	return strings.TrimSpace(v[0])
}

func peerAddr(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

func (h *Handler) trusted(a netip.Addr) bool {
	for _, p := range h.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr returns the original client: X-Forwarded-For read from the right, the first
// address that is not a trusted proxy (addresses further left were written by the client and
// prove nothing). Without the header the client is the peer.
func (h *Handler) clientAddr(r *http.Request, peer netip.Addr) netip.Addr {
	vals := r.Header["X-Forwarded-For"]
	client := peer
	for i := len(vals) - 1; i >= 0; i-- {
		list := vals[i]
		for list != "" {
			var item string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				item, list = list[j+1:], list[:j]
			} else {
				item, list = list, ""
			}
			a, err := netip.ParseAddr(strings.TrimSpace(item))
			if err != nil {
				return client // garbage: stop at the last address we could trust
			}
			client = a.Unmap()
			if !h.trusted(client) {
				return client
			}
		}
	}
	return client
}

// credential returns the bearer token of the Authorization header, else the session cookie.
func credential(r *http.Request, cookieName string) (Credential, bool) {
	if v := r.Header["Authorization"]; len(v) > 0 {
		if tok, ok := parseBearer(v[0]); ok {
			return Credential{Bearer: tok}, true
		}
		return Credential{Bearer: v[0]}, true // malformed: let the authenticator refuse it
	}
	if secret, ok := sessionCookie(r, cookieName); ok {
		return Credential{Session: secret}, true
	}
	return Credential{}, false
}

func parseBearer(h string) (string, bool) {
	const scheme = "bearer"
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) || h[len(scheme)] != ' ' {
		return "", false
	}
	tok := strings.TrimLeft(h[len(scheme):], " ")
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}

// sessionCookie finds the session cookie without parsing every cookie of the request.
func sessionCookie(r *http.Request, name string) (string, bool) {
	for _, line := range r.Header["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && k == name {
				v = strings.Trim(v, `"`)
				return v, v != ""
			}
		}
	}
	return "", false
}
