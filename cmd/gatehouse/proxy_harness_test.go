package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The forward-auth end-to-end tests: a real reverse proxy (nginx, Caddy) configured with the
// snippet shipped in deploy/forward-auth/ (and shown in docs/forward-auth.md), gatehouse
// deciding who may pass, and a small app on 127.0.0.1 that echoes the identity it was given.
// Host names are subdomains of example.test, all on 127.0.0.1: the tests set the Host header,
// the browser test maps them with chromium's host resolver rules.

const proxyDomain = "example.test"

// proxyRules are the access rules of the end-to-end tests.
const proxyRules = `rules:
  - domain: public.example.test
    policy: bypass
  - domain: app.example.test
    path: "^/admin(/|$)"
    policy: role:admin
  - domain: team.example.test
    policy: group:engineering
  - domain: "*.example.test"
    policy: authenticated
`

const proxyAdminPassword = "the proxy test admin password"

// proxied is a protected app behind a proxy: addresses of each piece.
type proxied struct {
	t         *testing.T
	port      int    // the proxy's port on 127.0.0.1
	gatehouse string // gatehouse's own address, host:port
	app       *httptest.Server
}

// host returns name.example.test:<proxy port>, as a browser would send it.
func (p *proxied) host(name string) string {
	return name + "." + proxyDomain + ":" + strconv.Itoa(p.port)
}

// startEchoApp starts the app behind the proxy: it answers JSON with the identity headers it
// received (each with every value), and the same as a small HTML page for browsers.
func startEchoApp(t *testing.T) *httptest.Server {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen := map[string][]string{"Host": {r.Host}, "Path": {r.URL.RequestURI()}}
		for _, h := range []string{"Remote-User", "Remote-Name", "Remote-Email", "Remote-Groups", "Remote-Jwt"} {
			if v, ok := r.Header[h]; ok {
				seen[h] = v
			}
		}
		if strings.Contains(r.Header.Get("Accept"), "text/html") {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, "<!doctype html><title>app</title><p id=who>%s</p><p id=path>%s</p>",
				htmlEscape(strings.Join(seen["Remote-User"], ",")), htmlEscape(r.URL.RequestURI()))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(seen)
	}))
	t.Cleanup(app.Close)
	return app
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// startProxiedGatehouse runs gatehouse for a proxy on port: it trusts 127.0.0.1 only (the
// proxies), shares its cookie with example.test and sends browsers to auth.example.test.
func startProxiedGatehouse(t *testing.T, port int, extra ...string) string {
	t.Helper()
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte(proxyRules), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", proxyAdminPassword)
	addr, stop := startServe(t, append([]string{"--trusted-proxies", "127.0.0.1/32", "--access-rules", rules,
		"--cookie-domain", proxyDomain, "--sign-in-url", "http://auth." + proxyDomain + ":" + strconv.Itoa(port) + "/",
		"--session-store", "memory", "--log-level", "warn", "--forward-auth-jwt", "--issuer", proxyIssuer(port)}, extra...)...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gatehouse's log:\n%s", stop())
		}
	})
	return addr
}

// proxyIssuer is gatehouse's public address behind the proxy on port, its --issuer.
func proxyIssuer(port int) string { return "http://auth." + proxyDomain + ":" + strconv.Itoa(port) }

// snippet returns the shipped proxy configuration deploy/forward-auth/<name>, after checking
// that docs/forward-auth.md shows exactly it, with the test's addresses put in.
func snippet(t *testing.T, name string, p *proxied) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "forward-auth", name))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "forward-auth.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), string(raw)) {
		t.Fatalf("docs/forward-auth.md does not show deploy/forward-auth/%s as it is", name)
	}
	port := strconv.Itoa(p.port)
	return strings.NewReplacer(
		"127.0.0.1:9091", p.gatehouse,
		"127.0.0.1:3000", strings.TrimPrefix(p.app.URL, "http://"),
		"listen 80;", "listen 127.0.0.1:"+port+";",
		// Caddy serves only the sites it names: the app's site also answers the test's other hosts.
		"http://app.example.com", "http://app.example.test:"+port+", http://public.example.test:"+port+", http://wiki.example.test:"+port,
		"http://auth.example.com", "http://auth.example.test:"+port,
		"example.com", proxyDomain,
	).Replace(string(raw))
}

// startProcess runs name with args until the test ends, its output in log.
func startProcess(t *testing.T, log string, name string, args ...string) {
	t.Helper()
	out, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		out.Close()
	})
}

// waitListening waits until 127.0.0.1:port accepts connections.
func waitListening(t *testing.T, port int, what, log string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	raw, _ := os.ReadFile(log)
	t.Fatalf("%s is not listening on %d after 30s:\n%s", what, port, raw)
}

// startNginx runs nginx with the shipped snippet in front of p's app and gatehouse. plainPort,
// if not 0, also serves the app without forward-auth there (the benchmark's baseline).
func startNginx(t *testing.T, p *proxied, plainPort int) {
	t.Helper()
	if _, err := exec.LookPath("nginx"); err != nil {
		skipOrFail(t, "nginx (apt-get install nginx)", err)
	}
	dir := t.TempDir()
	site := snippet(t, "nginx.conf", p)
	if plainPort != 0 {
		site += fmt.Sprintf("\nserver {\n    listen 127.0.0.1:%d;\n    location / { proxy_pass %s; }\n}\n", plainPort, p.app.URL)
	}
	conf := fmt.Sprintf(`worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
%[2]s
}
`, dir, site)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "nginx.log")
	startProcess(t, log, "nginx", "-c", filepath.Join(dir, "nginx.conf"), "-p", dir)
	waitListening(t, p.port, "nginx", filepath.Join(dir, "error.log"))
}

// do sends method url (whose host is name.example.test on the proxy) with headers.
func (p *proxied) do(client *http.Client, method, name, path string, hdr ...string) (int, http.Header, string) {
	p.t.Helper()
	req, err := http.NewRequest(method, "http://127.0.0.1:"+strconv.Itoa(p.port)+path, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Host = p.host(name)
	for i := 0; i+1 < len(hdr); i += 2 {
		// Not Header.Add: a header name is sent in the spelling the test gives (remote-user).
		req.Header[hdr[i]] = append(req.Header[hdr[i]], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s%s: %v", method, req.Host, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, string(raw)
}

// noRedirects is a client that shows redirects instead of following them.
func noRedirects() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// loginProxied logs user in on gatehouse directly, in mode (token or session), and returns
// the request header that carries the credential.
func (p *proxied) login(user, password, mode string) []string {
	p.t.Helper()
	body := fmt.Sprintf(`{"username":%q,"password":%q,"mode":%q}`, user, password, mode)
	resp, err := checkedClient(p.t).Post("http://"+p.gatehouse+"/api/login", "application/json", strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 200 {
		p.t.Fatalf("login %s: %d", user, resp.StatusCode)
	}
	if mode == "token" {
		return []string{"Authorization", "Bearer " + out.AccessToken}
	}
	for _, c := range resp.Cookies() {
		return []string{"Cookie", c.Name + "=" + c.Value}
	}
	p.t.Fatal("no session cookie")
	return nil
}

// api calls gatehouse directly (checked against the API contract) with a credential.
func (p *proxied) api(method, path string, hdr []string) int {
	p.t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), method, "http://"+p.gatehouse+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := checkedClient(p.t).Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// echoed decodes the app's JSON answer.
func echoed(t *testing.T, body string) map[string][]string {
	t.Helper()
	var m map[string][]string
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("the app's answer is not its JSON: %v: %.300s", err, body)
	}
	return m
}

func signInLocation(p *proxied, name, path string) string {
	return "http://auth." + proxyDomain + ":" + strconv.Itoa(p.port) + "/?rd=" + url.QueryEscape("http://"+p.host(name)+path)
}
