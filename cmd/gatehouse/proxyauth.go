package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/gatehouse-auth/gatehouse/access"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/gatehouse-auth/gatehouse/forwardauth"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Forward-auth: reverse proxies ask gatehouse whether a request may reach the app behind them.

// proxyAuthConfig is the configuration of forward-auth and of the cookie and return addresses
// that let one sign-in cover several subdomains.
type proxyAuthConfig struct {
	RulesFile       string
	Default         string
	CookieDomain    string
	RedirectDomains []string
	SignInURL       string
	JWT             bool
	JWTTTL          time.Duration

	def     access.Policy   // Default, parsed
	rules   *access.Rules   // RulesFile, compiled at validation
	returns *access.Returns // where the sign-in page may send browsers back to
}

func (c *config) proxyAuthFlags(fs *pflag.FlagSet) {
	p := &c.proxyAuth
	fs.StringVar(&p.RulesFile, "access-rules", "", "YAML file of the access rules of GET /api/authz/forward-auth and /api/authz/auth-request (docs/forward-auth.md); reloaded on SIGHUP")
	fs.StringVar(&p.Default, "access-default", "deny", "the policy of a proxied request that no access rule matches: deny, bypass, authenticated, role:ROLE or group:NAME")
	fs.StringVar(&p.CookieDomain, "cookie-domain", "", "Domain of the session cookie, such as example.com, so that one sign-in covers its subdomains (default: the host that served it only)")
	fs.StringSliceVar(&p.RedirectDomains, "redirect-domains", nil, "domains (with their subdomains) that the sign-in page may send a browser back to after signing in (default: --cookie-domain)")
	fs.StringVar(&p.SignInURL, "sign-in-url", "", "the sign-in page that forward-auth sends browsers to (default: --issuer followed by /)")
	fs.BoolVar(&p.JWT, "forward-auth-jwt", false, "an allowed forward-auth answer also carries Remote-JWT, a short-lived JWT of the user signed with the token keys, whose audience is the app's origin (not with --signing-alg HS256)")
	fs.DurationVar(&p.JWTTTL, "forward-auth-jwt-ttl", 2*time.Minute, "lifetime of the Remote-JWT assertions; one is reused for the same credential and app during a quarter of it")
}

// validateProxyAuth parses the policy, compiles the rules file (an error names its line) and
// checks the domains.
func (c *config) validateProxyAuth() error {
	p := &c.proxyAuth
	var err error
	if p.def, err = access.ParsePolicy(p.Default); err != nil {
		return fmt.Errorf("--access-default: %w", err)
	}
	if p.RulesFile != "" {
		if p.rules, err = access.LoadFile(p.RulesFile, p.def); err != nil {
			return fmt.Errorf("--access-rules: %w", err)
		}
	} else {
		p.rules, _ = access.Parse(nil, p.def)
	}
	p.CookieDomain = strings.TrimPrefix(strings.ToLower(p.CookieDomain), ".")
	domains := p.RedirectDomains
	if len(domains) == 0 && p.CookieDomain != "" {
		domains = []string{p.CookieDomain}
	}
	if p.CookieDomain != "" {
		if _, err := access.NewReturns([]string{p.CookieDomain}); err != nil {
			return fmt.Errorf("--cookie-domain: %w", err)
		}
	}
	if p.returns, err = access.NewReturns(domains); err != nil {
		return fmt.Errorf("--redirect-domains: %w", err)
	}
	if p.JWT && c.SigningAlg == token.AlgHS256 {
		return errors.New("--forward-auth-jwt needs a public-key signing algorithm (EdDSA or ES256): with HS256 the apps would need the secret that signs every token")
	}
	if p.JWTTTL < 10*time.Second || p.JWTTTL > time.Hour {
		return fmt.Errorf("--forward-auth-jwt-ttl %s: want 10s to 1h", p.JWTTTL)
	}
	if p.SignInURL != "" && !strings.HasPrefix(p.SignInURL, "https://") && !strings.HasPrefix(p.SignInURL, "http://") {
		return fmt.Errorf("--sign-in-url %q: want an absolute http(s) URL", p.SignInURL)
	}
	return nil
}

func (c *config) signInURL() string {
	if c.proxyAuth.SignInURL != "" {
		return c.proxyAuth.SignInURL
	}
	return strings.TrimSuffix(c.issuer(), "/") + "/"
}

// authnAuthenticator turns the credential of a proxied request into an identity with the
// use case every credential goes through (authn: a bearer token first, checked against the
// revocations; else the session cookie).
type authnAuthenticator struct{ s *authn.Service }

func (a authnAuthenticator) Authenticate(ctx context.Context, c forwardauth.Credential) (forwardauth.Identity, error) {
	au, err := a.s.Authenticate(ctx, authn.Credential{AccessToken: c.Bearer, SessionID: c.Session})
	if err != nil {
		return forwardauth.Identity{}, err
	}
	return forwardauth.Identity{Principal: au.Principal, Groups: au.Groups}, nil
}

// CredentialFailed counts a credential that signed no one in against the client's address, as
// every failed credential check of the API is counted (authn.Service.CredentialFailed).
func (a authnAuthenticator) CredentialFailed(ctx context.Context, client netip.Addr, err error) time.Duration {
	return a.s.CredentialFailed(ctx, authn.Client{Addr: client}, err)
}

var (
	_ forwardauth.Authenticator  = authnAuthenticator{}
	_ forwardauth.FailureCounter = authnAuthenticator{}
)

// tokenAsserter signs the Remote-JWT assertions with the token service (the access-token keys,
// so the apps find them in the JWK Set).
type tokenAsserter struct {
	tokens *token.Service
	ttl    time.Duration
}

func (a tokenAsserter) Assert(id *forwardauth.Identity, audience string, _ time.Time) (string, error) {
	p := id.Principal
	p.Groups = id.Groups
	return a.tokens.IssueAssertion(p, audience, a.ttl)
}

var _ forwardauth.Asserter = tokenAsserter{}

// asserter returns the signer of Remote-JWT, or nil when --forward-auth-jwt is off.
func (c *config) asserter(tokens *token.Service) forwardauth.Asserter {
	if !c.proxyAuth.JWT {
		return nil
	}
	return tokenAsserter{tokens: tokens, ttl: c.proxyAuth.JWTTTL}
}

// wireProxyAuth mounts the forward-auth endpoints on the server.
func (a *app) wireProxyAuth(uses *authn.Service, tokens *token.Service) {
	p := &a.cfg.proxyAuth
	a.accessRules = access.NewHolder(p.rules)
	forwardauth.New(forwardauth.Config{
		Rules: a.accessRules, Authenticator: authnAuthenticator{uses}, Failures: authnAuthenticator{uses},
		TrustedProxies: a.cfg.trustedProxies, SignInURL: a.cfg.signInURL(),
		CookieName: a.server.CookieName(), Logger: a.log, Now: a.now,
		Assertions: a.cfg.asserter(tokens), AssertionReuse: p.JWTTTL / 4,
	}).Mount(a.server.Handle)
}

// watchAccessRules reads the rules file again on every SIGHUP, and puts the new rules in force
// at once; a file with an error is logged and the rules in force stay. The signal is caught
// from the return on; stop ends the watch.
func (a *app) watchAccessRules() (stop func()) {
	file := a.cfg.proxyAuth.RulesFile
	if file == "" {
		return func() {}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
				a.loadAccessRules(file)
			}
		}
	}()
	return func() { signal.Stop(hup); close(done) }
}

func (a *app) loadAccessRules(file string) {
	rs, err := access.LoadFile(file, a.cfg.proxyAuth.def)
	if err != nil {
		a.log.Error("access rules not reloaded: the rules in force stay", "err", err)
		return
	}
	a.accessRules.Store(rs)
	a.log.Info("access rules reloaded", "file", file, "rules", rs.Len(), "default", rs.Default().String())
}

// logProxyAuth says at startup what forward-auth will do.
func (c *config) logProxyAuth(log *slog.Logger) {
	p := &c.proxyAuth
	if p.RulesFile == "" && p.def.Kind == access.Deny {
		return
	}
	log.Info("forward-auth", "rules", p.rules.Len(), "default", p.def.String(), "sign_in_url", c.signInURL(), "remote_jwt", p.JWT,
		"cookie_domain", p.CookieDomain, "redirect_domains", strings.Join(p.returns.Domains(), ","))
	if len(c.trustedProxies) == 0 {
		log.Warn("forward-auth answers only trusted proxies, and --trusted-proxies is empty: every check is refused")
	}
}
