package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestClientCommands registers, lists, shows and deletes clients in a data directory.
func TestClientCommands(t *testing.T) {
	dir := t.TempDir()
	out, _, err := run(t, "", "client", "add", "--data", dir, "--name", "Wiki", "--redirect-uri", "https://wiki.example/cb",
		"--redirect-uri", "http://127.0.0.1/cb", "--first-party")
	if err != nil || !strings.Contains(out, `created client "Wiki"`) {
		t.Fatalf("client add: %q %v", out, err)
	}
	secret := regexp.MustCompile(`client_secret \(shown only this once\): (\S+)`).FindStringSubmatch(out)
	id := regexp.MustCompile(`client_id: (\S+)`).FindStringSubmatch(out)
	if secret == nil || id == nil {
		t.Fatalf("client add printed no id or secret: %q", out)
	}
	out, _, err = run(t, "", "client", "add", "--data", dir, "--name", "CLI", "--redirect-uri", "http://127.0.0.1/cb", "--public", "--scopes", "openid")
	if err != nil || strings.Contains(out, "client_secret") {
		t.Fatalf("public client add: %q %v", out, err)
	}
	out, _, err = run(t, "", "client", "list", "--data", dir)
	if err != nil || !strings.Contains(out, id[1]) || !strings.Contains(out, "Wiki") || !strings.Contains(out, "public") {
		t.Fatalf("client list: %q %v", out, err)
	}
	out, _, err = run(t, "", "client", "show", "--data", dir, id[1])
	if err != nil || !strings.Contains(out, "redirect_uri:  https://wiki.example/cb") || !strings.Contains(out, "first_party:   true") {
		t.Fatalf("client show: %q %v", out, err)
	}
	if strings.Contains(out, secret[1]) {
		t.Fatal("client show printed the secret")
	}
	for _, bad := range [][]string{
		{"client", "add", "--data", dir, "--name", "x", "--redirect-uri", "http://evil.example/cb"},
		{"client", "add", "--data", dir, "--name", "x", "--redirect-uri", "https://a.example/cb#f"},
		{"client", "add", "--data", dir, "--name", "x", "--redirect-uri", "https://a.example/cb", "--scopes", "openid,admin"},
		{"client", "add", "--data", dir, "--name", "x"},
		{"client", "add", "--data", dir, "--name", "x", "--redirect-uri", "https://a.example/cb", "--id-token-alg", "HS256"},
		{"client", "add", "--data", dir, "--name", "x", "--redirect-uri", "https://a.example/cb", "--backchannel-logout-uri", "http://a.example/bcl"},
		{"client", "rotate-secret", "--data", dir, "nope"},
		{"client", "show", "--data", dir, "../etc"},
		{"client", "show", "--data", dir, "00000000000000000000000000"},
	} {
		if out, _, err := run(t, "", bad...); err == nil {
			t.Errorf("%v: accepted: %q", bad, out)
		}
	}
	out, _, err = run(t, "", "client", "rotate-secret", "--data", dir, id[1])
	again := regexp.MustCompile(`client_secret \(shown only this once\): (\S+)`).FindStringSubmatch(out)
	if err != nil || again == nil || again[1] == secret[1] {
		t.Fatalf("client rotate-secret: %q %v", out, err)
	}
	out, _, err = run(t, "", "client", "add", "--data", dir, "--name", "Logout", "--redirect-uri", "https://l.example/cb",
		"--post-logout-redirect-uri", "https://l.example/bye", "--backchannel-logout-uri", "https://l.example/bcl", "--id-token-alg", "RS256")
	lid := regexp.MustCompile(`client_id: (\S+)`).FindStringSubmatch(out)
	if err != nil || lid == nil {
		t.Fatalf("client add with logout URIs: %q %v", out, err)
	}
	out, _, err = run(t, "", "client", "show", "--data", dir, lid[1])
	if err != nil || !strings.Contains(out, "post_logout_redirect_uri: https://l.example/bye") ||
		!strings.Contains(out, "backchannel_logout_uri: https://l.example/bcl") || !strings.Contains(out, "id_token_signed_response_alg: RS256") {
		t.Fatalf("client show: %q %v", out, err)
	}
	if out, _, err = run(t, "", "client", "delete", "--data", dir, id[1]); err != nil || !strings.Contains(out, "deleted client") {
		t.Fatalf("client delete: %q %v", out, err)
	}
	if _, _, err = run(t, "", "client", "show", "--data", dir, id[1]); err == nil || !strings.Contains(err.Error(), "no client") {
		t.Fatalf("show after delete: %v", err)
	}
	if _, _, err = run(t, "", "client", "delete", "--data", dir, id[1]); err == nil {
		t.Fatal("second delete succeeded")
	}
}
