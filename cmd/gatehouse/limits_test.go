package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestAuditOfTheWiredServer: the first admin's creation, logins and a key rotation done by
// another process all reach the audit trail of the real server.
func TestAuditOfTheWiredServer(t *testing.T) {
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	dir := t.TempDir()
	addr, stop := startServe(t, "--data", dir)
	base := "http://" + addr
	if _, _, err := run(t, "", "keys", "rotate", "--data", dir); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "", append([]string{"user", "add", "--data", dir, "--username", "cli-made"}, fastHash...)...); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/api/login", "application/json", strings.NewReader(`{"username":"admin","password":"the first admin password"}`))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	req, _ := http.NewRequest("GET", base+"/api/admin/audit", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Events []struct {
			Action, Outcome, Detail string
			UserID                  string `json:"user_id"`
		}
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	seen := map[string]bool{}
	for _, e := range body.Events {
		seen[e.Action] = true
		if e.Action == "user_created" && (e.UserID == "" || !strings.Contains(e.Detail, "first admin") && !strings.Contains(e.Detail, "gatehouse user add")) {
			t.Fatalf("user creation event: %+v", e)
		}
		if strings.Contains(e.Detail, "gatehouse user add") {
			seen["cli"] = true
		}
	}
	for _, a := range []string{"user_created", "key_rotated", "login", "cli"} {
		if !seen[a] {
			t.Fatalf("no %s event in %+v", a, body.Events)
		}
	}
	if logs := stop(); strings.Contains(logs, "the first admin password") || strings.Contains(logs, tok.Token) {
		t.Fatal("a secret reached the logs")
	}
}

func TestLimitFlagsValidated(t *testing.T) {
	for _, args := range [][]string{
		{"--trusted-proxies", "10.0.0.0/40"},
		{"--trusted-proxies", "not-an-address"},
		{"--throttle-max-keys", "0"},
		{"--audit-retention", "0s"},
	} {
		_, _, err := run(t, "", append([]string{"serve", "--data", t.TempDir()}, args...)...)
		if err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: error %v does not name the flag", args, err)
		}
	}
}
