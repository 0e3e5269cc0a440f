package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse"
)

// TestProviderConsent: the consent page lists the application and the scopes not granted yet,
// is skipped once granted and for first-party applications, and its decision is honoured; the
// prompt, max_age and login_hint parameters.
func TestProviderConsent(t *testing.T) {
	a, base := startApp(t, "EdDSA")
	ctx := context.Background()
	b := browser(t)
	pkce := func() oauth2.AuthCodeOption { return oauth2.S256ChallengeOption(oauth2.GenerateVerifier()) }
	codeOf := func(t *testing.T, loc *url.URL, status int) {
		t.Helper()
		if loc == nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "st" {
			t.Fatalf("no code: %v (status %d)", loc, status)
		}
	}
	errorOf := func(t *testing.T, loc *url.URL, want string) {
		t.Helper()
		if loc == nil || loc.Query().Get("code") != "" || loc.Query().Get("error") != want || loc.Query().Get("state") != "st" {
			t.Fatalf("want error %s with the state, got %v", want, loc)
		}
	}

	t.Run("PageThenSkipped", func(t *testing.T) {
		r := newRP(t, a, base, false)
		resp, err := b.Get(r.conf.AuthCodeURL("st", pkce()))
		if err != nil {
			t.Fatal(err)
		}
		// Signed out: the sign-in page first.
		resp.Body.Close()
		if resp.Request.URL.Path != "/" {
			t.Fatalf("a signed-out browser went to %s", resp.Request.URL)
		}
		loc, status := authorizeDeciding(t, b, r.conf.AuthCodeURL("st", pkce()), "admin", interopAdminPassword, "")
		if loc != nil || status != http.StatusOK {
			t.Fatalf("no consent page: %v %d", loc, status)
		}
		resp, err = b.Get(r.conf.AuthCodeURL("st", pkce()))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(body)
		for _, want := range []string{"test app", "see your e-mail address", "see your name and username", `name="decision" value="allow"`} {
			if !strings.Contains(page, want) {
				t.Fatalf("the consent page lacks %q", want)
			}
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://127.0.0.1:4711") {
			t.Fatalf("consent page CSP %q does not let the form lead to the application", csp)
		}
		loc, status = authorize(t, b, r.conf.AuthCodeURL("st", pkce()), "admin", interopAdminPassword)
		codeOf(t, loc, status)
		// Granted now: no page, even with prompt=none.
		loc, status = authorizeDeciding(t, b, r.conf.AuthCodeURL("st", pkce(), oauth2.SetAuthURLParam("prompt", "none")), "admin", interopAdminPassword, "")
		codeOf(t, loc, status)
		// prompt=consent shows it again.
		if loc, status := authorizeDeciding(t, b, r.conf.AuthCodeURL("st", pkce(), oauth2.SetAuthURLParam("prompt", "consent")), "admin", interopAdminPassword, ""); loc != nil || status != http.StatusOK {
			t.Fatalf("prompt=consent skipped the page: %v %d", loc, status)
		}
		// A wider scope asks again.
		r.conf.Scopes = append(r.conf.Scopes, "groups")
		if loc, status := authorizeDeciding(t, b, r.conf.AuthCodeURL("st", pkce()), "admin", interopAdminPassword, ""); loc != nil || status != http.StatusOK {
			t.Fatalf("a new scope skipped the page: %v %d", loc, status)
		}
	})
	t.Run("Deny", func(t *testing.T) {
		r := newRP(t, a, base, false)
		loc, _ := authorizeDeciding(t, b, r.conf.AuthCodeURL("st", pkce()), "admin", interopAdminPassword, "deny")
		errorOf(t, loc, "access_denied")
	})
	t.Run("ConsentRequired", func(t *testing.T) {
		r := newRP(t, a, base, false)
		loc, _ := authorizeDeciding(t, b, r.conf.AuthCodeURL("st", pkce(), oauth2.SetAuthURLParam("prompt", "none")), "admin", interopAdminPassword, "")
		errorOf(t, loc, "consent_required")
	})
	t.Run("FirstPartySkips", func(t *testing.T) {
		r := newRP(t, a, base, false)
		r.client.FirstParty = true
		if err := a.clientStore().UpdateClient(ctx, r.client); err != nil {
			t.Fatal(err)
		}
		loc, status := authorizeDeciding(t, b, r.conf.AuthCodeURL("st", pkce()), "admin", interopAdminPassword, "")
		codeOf(t, loc, status)
	})
	t.Run("ConsentCrossOrigin", func(t *testing.T) {
		r := newRP(t, a, base, false)
		resp, err := b.Get(r.conf.AuthCodeURL("st", pkce()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		id := resp.Request.URL.Query().Get("id")
		req, _ := http.NewRequest("POST", base+"/oidc/consent", strings.NewReader(url.Values{"id": {id}, "decision": {"allow"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err = b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("a cross-site consent: %d", resp.StatusCode)
		}
	})
	t.Run("PromptNoneSignedOut", func(t *testing.T) {
		r := newRP(t, a, base, false)
		loc, _ := authorize(t, browser(t), r.conf.AuthCodeURL("st", pkce(), oauth2.SetAuthURLParam("prompt", "none")), "admin", interopAdminPassword)
		errorOf(t, loc, "login_required")
	})
	t.Run("PromptLoginAndMaxAge", func(t *testing.T) {
		r := newRP(t, a, base, false)
		r.client.FirstParty = true
		if err := a.clientStore().UpdateClient(ctx, r.client); err != nil {
			t.Fatal(err)
		}
		fresh := browser(t)
		loc, status := authorize(t, fresh, r.conf.AuthCodeURL("st", pkce()), "admin", interopAdminPassword)
		codeOf(t, loc, status)
		for _, opt := range []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0")} {
			time.Sleep(1100 * time.Millisecond) // max_age counts whole seconds
			resp, err := fresh.Get(r.conf.AuthCodeURL("st", pkce(), opt))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.Request.URL.Path != "/" || resp.Request.URL.Query().Get("fresh") != "1" {
				t.Fatalf("a signed-in browser was not asked to sign in again: %s", resp.Request.URL)
			}
			loc, status = authorize(t, fresh, r.conf.AuthCodeURL("st", pkce(), opt), "admin", interopAdminPassword)
			codeOf(t, loc, status)
		}
		// An age bound the session exceeds, with prompt=none, is login_required.
		time.Sleep(1100 * time.Millisecond)
		loc, _ = authorizeDeciding(t, fresh, r.conf.AuthCodeURL("st", pkce(), oauth2.SetAuthURLParam("max_age", "1"),
			oauth2.SetAuthURLParam("prompt", "none")), "", "", "")
		errorOf(t, loc, "login_required")
		// A generous max_age needs no new sign-in.
		loc, status = authorizeDeciding(t, fresh, r.conf.AuthCodeURL("st", pkce(), oauth2.SetAuthURLParam("max_age", "3600")), "", "", "")
		codeOf(t, loc, status)
	})
	t.Run("GrantsListedAndRevoked", func(t *testing.T) {
		r, tok := offlineRP(t, a, base, b)
		resp, err := b.Get(base + "/api/me/grants")
		if err != nil {
			t.Fatal(err)
		}
		var list struct {
			Grants []struct {
				ClientID   string   `json:"client_id"`
				ClientName string   `json:"client_name"`
				Scopes     []string `json:"scopes"`
			} `json:"grants"`
		}
		err = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		i := slices.IndexFunc(list.Grants, func(g struct {
			ClientID   string   `json:"client_id"`
			ClientName string   `json:"client_name"`
			Scopes     []string `json:"scopes"`
		}) bool {
			return g.ClientID == r.client.ID
		})
		if err != nil || i < 0 || list.Grants[i].ClientName != "test app" || !slices.Contains(list.Grants[i].Scopes, "offline_access") {
			t.Fatalf("grants: %+v, %v", list, err)
		}
		// The account page lists it with a revoke form.
		resp, err = b.Get(base + "/account")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(page), "/account/grants/"+r.client.ID+"/revoke") {
			t.Fatal("the account page does not list the grant")
		}
		req, _ := http.NewRequest("DELETE", base+"/api/me/grants/"+r.client.ID, nil)
		resp, err = b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("revoke: %d", resp.StatusCode)
		}
		if ui, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Fatalf("userinfo after the grant was revoked: %+v", ui)
		}
		_, err = r.refreshWith(tok.RefreshToken)
		wantInvalidGrant(t, "a refresh after the grant was revoked", err)
		for _, id := range []string{r.client.ID, "nope", gatehouse.NewID(time.Now())} {
			req, _ := http.NewRequest("DELETE", base+"/api/me/grants/"+id, nil)
			resp, err := b.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("revoking %q again: %d", id, resp.StatusCode)
			}
		}
		// The next sign-in asks again.
		if loc, status := authorizeDeciding(t, b, r.conf.AuthCodeURL("st", pkce()), "admin", interopAdminPassword, ""); loc != nil || status != http.StatusOK {
			t.Fatalf("no consent page after the revocation: %v %d", loc, status)
		}
	})
	t.Run("LoginHint", func(t *testing.T) {
		r := newRP(t, a, base, false)
		resp, err := browser(t).Get(r.conf.AuthCodeURL("st", pkce(), oauth2.SetAuthURLParam("login_hint", "alice")))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), `value="alice"`) {
			t.Fatalf("the sign-in page did not take the login_hint")
		}
	})
}
