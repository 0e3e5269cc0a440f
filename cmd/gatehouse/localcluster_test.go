package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// localClusterScript runs deploy/local-cluster.sh with args and returns its output and error.
func localClusterScript(args ...string) (string, error) {
	out, err := exec.Command("bash", append([]string{"../../deploy/local-cluster.sh"}, args...)...).CombinedOutput()
	return string(out), err
}

// TestLocalClusterRefusesTakenPort: start refuses when a port it needs is taken, before it
// starts anything.
func TestLocalClusterRefusesTakenPort(t *testing.T) {
	testkit.Slow(t, "runs deploy/local-cluster.sh")
	if _, err := exec.LookPath("nginx"); err != nil {
		skipOrFail(t, "nginx (apt-get install nginx)", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	out, err := localClusterScript("start", "--dir", dir, "--instances", "2", "--port", strconv.Itoa(taken),
		"--base-port", strconv.Itoa(freeRange(t, 3)), "--binary", "/bin/false")
	if err == nil || !strings.Contains(out, "port "+strconv.Itoa(taken)+" on 127.0.0.1 is taken") {
		t.Fatalf("start on a taken port: %v\n%s", err, out)
	}
	if pids, _ := filepath.Glob(filepath.Join(dir, "*.pid")); len(pids) > 0 {
		t.Fatalf("a refused start left pid files: %v", pids)
	}
}

// TestLocalClusterFailsWhenAnInstanceDies: an instance that exits while starting fails start,
// with the end of its log.
func TestLocalClusterFailsWhenAnInstanceDies(t *testing.T) {
	testkit.Slow(t, "runs deploy/local-cluster.sh with nginx")
	if _, err := exec.LookPath("nginx"); err != nil {
		skipOrFail(t, "nginx (apt-get install nginx)", err)
	}
	dir := t.TempDir()
	dying := filepath.Join(t.TempDir(), "gatehouse")
	if err := os.WriteFile(dying, []byte("#!/bin/sh\necho 'cannot start: a test stand-in that exits'\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	base := freeRange(t, 2)
	out, err := localClusterScript("start", "--dir", dir, "--instances", "1", "--port", strconv.Itoa(base),
		"--base-port", strconv.Itoa(base), "--binary", dying, "--postgres-url", testPostgres)
	if err == nil || !strings.Contains(out, "instance-1 (pid") || !strings.Contains(out, "died while starting") ||
		!strings.Contains(out, "a test stand-in that exits") {
		t.Fatalf("start with a dying instance: %v\n%s", err, out)
	}
}

// TestLocalClusterStatusOwnProcessesOnly: a pid file naming a live process that the script did
// not start (here: this test) reads "down", and status fails.
func TestLocalClusterStatusOwnProcessesOnly(t *testing.T) {
	dir := t.TempDir()
	if out, err := localClusterScript("status", "--dir", dir); err == nil || !strings.Contains(out, "no cluster") {
		t.Fatalf("status of an empty directory: %v %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "instance-1.pid"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := localClusterScript("status", "--dir", dir)
	if err == nil || !strings.Contains(out, "instance-1: down") {
		t.Fatalf("status with another program's pid: %v %s", err, out)
	}
	if out, err := localClusterScript("stop", "--dir", dir); err != nil {
		t.Fatalf("stop: %v %s", err, out) // and this test is still alive: stop kills only its own
	}
}
