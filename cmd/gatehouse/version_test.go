package main

import (
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestBuildInfoFrom(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.25.0", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.modified", Value: "true"}}}
	info := buildInfoFrom(bi)
	if got, want := info.String(), "v1.2.3 (revision 0123abcd, with uncommitted changes), built with go1.25.0"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := info.revisionLabel(); got != "0123abcd-modified" {
		t.Errorf("revisionLabel() = %q", got)
	}
	bare := buildInfoFrom(&debug.BuildInfo{GoVersion: "go1.25.0"})
	if got, want := bare.String(), "(devel), built with go1.25.0"; got != want {
		t.Errorf("without VCS stamp: %q, want %q", got, want)
	}
	if bare.revisionLabel() != "unknown" {
		t.Errorf("revisionLabel() without a stamp = %q", bare.revisionLabel())
	}
}

// TestVersionCommand: "gatehouse version" and "gatehouse --version" print the same line, with
// the Go version that built the binary.
func TestVersionCommand(t *testing.T) {
	a, _, err := run(t, "", "version")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := run(t, "", "--version")
	if err != nil {
		t.Fatal(err)
	}
	if a != b || !strings.HasPrefix(a, "gatehouse ") || !strings.Contains(a, runtime.Version()) {
		t.Fatalf("version %q, --version %q", a, b)
	}
}

// TestBuildInfoInLogAndMetrics: the startup log line and gatehouse_build_info carry the build.
func TestBuildInfoInLogAndMetrics(t *testing.T) {
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	addr, stop := startServe(t)
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	info := readBuildInfo()
	want := `gatehouse_build_info{goversion="` + info.Go + `",revision="` + info.revisionLabel() + `",version="` + info.Version + `"} 1`
	if !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %s", want)
	}
	logs := stop()
	for _, attr := range []string{"version=" + info.Version, "go=" + info.Go, "revision="} {
		if !strings.Contains(logs, attr) {
			t.Errorf("the startup log lacks %s:\n%s", attr, logs)
		}
	}
}
