package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
)

// userCmd runs "gatehouse user ARGS" on the data directory dir with a fast hash.
func userCmd(t *testing.T, dir, stdin string, args ...string) (string, error) {
	t.Helper()
	out, _, err := run(t, stdin, append(append([]string{"user"}, args...), append([]string{"--data", dir}, fastHash...)...)...)
	return out, err
}

// showUser returns what "user show" prints for who.
func showUser(t *testing.T, dir, who string) map[string]any {
	t.Helper()
	out, err := userCmd(t, dir, "", "show", who)
	if err != nil {
		t.Fatalf("user show %s: %v", who, err)
	}
	var u map[string]any
	if err := json.Unmarshal([]byte(out), &u); err != nil {
		t.Fatalf("user show %s: %q", who, out)
	}
	return u
}

// TestUserCommands runs every sub-command on a SQLite data directory and checks what each one
// stored, what it refuses, and that a refused command changes nothing.
func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	for _, u := range []string{"root", "carol", "dave"} {
		role := "user"
		if u == "root" {
			role = "admin"
		}
		if _, err := userCmd(t, dir, "a long enough password\n", "add", "--username", u, "--role", role, "--password-stdin", "--email", u+"@example.test"); err != nil {
			t.Fatal(err)
		}
	}
	carolID := showUser(t, dir, "carol")["id"].(string)

	t.Run("list", func(t *testing.T) {
		out, err := userCmd(t, dir, "", "list")
		if err != nil || strings.Count(out, "\n") != 4 || !strings.Contains(out, "carol@example.test (unverified)") {
			t.Fatalf("list: %q %v", out, err)
		}
		out, err = userCmd(t, dir, "", "list", "--query", "CAR", "--json")
		if err != nil || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"username":"carol"`) || strings.Contains(out, "argon2") {
			t.Fatalf("list --query: %q %v", out, err)
		}
	})
	t.Run("show", func(t *testing.T) {
		if u := showUser(t, dir, carolID); u["username"] != "carol" { // by id too
			t.Fatalf("show by id: %v", u)
		}
		if _, err := userCmd(t, dir, "", "show", "nobody"); err == nil || !strings.Contains(err.Error(), `no user "nobody"`) {
			t.Fatalf("show of an unknown user: %v", err)
		}
	})
	t.Run("passwd", func(t *testing.T) {
		if _, err := userCmd(t, dir, "", "passwd", "carol"); err == nil || !strings.Contains(err.Error(), "not a terminal") {
			t.Fatalf("passwd without a source: %v", err)
		}
		if _, err := userCmd(t, dir, "short\n", "passwd", "carol", "--password-stdin"); err == nil || !strings.Contains(err.Error(), "password") {
			t.Fatalf("passwd with a weak password: %v", err)
		}
		file := filepath.Join(t.TempDir(), "pw")
		os.WriteFile(file, []byte("carol's new long password\n"), 0o600)
		if out, err := userCmd(t, dir, "", "passwd", "carol", "--password-file", file); err != nil || !strings.Contains(out, "every session and token") {
			t.Fatalf("passwd --password-file: %q %v", out, err)
		}
		out, err := userCmd(t, dir, "", "passwd", "carol", "--generate-password")
		if err != nil || !strings.Contains(out, "shown only this once): ") {
			t.Fatalf("passwd --generate-password: %q %v", out, err)
		}
		if _, err := userCmd(t, dir, "x\n", "passwd", "carol", "--password-stdin", "--generate-password"); err == nil {
			t.Fatal("two password sources accepted")
		}
		// No flag takes the password itself.
		if _, err := userCmd(t, dir, "", "passwd", "carol", "--password", "on the command line"); err == nil {
			t.Fatal("a password on the command line was accepted")
		}
	})
	t.Run("disable and enable", func(t *testing.T) {
		if _, err := userCmd(t, dir, "", "disable", "carol"); err != nil {
			t.Fatal(err)
		}
		if u := showUser(t, dir, "carol"); u["disabled"] != true {
			t.Fatalf("after disable: %v", u)
		}
		if _, err := userCmd(t, dir, "", "enable", "carol"); err != nil {
			t.Fatal(err)
		}
		if u := showUser(t, dir, "carol"); u["disabled"] != false {
			t.Fatalf("after enable: %v", u)
		}
	})
	t.Run("set-role and the last admin", func(t *testing.T) {
		if _, err := userCmd(t, dir, "", "set-role", "carol", "superuser"); err == nil || !strings.Contains(err.Error(), "role") {
			t.Fatalf("set-role to an unknown role: %v", err)
		}
		for _, args := range [][]string{{"disable", "root"}, {"set-role", "root", "user"}, {"delete", "root"}} {
			if _, err := userCmd(t, dir, "", args...); err == nil || !strings.Contains(err.Error(), "last enabled admin") {
				t.Fatalf("%v of the last admin: %v", args, err)
			}
		}
		if u := showUser(t, dir, "root"); u["role"] != "admin" || u["disabled"] != false {
			t.Fatalf("a refused change changed root: %v", u)
		}
		if _, err := userCmd(t, dir, "", "set-role", "carol", "admin"); err != nil {
			t.Fatal(err)
		}
		if _, err := userCmd(t, dir, "", "set-role", "root", "user"); err != nil { // carol is an admin now
			t.Fatalf("demotion with another admin left: %v", err)
		}
		if u := showUser(t, dir, "root"); u["role"] != "user" {
			t.Fatalf("after set-role: %v", u)
		}
	})
	t.Run("groups", func(t *testing.T) {
		steps := []struct {
			args []string
			want string
		}{
			{[]string{"--set", "finance,ops"}, "finance,ops"},
			{[]string{"--add", "audit", "--remove", "ops"}, "audit,finance"},
			{[]string{}, "audit,finance"},
			{[]string{"--clear"}, ""},
		}
		for _, s := range steps {
			out, err := userCmd(t, dir, "", append([]string{"groups", "dave"}, s.args...)...)
			if err != nil || !strings.HasSuffix(strings.TrimSpace(out), s.want) {
				t.Fatalf("groups %v: %q %v; want %q", s.args, out, err, s.want)
			}
		}
		if _, err := userCmd(t, dir, "", "groups", "dave", "--add", "Bad Group"); err == nil {
			t.Fatal("a bad group name was accepted")
		}
		if _, err := userCmd(t, dir, "", "groups", "dave", "--set", "a", "--add", "b"); err == nil {
			t.Fatal("--set with --add was accepted")
		}
	})
	t.Run("delete", func(t *testing.T) {
		if out, err := userCmd(t, dir, "", "delete", "dave"); err != nil || !strings.Contains(out, "deleted") {
			t.Fatalf("delete: %q %v", out, err)
		}
		if _, err := userCmd(t, dir, "", "show", "dave"); err == nil {
			t.Fatal("dave is still there")
		}
		if _, err := userCmd(t, dir, "", "delete", "dave"); err == nil {
			t.Fatal("deleting a deleted user succeeded")
		}
	})
}

// TestUserCommandsRefuseALiveDataDirectory: while a server runs on a SQLite data directory,
// the commands that change users refuse (its revocation view lives in its process and would
// not see the change) and change nothing, the reading ones work; once it is stopped, the
// change is made and the next server rejects the user's old session at once.
func TestUserCommandsRefuseALiveDataDirectory(t *testing.T) {
	const adminPW = "the first admin password"
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", adminPW)
	dir := t.TempDir()
	addr, stop := startServe(t, "--data", dir)
	in := &instance{t: t, base: "http://" + addr}
	cookie := in.loginSession("admin", adminPW)
	for _, args := range [][]string{{"disable", "admin", "--force"}, {"passwd", "admin", "--generate-password"}, {"set-role", "admin", "user", "--force"}, {"groups", "admin", "--add", "x"}, {"delete", "admin", "--force"}, {"enable", "admin"}} {
		_, err := userCmd(t, dir, "", args...)
		if !errors.Is(err, errDataDirInUse) && (err == nil || !strings.Contains(err.Error(), "server is running")) {
			t.Fatalf("%v on a live data directory: %v", args, err)
		}
	}
	if out, err := userCmd(t, dir, "", "list"); err != nil || !strings.Contains(out, "admin") {
		t.Fatalf("list on a live data directory: %q %v", out, err)
	}
	expectStatus(t, "session after the refused commands", in.do("GET", "/api/protected", nil, cookieHdr(cookie)...), 200, "")
	stop()
	if _, err := userCmd(t, dir, "", "disable", "admin", "--force"); err != nil {
		t.Fatal(err)
	}
	addr, _ = startServe(t, "--data", dir)
	in.base = "http://" + addr
	expectStatus(t, "session of the disabled admin", in.do("GET", "/api/protected", nil, cookieHdr(cookie)...), 401, "")
}

// TestUserCommandsOnACluster: on the cluster configuration the commands run beside two
// instances, and the moment one returns, both instances reject the session and the access
// token of the user it disabled, re-passworded, demoted, regrouped or deleted, although each
// had just accepted them from its client-side cache; enabling lets the user in again.
func TestUserCommandsOnACluster(t *testing.T) {
	b := newBackends(t, testRedis)
	args := append(append([]string{}, noThrottle...), revocationLease...)
	a, other := startInstance(t, b, args...), startInstance(t, b, args...)
	adminTok, _ := a.loginToken("admin", clusterAdminPassword)
	stores := append([]string{"--data", t.TempDir(), "--user-store", "postgres", "--postgres-url", b.pgURL,
		"--session-store", "redis", "--redis-url", b.redisURL, "--redis-prefix", b.prefix, "--redis-cache-lease", "500ms"}, fastHash...)
	cli := func(args ...string) (string, error) {
		out, _, err := run(t, "", append(append([]string{"user"}, args...), stores...)...)
		return out, err
	}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"disable", []string{"disable"}},
		{"passwd", []string{"passwd", "--generate-password"}},
		{"set-role", []string{"set-role", "user"}},
		{"groups", []string{"groups", "--set", "finance"}},
		{"delete", []string{"delete"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := "cli-" + c.name
			role := "user"
			if c.name == "set-role" {
				role = "admin"
			}
			a.createUser(adminTok, name, gatehouse.Role(role))
			cookie := a.loginSession(name, testUserPassword)
			tok, _ := other.loginToken(name, testUserPassword)
			for _, in := range []*instance{a, other} {
				for range 2 {
					expectStatus(t, "session before", in.do("GET", "/api/protected", nil, cookieHdr(cookie)...), 200, "")
					expectStatus(t, "token before", in.do("GET", "/api/protected", nil, bearerHdr(tok)...), 200, "")
				}
			}
			cmdArgs := append([]string{c.args[0], name}, c.args[1:]...)
			if out, err := cli(cmdArgs...); err != nil {
				t.Fatalf("user %v: %q %v", cmdArgs, out, err)
			}
			for _, in := range []*instance{a, other} {
				expectStatus(t, "session after user "+c.name, in.do("GET", "/api/protected", nil, cookieHdr(cookie)...), 401, "")
				expectStatus(t, "token after user "+c.name, in.do("GET", "/api/protected", nil, bearerHdr(tok)...), 401, "")
			}
		})
	}
	// enable: the disabled user signs in again on either instance.
	if _, err := cli("enable", "cli-disable"); err != nil {
		t.Fatal(err)
	}
	other.loginSession("cli-disable", testUserPassword)
	// The commands are in the audit trail, as the admin API's changes are.
	r := a.do("GET", "/api/admin/audit?action=user_disabled", nil, bearerHdr(adminTok)...)
	if r.status != 200 || !strings.Contains(r.raw, "gatehouse command line") {
		t.Fatalf("audit trail: %d %s", r.status, r.raw)
	}
}
