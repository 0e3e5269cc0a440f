package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/internal/heapfloor"
)

// shutdownGrace is how long in-flight requests get to finish after SIGTERM.
const shutdownGrace = 15 * time.Second

func newServeCmd() *cobra.Command {
	cfg := &config{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the authentication server",
		Long: `Run the gatehouse server. With no flags it listens on 127.0.0.1:8080 and keeps users,
sessions, refresh tokens and revocations in SQLite, and its signing keys, in ./gatehouse-data.

On first start with no users, it creates the user "admin" with the password in
GATEHOUSE_ADMIN_PASSWORD, or with a random password printed once on standard error.
SIGTERM or SIGINT stops it gracefully.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cfg.validateServe(); err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, cmd.ErrOrStderr(), nil)
		},
	}
	cfg.serveFlags(cmd.Flags())
	documentEnv(cmd.Flags())
	return cmd
}

// serve runs the server until ctx ends. ready, if not nil, receives the listening address.
func serve(ctx context.Context, cfg *config, stderr io.Writer, ready chan<- string) error {
	log, err := cfg.logger(stderr)
	if err != nil {
		return err
	}
	tlsConfig, err := cfg.tlsConfig() // before the stores: a bad file changes nothing
	if err != nil {
		return err
	}
	if cfg.usesSQLite() {
		if err := cfg.ensureDataDir(); err != nil {
			return err
		}
		unlock, err := lockDataDir(cfg.Data)
		if err != nil {
			return err
		}
		defer unlock()
	}
	a, err := buildApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	defer heapfloor.Start(uint64(cfg.ops.HeapFloorMiB) << 20)()
	if err := a.bootstrap(ctx, stderr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := ghttp.NewHTTPServer(cfg.Addr, a.server, tlsConfig, log)
	cfg.applyServerLimits(srv)
	log.Info("gatehouse listening", append([]any{"addr", ln.Addr().String(), "tls", tlsConfig != nil,
		"session_store", cfg.SessionStore, "user_store", cfg.UserStore, "signing_alg", cfg.SigningAlg, "data", cfg.Data},
		readBuildInfo().logAttrs()...)...)
	cfg.logProxyAuth(log)
	stopWatching := a.watchAccessRules() // before ready: a SIGHUP from then on reloads
	defer stopWatching()
	if w := cfg.cookieWarning(); w != "" {
		log.Warn(w, "addr", cfg.Addr)
	}
	listeners := []listener{{srv, ln}}
	admin, err := cfg.adminListener(a.server, tlsConfig, log)
	if err != nil {
		ln.Close()
		return err
	}
	if admin != nil {
		listeners = append(listeners, *admin)
	}
	if ready != nil {
		ready <- ln.Addr().String()
	}
	mctx, stopMaintenance := context.WithCancel(ctx)
	defer stopMaintenance()
	go a.maintain(mctx, 10*time.Second)
	return serveAllUntil(ctx, listeners, drainPlan{state: &a.drain, delay: cfg.drain.Delay, timeout: cfg.drain.Timeout, log: log})
}

// runHTTP serves on ln until ctx ends, then shuts down gracefully.
func runHTTP(ctx context.Context, srv *http.Server, ln net.Listener) error {
	return serveUntil(ctx, srv, ln, drainPlan{timeout: shutdownGrace})
}

// tlsConfig loads --tls-cert/--tls-key, or returns nil for plain HTTP.
func (c *config) tlsConfig() (*tls.Config, error) {
	if c.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
