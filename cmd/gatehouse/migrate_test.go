package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// singleBinary is a single gatehouse on SQLite with credentials made on it, for a migration.
type singleBinary struct {
	dir string
	// live and dead credentials, as request headers, by name; refresh tokens apart.
	live, dead               map[string][]string
	liveRefresh, rotated     string
	revokedRefresh, bobAfter string
	// carol's authenticator-app key and recovery codes.
	carolSecret string
	carolCodes  []any
}

// newSingleBinary runs a single binary, makes users and credentials in both modes (some
// revoked: logged out, signed out everywhere, refresh tokens rotated), and stops it.
func newSingleBinary(t *testing.T) *singleBinary {
	t.Helper()
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", clusterAdminPassword)
	sb := &singleBinary{dir: t.TempDir(), live: map[string][]string{}, dead: map[string][]string{}}
	addr, stop := startServe(t, "--data", sb.dir, "--login-throttle=false")
	in := &instance{t: t, base: "http://" + addr}
	admin, _ := in.loginToken("admin", clusterAdminPassword)
	for _, u := range []string{"alice", "bob", "carol"} {
		in.createUser(admin, u, "user")
	}
	sb.live["alice session"] = cookieHdr(in.loginSession("alice", testUserPassword))
	loggedOut := cookieHdr(in.loginSession("alice", testUserPassword))
	expectStatus(t, "session logout", in.do("POST", "/api/logout", nil, loggedOut...), 204, "")
	sb.dead["alice logged-out session"] = loggedOut

	access1, refresh1 := in.loginToken("alice", testUserPassword)
	a := in.do("POST", "/api/token/refresh", map[string]string{"refresh_token": refresh1})
	expectStatus(t, "refresh", a, 200, "")
	sb.live["alice access token"], sb.live["alice refreshed access token"] = bearerHdr(access1), bearerHdr(a.str("access_token"))
	sb.liveRefresh, sb.rotated = a.str("refresh_token"), refresh1

	access3, refresh3 := in.loginToken("alice", testUserPassword)
	expectStatus(t, "token logout", in.do("POST", "/api/logout", nil, bearerHdr(access3)...), 204, "")
	sb.dead["alice logged-out access token"], sb.revokedRefresh = bearerHdr(access3), refresh3

	bobSession := cookieHdr(in.loginSession("bob", testUserPassword))
	bobAccess, _ := in.loginToken("bob", testUserPassword)
	expectStatus(t, "logout-all", in.do("POST", "/api/logout-all", nil, bearerHdr(bobAccess)...), 204, "")
	sb.dead["bob session before sign-out everywhere"], sb.dead["bob token before it"] = bobSession, bearerHdr(bobAccess)
	sb.live["bob session after it"] = cookieHdr(in.loginSession("bob", testUserPassword))

	carol, _ := in.loginToken("carol", testUserPassword)
	en := in.do("POST", "/api/me/mfa/totp", nil, bearerHdr(carol)...)
	expectStatus(t, "TOTP enrolment", en, 200, "")
	sb.carolSecret = en.str("secret")
	conf := in.do("POST", "/api/me/mfa/totp/confirm", map[string]string{"code": codeAt(t, sb.carolSecret, time.Now())}, bearerHdr(carol)...)
	expectStatus(t, "TOTP confirmation", conf, 200, "")
	sb.carolCodes, _ = conf.body["recovery_codes"].([]any)
	stop()
	return sb
}

// TestMigrateToCluster moves a single binary to PostgreSQL and Redis and runs two instances
// on them, one on the single binary's key file, the other on the keys the copy sealed into
// PostgreSQL: old session cookies, access tokens and refresh tokens work on both, revoked ones
// stay revoked, a rotated refresh token still trips reuse detection. The copy is run twice
// (idempotent) and resumed after a simulated interruption.
func TestMigrateToCluster(t *testing.T) {
	testkit.Slow(t, "runs a single binary and two instances on PostgreSQL and Redis")
	b := newBackends(t, testRedis)
	sb := newSingleBinary(t)
	b.keys = filepath.Join(sb.dir, "keys.json")
	kek := writeKEK(t)
	migrate := func(extra ...string) (string, error) {
		out, _, err := run(t, "", append([]string{"migrate", "--data", sb.dir, "--postgres-url", b.pgURL,
			"--redis-url", b.redisURL, "--redis-prefix", b.prefix, "--log-level", "warn",
			"--key-store", "postgres", "--key-encryption-key-file", kek}, extra...)...)
		return out, err
	}
	first, err := migrate()
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	t.Logf("%s", first)
	out, err := migrate()
	if err != nil || !strings.Contains(out, "users: 0 copied, 4 there already") {
		t.Fatalf("migrate again: %q %v", out, err)
	}
	interrupt(t, b)
	if out, err = migrate(); err != nil || !strings.Contains(out, "users: 1 copied, 3 there already") ||
		!strings.Contains(out, "refresh families: 1 copied") {
		t.Fatalf("resumed migrate: %q %v", out, err)
	}

	noFile := *b
	noFile.keys = ""
	ins := []*instance{startInstance(t, b), startInstance(t, &noFile, "--key-store", "postgres", "--key-encryption-key-file", kek)}
	for _, in := range ins {
		for name, hdr := range sb.live {
			expectStatus(t, name+" on "+in.base, in.do("GET", "/api/protected", nil, hdr...), 200, "")
		}
		for name, hdr := range sb.dead {
			expectStatus(t, name+" on "+in.base, in.do("GET", "/api/protected", nil, hdr...), 401, "")
		}
		in.loginToken("bob", testUserPassword)
	}
	// carol's authenticator app and recovery codes came along, on the instance whose factor
	// key is derived from the key-encryption key (the secret was sealed again for it): a code
	// of the next step passes (within the allowed skew, and after the step used at enrolment).
	p := ins[1].do("POST", "/api/login", map[string]string{"username": "carol", "password": testUserPassword, "mode": "token"})
	if p.status != 200 || p.body["mfa_required"] != true {
		t.Fatalf("carol after the copy: %d %s", p.status, p.raw)
	}
	r := ins[1].do("POST", "/api/login/mfa", map[string]string{"mfa_token": p.str("mfa_token"), "method": "totp",
		"code": codeAt(t, sb.carolSecret, time.Now().Add(30*time.Second))})
	expectStatus(t, "carol's TOTP code after the copy", r, 200, "")
	p = ins[1].do("POST", "/api/login", map[string]string{"username": "carol", "password": testUserPassword, "mode": "token"})
	r = ins[1].do("POST", "/api/login/mfa", map[string]string{"mfa_token": p.str("mfa_token"), "method": "recovery_code",
		"code": sb.carolCodes[0].(string)})
	expectStatus(t, "carol's recovery code after the copy", r, 200, "")
	if !strings.Contains(first, "second factors: 2 copied") {
		t.Fatalf("migrate said %q", first)
	}
	a := ins[0].do("POST", "/api/token/refresh", map[string]string{"refresh_token": sb.liveRefresh})
	expectStatus(t, "a migrated refresh token", a, 200, "")
	next := a.str("refresh_token")
	expectStatus(t, "a revoked refresh token", ins[1].do("POST", "/api/token/refresh", map[string]string{"refresh_token": sb.revokedRefresh}), 401, "")
	expectStatus(t, "a rotated refresh token (reuse)", ins[1].do("POST", "/api/token/refresh", map[string]string{"refresh_token": sb.rotated}), 401, "")
	expectStatus(t, "the family after reuse", ins[0].do("POST", "/api/token/refresh", map[string]string{"refresh_token": next}), 401, "")
	sessions := ins[1].do("GET", "/api/sessions", nil, sb.live["alice session"]...)
	expectStatus(t, "sessions", sessions, 200, "")
	admin, _ := ins[1].loginToken("admin", clusterAdminPassword)
	audit := ins[0].do("GET", "/api/admin/audit?action=data_migrated", nil, bearerHdr(admin)...)
	if audit.status != 200 || !strings.Contains(audit.raw, "data_migrated") {
		t.Fatalf("audit of the copy: %d %s", audit.status, audit.raw)
	}
}

// interrupt undoes part of a finished copy, as a crash in its middle would leave it.
func interrupt(t *testing.T, b *backends) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b.pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		`DELETE FROM users WHERE username = 'carol'`,
		`DELETE FROM refresh_families WHERE id = (SELECT max(id) FROM refresh_families)`,
		`UPDATE imports SET finished_at = NULL`,
	} {
		if tag, err := conn.Exec(ctx, q); err != nil || tag.RowsAffected() != 1 {
			t.Fatalf("%s: %v %v", q, tag, err)
		}
	}
}

// TestMigrateRefusesANonEmptyTarget: a cluster that has started (it created its first admin)
// is not a target, unless --force; even then two deployments' accounts are never merged.
func TestMigrateRefusesANonEmptyTarget(t *testing.T) {
	testkit.Slow(t, "runs a single binary and an instance on PostgreSQL and Redis")
	b := newBackends(t, testRedis)
	startInstance(t, b).stop()
	sb := newSingleBinary(t)
	args := []string{"migrate", "--data", sb.dir, "--postgres-url", b.pgURL, "--redis-url", b.redisURL, "--redis-prefix", b.prefix}
	if _, _, err := run(t, "", args...); err == nil || !strings.Contains(err.Error(), "not empty") || !strings.Contains(err.Error(), "1 rows in users") {
		t.Fatalf("migrate into a started cluster: %v", err)
	}
	if _, _, err := run(t, "", append(args, "--force")...); err == nil || !strings.Contains(err.Error(), `another account named "admin"`) {
		t.Fatalf("migrate --force over another admin: %v", err)
	}
	// A live source is refused too.
	_, stop := startServe(t, "--data", sb.dir)
	defer stop()
	if _, _, err := run(t, "", args...); err == nil || !strings.Contains(err.Error(), "server is running") {
		t.Fatalf("migrate from a running server: %v", err)
	}
}
