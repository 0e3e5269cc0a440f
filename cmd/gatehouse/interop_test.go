package main

// Interoperability: libraries nobody here wrote verify gatehouse's tokens against a running
// gatehouse (the real wiring of "gatehouse serve"): the npm package jose through
// createRemoteJWKSet, and github.com/coreos/go-oidc/v3 through discovery (and
// golang.org/x/oauth2 refreshes through the discovered token endpoint).

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/spf13/pflag"
	"golang.org/x/oauth2"

	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

const interopAdminPassword = "the first admin password"

// startApp runs the wired server for alg on a free 127.0.0.1 port, so that its default issuer
// ("http://<addr>") is the URL clients reach it at.
func startApp(t *testing.T, alg string, extra ...string) (*app, string) {
	t.Helper()
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", interopAdminPassword)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	cfg := &config{}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfg.serveFlags(fs)
	// --key-publish-ahead 0: these tests rotate and expect the new key to sign at once, so that
	// the verifiers under test meet a kid their cached JWKS lacks and must refetch.
	if err := fs.Parse(append(append([]string{"--addr", addr, "--data", t.TempDir(), "--signing-alg", alg, "--key-publish-ahead", "0"}, fastHash...), extra...)); err != nil {
		t.Fatal(err)
	}
	if err := cfg.validateServe(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := buildApp(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.bootstrap(context.Background(), io.Discard); err != nil {
		t.Fatal(err)
	}
	srv := ghttp.NewHTTPServer(addr, a.server, nil, log)
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		a.Close()
	})
	return a, "http://" + addr
}

// loginTokens logs the admin in and returns the access and refresh tokens.
func loginTokens(t *testing.T, base string) (access, refresh string) {
	t.Helper()
	resp, err := http.Post(base+"/api/login", "application/json", strings.NewReader(`{"username":"admin","password":"`+interopAdminPassword+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	return body.AccessToken, body.RefreshToken
}

// tamper flips one character of the token's signature.
func tamper(tok string) string {
	b := []byte(tok)
	i := len(b) - 5
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestInteropGoOIDC(t *testing.T) {
	testkit.Slow(t, "runs third-party clients")
	for _, alg := range []string{"EdDSA", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			a, base := startApp(t, alg)
			ctx := context.Background()
			provider, err := oidc.NewProvider(ctx, base)
			if err != nil {
				t.Fatalf("go-oidc discovery: %v", err)
			}
			verifier := provider.Verifier(&oidc.Config{ClientID: a.cfg.Audience})
			access, refresh := loginTokens(t, base)
			tok, err := verifier.Verify(ctx, access)
			if err != nil {
				t.Fatalf("go-oidc rejects a gatehouse token: %v", err)
			}
			var claims struct {
				Role     string `json:"role"`
				Username string `json:"username"`
				JTI      string `json:"jti"`
			}
			if err := tok.Claims(&claims); err != nil || claims.Role != "admin" || claims.Username != "admin" || claims.JTI == "" || tok.Subject == "" {
				t.Fatalf("claims %+v, sub %q: %v", claims, tok.Subject, err)
			}
			if _, err := verifier.Verify(ctx, tamper(access)); err == nil {
				t.Fatal("go-oidc accepts a tampered token")
			}
			if _, err := provider.Verifier(&oidc.Config{ClientID: "another-service"}).Verify(ctx, access); err == nil {
				t.Fatal("go-oidc accepts a token for another audience")
			}
			later := provider.Verifier(&oidc.Config{ClientID: a.cfg.Audience, Now: func() time.Time { return time.Now().Add(16 * time.Minute) }})
			var expired *oidc.TokenExpiredError
			if _, err := later.Verify(ctx, access); !errors.As(err, &expired) {
				t.Fatalf("expired token: %v", err)
			}

			// A rotation: go-oidc meets the new kid and refetches the JWKS.
			if _, err := a.keys.Rotate(); err != nil {
				t.Fatal(err)
			}
			// golang.org/x/oauth2 refreshes through the discovered token endpoint.
			conf := oauth2.Config{Endpoint: provider.Endpoint()}
			refreshed, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refresh, Expiry: time.Now().Add(-time.Hour)}).Token()
			if err != nil || refreshed.RefreshToken == "" || refreshed.RefreshToken == refresh {
				t.Fatalf("x/oauth2 refresh: %+v %v", refreshed, err)
			}
			if _, err := verifier.Verify(ctx, refreshed.AccessToken); err != nil {
				t.Fatalf("go-oidc rejects a token of the rotated key: %v", err)
			}
			if _, err := verifier.Verify(ctx, access); err != nil {
				t.Fatalf("go-oidc rejects a token of the previous key: %v", err)
			}
		})
	}
}

// joseScript verifies tokens with jose's createRemoteJWKSet and jwtVerify, with the options a
// careful resource server would set, and prints one result per token as JSON.
const joseScript = `
import { createRemoteJWKSet, jwtVerify } from 'jose';
const [jwksURL, issuer, audience, alg, offsetSeconds, ...tokens] = process.argv.slice(2);
const JWKS = createRemoteJWKSet(new URL(jwksURL));
const currentDate = new Date(Date.now() + Number(offsetSeconds) * 1000);
const results = [];
for (const token of tokens) {
  try {
    const { payload, protectedHeader } = await jwtVerify(token, JWKS, {
      issuer, audience, algorithms: [alg], typ: 'at+jwt', clockTolerance: 30, currentDate,
      requiredClaims: ['sub', 'exp', 'iat', 'jti'],
    });
    results.push({ ok: true, sub: payload.sub, role: payload.role, kid: protectedHeader.kid });
  } catch (e) {
    results.push({ ok: false, code: e.code || String(e) });
  }
}
console.log(JSON.stringify(results));
process.exit(0); // do not wait for idle keep-alive connections
`

// joseVersion is the jose release the test installs.
const joseVersion = "6.2.18"

// installJose installs jose with npm into a temporary directory, beside its verify script.
func installJose(t *testing.T) string {
	t.Helper()
	return npmInstall(t, "jose@"+joseVersion, map[string][]byte{"verify.mjs": []byte(joseScript)})
}

// npmInstall installs the npm package spec (name@version) into a temporary directory and
// writes files (scripts that import it) beside it; it returns the directory. Without node or
// npm (or the registry), the test is skipped, unless CI is set: then it fails.
func npmInstall(t *testing.T, spec string, files map[string][]byte) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFailNode(t, spec, tool+" is not installed: "+err.Error())
		}
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", dir, spec)
	if out, err := cmd.CombinedOutput(); err != nil {
		skipOrFailNode(t, spec, "npm install: "+err.Error()+": "+string(out))
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func skipOrFailNode(t *testing.T, spec, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set: %s: %s", spec, why)
	}
	t.Skipf("skipping the test with the npm package %s: %s", spec, why)
}

type joseResult struct {
	OK   bool   `json:"ok"`
	Sub  string `json:"sub"`
	Role string `json:"role"`
	KID  string `json:"kid"`
	Code string `json:"code"`
}

func runJose(t *testing.T, dir, base, audience, alg string, offset time.Duration, tokens ...string) []joseResult {
	t.Helper()
	return runJoseIssuer(t, dir, base, base, audience, alg, offset, tokens...)
}

// runJoseIssuer verifies tokens with jose, the keys fetched from base's JWK Set, for issuer and
// audience, its clock shifted by offset.
func runJoseIssuer(t *testing.T, dir, base, issuer, audience, alg string, offset time.Duration, tokens ...string) []joseResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := append([]string{filepath.Join(dir, "verify.mjs"), base + "/.well-known/jwks.json", issuer, audience, alg, strconv.Itoa(int(offset.Seconds()))}, tokens...)
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("node: %v: %s", err, ee.Stderr)
		}
		t.Fatalf("node: %v", err)
	}
	var res []joseResult
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(tokens) {
		t.Fatalf("jose output %q: %v", out, err)
	}
	return res
}

func TestInteropJose(t *testing.T) {
	testkit.Slow(t, "runs third-party clients")
	dir := installJose(t)
	for _, alg := range []string{"EdDSA", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			a, base := startApp(t, alg)
			oldKID := a.keys.SigningKID()
			before, _ := loginTokens(t, base)
			if _, err := a.keys.Rotate(); err != nil {
				t.Fatal(err)
			}
			after, _ := loginTokens(t, base)
			res := runJose(t, dir, base, a.cfg.Audience, alg, 0, before, after, tamper(after), "not.a.jwt")
			if !res[0].OK || res[0].KID != oldKID || res[0].Role != "admin" || res[0].Sub == "" {
				t.Fatalf("jose rejects a token of the previous key: %+v", res[0])
			}
			if !res[1].OK || res[1].KID != a.keys.SigningKID() {
				t.Fatalf("jose rejects a token of the current key: %+v", res[1])
			}
			if res[2].OK || res[2].Code != "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" {
				t.Fatalf("jose accepts a tampered token: %+v", res[2])
			}
			if res[3].OK {
				t.Fatalf("jose accepts garbage: %+v", res[3])
			}
			// 16 minutes later (beyond exp + 30 s of tolerance), the tokens have expired.
			res = runJose(t, dir, base, a.cfg.Audience, alg, 16*time.Minute, after)
			if res[0].OK || res[0].Code != "ERR_JWT_EXPIRED" {
				t.Fatalf("jose accepts an expired token: %+v", res[0])
			}
			// Another audience is refused.
			res = runJose(t, dir, base, "another-service", alg, 0, after)
			if res[0].OK || res[0].Code != "ERR_JWT_CLAIM_VALIDATION_FAILED" {
				t.Fatalf("jose accepts a token for another audience: %+v", res[0])
			}
		})
	}
}
