package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestStoreSupported(t *testing.T) {
	for store, want := range map[string]bool{"sqlite": true, "memory": true, "carrier-pigeon": false, "": false} {
		if got := storeSupported(store); got != want {
			t.Errorf("storeSupported(%q) = %v, want %v", store, got, want)
		}
	}
}

// TestSeedSQLite writes sessions into a stopped server's database and checks that the server,
// started again, accepts every one of them.
func TestSeedSQLite(t *testing.T) {
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	dir := t.TempDir()
	_, stop := startServe(t, "--data", dir)
	stop()
	secrets, err := seedSQLite(context.Background(), dir, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(secrets) != 20 {
		t.Fatalf("%d secrets", len(secrets))
	}
	addr, _ := startServe(t, "--data", dir)
	for _, s := range secrets {
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/protected", nil)
		req.Header.Set("Cookie", "gatehouse_session="+s)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("a seeded session got %d", resp.StatusCode)
		}
	}
	if _, err := seedSQLite(context.Background(), t.TempDir(), 1); err == nil {
		t.Fatal("seeding a database without the admin user worked")
	}
}

func TestBenchRefusesBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "floor", "--addr", "0.0.0.0:0"},
		{"bench", "floor", "--addr", "example.com:80"},
		{"bench", "--modes", "session-carrier-pigeon", "--out", t.TempDir()},
		{"bench", "--peer", "maybe", "--out", t.TempDir()},
	} {
		if _, _, err := run(t, "", args...); err == nil {
			t.Errorf("%v ran", args)
		} else if !strings.Contains(err.Error(), "loopback") && !strings.Contains(err.Error(), "unknown mode") && !strings.Contains(err.Error(), "auto or off") {
			t.Errorf("%v: %v", args, err)
		}
	}
}
