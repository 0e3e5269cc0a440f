package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnit checks deploy/systemd/gatehouse.service with systemd's own tools, offline
// (no systemd needs to run): "systemd-analyze verify" must accept it without a single warning,
// and "systemd-analyze security" must rate its exposure at most 2.0 (of 10; "OK"). The
// hardening this test insists on is listed in docs/operations.md.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		skipOrFail(t, "systemd-analyze (apt-get install systemd)", err)
	}
	raw, err := os.ReadFile("../../deploy/systemd/gatehouse.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(raw)
	for _, want := range []string{
		"\nUser=gatehouse\n", "\nStateDirectory=gatehouse\n", "\nStateDirectoryMode=0700\n", "\nNoNewPrivileges=yes\n",
		"\nProtectSystem=strict\n", "\nProtectHome=yes\n", "\nPrivateTmp=yes\n", "\nPrivateDevices=yes\n",
		"\nCapabilityBoundingSet=\n", "\nRestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX\n",
		"\nSystemCallFilter=@system-service\n", "\nMemoryDenyWriteExecute=yes\n", "\nUMask=0077\n",
		"\nExecStart=/usr/local/bin/gatehouse serve\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit lacks %q", strings.TrimSpace(want))
		}
	}
	// verify checks that ExecStart is executable: point it at this test binary.
	self, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "gatehouse.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/gatehouse", self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command(analyze, "security", "--offline=true", "--threshold=20", path).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security rates the unit above 2.0: %v\n%s", err, out)
	}
	checkUnitEnvironment(t, unit)
}

// checkUnitEnvironment checks that the unit's Environment= names flags serve has.
func checkUnitEnvironment(t *testing.T, unit string) {
	t.Helper()
	serveFlags := newServeCmd().Flags()
	for _, line := range strings.Split(unit, "\n") {
		rest, ok := strings.CutPrefix(line, "Environment=")
		if !ok {
			continue
		}
		for _, kv := range strings.Fields(rest) {
			name, _, _ := strings.Cut(kv, "=")
			flag := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, "GATEHOUSE_"), "_", "-"))
			if serveFlags.Lookup(flag) == nil {
				t.Errorf("the unit sets %s, which is no flag of serve", name)
			}
		}
	}
}
