package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/spf13/pflag"

	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

// What operators see of the server: the admin listener (metrics, probes and, if chosen, the
// administration API on an address of their own) and the access log.

// opsConfig is the configuration of the admin listener and the access log.
type opsConfig struct {
	AdminAddr       string
	AdminAPIOnAdmin bool
	AccessLog       bool
	HeapFloorMiB    int
}

func (c *config) opsFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.ops.AdminAddr, "admin-addr", "", "address of the admin listener, such as 127.0.0.1:9090: it serves GET /metrics (which then leaves --addr), /healthz and /readyz, with the TLS of --tls-cert if set (default: none, everything is served on --addr)")
	fs.BoolVar(&c.ops.AdminAPIOnAdmin, "admin-api-on-admin-addr", false, "serve the administration API (/api/admin/*) on --admin-addr only, and answer it 404 on --addr (needs --admin-addr)")
	fs.IntVar(&c.ops.HeapFloorMiB, "gc-heap-floor", 32, "MiB of heap below which the garbage collector does not start a collection: a small live heap is then collected at most once per this much allocation instead of every few MiB, for less CPU per request under load; a large heap is collected as GOGC says; 0 leaves the collector to GOGC alone (docs/scaling.md)")
	fs.BoolVar(&c.ops.AccessLog, "access-log", true, "log one line per request at info: method, route, path without its query, status, duration, kind of credential, user id, client address (never a credential's value)")
}

func (c *config) validateOps() error {
	o := c.ops
	switch {
	case o.AdminAPIOnAdmin && o.AdminAddr == "":
		return errors.New("--admin-api-on-admin-addr needs --admin-addr")
	case o.HeapFloorMiB < 0 || o.HeapFloorMiB > 1<<20:
		return fmt.Errorf("--gc-heap-floor %d: want 0 (off) to %d MiB", o.HeapFloorMiB, 1<<20)
	case o.AdminAddr == "":
		return nil
	}
	_, port, err := net.SplitHostPort(o.AdminAddr)
	if err != nil {
		return fmt.Errorf("--admin-addr %q: %w", o.AdminAddr, err)
	}
	if o.AdminAddr == c.Addr && port != "0" {
		return fmt.Errorf("--admin-addr %s is --addr too: give the admin listener an address of its own", o.AdminAddr)
	}
	return nil
}

// applyOps sets the server's configuration of the admin listener and the access log.
func (c *config) applyOps(sc *ghttp.Config) {
	sc.AccessLog = c.ops.AccessLog
	sc.AdminListener = c.ops.AdminAddr != ""
	sc.AdminAPIOnAdminListener = c.ops.AdminAPIOnAdmin
}

// adminListener opens the admin listener, or returns nil when there is none.
func (c *config) adminListener(s *ghttp.Server, tlsConfig *tls.Config, log *slog.Logger) (*listener, error) {
	if c.ops.AdminAddr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", c.ops.AdminAddr)
	if err != nil {
		return nil, fmt.Errorf("--admin-addr: %w", err)
	}
	srv := ghttp.NewHTTPServer(c.ops.AdminAddr, s.AdminHandler(), tlsConfig, log)
	c.applyServerLimits(srv)
	log.Info("admin listener", "addr", ln.Addr().String(), "tls", tlsConfig != nil, "admin_api", c.ops.AdminAPIOnAdmin)
	return &listener{srv: srv, ln: ln}, nil
}
