package main

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// auditPages pages through GET /api/admin/audit on in, limit events a page, and returns every
// event, newest first.
func auditPages(t *testing.T, in *instance, token string, limit int) []map[string]any {
	t.Helper()
	var all []map[string]any
	after := ""
	for page := 0; page < 100; page++ {
		q := url.Values{"limit": {strconv.Itoa(limit)}}
		if after != "" {
			q.Set("after", after)
		}
		a := in.do("GET", "/api/admin/audit?"+q.Encode(), nil, bearerHdr(token)...)
		expectStatus(t, "audit page", a, 200, "")
		events, _ := a.body["events"].([]any)
		if len(events) > limit {
			t.Fatalf("a page of %d events, limit %d", len(events), limit)
		}
		for _, e := range events {
			all = append(all, e.(map[string]any))
		}
		if after = a.str("next"); after == "" {
			return all
		}
	}
	t.Fatal("the audit trail does not end")
	return nil
}

// TestClusterAuditInPostgres: with --user-store postgres the audit trail is stored in
// PostgreSQL, shared by the instances: events recorded by two instances and by "gatehouse user
// add" page through GET /api/admin/audit on either. A failing audit write (the table locked past
// --postgres-timeout) does not fail the login it records, as with SQLite: the event is in the
// log, and the write fails after the bounded wait.
func TestClusterAuditInPostgres(t *testing.T) {
	testkit.Slow(t, "starts a cluster of instances on Redis and PostgreSQL")
	b := newBackends(t, testRedis)
	one := startInstance(t, b, "--postgres-timeout", "1s")
	two := startInstance(t, b, "--postgres-timeout", "1s")
	if _, _, err := run(t, "", append([]string{"user", "add", "--user-store", "postgres", "--postgres-url", b.pgURL,
		"--data", t.TempDir(), "--username", "cli-made"}, fastHash...)...); err != nil {
		t.Fatal(err)
	}
	tok, _ := one.loginToken("admin", clusterAdminPassword)
	expectStatus(t, "wrong password", two.do("POST", "/api/login", map[string]string{"username": "admin", "password": "not the admin password"}), 401, gatehouse.EINVALIDCREDENTIALS)

	events := auditPages(t, two, tok, 2)
	seen := map[string]bool{}
	for _, e := range events {
		detail, _ := e["detail"].(string)
		switch action, _ := e["action"].(string); {
		case action == "user_created" && strings.Contains(detail, "first admin"):
			seen["first admin"] = true
		case action == "user_created" && strings.Contains(detail, "gatehouse user add"):
			seen["user add"] = true
		case action == "login":
			seen["login "+e["outcome"].(string)] = true
		}
	}
	for _, want := range []string{"first admin", "user add", "login success", "login failure"} {
		if !seen[want] {
			t.Fatalf("no %q event among %v", want, events)
		}
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, b.pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var rows int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM audit_events").Scan(&rows); err != nil || rows != len(events) {
		t.Fatalf("audit_events holds %d rows (%v); the API paged through %d", rows, err, len(events))
	}

	// Lock the table: the audit write of the next login waits --postgres-timeout, then fails.
	tx, err := admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	a := one.do("POST", "/api/login", map[string]string{"username": "admin", "password": clusterAdminPassword})
	// The instance gave up on the write, but PostgreSQL learns of it through a cancel request
	// on another connection: releasing the lock before the cancel lands would let the insert
	// through after all. Hold the lock until no query of the instances waits for it.
	testkit.Eventually(t, 10*time.Second, "the timed-out audit insert is cancelled", func() bool {
		var waiting int
		err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock'`, b.schema).Scan(&waiting)
		return err == nil && waiting == 0
	})
	tx.Rollback(ctx)
	expectStatus(t, "login while the audit table is locked", a, 200, "")
	if a.took > 10*time.Second {
		t.Fatalf("the login took %v: the audit write is not bounded", a.took)
	}
	if logs := one.logText(); !strings.Contains(logs, "audit: storing an event failed") {
		t.Fatalf("the failed audit write is not logged:\n%s", logs)
	}
	t.Logf("login with the audit table locked answered in %v", a.took.Round(time.Millisecond))
	one.loginToken("admin", clusterAdminPassword)
	if n := len(auditPages(t, one, tok, 2)); n != rows+1 {
		t.Fatalf("%d events after the lock, want %d (the locked one lost, the next stored)", n, rows+1)
	}
}
