package main

// End-to-end tests of the OpenID Provider with the npm package openid-client as the relying
// party: discovery, the authorization code flow with PKCE S256, state and nonce, ID token
// validation, refresh, userinfo and RP-initiated logout are openid-client's own calls (in
// testdata/openid-client-rp.mjs); this side plays the browser, signing in through the real
// form, and tampers with what the browser carries back to the relying party.

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// openIDClientVersion is the openid-client release the test installs.
const openIDClientVersion = "6.8.9"

// installOpenIDClient installs openid-client with npm into a temporary directory, beside the
// relying party script. Without node or npm (or the registry) the test is skipped, unless CI
// is set: then it fails.
func installOpenIDClient(t *testing.T) string {
	t.Helper()
	script, err := os.ReadFile(filepath.Join("testdata", "openid-client-rp.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	return npmInstall(t, "openid-client@"+openIDClientVersion, map[string][]byte{"rp.mjs": script})
}

// nodeRP is a running openid-client relying party: one node process that takes one command a
// line and answers one JSON line.
type nodeRP struct {
	t   *testing.T
	in  io.WriteCloser
	out *bufio.Scanner
}

func startNodeRP(t *testing.T, dir string) *nodeRP {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "rp.mjs"))
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close() // the script exits at the end of its input
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel()
			<-done
		}
		cancel()
	})
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	return &nodeRP{t: t, in: in, out: sc}
}

// nodeAnswer is the script's answer to any command: ok, or openid-client's error.
type nodeAnswer struct {
	OK      bool   `json:"ok"`
	Name    string `json:"name"`
	Code    string `json:"code"`
	Error   string `json:"error"`
	Message string `json:"message"`
	Cause   string `json:"cause"`
	// Description is the error_description of an error answer of the server.
	Description string `json:"description"`

	// discover
	Issuer             string `json:"issuer"`
	IssParameter       bool   `json:"iss_parameter"`
	EndSessionEndpoint string `json:"end_session_endpoint"`
	SupportsPKCE       bool   `json:"supportsPKCE"`
	// authorize, endsession
	URL      string `json:"url"`
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	// callback, refresh
	AccessToken  string         `json:"access_token"`
	RefreshToken string         `json:"refresh_token"`
	IDToken      string         `json:"id_token"`
	TokenType    string         `json:"token_type"`
	Scope        string         `json:"scope"`
	ExpiresIn    int            `json:"expires_in"`
	Claims       map[string]any `json:"claims"`
	// userinfo
	Userinfo map[string]any `json:"userinfo"`
}

// call sends one command and returns the answer, ok or not.
func (n *nodeRP) call(cmd map[string]any) nodeAnswer {
	n.t.Helper()
	line, err := json.Marshal(cmd)
	if err != nil {
		n.t.Fatal(err)
	}
	if _, err := n.in.Write(append(line, '\n')); err != nil {
		n.t.Fatalf("openid-client relying party: %v", err)
	}
	if !n.out.Scan() {
		n.t.Fatalf("openid-client relying party ended: %v", n.out.Err())
	}
	var a nodeAnswer
	if err := json.Unmarshal(n.out.Bytes(), &a); err != nil {
		n.t.Fatalf("openid-client answer %q: %v", n.out.Bytes(), err)
	}
	return a
}

// must is call for a command that has to succeed.
func (n *nodeRP) must(cmd map[string]any) nodeAnswer {
	n.t.Helper()
	a := n.call(cmd)
	if !a.OK {
		n.t.Fatalf("openid-client %s: %s %s: %s (%s)", cmd["op"], a.Name, a.Code, a.Message, a.Cause)
	}
	return a
}

// refused checks that openid-client refused a command for the reason want (a part of the
// message of the error or of its cause, or the server's error and description).
func (n *nodeRP) refused(what string, cmd map[string]any, want string) {
	n.t.Helper()
	a := n.call(cmd)
	if a.OK || !strings.Contains(a.Message+": "+a.Cause+": "+a.Error+": "+a.Description, want) {
		n.t.Errorf("%s: openid-client answered ok=%v %s %q (%q; %s %q), want a refusal with %q", what, a.OK, a.Code, a.Message, a.Cause, a.Error, a.Description, want)
	}
}

// nodeClient registers a client for the openid-client relying party at a (public, or
// confidential with client_secret_basic) and runs openid-client's discovery for it under name.
type nodeClient struct {
	name   string
	client *gatehouse.Client
	secret string
}

const (
	nodeRedirect   = "http://127.0.0.1:4712/cb"
	nodePostLogout = "https://app.example/signed-out"
)

func newNodeClient(t *testing.T, a *app, public bool, idTokenAlg string) *nodeClient {
	t.Helper()
	c, secret, err := gatehouse.NewClient(gatehouse.ClientSpec{Name: "node app", Public: public, IDTokenAlg: idTokenAlg,
		RedirectURIs: []string{"http://127.0.0.1/cb"}, PostLogoutRedirectURIs: []string{nodePostLogout}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.clientStore().CreateClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return &nodeClient{name: c.ID, client: c, secret: secret}
}

func (c *nodeClient) discover(t *testing.T, n *nodeRP, base, alg string) nodeAnswer {
	t.Helper()
	cmd := map[string]any{"op": "discover", "name": c.name, "issuer": base, "client_id": c.client.ID, "id_token_alg": alg}
	if c.secret != "" {
		cmd["client_secret"] = c.secret
	}
	d := n.must(cmd)
	if d.Issuer != base || !d.IssParameter || d.EndSessionEndpoint != base+"/oidc/end-session" || !d.SupportsPKCE {
		t.Fatalf("openid-client discovery: %+v", d)
	}
	return d
}

// signIn starts a code flow with openid-client and runs the browser through sign-in and
// consent; it returns openid-client's authorization values and the URL the browser lands on.
func (c *nodeClient) signIn(t *testing.T, n *nodeRP, b *http.Client, scope string, nonce bool) (nodeAnswer, *url.URL) {
	t.Helper()
	auth := n.must(map[string]any{"op": "authorize", "name": c.name, "redirect_uri": nodeRedirect, "scope": scope, "nonce": nonce})
	q := mustURL(t, auth.URL).Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") != auth.State || q.Get("nonce") != auth.Nonce {
		t.Fatalf("openid-client's authorization URL %s", auth.URL)
	}
	loc, status := authorize(t, b, auth.URL, "admin", interopAdminPassword)
	if loc == nil || loc.Host != "127.0.0.1:4712" || loc.Path != "/cb" || loc.Query().Get("code") == "" {
		t.Fatalf("the flow ended at %v (status %d), not the redirect URI with a code", loc, status)
	}
	return auth, loc
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func callback(c *nodeClient, auth nodeAnswer, landed string) map[string]any {
	return map[string]any{"op": "callback", "name": c.name, "url": landed, "verifier": auth.Verifier, "state": auth.State, "nonce": auth.Nonce}
}

// TestProviderOpenIDClient runs the whole life of a sign-in with openid-client, for a public
// and a confidential client, with EdDSA and ES256 ID tokens (the server's signing algorithm)
// and RS256 ones (a client registered for RS256, as many relying parties expect).
func TestProviderOpenIDClient(t *testing.T) {
	testkit.Slow(t, "runs a third-party relying party")
	n := startNodeRP(t, installOpenIDClient(t))
	// The server's signing algorithm, and the algorithm a client registers for its ID tokens
	// ("": the server's), which openid-client is told too.
	for _, algs := range [][2]string{{"EdDSA", ""}, {"ES256", ""}, {"EdDSA", "RS256"}} {
		alg := cmp.Or(algs[1], algs[0])
		t.Run(alg, func(t *testing.T) {
			a, base := startApp(t, algs[0], "--rs256-key")
			for _, public := range []bool{true, false} {
				c := newNodeClient(t, a, public, algs[1])
				c.discover(t, n, base, algs[1])
				b := browser(t)
				auth, landed := c.signIn(t, n, b, "openid profile email offline_access", true)
				if landed.Query().Get("iss") != base || landed.Query().Get("state") != auth.State {
					t.Fatalf("authorization response %s: want iss %s and state %s", landed, base, auth.State)
				}
				tok := n.must(callback(c, auth, landed.String()))
				cl := tok.Claims
				if cl["iss"] != base || !slices.Equal(anyStrings(cl["aud"]), []string{c.client.ID}) || cl["nonce"] != auth.Nonce ||
					claim(cl, "sub") == "" || claim(cl, "sid") == "" || cl["auth_time"] == nil ||
					!slices.Equal(anyStrings(cl["amr"]), []string{"pwd"}) || cl["acr"] != "aal1" {
					t.Fatalf("public=%v: ID token claims %v", public, cl)
				}
				if h := jwtHeader(t, tok.IDToken); h.Alg != alg {
					t.Fatalf("ID token alg %s, want %s", h.Alg, alg)
				}
				if !strings.EqualFold(tok.TokenType, "bearer") || !strings.HasPrefix(tok.RefreshToken, "ghc.") || tok.ExpiresIn <= 0 ||
					!slices.Contains(strings.Fields(tok.Scope), "offline_access") {
					t.Fatalf("token response: type %q, refresh %q, expires_in %d, scope %q", tok.TokenType, tok.RefreshToken, tok.ExpiresIn, tok.Scope)
				}
				checkClientAccessToken(t, tok.AccessToken, c.client.ID, tok.Scope)
				ui := n.must(map[string]any{"op": "userinfo", "name": c.name, "access_token": tok.AccessToken, "sub": cl["sub"]}).Userinfo
				if ui["sub"] != cl["sub"] || ui["preferred_username"] != "admin" {
					t.Fatalf("userinfo %v", ui)
				}
				// openid-client checks that userinfo is about the ID token's user.
				n.refused("userinfo of another subject", map[string]any{"op": "userinfo", "name": c.name, "access_token": tok.AccessToken, "sub": gatehouse.NewID(time.Now())}, `unexpected "response" body "sub" property value`)

				// Refresh: a rotated refresh token, a new access token, an ID token for the same
				// user, sign-in and session (auth_time, amr, acr, sid), without a nonce (OpenID
				// Connect Core 12.2: a refreshed ID token should carry none, and never another one).
				ref := n.must(map[string]any{"op": "refresh", "name": c.name, "refresh_token": tok.RefreshToken})
				rc := ref.Claims
				if ref.RefreshToken == tok.RefreshToken || ref.AccessToken == tok.AccessToken || !strings.HasPrefix(ref.RefreshToken, "ghc.") {
					t.Fatal("the refresh did not rotate")
				}
				if rc["sub"] != cl["sub"] || rc["iss"] != base || !slices.Equal(anyStrings(rc["aud"]), []string{c.client.ID}) ||
					rc["auth_time"] != cl["auth_time"] || rc["sid"] != cl["sid"] || rc["acr"] != cl["acr"] ||
					!slices.Equal(anyStrings(rc["amr"]), []string{"pwd"}) {
					t.Fatalf("refreshed ID token %v, first %v", rc, cl)
				}
				if _, has := rc["nonce"]; has {
					t.Fatalf("the refreshed ID token carries a nonce: %v", rc["nonce"])
				}
				if ui := n.must(map[string]any{"op": "userinfo", "name": c.name, "access_token": ref.AccessToken, "sub": cl["sub"]}).Userinfo; ui["sub"] != cl["sub"] {
					t.Fatalf("userinfo with the refreshed access token: %v", ui)
				}
				n.refused("reuse of the rotated refresh token", map[string]any{"op": "refresh", "name": c.name, "refresh_token": tok.RefreshToken}, "invalid_grant: the refresh token was used already")

				// RP-initiated logout through openid-client's end-session URL.
				if !signedIn(t, b, base) {
					t.Fatal("no gatehouse session after the sign-in")
				}
				end := n.must(map[string]any{"op": "endsession", "name": c.name, "id_token_hint": tok.IDToken, "post_logout_redirect_uri": nodePostLogout, "state": "bye"})
				eu := mustURL(t, end.URL)
				if eu.Scheme+"://"+eu.Host+eu.Path != base+"/oidc/end-session" || eu.Query().Get("id_token_hint") != tok.IDToken {
					t.Fatalf("end-session URL %s", end.URL)
				}
				resp, err := b.Get(end.URL)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				loc, _ := resp.Location()
				if resp.StatusCode != http.StatusFound || loc == nil || loc.Scheme+"://"+loc.Host+loc.Path != nodePostLogout || loc.Query().Get("state") != "bye" {
					t.Fatalf("end-session answered %d to %v", resp.StatusCode, loc)
				}
				if signedIn(t, b, base) {
					t.Fatal("the gatehouse session survived the end-session")
				}
			}
		})
	}
	t.Run("Attacks", func(t *testing.T) { openIDClientAttacks(t, n) })
}

// openIDClientAttacks: openid-client, given what gatehouse advertises and sends, refuses
// tampered and mixed-up authorization responses and ID tokens of another sign-in.
func openIDClientAttacks(t *testing.T, n *nodeRP) {
	a, base := startApp(t, "EdDSA")
	other, otherBase := startApp(t, "EdDSA") // another gatehouse: a foreign issuer
	c := newNodeClient(t, a, false, "")
	c.discover(t, n, base, "")
	// The same client (id and secret) registered at the other gatehouse too: only the issuer
	// tells the two apart.
	if err := other.clientStore().CreateClient(context.Background(), c.client); err != nil {
		t.Fatal(err)
	}
	oc := &nodeClient{name: "other-" + c.client.ID, client: c.client, secret: c.secret}
	oc.discover(t, n, otherBase, "")
	b, ob := browser(t), browser(t)

	// One code, and the answers the browser could carry back with it: each tampered one is
	// refused before the code is sent anywhere, so that the genuine one still works after.
	auth, landed := c.signIn(t, n, b, "openid", true)
	with := func(change func(q url.Values)) string {
		u := *landed
		q := u.Query()
		change(q)
		u.RawQuery = q.Encode()
		return u.String()
	}
	for _, tc := range []struct {
		what, url, state, want string
	}{
		{"iss of another issuer", with(func(q url.Values) { q.Set("iss", otherBase) }), auth.State, `unexpected "iss" (issuer) response parameter value`},
		{"iss removed", with(func(q url.Values) { q.Del("iss") }), auth.State, `response parameter "iss" (issuer) missing`},
		{"iss with a trailing slash", with(func(q url.Values) { q.Set("iss", base+"/") }), auth.State, `unexpected "iss" (issuer) response parameter value`},
		{"state removed", with(func(q url.Values) { q.Del("state") }), auth.State, `response parameter "state" missing`},
		{"state changed", with(func(q url.Values) { q.Set("state", q.Get("state")+"x") }), auth.State, `unexpected "state" response parameter value`},
		{"state of another sign-in", landed.String(), "another-state", `unexpected "state" response parameter value`},
	} {
		cmd := callback(c, auth, tc.url)
		cmd["state"] = tc.state
		n.refused(tc.what, cmd, tc.want)
	}
	if tok := n.must(callback(c, auth, landed.String())); tok.Claims["nonce"] != auth.Nonce {
		t.Fatalf("the genuine answer after the refused ones: %v", tok.Claims)
	}

	// Mix-up: the other gatehouse's genuine answer, brought to this one's relying party (the
	// same client id; the state and verifier of the other flow).
	oauth, olanded := oc.signIn(t, n, ob, "openid", true)
	if olanded.Query().Get("iss") != otherBase {
		t.Fatalf("the other gatehouse's answer %s", olanded)
	}
	mixed := callback(c, oauth, olanded.String())
	n.refused("the other issuer's answer", mixed, `unexpected "iss" (issuer) response parameter value`)
	if tok := n.must(callback(oc, oauth, olanded.String())); tok.Claims["iss"] != otherBase {
		t.Fatalf("the other gatehouse's code at its own relying party: %v", tok.Claims)
	}

	// An ID token of another sign-in (its nonce is not the one this flow expects).
	auth, landed = c.signIn(t, n, b, "openid", true)
	cmd := callback(c, auth, landed.String())
	cmd["nonce"] = "n-" + gatehouse.NewSecret()
	n.refused("an ID token with another nonce", cmd, `unexpected ID Token "nonce" claim value`)

	// A flow without a nonce: allowed for the code flow, and the ID token has none; but a
	// relying party that expects one refuses that ID token.
	auth, landed = c.signIn(t, n, b, "openid", false)
	if _, has := landed.Query()["nonce"]; has || auth.Nonce != "" {
		t.Fatalf("a nonce where none was sent: %s", landed)
	}
	cmd = callback(c, auth, landed.String())
	cmd["nonce"] = "n-" + gatehouse.NewSecret()
	n.refused("an ID token without the expected nonce", cmd, `"nonce"`)
	auth, landed = c.signIn(t, n, b, "openid", false)
	tok := n.must(callback(c, auth, landed.String()))
	if _, has := tok.Claims["nonce"]; has || claim(tok.Claims, "sub") == "" {
		t.Fatalf("ID token of a flow without nonce: %v", tok.Claims)
	}
}

// signedIn reports whether browser b has a live gatehouse session.
func signedIn(t *testing.T, b *http.Client, base string) bool {
	t.Helper()
	resp, err := b.Get(base + "/api/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// claim is the string claim k of claims ("" when absent or not a string).
func claim(claims map[string]any, k string) string {
	s, _ := claims[k].(string)
	return s
}

func anyStrings(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
