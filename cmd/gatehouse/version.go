package main

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

// buildInfo is what the binary knows about its own build (runtime/debug.ReadBuildInfo).
type buildInfo struct {
	Version  string // module version: "v1.2.3" when installed with go install ...@v1.2.3, else "(devel)"
	Revision string // VCS revision, "" when the build did not stamp it (-buildvcs=false, no .git)
	Modified bool   // the working tree had uncommitted changes
	Go       string // Go version that built the binary
}

// readBuildInfo returns the build information of this binary.
func readBuildInfo() buildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return buildInfo{Version: "unknown", Go: "unknown"}
	}
	return buildInfoFrom(bi)
}

func buildInfoFrom(bi *debug.BuildInfo) buildInfo {
	info := buildInfo{Version: bi.Main.Version, Go: bi.GoVersion}
	if info.Version == "" {
		info.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// String is the one-line version of the binary, as "gatehouse version" prints it.
func (b buildInfo) String() string {
	var sb strings.Builder
	sb.WriteString(b.Version)
	switch {
	case b.Revision != "" && b.Modified:
		fmt.Fprintf(&sb, " (revision %s, with uncommitted changes)", b.Revision)
	case b.Revision != "":
		fmt.Fprintf(&sb, " (revision %s)", b.Revision)
	}
	fmt.Fprintf(&sb, ", built with %s", b.Go)
	return sb.String()
}

// revisionLabel is the revision as logs and metrics carry it: "unknown" when not stamped, with
// "-modified" for a build from a changed working tree.
func (b buildInfo) revisionLabel() string {
	r := b.Revision
	if r == "" {
		return "unknown"
	}
	if b.Modified {
		r += "-modified"
	}
	return r
}

// logAttrs are the build's attributes of the startup log line.
func (b buildInfo) logAttrs() []any {
	return []any{"version", b.Version, "revision", b.revisionLabel(), "go", b.Go}
}

// registerBuildInfo adds the gatehouse_build_info gauge (always 1, the build in its labels).
func registerBuildInfo(m *ghttp.Metrics, b buildInfo) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "gatehouse_build_info",
		Help:        "The running build: module version, VCS revision and Go version, as labels (the value is always 1).",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.revisionLabel(), "goversion": b.Go},
	})
	g.Set(1)
	m.Registry().MustRegister(g)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, VCS revision and Go version of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "gatehouse "+readBuildInfo().String())
			return nil
		},
	}
}
