package http_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

// clientForm is the admin page's registration form, filled in like a browser sends it.
func clientForm(name, typ string, redirects ...string) url.Values {
	return url.Values{"name": {name}, "type": {typ}, "redirect_uris": {strings.Join(redirects, "\r\n")},
		"scopes": {"openid", "profile", "email"}}
}

var (
	secretCode   = regexp.MustCompile(`<code class="secret" id="client-secret">([^<]+)</code>`)
	clientIDCode = regexp.MustCompile(`<code id="client-id">([0-9a-z]{26})</code>`)
)

// registered reads the client id and secret from the answer to a confidential registration or
// a rotation.
func registered(t *testing.T, p page) (id, secret string) {
	t.Helper()
	expectPage(t, p, 200, "it is shown only this once")
	if p.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("the page with a secret is cacheable: %q", p.header.Get("Cache-Control"))
	}
	m, n := clientIDCode.FindStringSubmatch(p.body), secretCode.FindStringSubmatch(p.body)
	if m == nil || n == nil || !gatehouse.ValidSecret(n[1]) {
		t.Fatalf("no client id or secret on the page: %s", p.body)
	}
	return m[1], n[1]
}

// clientCount counts the registered clients.
func (h *harness) clientCount() int {
	h.t.Helper()
	cs, err := h.authn.ListClients(h.t.Context(), "", 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	return len(cs)
}

// TestPageAdminRegisterClient: a confidential client's secret is on the answer page once
// (no-store, never in a URL), stored as a hash only, and works; a public client gets none; both
// are audited as the API's registrations are.
func TestPageAdminRegisterClient(t *testing.T) {
	h := newHarness(t, options{})
	b := h.browser("test")
	b.signIn("admin", h.adminPW)
	expectPage(t, b.get("/admin"), 200, "Register an application", `action="/admin/clients"`,
		`id="client-scope-offline_access" name="scopes" value="offline_access" checked`, `value="confidential" checked`)

	form := clientForm("Wiki", "confidential", "https://wiki.example/cb", "http://127.0.0.1/cb")
	form.Set("first_party", "yes")
	form.Set("backchannel_logout_uri", "https://wiki.example/bcl")
	form.Set("post_logout_redirect_uris", "https://wiki.example/bye")
	form.Set("id_token_signed_response_alg", "RS256")
	p := b.post("/admin/clients", form)
	id, secret := registered(t, p)
	expectPage(t, p, 200, "The application is registered.", "<code>https://wiki.example/cb</code>")
	c, err := h.authn.GetClient(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "Wiki" || c.Public || !c.FirstParty || len(c.RedirectURIs) != 2 || c.RedirectURIs[1] != "http://127.0.0.1/cb" ||
		strings.Join(c.Scopes, " ") != "openid profile email" || c.BackchannelLogoutURI != "https://wiki.example/bcl" ||
		c.IDTokenAlg != "RS256" || len(c.PostLogoutRedirectURIs) != 1 {
		t.Fatalf("registered: %+v", c)
	}
	if !c.VerifySecret(secret) || c.SecretHash != gatehouse.HashSecret(secret) {
		t.Fatal("the shown secret is not the client's")
	}
	// Shown once: neither the client's page nor the admin page shows it again, and the
	// database holds its hash only.
	for _, path := range []string{"/admin/clients/" + id, "/admin"} {
		if p := b.get(path); p.status != 200 || strings.Contains(p.body, secret) || !strings.Contains(p.body, id) {
			t.Fatalf("%s: %d, or it shows the secret again", path, p.status)
		}
	}
	expectPage(t, b.get("/admin/clients/"+id), 200, "Save changes", "Give it a new secret", "Delete application")
	if err := h.db.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(h.dir, "gatehouse.db*"))
	for _, f := range files {
		if raw, _ := os.ReadFile(f); strings.Contains(string(raw), secret) {
			t.Fatalf("%s holds the client secret in clear", f)
		}
	}
	// A public client: no secret, its page follows.
	p = b.post("/admin/clients", clientForm("SPA", "public", "https://spa.example/cb", "com.example.app:/cb"))
	if p.status != 303 || !strings.HasPrefix(p.location, "/admin/clients/") || !strings.HasSuffix(p.location, "?msg=client-registered") {
		t.Fatalf("public registration: %d %q", p.status, p.location)
	}
	pub := strings.TrimSuffix(strings.TrimPrefix(p.location, "/admin/clients/"), "?msg=client-registered")
	p = b.get(p.location)
	expectPage(t, p, 200, "It is public, so it has no secret.", "public (no secret; PKCE required)", "<code>com.example.app:/cb</code>")
	if strings.Contains(p.body, "client-secret") || strings.Contains(p.body, "Give it a new secret") {
		t.Fatal("a public client's page offers a secret")
	}
	if c, _ := h.authn.GetClient(t.Context(), pub); c == nil || !c.Public || c.SecretHash != (gatehouse.Hash{}) {
		t.Fatalf("public client: %+v", c)
	}
	expectPage(t, b.get("/admin"), 200, `<a href="/admin/clients/`+pub+`">SPA</a>`, `<a href="/admin/clients/`+id+`">Wiki</a>`)

	admin, _ := h.users.UserByUsername(t.Context(), "admin")
	events := h.auditEvents(gatehouse.AuditClientCreated)
	if len(events) != 2 || events[0]["detail"] != "client "+pub || events[1]["detail"] != "client "+id || events[0]["actor_id"] != admin.ID {
		t.Fatalf("audit: %v", events)
	}
}

// TestPageAdminRegisterClientMistakes: every mistake shows the form again as it was sent,
// with the API's message next to its field, and registers nothing.
func TestPageAdminRegisterClientMistakes(t *testing.T) {
	h := newHarness(t, options{})
	b := h.browser("test")
	b.signIn("admin", h.adminPW)
	b.get("/admin")
	with := func(f url.Values, kv ...string) url.Values {
		for i := 0; i < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	good := func() url.Values { return clientForm("Wiki", "confidential", "https://wiki.example/cb") }
	for _, c := range []struct {
		form url.Values
		want []string
	}{
		{with(good(), "redirect_uris", "http://wiki.example/cb"), []string{`id="client-redirect_uris-error">&#34;http://wiki.example/cb&#34; must use https (http only on 127.0.0.1, [::1] or localhost).`,
			">http://wiki.example/cb</textarea>"}},
		{with(good(), "redirect_uris", ""), []string{`id="client-redirect_uris-error">Between 1 and 20 URIs.`}},
		{with(good(), "redirect_uris", " \r\n \r\n"), []string{`id="client-redirect_uris-error">Between 1 and 20 URIs.`}},
		{with(good(), "redirect_uris", "https://wiki.example/cb#frag"), []string{`id="client-redirect_uris-error">&#34;https://wiki.example/cb#frag&#34; must not have a fragment.`}},
		{with(good(), "redirect_uris", "/cb"), []string{`id="client-redirect_uris-error">&#34;/cb&#34; is not an absolute URI.`}},
		// A private-use scheme is for native (public) apps only.
		{with(good(), "redirect_uris", "com.example.app:/cb"), []string{`id="client-redirect_uris-error">&#34;com.example.app:/cb&#34; must use https`}},
		{with(good(), "scopes", "admin"), []string{`id="client-scopes-error">&#34;admin&#34; is not one of openid, profile, email, groups, offline_access.`}},
		{with(good(), "scopes", "email"), []string{`id="client-scopes-error">Must include &#34;openid&#34;.`}},
		{url.Values{"name": {"Wiki"}, "type": {"confidential"}, "redirect_uris": {"https://wiki.example/cb"}}, []string{`id="client-scopes-error">Tick the scopes`}},
		{with(good(), "name", "  "), []string{`id="client-name-error">Between 1 and 100 characters.`}},
		{with(good(), "name", strings.Repeat("n", 101)), []string{`id="client-name-error">Between 1 and 100 characters.`}},
		{with(good(), "name", "\xff"), []string{`id="client-name-error">Between 1 and 100 characters.`}},
		{with(good(), "type", "secret"), []string{`id="client-type-error">Choose confidential or public.`}},
		{with(good(), "first_party", "on"), []string{`id="client-first_party-error">Must be &#34;yes&#34; when ticked.`}},
		{with(good(), "backchannel_logout_uri", "http://wiki.example/bcl"), []string{`id="client-backchannel_logout_uri-error">&#34;http://wiki.example/bcl&#34; must be an https URI`}},
		{with(good(), "post_logout_redirect_uris", "ftp://wiki.example/bye"), []string{`id="client-post_logout_redirect_uris-error">&#34;ftp://wiki.example/bye&#34; must use https`}},
		{with(good(), "id_token_signed_response_alg", "none"), []string{`id="client-id_token_signed_response_alg-error">&#34;none&#34; is not one of EdDSA, ES256, RS256.`}},
		{with(good(), "redirect_uris", strings.Repeat("https://a.example/x\nhttps://b.example/y\n", 11)),
			[]string{`id="client-redirect_uris-error">Between 1 and 20 URIs.`}},
		// The form's own mistake and a rule's, both at once.
		{with(good(), "type", "", "redirect_uris", "http://wiki.example/cb"), []string{`id="client-type-error"`, `id="client-redirect_uris-error"`}},
	} {
		p := b.post("/admin/clients", c.form)
		expectPage(t, p, 400, append(c.want, `id="client-name"`, "Register an application")...)
		if c.form.Get("name") == "Wiki" && !strings.Contains(p.body, `value="Wiki"`) {
			t.Fatal("the form lost the name")
		}
	}
	if n := h.clientCount(); n != 0 {
		t.Fatalf("mistakes registered %d clients", n)
	}
	if events := h.auditEvents(gatehouse.AuditClientCreated); len(events) != 0 {
		t.Fatalf("mistakes audited as registrations: %v", events)
	}
	// The loopback rule of the API: http on 127.0.0.1, [::1] and localhost is fine.
	id, _ := registered(t, b.post("/admin/clients", clientForm("Dev", "confidential", "http://localhost:8080/cb", "http://[::1]/cb")))
	if c, _ := h.authn.GetClient(t.Context(), id); len(c.RedirectURIs) != 2 {
		t.Fatalf("loopback redirect URIs: %+v", c)
	}
}

// TestPageAdminManageClient: change a client (every field of PATCH), give it a new secret
// (shown once; the old one stops working), delete it after the box is ticked; unknown ids are
// the not-found page; each change is audited as the API's.
func TestPageAdminManageClient(t *testing.T) {
	h := newHarness(t, options{})
	b := h.browser("test")
	b.signIn("admin", h.adminPW)
	b.get("/admin")
	id, secret := registered(t, b.post("/admin/clients", clientForm("Wiki", "confidential", "https://wiki.example/cb")))
	page := "/admin/clients/" + id
	expectPage(t, b.get(page), 200, `id="client-name" name="name" type="text" value="Wiki"`, ">https://wiki.example/cb</textarea>",
		`id="client-scope-email" name="scopes" value="email" checked`)
	if p := b.get(page); strings.Contains(p.body, `value="offline_access" checked`) || strings.Contains(p.body, `name="type"`) {
		t.Fatal("the change form shows a scope the client lacks, or the type choice")
	}

	// Change every field the API's PATCH changes.
	change := url.Values{"name": {"Wiki 2"}, "redirect_uris": {"https://wiki.example/cb\r\nhttps://wiki.example/cb2\r\n"},
		"post_logout_redirect_uris": {"https://wiki.example/bye"}, "scopes": {"openid", "groups", "offline_access"},
		"first_party": {"yes"}, "backchannel_logout_uri": {"https://wiki.example/bcl"}, "id_token_signed_response_alg": {"ES256"}}
	expectRedirect(t, b.post(page+"/update", change), page+"?msg=client-updated")
	expectPage(t, b.get(page+"?msg=client-updated"), 200, "The application is updated.", "<h1>Wiki 2 <span class=\"badge\">first party</span></h1>", "<code>https://wiki.example/cb2</code>")
	c, _ := h.authn.GetClient(t.Context(), id)
	if c.Name != "Wiki 2" || !c.FirstParty || len(c.RedirectURIs) != 2 || strings.Join(c.Scopes, " ") != "openid groups offline_access" ||
		c.BackchannelLogoutURI != "https://wiki.example/bcl" || c.IDTokenAlg != "ES256" || len(c.PostLogoutRedirectURIs) != 1 || !c.VerifySecret(secret) {
		t.Fatalf("changed: %+v", c)
	}
	// Clearing the optional fields (unticked first party, empty back-channel URI, the
	// server's algorithm).
	expectRedirect(t, b.post(page+"/update", url.Values{"name": {"Wiki 2"}, "redirect_uris": {"https://wiki.example/cb"}, "scopes": {"openid"}}),
		page+"?msg=client-updated")
	if c, _ = h.authn.GetClient(t.Context(), id); c.FirstParty || c.BackchannelLogoutURI != "" || c.IDTokenAlg != "" || len(c.PostLogoutRedirectURIs) != 0 {
		t.Fatalf("cleared: %+v", c)
	}
	// A refused change shows the form as sent and changes nothing.
	for _, bad := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"name": {"Wiki 3"}, "redirect_uris": {""}, "scopes": {"openid"}}, `id="client-redirect_uris-error">Between 1 and 20 URIs.`},
		{url.Values{"name": {"Wiki 3"}, "redirect_uris": {"https://evil.example/cb?x#y"}, "scopes": {"openid"}}, `must not have a fragment.`},
		{url.Values{"name": {"Wiki 3"}, "redirect_uris": {"https://wiki.example/cb"}, "scopes": {"openid", "root"}}, `id="client-scopes-error">&#34;root&#34; is not one of`},
		{url.Values{"name": {"Wiki 3"}, "redirect_uris": {"https://wiki.example/cb"}}, `id="client-scopes-error">Tick the scopes`},
	} {
		expectPage(t, b.post(page+"/update", bad.form), 400, bad.want, `value="Wiki 3"`)
	}
	if c, _ := h.authn.GetClient(t.Context(), id); c.Name != "Wiki 2" || len(c.RedirectURIs) != 1 {
		t.Fatalf("a refused change changed the client: %+v", c)
	}

	// A new secret needs the box ticked, is shown once, and the old one stops working.
	expectPage(t, b.post(page+"/secret", nil), 400, `id="confirm-rotate-error">Tick the box`)
	if c, _ := h.authn.GetClient(t.Context(), id); !c.VerifySecret(secret) {
		t.Fatal("an unconfirmed rotation changed the secret")
	}
	p := b.post(page+"/secret", url.Values{"confirm": {"yes"}})
	rid, rotated := registered(t, p)
	expectPage(t, p, 200, "The old secret no longer works.")
	c, _ = h.authn.GetClient(t.Context(), id)
	if rid != id || rotated == secret || !c.VerifySecret(rotated) || c.VerifySecret(secret) {
		t.Fatal("the rotation did not replace the secret with the one shown")
	}
	if p := b.get(page); strings.Contains(p.body, rotated) {
		t.Fatal("the new secret is shown again")
	}
	// A public client has no secret to rotate.
	pub := strings.TrimSuffix(strings.TrimPrefix(b.post("/admin/clients", clientForm("SPA", "public", "https://spa.example/cb")).location, "/admin/clients/"), "?msg=client-registered")
	expectPage(t, b.post("/admin/clients/"+pub+"/secret", url.Values{"confirm": {"yes"}}), 400, "A public client has no secret.")

	// Delete needs the box ticked.
	expectPage(t, b.post(page+"/delete", nil), 400, `id="confirm-delete-error">Tick the box to confirm the deletion.`)
	if _, err := h.authn.GetClient(t.Context(), id); err != nil {
		t.Fatal("an unconfirmed deletion deleted the client")
	}
	expectRedirect(t, b.post(page+"/delete", url.Values{"confirm": {"yes"}}), "/admin?msg=client-deleted")
	expectPage(t, b.get("/admin?msg=client-deleted"), 200, "The application is deleted")
	if _, err := h.authn.GetClient(t.Context(), id); !isNotFound(err) {
		t.Fatalf("deleted client: %v", err)
	}

	// The not-found page for an unknown or malformed id, on every route.
	for _, missing := range []string{id, gatehouse.NewID(h.clock.Now()), "garbage", "%3Cscript%3E"} {
		expectPage(t, b.get("/admin/clients/"+missing), 404, "No such client.")
		for _, action := range []string{"/update", "/secret", "/delete"} {
			expectPage(t, b.post("/admin/clients/"+missing+action, url.Values{"confirm": {"yes"}, "name": {"x"}, "redirect_uris": {"https://x.example/cb"}, "scopes": {"openid"}}),
				404, "No such client.")
		}
	}

	for action, n := range map[string]int{gatehouse.AuditClientUpdated: 2, gatehouse.AuditClientSecretRotated: 1, gatehouse.AuditClientDeleted: 1} {
		events := h.auditEvents(action)
		if len(events) != n || events[0]["detail"] != "client "+id || events[0]["outcome"] != gatehouse.AuditSuccess {
			t.Fatalf("%s audited: %v", action, events)
		}
	}
}

func isNotFound(err error) bool { return gatehouse.ErrorCode(err) == gatehouse.ENOTFOUND }

// TestPageAdminClientsRefused: a user who is not an admin, a form from another site or
// without the session's token change nothing.
func TestPageAdminClientsRefused(t *testing.T) {
	h := newHarness(t, options{})
	admin := h.browser("admin")
	admin.signIn("admin", h.adminPW)
	admin.get("/admin")
	id, secret := registered(t, admin.post("/admin/clients", clientForm("Wiki", "confidential", "https://wiki.example/cb")))
	page := "/admin/clients/" + id

	h.addUser("alice", gatehouse.RoleUser)
	user := h.browser("user")
	user.signIn("alice", testPassword)
	expectPage(t, user.get(page), 403, "This page is for administrators.")
	for _, path := range []string{"/admin/clients", page + "/update", page + "/secret", page + "/delete"} {
		expectPage(t, user.post(path, url.Values{"confirm": {"yes"}, "name": {"Mallory"}, "type": {"confidential"},
			"redirect_uris": {"https://evil.example/cb"}, "scopes": {"openid"}}), 403, "This page is for administrators.")
	}

	// Cross-site, and same origin without or with a wrong token.
	token := admin.csrf
	forms := map[string]url.Values{
		"/admin/clients": clientForm("Mallory", "confidential", "https://evil.example/cb"),
		page + "/update": {"name": {"Mallory"}, "redirect_uris": {"https://evil.example/cb"}, "scopes": {"openid"}},
		page + "/secret": {"confirm": {"yes"}},
		page + "/delete": {"confirm": {"yes"}},
	}
	for path, form := range forms {
		for _, site := range []string{"cross-site", "same-site"} {
			f := url.Values{"csrf": {token}}
			for k, v := range form {
				f[k] = v
			}
			expectPage(t, admin.postFrom(site, path, f), 403, "Request refused")
		}
		req, _ := http.NewRequest("POST", h.srv.URL+path, strings.NewReader(form.Encode()+"&csrf="+url.QueryEscape(token)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "http://evil.example")
		expectPage(t, admin.send(req, ""), 403, "Request refused")
		for _, bad := range []string{"", "A" + token[1:] + "x"} {
			f := url.Values{"csrf": {bad}}
			for k, v := range form {
				f[k] = v
			}
			expectPage(t, admin.post(path, f), 403, "Request refused")
		}
	}
	c, err := h.authn.GetClient(t.Context(), id)
	if err != nil || c.Name != "Wiki" || !c.VerifySecret(secret) || c.RedirectURIs[0] != "https://wiki.example/cb" || h.clientCount() != 1 {
		t.Fatalf("a refused form changed the clients: %+v %v", c, err)
	}
	for _, action := range []string{gatehouse.AuditClientUpdated, gatehouse.AuditClientSecretRotated, gatehouse.AuditClientDeleted} {
		if events := h.auditEvents(action); len(events) != 0 {
			t.Fatalf("%s audited after refused forms: %v", action, events)
		}
	}
}

// TestPageAdminClientNameEscaped: a client name with markup is text on every page that shows
// it, never markup.
func TestPageAdminClientNameEscaped(t *testing.T) {
	h := newHarness(t, options{})
	b := h.browser("test")
	b.signIn("admin", h.adminPW)
	b.get("/admin")
	name := `<script>alert(1)</script><img src=x onerror=alert(2)>"'`
	id, _ := registered(t, b.post("/admin/clients", clientForm(name, "confidential", "https://wiki.example/cb")))
	for _, path := range []string{"/admin", "/admin/clients/" + id} {
		p := b.get(path)
		expectPage(t, p, 200, "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;")
		if strings.Contains(p.body, "<script>alert") || strings.Contains(p.body, "<img src=x") {
			t.Fatalf("%s shows the name as markup", path)
		}
	}
	// In the form's value and the title too.
	p := b.get("/admin/clients/" + id)
	if !strings.Contains(p.body, `value="&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&#34;&#39;"`) ||
		!strings.Contains(p.body, "<title>&lt;script&gt;") {
		t.Fatalf("the name is not escaped in the form or title: %s", p.body)
	}
	// A mistake echoes a hostile redirect URI as text.
	p = b.post("/admin/clients", clientForm("x", "confidential", `javascript:alert(1)//"><b>`))
	expectPage(t, p, 400, "&lt;b&gt;")
	if strings.Contains(p.body, `"><b>`) {
		t.Fatal("a refused redirect URI is echoed as markup")
	}
}

// TestPageAdminClientsWithoutProvider: a server without an OpenID Provider says so on the
// admin page, offers no registration, and answers the client pages with not found.
func TestPageAdminClientsWithoutProvider(t *testing.T) {
	h := newHarness(t, options{configure: func(d *authn.Deps, _ *ghttp.Config) { d.Clients = nil }})
	b := h.browser("test")
	b.signIn("admin", h.adminPW)
	p := b.get("/admin")
	expectPage(t, p, 200, "This server runs no OpenID Provider")
	if strings.Contains(p.body, `action="/admin/clients"`) {
		t.Fatal("the registration form is offered without a provider")
	}
	expectPage(t, b.post("/admin/clients", clientForm("Wiki", "confidential", "https://wiki.example/cb")), 404, "registers no clients")
	expectPage(t, b.get("/admin/clients/"+gatehouse.NewID(h.clock.Now())), 404)
}
