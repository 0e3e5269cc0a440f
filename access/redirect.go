package access

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// MaxReturnLen bounds a return address: longer ones are refused.
const MaxReturnLen = 2048

// Returns says where a browser may be sent back to after signing in: a path on the sign-in
// server itself, or an absolute http(s) URL whose host is one of the allowed domains or a
// subdomain of one. Everything else is refused, so that the sign-in page is no open redirect.
// The zero value allows local paths only.
type Returns struct {
	domains []string // lower case
}

// NewReturns returns the policy that allows absolute addresses on domains (and their
// subdomains). It fails on a name that is not a plain ASCII host name.
func NewReturns(domains []string) (*Returns, error) {
	r := &Returns{}
	for _, d := range domains {
		d = strings.ToLower(strings.TrimPrefix(d, "."))
		if !validHostName(d) {
			return nil, fmt.Errorf("redirect domain %q: want a host name such as example.com", d)
		}
		r.domains = append(r.domains, d)
	}
	return r, nil
}

// Domains returns the allowed domains.
func (r *Returns) Domains() []string {
	if r == nil {
		return nil
	}
	return append([]string(nil), r.domains...)
}

// Check returns raw and true if a browser may be sent to it after signing in, else "" and
// false. Accepted are a local path ("/x", never "//x" or "/\x"), and an absolute http or https
// URL without userinfo whose host is an allowed domain or one of its subdomains. Refused
// everywhere: control characters, spaces, backslashes, non-ASCII, percent-escapes in the host,
// and anything longer than MaxReturnLen.
func (r *Returns) Check(raw string) (string, bool) {
	if len(raw) == 0 || len(raw) > MaxReturnLen {
		return "", false
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return "", false
		}
	}
	if raw[0] == '/' {
		if len(raw) > 1 && raw[1] == '/' {
			return "", false // scheme-relative: another host
		}
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
			return "", false
		}
		return raw, true
	}
	if r == nil || !r.absoluteAllowed(raw) {
		return "", false
	}
	return raw, true
}

func (r *Returns) absoluteAllowed(raw string) bool {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || !(strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "http")) {
		return false
	}
	// The authority ends at the first '/', '?' or '#'; it must be host[:port] only.
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	if strings.ContainsAny(authority, "@%[]") {
		return false // userinfo, escapes, IPv6 literals: none is a name on an allowed domain
	}
	host := authority
	if i := strings.IndexByte(authority, ':'); i >= 0 {
		host = authority[:i]
		if !digits(authority[i+1:]) {
			return false
		}
	}
	host = strings.ToLower(host)
	if !validHostName(host) || !r.hostAllowed(host) {
		return false
	}
	u, err := url.Parse(raw)
	return err == nil && u.User == nil && strings.EqualFold(u.Hostname(), host)
}

func (r *Returns) hostAllowed(host string) bool {
	for _, d := range r.domains {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// digits reports whether s is a port number, 1 to 65535.
func digits(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n <= 65535 && len(s) <= 5 && s[0] != '+' && s[0] != '-'
}
