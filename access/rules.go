// Package access decides whether a request that a reverse proxy forwards may reach the app
// behind it: an ordered list of rules, each matching a domain, a path, methods and client
// networks, and naming a policy. The first rule that matches decides; when none does, the
// default policy does.
//
// Rules are compiled once (Parse); a decision (Rules.Decide) allocates nothing. A Holder keeps
// the rules in force and swaps them atomically on reload.
package access

import (
	"net/netip"
	"regexp"
	"strings"
	"sync/atomic"
)

// Kind is what a policy asks of a request.
type Kind uint8

// The kinds of policy. The zero value is Deny, so a zero Policy refuses.
const (
	// Deny refuses every request, signed in or not.
	Deny Kind = iota
	// Bypass lets every request through without asking who sent it.
	Bypass
	// Authenticated lets any signed-in user through.
	Authenticated
	// Role lets through a signed-in user whose role allows Policy.Name (admin passes role:user).
	Role
	// Group lets through a signed-in user who is a member of the group Policy.Name.
	Group
)

// Policy is a rule's verdict: a kind and, for Role and Group, the role or group name.
type Policy struct {
	Kind Kind
	Name string
}

// String returns the policy as written in a rules file ("deny", "role:admin", ...).
func (p Policy) String() string {
	switch p.Kind {
	case Bypass:
		return "bypass"
	case Authenticated:
		return "authenticated"
	case Role:
		return "role:" + p.Name
	case Group:
		return "group:" + p.Name
	}
	return "deny"
}

// NeedsIdentity reports whether the policy can only be decided once the user is known.
func (p Policy) NeedsIdentity() bool { return p.Kind >= Authenticated }

// Request is what a decision looks at: the original request as the proxy saw it.
type Request struct {
	// Host is the requested host name, with or without a port; it is compared without case.
	Host string
	// Path is the request path (with the query, if the rules should see it).
	Path string
	// Method is the HTTP method in upper case.
	Method string
	// Client is the address of the client (not of the proxy).
	Client netip.Addr
}

// Decision is the outcome of Rules.Decide: the policy and where it came from.
type Decision struct {
	Policy
	// Line is the line of the deciding rule in the rules file, or 0 for the default policy.
	Line int
}

// Rules is a compiled, immutable list of rules and the default policy. The zero value (and
// nil) denies everything.
type Rules struct {
	rules []rule
	def   Policy
}

type rule struct {
	domains  []domain // empty: any domain
	path     *regexp.Regexp
	methods  methodSet // 0: any method
	networks []netip.Prefix
	policy   Policy
	line     int
}

// domain matches a host exactly, or (wildcard) any host that ends with "."+name.
type domain struct {
	name     string // lower case, without the "*." of a wildcard
	wildcard bool
}

func (d domain) matches(host string) bool {
	if !d.wildcard {
		return strings.EqualFold(host, d.name)
	}
	n := len(host) - len(d.name)
	return n >= 2 && host[n-1] == '.' && strings.EqualFold(host[n:], d.name)
}

// Decide returns the policy for req: that of the first rule that matches, else the default.
// It allocates nothing.
func (rs *Rules) Decide(req *Request) Decision {
	if rs == nil {
		return Decision{}
	}
	host := hostOnly(req.Host)
	for i := range rs.rules {
		r := &rs.rules[i]
		if r.matches(host, req) {
			return Decision{Policy: r.policy, Line: r.line}
		}
	}
	return Decision{Policy: rs.def}
}

// Default returns the policy used when no rule matches.
func (rs *Rules) Default() Policy {
	if rs == nil {
		return Policy{}
	}
	return rs.def
}

// Len returns the number of rules.
func (rs *Rules) Len() int {
	if rs == nil {
		return 0
	}
	return len(rs.rules)
}

func (r *rule) matches(host string, req *Request) bool {
	if len(r.domains) > 0 && !anyDomain(r.domains, host) {
		return false
	}
	if r.methods != 0 && !r.methods.has(req.Method) {
		return false
	}
	if len(r.networks) > 0 && !anyNetwork(r.networks, req.Client) {
		return false
	}
	return r.path == nil || r.path.MatchString(req.Path)
}

func anyDomain(ds []domain, host string) bool {
	for _, d := range ds {
		if d.matches(host) {
			return true
		}
	}
	return false
}

func anyNetwork(ns []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range ns {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// hostOnly strips the port (and IPv6 brackets) from a Host header value, and a final dot.
func hostOnly(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return h
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h[:i], ':') < 0 {
		h = h[:i]
	}
	return strings.TrimSuffix(h, ".")
}

// methodSet is a set of the standard HTTP methods as a bit mask.
type methodSet uint16

var methodBits = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}

func methodBit(m string) methodSet {
	for i, name := range methodBits {
		if m == name {
			return 1 << i
		}
	}
	return 0
}

func (s methodSet) has(m string) bool { return s&methodBit(m) != 0 }

// Holder keeps the rules in force. Load is safe from any goroutine while Store swaps in new
// rules (a reload): a decision sees either the old rules or the new ones, never a mix.
type Holder struct {
	p atomic.Pointer[Rules]
}

// NewHolder returns a holder of rs.
func NewHolder(rs *Rules) *Holder {
	h := &Holder{}
	h.p.Store(rs)
	return h
}

// Load returns the rules in force (nil, which denies everything, if none were stored).
func (h *Holder) Load() *Rules { return h.p.Load() }

// Store puts rs in force.
func (h *Holder) Store(rs *Rules) { h.p.Store(rs) }
