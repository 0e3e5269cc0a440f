package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// caddyBinary returns Caddy built from its Go module by scripts/build-caddy.sh: built once per
// machine and version into the temporary directory, and reused by every later test and run
// (.ci/run builds it before the tests).
func caddyBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GATEHOUSE_CADDY"); p != "" {
		return p
	}
	out, err := exec.Command("bash", "../../scripts/build-caddy.sh").Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok {
			msg += ": " + string(ee.Stderr)
		}
		skipOrFail(t, "Caddy (scripts/build-caddy.sh builds it from its Go module)", &buildError{msg})
	}
	return strings.TrimSpace(string(out))
}

type buildError struct{ msg string }

func (e *buildError) Error() string { return e.msg }

// startCaddy runs Caddy with the shipped Caddyfile in front of p's app and gatehouse.
func startCaddy(t *testing.T, p *proxied) {
	t.Helper()
	bin := caddyBinary(t)
	dir := t.TempDir()
	// Global options for a test: no admin endpoint (tests run side by side), nothing kept.
	conf := "{\n\tadmin off\n\tpersist_config off\n}\n\n" + snippet(t, "Caddyfile", p)
	file := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	log := filepath.Join(dir, "caddy.log")
	startProcess(t, log, bin, "run", "--config", file, "--adapter", "caddyfile")
	waitListening(t, p.port, "caddy", log)
}

// TestCaddyForwardAuth: Caddy's forward_auth, configured by the shipped Caddyfile.
func TestCaddyForwardAuth(t *testing.T) {
	testkit.Slow(t, "runs Caddy (built once from its Go module) and gatehouse")
	p := &proxied{t: t, port: freeRange(t, 0), app: startEchoApp(t)}
	p.gatehouse = startProxiedGatehouse(t, p.port)
	startCaddy(t, p)
	exerciseProxy(t, p)
}
