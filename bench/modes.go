package bench

import (
	"fmt"
	"strings"
)

// Kind says how a mode authenticates a request.
type Kind string

const (
	// KindSession is a stateful session: an opaque id in a cookie, looked up in a store.
	KindSession Kind = "session"
	// KindToken is a stateless signed JWT in an Authorization header.
	KindToken Kind = "token"
)

// Mode is one way of running gatehouse that the bench measures. Adding a mode is adding an
// entry to Modes; a new session store may also get a Filler in Options.Fillers (without one,
// its sessions are made by real logins).
type Mode struct {
	// Name identifies the mode in --modes and in the report.
	Name string
	// Kind is session or token.
	Kind Kind
	// Summary says in a few words what the mode is, for the report.
	Summary string
	// ServeArgs are the "gatehouse serve" flags that select the mode.
	ServeArgs []string
	// Env is added to the environment of the mode's instances.
	Env []string
	// Store names the session store of a session mode ("memory", "sqlite", "redis"), the key of
	// its Filler in Options.Fillers, if any. Empty for token modes.
	Store string
	// Alg is the signing algorithm of a token mode.
	Alg string
	// File is true when the store is a file of the instance's data directory (SQLite): its
	// Filler runs while the instance is stopped, and the file's growth is measured.
	File bool
	// Shared is true when every instance of the mode sees the same sessions and revocations (a
	// store shared by the instances, such as Redis); false when each instance keeps its own.
	Shared bool
	// Revoked is the number of tokens revoked (through the API, before the measurement) so that
	// the revocation check runs against a populated denylist.
	Revoked int
	// Requires names the session store the mode needs on this machine: one that
	// Options.StoreAvailable accepts. Empty: always available.
	Requires string
}

// Modes is the registry of every mode, in report order. The Redis modes run when Redis answers
// on this machine (Options.StoreAvailable says "redis"); session-redis-nocache turns
// its client-side cache off with --redis-client-cache=false.
var Modes = []*Mode{
	{Name: "session-memory", Kind: KindSession, Store: "memory", Summary: "session in the process's memory",
		ServeArgs: []string{"--session-store", "memory"}},
	{Name: "session-sqlite", Kind: KindSession, Store: "sqlite", File: true, Summary: "session in SQLite (WAL) with gatehouse's exact in-process cache",
		ServeArgs: []string{"--session-store", "sqlite"}},
	{Name: "session-redis", Kind: KindSession, Store: "redis", Shared: true, Requires: "redis",
		Summary:   "session in Redis, with client-side caching",
		ServeArgs: []string{"--session-store", "redis", "--redis-url", "redis://127.0.0.1:6379/0"}},
	{Name: "session-redis-nocache", Kind: KindSession, Store: "redis", Shared: true, Requires: "redis",
		Summary:   "session in Redis, every lookup a round trip",
		ServeArgs: []string{"--session-store", "redis", "--redis-url", "redis://127.0.0.1:6379/0", "--redis-client-cache=false"}},
	{Name: "jwt-hs256", Kind: KindToken, Alg: "HS256", Summary: "JWT signed with HMAC-SHA256 (the algorithm of most JWT examples)",
		ServeArgs: []string{"--signing-alg", "HS256"}},
	{Name: "jwt-eddsa", Kind: KindToken, Alg: "EdDSA", Summary: "JWT signed with Ed25519 (gatehouse's default)",
		ServeArgs: []string{"--signing-alg", "EdDSA"}},
	{Name: "jwt-es256", Kind: KindToken, Alg: "ES256", Summary: "JWT signed with ECDSA P-256",
		ServeArgs: []string{"--signing-alg", "ES256"}},
	{Name: "jwt-eddsa-revocation", Kind: KindToken, Alg: "EdDSA", Revoked: 10_000,
		Summary:   "EdDSA JWT checked against a denylist of 10,000 revoked tokens",
		ServeArgs: []string{"--signing-alg", "EdDSA"}},
}

// ModeNames lists the names of every mode.
func ModeNames() []string {
	names := make([]string, len(Modes))
	for i, m := range Modes {
		names[i] = m.Name
	}
	return names
}

// selectModes returns the modes named in spec (comma-separated; "all" or "" for every mode).
func selectModes(spec string) ([]*Mode, error) {
	if spec == "" || spec == "all" {
		return Modes, nil
	}
	var out []*Mode
	for _, name := range strings.Split(spec, ",") {
		name = strings.TrimSpace(name)
		m := findMode(name)
		if m == nil {
			return nil, fmt.Errorf("bench: unknown mode %q; the modes are %s", name, strings.Join(ModeNames(), ", "))
		}
		out = append(out, m)
	}
	return out, nil
}

func findMode(name string) *Mode {
	for _, m := range Modes {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// unavailable says why mode m cannot run with opts, or "" when it can.
func (m *Mode) unavailable(opts *Options) string {
	if m.Requires != "" && opts.StoreAvailable != nil && !opts.StoreAvailable(m.Requires) {
		return "not available on this machine (no " + m.Requires + " answers)"
	}
	return ""
}
