package gatehouse

import (
	"context"
	"crypto/subtle"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Clients: the applications (relying parties) registered to sign users in through gatehouse's
// OpenID Provider.

// The scopes a client may be allowed. "openid" is what makes a request an OpenID Connect one;
// "profile" and "email" add the user's name and e-mail address to what the client learns.
const (
	ScopeOpenID  = "openid"
	ScopeProfile = "profile"
	ScopeEmail   = "email"
	// ScopeOfflineAccess asks for a refresh token, so that the client keeps access while the
	// user is away.
	ScopeOfflineAccess = "offline_access"
	// ScopeGroups adds the user's groups (the groups claim).
	ScopeGroups = "groups"
)

// ClientScopes lists the scopes a client may be allowed, in the order they are shown.
var ClientScopes = []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeGroups, ScopeOfflineAccess}

// IDTokenAlgs are the algorithms an ID token may be signed with (a client's
// id_token_signed_response_alg).
var IDTokenAlgs = []string{"EdDSA", "ES256", "RS256"}

// Client is a registered application. A confidential client (a server-side web app) proves who
// it is with its secret, of which only the SHA-256 hash is kept: the secret is 256 random bits,
// so a fast hash is enough. A public client (a single-page or native app) cannot keep a secret;
// it has none and must use PKCE.
type Client struct {
	ID   string `json:"client_id"`
	Name string `json:"name"`
	// Public is true for a client without a secret.
	Public bool `json:"public"`
	// FirstParty marks an application run by the same operator as gatehouse: users are not
	// asked to consent to it.
	FirstParty bool `json:"first_party"`
	// RedirectURIs are compared exactly with the redirect_uri of a request (see
	// RedirectURIAllowed); at least one.
	RedirectURIs []string `json:"redirect_uris"`
	// Scopes are the scopes the client may ask for, a subset of ClientScopes.
	Scopes []string `json:"scopes"`
	// PostLogoutRedirectURIs are where the end-session endpoint may send the browser back,
	// compared exactly like RedirectURIs; empty: nowhere.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	// BackchannelLogoutURI receives a signed logout token when a user of the client signs
	// out (OpenID Connect Back-Channel Logout 1.0); empty: none.
	BackchannelLogoutURI string `json:"backchannel_logout_uri,omitempty"`
	// IDTokenAlg is the client's id_token_signed_response_alg: one of IDTokenAlgs, or empty
	// for the server's default.
	IDTokenAlg string    `json:"id_token_signed_response_alg,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	// SecretHash is the SHA-256 of a confidential client's secret; zero for a public client.
	SecretHash Hash `json:"-"`
}

// ClientSpec is what an administrator gives to register a client.
type ClientSpec struct {
	Name         string
	RedirectURIs []string
	Public       bool
	FirstParty   bool
	// Scopes defaults to every scope of ClientScopes when empty.
	Scopes                 []string
	PostLogoutRedirectURIs []string
	BackchannelLogoutURI   string
	IDTokenAlg             string
}

// Limits of a client registration, so that a registration stays small.
const (
	MaxClientNameLen   = 100
	MaxClientRedirects = 20
	MaxRedirectURILen  = 2000
)

// NewClient checks spec and returns the client to store, with a new id, and for a confidential
// client its secret, which the caller shows once and never keeps. Bad input is an *Error with
// code EBADREQUEST that names the field.
func NewClient(spec ClientSpec, now time.Time) (c *Client, secret string, err error) {
	if err := spec.check(); err != nil {
		return nil, "", err
	}
	c = &Client{ID: NewID(now), Public: spec.Public, CreatedAt: now.UTC()}
	c.set(spec)
	if !spec.Public {
		secret = NewSecret()
		c.SecretHash = HashSecret(secret)
	}
	return c, secret, nil
}

// set copies the checked spec's fields (not Public) into c.
func (c *Client) set(spec ClientSpec) {
	scopes := spec.Scopes
	if len(scopes) == 0 {
		scopes = ClientScopes
	}
	c.Name, c.FirstParty = strings.TrimSpace(spec.Name), spec.FirstParty
	c.RedirectURIs, c.Scopes = dedupe(spec.RedirectURIs), dedupe(scopes)
	c.PostLogoutRedirectURIs = dedupe(spec.PostLogoutRedirectURIs)
	c.BackchannelLogoutURI, c.IDTokenAlg = spec.BackchannelLogoutURI, spec.IDTokenAlg
}

// check validates a registration: the rules NewClient states.
func (spec ClientSpec) check() error {
	name := strings.TrimSpace(spec.Name)
	if name == "" || utf8.RuneCountInString(name) > MaxClientNameLen || !utf8.ValidString(name) {
		return Errorf(EBADREQUEST, "name: between 1 and %d characters", MaxClientNameLen)
	}
	if len(spec.RedirectURIs) == 0 || len(spec.RedirectURIs) > MaxClientRedirects {
		return Errorf(EBADREQUEST, "redirect_uris: between 1 and %d URIs", MaxClientRedirects)
	}
	for _, u := range spec.RedirectURIs {
		if err := ValidRedirectURI(u, spec.Public); err != nil {
			return err
		}
	}
	scopes := spec.Scopes
	if len(scopes) == 0 {
		scopes = ClientScopes
	}
	for _, s := range scopes {
		if !slices.Contains(ClientScopes, s) {
			return Errorf(EBADREQUEST, "scopes: %q is not one of %s", s, strings.Join(ClientScopes, ", "))
		}
	}
	if !slices.Contains(scopes, ScopeOpenID) {
		return Errorf(EBADREQUEST, "scopes: must include %q", ScopeOpenID)
	}
	return checkLogoutSpec(spec)
}

// ClientPatch lists the fields an update of a client changes; nil fields stay as they are.
// Whether a client is public cannot change (its secret, or lack of one, goes with it).
type ClientPatch struct {
	Name                   *string   `json:"name"`
	RedirectURIs           *[]string `json:"redirect_uris"`
	FirstParty             *bool     `json:"first_party"`
	Scopes                 *[]string `json:"scopes"`
	PostLogoutRedirectURIs *[]string `json:"post_logout_redirect_uris"`
	BackchannelLogoutURI   *string   `json:"backchannel_logout_uri"`
	IDTokenAlg             *string   `json:"id_token_signed_response_alg"`
}

// Patched returns a copy of c with p applied, checked as NewClient checks a registration; c is
// not changed. Bad input is an *Error with code EBADREQUEST that names the field.
func (c *Client) Patched(p ClientPatch) (*Client, error) {
	spec := ClientSpec{Name: c.Name, RedirectURIs: c.RedirectURIs, Public: c.Public, FirstParty: c.FirstParty,
		Scopes: c.Scopes, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, BackchannelLogoutURI: c.BackchannelLogoutURI,
		IDTokenAlg: c.IDTokenAlg}
	pick(&spec.Name, p.Name)
	pick(&spec.RedirectURIs, p.RedirectURIs)
	pick(&spec.FirstParty, p.FirstParty)
	pick(&spec.Scopes, p.Scopes)
	pick(&spec.PostLogoutRedirectURIs, p.PostLogoutRedirectURIs)
	pick(&spec.BackchannelLogoutURI, p.BackchannelLogoutURI)
	pick(&spec.IDTokenAlg, p.IDTokenAlg)
	if err := spec.check(); err != nil {
		return nil, err
	}
	out := *c
	out.set(spec)
	return &out, nil
}

func pick[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// RotateSecret gives a confidential client a new secret, which the caller shows once; the old
// one stops working when the client is stored. A public client has none: EBADREQUEST.
func (c *Client) RotateSecret() (string, error) {
	if c.Public {
		return "", Errorf(EBADREQUEST, "a public client has no secret")
	}
	secret := NewSecret()
	c.SecretHash = HashSecret(secret)
	return secret, nil
}

// checkLogoutSpec checks the post-logout redirect URIs (the rules of redirect URIs), the
// back-channel logout URI (https, or http on a loopback address; no fragment) and the ID
// token algorithm.
func checkLogoutSpec(spec ClientSpec) error {
	if len(spec.PostLogoutRedirectURIs) > MaxClientRedirects {
		return Errorf(EBADREQUEST, "post_logout_redirect_uris: at most %d URIs", MaxClientRedirects)
	}
	for _, u := range spec.PostLogoutRedirectURIs {
		if err := ValidRedirectURI(u, spec.Public); err != nil {
			return Errorf(EBADREQUEST, "post_logout_%s", ErrorMessage(err))
		}
	}
	if b := spec.BackchannelLogoutURI; b != "" {
		u, err := url.Parse(b)
		if err != nil || ValidRedirectURI(b, false) != nil || u.Scheme != "https" && u.Scheme != "http" {
			return Errorf(EBADREQUEST, "backchannel_logout_uri: %q must be an https URI (http only on a loopback address), without a fragment", b)
		}
	}
	if spec.IDTokenAlg != "" && !slices.Contains(IDTokenAlgs, spec.IDTokenAlg) {
		return Errorf(EBADREQUEST, "id_token_signed_response_alg: %q is not one of %s", spec.IDTokenAlg, strings.Join(IDTokenAlgs, ", "))
	}
	return nil
}

// PostLogoutRedirectAllowed reports whether uri is one of the client's post-logout redirect
// URIs, compared as exact strings.
func (c *Client) PostLogoutRedirectAllowed(uri string) bool {
	return slices.Contains(c.PostLogoutRedirectURIs, uri)
}

func dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// ValidRedirectURI checks a redirect URI at registration: an absolute URI without a fragment
// or user information, that is https; or http on a loopback address (127.0.0.1, [::1],
// localhost) for development and native apps; or, for a public (native) client only, a
// private-use scheme with a dot in it, such as com.example.app:/callback (RFC 8252, 7.1).
func ValidRedirectURI(raw string, public bool) error {
	bad := func(why string) error { return Errorf(EBADREQUEST, "redirect_uris: %q %s", raw, why) }
	if len(raw) > MaxRedirectURILen || !utf8.ValidString(raw) || strings.ContainsAny(raw, " \t\r\n\\") {
		return bad("is not a valid URI")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return bad("is not an absolute URI")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return bad("must not have a fragment")
	}
	if u.User != nil {
		return bad("must not have user information")
	}
	for _, p := range responseParams {
		if u.Query().Has(p) {
			return bad("must not have a " + p + " query parameter: the answer to the application adds its own")
		}
	}
	switch {
	case u.Scheme == "https" && u.Host != "":
		return nil
	case u.Scheme == "http" && loopbackHost(u.Hostname()):
		return nil
	case public && strings.Contains(u.Scheme, ".") && u.Scheme == strings.ToLower(u.Scheme):
		return nil
	case u.Scheme == "http":
		return bad("must use https (http only on 127.0.0.1, [::1] or localhost)")
	}
	return bad("must use https, or a private-use scheme such as com.example.app: for a native app")
}

// responseParams are the parameters the provider adds to a redirect URI in its answers
// (RFC 6749 4.1.2 and 4.1.2.1, RFC 9207): a registered URI that held one would reach the
// application with two values, and which one it reads would be the application's guess.
var responseParams = []string{"code", "state", "iss", "error", "error_description", "error_uri"}

func loopbackHost(h string) bool { return h == "127.0.0.1" || h == "::1" || h == "localhost" }

// RedirectURIAllowed reports whether uri is one of the client's redirect URIs, compared as
// exact strings: no prefix, case or normalisation leeway. The one exception is RFC 8252, 7.3:
// for a registered http URI on the loopback IP 127.0.0.1 or [::1], any port is accepted, as a
// native app listens on a port it is given at run time; the rest must still match exactly.
func (c *Client) RedirectURIAllowed(uri string) bool {
	for _, r := range c.RedirectURIs {
		if r == uri {
			return true
		}
		rh, rrest, ok1 := splitLoopback(r)
		uh, urest, ok2 := splitLoopback(uri)
		if ok1 && ok2 && rh == uh && rrest == urest {
			return true
		}
	}
	return false
}

// splitLoopback splits an http URI on a loopback IP into its host (without the port) and what
// follows the authority; ok is false for any other URI, including one with a malformed port.
func splitLoopback(u string) (host, rest string, ok bool) {
	s, found := strings.CutPrefix(u, "http://")
	if !found {
		return "", "", false
	}
	end := strings.IndexAny(s, "/?#")
	if end < 0 {
		end = len(s)
	}
	authority, rest := s[:end], s[end:]
	for _, h := range []string{"127.0.0.1", "[::1]"} {
		port, found := strings.CutPrefix(authority, h)
		if !found {
			continue
		}
		if port == "" {
			return h, rest, true
		}
		digits, found := strings.CutPrefix(port, ":")
		n, err := strconv.Atoi(digits)
		if found && err == nil && n > 0 && n < 65536 && strconv.Itoa(n) == digits {
			return h, rest, true
		}
	}
	return "", "", false
}

// VerifySecret reports whether secret is the client's secret, comparing hashes in constant
// time. It is always false for a public client.
func (c *Client) VerifySecret(secret string) bool {
	if c.Public || c.SecretHash == (Hash{}) {
		return false
	}
	h := HashSecret(secret)
	return subtle.ConstantTimeCompare(h[:], c.SecretHash[:]) == 1
}

// AllowsScope reports whether the client may ask for scope.
func (c *Client) AllowsScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// ClientStore keeps the registered clients; it lives with the users (SQLite or PostgreSQL).
type ClientStore interface {
	// CreateClient stores c, whose ID and CreatedAt the caller has set; ErrConflict if the id
	// exists.
	CreateClient(ctx context.Context, c *Client) error
	// ClientByID returns ErrNotFound for an unknown id.
	ClientByID(ctx context.Context, id string) (*Client, error)
	// ListClients returns up to limit clients ordered by id, starting after the id after (""
	// for the first page).
	ListClients(ctx context.Context, after string, limit int) ([]*Client, error)
	// DeleteClient removes the client; ErrNotFound if unknown.
	DeleteClient(ctx context.Context, id string) error
	// UpdateClient replaces every field of the stored client c.ID but its id and creation
	// time; ErrNotFound if unknown.
	UpdateClient(ctx context.Context, c *Client) error
}
