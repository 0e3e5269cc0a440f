package access

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-auth/gatehouse"
)

// MaxFileBytes bounds a rules file: a longer one is refused rather than parsed.
const MaxFileBytes = 1 << 20

// MaxRules bounds the number of rules in one file.
const MaxRules = 10000

// ErrNotAvailable is wrapped by errors about a policy this server does not offer yet (mfa).
var ErrNotAvailable = errors.New("not available yet")

// ParsePolicy parses a policy as written in a rules file or in --access-default: bypass, deny,
// authenticated, role:ROLE (user or admin; admin passes role:user too) or group:NAME. "mfa" is refused with ErrNotAvailable: this server
// has no second factors yet.
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "deny":
		return Policy{Kind: Deny}, nil
	case "bypass":
		return Policy{Kind: Bypass}, nil
	case "authenticated":
		return Policy{Kind: Authenticated}, nil
	case "mfa":
		return Policy{}, fmt.Errorf("policy %q is %w: this server has no second factors", s, ErrNotAvailable)
	}
	kind, name, ok := strings.Cut(s, ":")
	if ok && validName(name) {
		switch kind {
		case "role":
			if !gatehouse.Role(name).Valid() {
				return Policy{}, fmt.Errorf("policy %q: the roles are %q and %q", s, gatehouse.RoleUser, gatehouse.RoleAdmin)
			}
			return Policy{Kind: Role, Name: name}, nil
		case "group":
			return Policy{Kind: Group, Name: name}, nil
		}
	}
	return Policy{}, fmt.Errorf("policy %q: want bypass, deny, authenticated, role:NAME or group:NAME", s)
}

// validName accepts role and group names: 1 to 64 letters, digits, '-', '_' or '.'.
func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// LoadFile reads and compiles the rules file at path with def as the default policy. Errors
// name the file and the line.
func LoadFile(path string, def Policy) (*Rules, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("access rules: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(ioLimit(f)); err != nil {
		return nil, fmt.Errorf("access rules: %s: %w", path, err)
	}
	if buf.Len() > MaxFileBytes {
		return nil, fmt.Errorf("access rules: %s: larger than %d bytes", path, MaxFileBytes)
	}
	rs, err := Parse(buf.Bytes(), def)
	if err != nil {
		return nil, fmt.Errorf("access rules: %s: %w", path, err)
	}
	return rs, nil
}

// Parse compiles a rules document (YAML) with def as the default policy:
//
//	rules:
//	  - domain: app.example.com        # or a list; "*.example.com" matches every subdomain
//	    path: "^/admin(/|$)"           # a Go regular expression (RE2), unanchored unless you anchor it
//	    methods: [GET, POST]           # default: any method
//	    networks: [10.0.0.0/8, ::1]    # client addresses; default: any
//	    policy: role:admin             # bypass, deny, authenticated, role:NAME, group:NAME
//
// Every field but policy is optional; a rule matches when all of its fields match. Unknown
// fields, bad values and empty lists are errors of the form "line N: ...".
func Parse(data []byte, def Policy) (*Rules, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("larger than %d bytes", MaxFileBytes)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	rs := &Rules{def: def}
	if len(doc.Content) == 0 { // an empty file: no rules, only the default
		return rs, nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, lineErr(top, "want a mapping with the key \"rules\"")
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if k.Value != "rules" {
			return nil, lineErr(k, "unknown key %q (want \"rules\")", k.Value)
		}
		if v.Kind != yaml.SequenceNode {
			return nil, lineErr(v, "rules: want a list of rules")
		}
		if len(v.Content) > MaxRules {
			return nil, lineErr(v, "more than %d rules", MaxRules)
		}
		for _, n := range v.Content {
			r, err := parseRule(n)
			if err != nil {
				return nil, err
			}
			rs.rules = append(rs.rules, r)
		}
	}
	return rs, nil
}

func lineErr(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("line %d: %s", n.Line, fmt.Sprintf(format, args...))
}

func parseRule(n *yaml.Node) (rule, error) {
	r := rule{line: n.Line}
	if n.Kind != yaml.MappingNode {
		return r, lineErr(n, "a rule is a mapping of domain, path, methods, networks and policy")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			return r, lineErr(k, "%s: given twice in one rule", k.Value)
		}
		seen[k.Value] = true
		if err := r.set(k, v); err != nil {
			return r, err
		}
	}
	if !seen["policy"] {
		return r, lineErr(n, "the rule has no policy")
	}
	return r, nil
}

func (r *rule) set(k, v *yaml.Node) error {
	switch k.Value {
	case "domain", "domains":
		return eachScalar(k.Value, v, func(n *yaml.Node) error { return r.addDomain(n) })
	case "path":
		if v.Kind != yaml.ScalarNode {
			return lineErr(v, "path: want one regular expression")
		}
		re, err := regexp.Compile(v.Value)
		if err != nil {
			return lineErr(v, "path: %v", err)
		}
		r.path = re
	case "methods":
		return eachScalar(k.Value, v, func(n *yaml.Node) error { return r.addMethod(n) })
	case "networks":
		return eachScalar(k.Value, v, func(n *yaml.Node) error { return r.addNetwork(n) })
	case "policy":
		if v.Kind != yaml.ScalarNode {
			return lineErr(v, "policy: want one policy")
		}
		p, err := ParsePolicy(v.Value)
		if err != nil {
			return lineErr(v, "%v", err)
		}
		r.policy = p
	default:
		return lineErr(k, "unknown key %q (want domain, path, methods, networks or policy)", k.Value)
	}
	return nil
}

// eachScalar calls f for v, a scalar, or for each scalar of v, a non-empty list.
func eachScalar(key string, v *yaml.Node, f func(*yaml.Node) error) error {
	switch v.Kind {
	case yaml.ScalarNode:
		return f(v)
	case yaml.SequenceNode:
		if len(v.Content) == 0 {
			return lineErr(v, "%s: an empty list matches nothing; leave the key out to match everything", key)
		}
		for _, n := range v.Content {
			if n.Kind != yaml.ScalarNode {
				return lineErr(n, "%s: want a value or a list of values", key)
			}
			if err := f(n); err != nil {
				return err
			}
		}
		return nil
	}
	return lineErr(v, "%s: want a value or a list of values", key)
}

func (r *rule) addDomain(n *yaml.Node) error {
	name, wildcard := strings.ToLower(n.Value), false
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		name, wildcard = rest, true
	}
	if !validHostName(name) {
		return lineErr(n, "domain %q: want a host name such as app.example.com or *.example.com", n.Value)
	}
	r.domains = append(r.domains, domain{name: name, wildcard: wildcard})
	return nil
}

// validHostName accepts lower-case ASCII host names: dot-separated labels of letters, digits
// and '-', none empty, at most 253 bytes (IP addresses are host names here too).
func validHostName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) == 0 || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func (r *rule) addMethod(n *yaml.Node) error {
	b := methodBit(strings.ToUpper(n.Value))
	if b == 0 {
		return lineErr(n, "method %q: want one of %s", n.Value, strings.Join(methodBits[:], ", "))
	}
	r.methods |= b
	return nil
}

func (r *rule) addNetwork(n *yaml.Node) error {
	p, err := netip.ParsePrefix(n.Value)
	if err != nil {
		a, aerr := netip.ParseAddr(n.Value)
		if aerr != nil || a.Zone() != "" {
			return lineErr(n, "network %q: want an address or a CIDR prefix such as 10.0.0.0/8", n.Value)
		}
		p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
	}
	r.networks = append(r.networks, p.Masked())
	return nil
}
