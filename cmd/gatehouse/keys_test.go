package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/spf13/pflag"
)

func TestKeyAndIntrospectionFlagsRefused(t *testing.T) {
	testkit.Slow(t, "runs third-party clients")
	dir := t.TempDir()
	for _, args := range [][]string{
		{"serve", "--data", dir, "--introspection-secret", "too short"},
		{"serve", "--data", dir, "--introspection-client-id", ""},
		{"serve", "--data", dir, "--key-rotation-interval", "10s"},
		{"serve", "--data", dir, "--key-rotation-interval", "-1h"},
		{"serve", "--data", dir, "--key-rotation-interval", "24h", "--signing-alg", "HS256", "--hmac-secret", strings.Repeat("k", 32)},
	} {
		if _, _, err := run(t, "", append(args, fastHash...)...); err == nil {
			t.Errorf("%v started", args)
		}
	}
}

// ageKeys moves the created_at of every key in the key file back by d, as if the file were
// that much older; the test never sleeps.
func ageKeys(t *testing.T, path string, d time.Duration) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	for _, k := range f["keys"].([]any) {
		m := k.(map[string]any)
		created, err := time.Parse(time.RFC3339, m["created_at"].(string))
		if err != nil {
			t.Fatal(err)
		}
		m["created_at"] = created.Add(-d).Format(time.RFC3339)
		if at, ok := m["activates_at"].(string); ok {
			activates, err := time.Parse(time.RFC3339, at)
			if err != nil {
				t.Fatal(err)
			}
			m["activates_at"] = activates.Add(-d).Format(time.RFC3339)
		}
	}
	raw, _ = json.Marshal(f)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestScheduledKeyRotationInTheServer: the wired server's maintenance tick rotates a key that is
// older than --key-rotation-interval, publishes the new key --key-publish-ahead (10 minutes by
// default) before it signs, and retires the replaced key once its tokens have expired.
func TestScheduledKeyRotationInTheServer(t *testing.T) {
	cfg := &config{}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfg.serveFlags(fs)
	if err := fs.Parse(append([]string{"--data", t.TempDir(), "--key-rotation-interval", "24h", "--access-ttl", "10m"}, fastHash...)); err != nil {
		t.Fatal(err)
	}
	if err := cfg.validateServe(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	a, err := buildApp(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	first := a.keys.SigningKID()
	a.sweep(context.Background())
	if a.keys.SigningKID() != first {
		t.Fatal("rotated a fresh key")
	}
	ageKeys(t, cfg.keysPath(), 24*time.Hour)
	a.sweep(context.Background())
	kids := a.keys.KIDs()
	if len(kids) != 2 || kids[0] != first || a.keys.SigningKID() != first || !strings.Contains(logs.String(), "signing key rotated") {
		t.Fatalf("after the interval: kids %v, signing %s; logs %s", kids, a.keys.SigningKID(), logs.String())
	}
	second := kids[1]
	if !strings.Contains(string(a.keys.JWKS()), second) {
		t.Fatal("the new key is not published ahead of signing")
	}
	ageKeys(t, cfg.keysPath(), 10*time.Minute-2*time.Second)
	a.sweep(context.Background())
	if a.keys.SigningKID() != first {
		t.Fatal("the new key signs before --key-publish-ahead has passed")
	}
	ageKeys(t, cfg.keysPath(), 3*time.Second) // activates_at is rounded up to the second
	a.sweep(context.Background())
	if a.keys.SigningKID() != second {
		t.Fatalf("signing %s after --key-publish-ahead, want %s", a.keys.SigningKID(), second)
	}
	// 10m TTL + 30s skew + 1m propagation after the new key began to sign: not yet at 11m,
	// retired at 12m.
	ageKeys(t, cfg.keysPath(), 11*time.Minute)
	a.sweep(context.Background())
	if !slices.Equal(a.keys.KIDs(), []string{first, second}) {
		t.Fatalf("retired too early: %v", a.keys.KIDs())
	}
	ageKeys(t, cfg.keysPath(), time.Minute)
	a.sweep(context.Background())
	if !slices.Equal(a.keys.KIDs(), []string{second}) || !strings.Contains(logs.String(), "signing keys retired") {
		t.Fatalf("after the grace: kids %v; logs %s", a.keys.KIDs(), logs.String())
	}
}
