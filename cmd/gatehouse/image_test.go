package main

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// imageConfig is the part of "podman image inspect" that the test checks.
type imageConfig struct {
	Config struct {
		User       string
		Env        []string
		Entrypoint []string
		Cmd        []string
		Volumes    map[string]struct{}
	}
	Healthcheck struct{ Test []string }
}

// TestContainerImage builds the image with deploy/container/build.sh and podman, then checks
// what it holds from the outside: containers cannot run on the machines this runs on, so the
// binary inside the image is started here, directly, and probed with its own health check.
func TestContainerImage(t *testing.T) {
	testkit.Slow(t, "builds a container image with podman")
	if _, err := exec.LookPath("podman"); err != nil {
		skipOrFail(t, "podman (apt-get install podman)", err)
	}
	bin := buildStatic(t)
	tag := "localhost/gatehouse-test:" + gatehouse.NewID(time.Now())
	if out, err := exec.Command("bash", "../../deploy/container/build.sh", "--binary", bin, "--tag", tag).CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("podman", "rmi", "--force", tag).Run() })

	cfg := inspectImage(t, tag)
	if cfg.Config.User != "65532:65532" || !slices.Equal(cfg.Config.Entrypoint, []string{"/gatehouse"}) ||
		!slices.Equal(cfg.Config.Cmd, []string{"serve"}) || !slices.Equal(cfg.Healthcheck.Test, []string{"CMD", "/gatehouse", "healthcheck"}) {
		t.Errorf("image config: %+v", cfg)
	}
	if _, ok := cfg.Config.Volumes["/data"]; !ok || !slices.Contains(cfg.Config.Env, "GATEHOUSE_DATA=/data") {
		t.Errorf("no data volume: %+v", cfg.Config)
	}

	root := mountImage(t, tag)
	inImage := filepath.Join(root, "gatehouse")
	want, _ := os.ReadFile(bin)
	if got, err := os.ReadFile(inImage); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("/gatehouse in the image is not the binary built (%v)", err)
	}
	checkOwnedDir(t, filepath.Join(root, "data"), 65532, 0o700)
	if passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd")); !strings.Contains(string(passwd), "gatehouse:x:65532:65532:") {
		t.Errorf("/etc/passwd: %q", passwd)
	}

	// The binary of the image, run here as the container would run it.
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	srv := startChild(t, inImage, "--data", t.TempDir())
	probe := exec.Command(inImage, "healthcheck")
	probe.Env = append(os.Environ(), "GATEHOUSE_ADDR="+strings.TrimPrefix(srv.base, "http://"))
	if out, err := probe.CombinedOutput(); err != nil {
		t.Fatalf("healthcheck of the image's binary: %v\n%s", err, out)
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	srv.cmd.Wait()
	if out, err := exec.Command(inImage, "healthcheck", "--addr", strings.TrimPrefix(srv.base, "http://"), "--timeout", "1s").CombinedOutput(); err == nil {
		t.Fatalf("healthcheck of a stopped server passed: %s", out)
	}
}

// buildStatic builds the gatehouse command as the image needs it: CGO_ENABLED=0, no dynamic
// loader, checked in the ELF header.
func buildStatic(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gatehouse")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary needs a dynamic loader: it would not start on the scratch image")
		}
	}
	return bin
}

func inspectImage(t *testing.T, tag string) imageConfig {
	t.Helper()
	out, err := exec.Command("podman", "image", "inspect", tag).Output()
	if err != nil {
		t.Fatalf("podman image inspect: %v", err)
	}
	var cfgs []imageConfig
	if err := json.Unmarshal(out, &cfgs); err != nil || len(cfgs) != 1 {
		t.Fatalf("podman image inspect: %v %s", err, out)
	}
	return cfgs[0]
}

// mountImage mounts the image's file system (read-only) until the test ends.
func mountImage(t *testing.T, tag string) string {
	t.Helper()
	out, err := exec.Command("podman", "image", "mount", tag).Output()
	if err != nil {
		t.Fatalf("podman image mount: %v", err)
	}
	t.Cleanup(func() { exec.Command("podman", "image", "unmount", tag).Run() })
	return strings.TrimSpace(string(out))
}

func checkOwnedDir(t *testing.T, dir string, uid uint32, perm os.FileMode) {
	t.Helper()
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	owner := uint32(1<<32 - 1)
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		owner = sys.Uid
	}
	if !st.IsDir() || st.Mode().Perm() != perm || owner != uid {
		t.Errorf("%s: mode %v, owner %d; want a directory %v of %d", dir, st.Mode(), owner, perm, uid)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("%s is not empty: %v", dir, entries)
	}
}
