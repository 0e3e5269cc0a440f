package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestRefreshReuseGraceRefused: a grace outside 0..1m refuses to start, naming the flag.
func TestRefreshReuseGraceRefused(t *testing.T) {
	dir := t.TempDir()
	for _, grace := range []string{"61s", "1h", "-1s"} {
		_, _, err := run(t, "", append([]string{"serve", "--data", dir, "--refresh-reuse-grace", grace}, fastHash...)...)
		if err == nil || !strings.Contains(err.Error(), "--refresh-reuse-grace") {
			t.Errorf("--refresh-reuse-grace %s: %v; want a startup error naming the flag", grace, err)
		}
	}
}

// TestRefreshReuseGraceWired: the served configuration honours the flag: with it, a replay of
// the token just rotated gets the same pair; without it (the default), the replay revokes the
// family.
func TestRefreshReuseGraceWired(t *testing.T) {
	const pw = "the first admin password"
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", pw)
	for _, c := range []struct {
		args       []string
		replayCode int
	}{
		{[]string{"--refresh-reuse-grace", "1m"}, 200},
		{nil, 401},
	} {
		addr, _ := startServe(t, c.args...)
		base := "http://" + addr
		code, login, err := postJSON(http.DefaultClient, base+"/api/login", map[string]string{"username": "admin", "password": pw, "mode": "token"})
		if err != nil || code != 200 {
			t.Fatalf("%v: login: %d %v", c.args, code, err)
		}
		refresh := map[string]string{"refresh_token": login["refresh_token"].(string)}
		code, first, err := postJSON(http.DefaultClient, base+"/api/token/refresh", refresh)
		if err != nil || code != 200 {
			t.Fatalf("%v: refresh: %d %v", c.args, code, err)
		}
		code, again, err := postJSON(http.DefaultClient, base+"/api/token/refresh", refresh)
		if err != nil || code != c.replayCode {
			t.Fatalf("%v: replay: %d %v; want %d", c.args, code, err, c.replayCode)
		}
		if code == 200 && (again["refresh_token"] != first["refresh_token"] || again["access_token"] != first["access_token"]) {
			t.Fatalf("%v: the replay got another pair", c.args)
		}
	}
}
