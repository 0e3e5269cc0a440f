package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/token"
)

// writeKEK writes a new key-encryption key to a file of the test's own.
func writeKEK(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(path, []byte(token.NewKEK()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// storedKeys returns the sealed document of the signing keys in the backends' schema.
func storedKeys(t *testing.T, b *backends) []byte {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), b.pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var doc []byte
	if err := conn.QueryRow(context.Background(), `SELECT sealed FROM signing_keys`).Scan(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func jwksKIDs(t *testing.T, in *instance) []string {
	t.Helper()
	a := in.do("GET", "/.well-known/jwks.json", nil)
	var set struct{ Keys []struct{ KID string } }
	if err := json.Unmarshal([]byte(a.raw), &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KID)
	}
	return kids
}

// TestKeysInPostgres runs two instances that share no key file: their signing keys live in
// PostgreSQL, sealed. A token of one verifies on the other, a rotation reaches both,
// concurrent rotations from several processes are all kept, and a wrong or missing
// key-encryption key stops a start with a clear message and leaves the stored keys alone.
func TestKeysInPostgres(t *testing.T) {
	testkit.Slow(t, "runs instances on PostgreSQL and Redis")
	b := newBackends(t, testRedis)
	b.keys = ""
	kek := writeKEK(t)
	keyFlags := []string{"--key-store", "postgres", "--key-encryption-key-file", kek}
	in1 := startInstance(t, b, keyFlags...)
	in2 := startInstance(t, b, keyFlags...)
	access, _ := in1.loginToken("admin", clusterAdminPassword)
	expectStatus(t, "a token of one instance on the other", in2.do("GET", "/api/protected", nil, bearerHdr(access)...), 200, "")
	kids := jwksKIDs(t, in1)
	if len(kids) != 1 || fmt.Sprint(jwksKIDs(t, in2)) != fmt.Sprint(kids) {
		t.Fatalf("JWKS: %v and %v", kids, jwksKIDs(t, in2))
	}
	sealed := storedKeys(t, b)
	if bytes.Contains(sealed, []byte(kids[0])) || bytes.Contains(sealed, []byte(`"key"`)) {
		t.Fatal("the keys are stored in clear")
	}

	// Rotations from four processes at once: every one of them is kept.
	rotate := []string{"keys", "rotate", "--postgres-url", b.pgURL, "--key-publish-ahead", "0", "--data", t.TempDir()}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out, errb bytes.Buffer
			cmd := newRootCmd(strings.NewReader(""), &out, &errb)
			cmd.SetArgs(append(rotate, keyFlags...))
			errs <- cmd.ExecuteContext(context.Background())
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("keys rotate: %v", err)
		}
	}
	// Every instance re-reads the keys on its maintenance tick (10 seconds).
	testkit.Eventually(t, 30*time.Second, "both instances publish the five keys", func() bool {
		return len(jwksKIDs(t, in1)) == 5 && len(jwksKIDs(t, in2)) == 5
	})
	fresh, _ := in2.loginToken("admin", clusterAdminPassword)
	expectStatus(t, "a token of the new key", in1.do("GET", "/api/protected", nil, bearerHdr(fresh)...), 200, "")
	expectStatus(t, "a token of the old key", in1.do("GET", "/api/protected", nil, bearerHdr(access)...), 200, "")

	before := storedKeys(t, b)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--key-store", "postgres", "--key-encryption-key-file", writeKEK(t)}, "key-encryption key does not open"},
		{[]string{"--key-store", "postgres"}, "needs a key-encryption key"},
		{[]string{"--key-store", "postgres", "--key-encryption-key", "too short"}, "32 random bytes"},
		{[]string{"--key-store", "postgres", "--key-encryption-key-file", kek, "--keys-file", "k.json"}, "--keys-file is for --key-store file"},
	} {
		err := runServe(t, append([]string{"--data", t.TempDir(), "--user-store", "postgres", "--postgres-url", b.pgURL,
			"--session-store", "redis", "--redis-url", b.redisURL, "--redis-prefix", b.prefix}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("serve %v: %v; want an error saying %q", tc.args, err, tc.want)
		}
	}
	if !bytes.Equal(before, storedKeys(t, b)) {
		t.Fatal("a refused start changed the stored keys")
	}

	// A new key-encryption key: the keys are sealed again, the old key no longer opens them,
	// an instance started with the new one has the same keys.
	newKEK := writeKEK(t)
	if _, _, err := run(t, "", "keys", "rewrap", "--postgres-url", b.pgURL, "--key-encryption-key-file", kek, "--new-key-encryption-key-file", newKEK); err != nil {
		t.Fatalf("keys rewrap: %v", err)
	}
	if err := runServe(t, "--data", t.TempDir(), "--user-store", "postgres", "--postgres-url", b.pgURL, "--session-store", "redis",
		"--redis-url", b.redisURL, "--redis-prefix", b.prefix, "--key-store", "postgres", "--key-encryption-key-file", kek); err == nil || !strings.Contains(err.Error(), "does not open") {
		t.Fatalf("a start with the old key-encryption key after rewrap: %v", err)
	}
	in3 := startInstance(t, b, "--key-store", "postgres", "--key-encryption-key-file", newKEK)
	if fmt.Sprint(jwksKIDs(t, in3)) != fmt.Sprint(jwksKIDs(t, in1)) {
		t.Fatalf("keys after rewrap: %v, before %v", jwksKIDs(t, in3), jwksKIDs(t, in1))
	}
	expectStatus(t, "a token after rewrap", in3.do("GET", "/api/protected", nil, bearerHdr(fresh)...), 200, "")
}
