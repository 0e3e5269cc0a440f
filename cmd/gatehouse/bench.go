package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse-auth/gatehouse/bench"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/session"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

func newBenchCmd() *cobra.Command {
	opts := bench.Options{}
	var sizes []int
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure session and token authentication on this machine and write a report",
		Long: `Measure the classic comparison of stateful (session) and stateless (token)
authentication on this machine: throughput and latency of an authenticated request against a
bare net/http handler, memory per session, lookup cost as sessions grow, revocation delay,
1 to 3 instances with and without session affinity, an instance killed under load, and the
cost of password logins. It starts this binary's "serve" as child processes on 127.0.0.1 with
temporary data directories, drives them with a built-in load generator (loopback only, every
load bounded in time), and writes report.md, report.json and charts (PNG and SVG) to --out.

A full run takes about half an hour on 2 cores; --quick runs a tiny version in under a minute.
Modes: ` + strings.Join(bench.ModeNames(), ", ") + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Peer != "auto" && opts.Peer != "off" {
				return fmt.Errorf("--peer %q: must be auto or off", opts.Peer)
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench: finding this binary: %w", err)
			}
			opts.Executable = exe
			opts.Sizes = sizes
			opts.Progress = cmd.ErrOrStderr()
			opts.StoreSupported = storeSupported
			opts.Seeders = map[string]bench.Seeder{"sqlite": seedSQLite}
			opts.Command = "gatehouse bench " + strings.Join(os.Args[2:], " ")
			if opts.ExpressDir == "" {
				opts.ExpressDir = findExpress()
			}
			r, err := bench.Run(cmd.Context(), opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "report: %s\n", filepath.Join(opts.Out, "report.md"))
			for _, t := range r.Targets {
				fmt.Fprintf(cmd.OutOrStdout(), "  %-15s %-13s %s\n", t.Name, t.Status, t.Measured)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&opts.Quick, "quick", false, "a tiny run in seconds (short loads, few sessions): checks that everything works, the numbers mean little")
	fs.DurationVar(&opts.Duration, "duration", 0, "length of each load (default 10s, 500ms with --quick)")
	fs.StringVar(&opts.Modes, "modes", "", "comma-separated modes to measure (default all): "+strings.Join(bench.ModeNames(), ","))
	fs.StringVar(&opts.Out, "out", "./bench-out", "directory for report.md, report.json and the charts")
	fs.IntVar(&opts.Connections, "connections", 0, "connections of the load generator (default 64, 16 with --quick)")
	fs.IntSliceVar(&sizes, "sizes", nil, "active sessions (or tokens) for the resource and cost-growth measurements (default 1000,10000,100000,1000000; 100,1000 with --quick)")
	fs.DurationVar(&opts.FillBudget, "fill-budget", 3*time.Minute, "longest time spent making the sessions (or tokens) of one size; a size that would take longer is left out")
	fs.StringVar(&opts.Peer, "peer", "auto", "measure the seed's Express server when node and npm are installed: auto or off (never with --quick)")
	fs.StringVar(&opts.ExpressDir, "express-dir", "", "folder of the seed's Express server (default: shared/anchors/express beside or above the working directory)")
	documentEnv(fs)
	cmd.AddCommand(newBenchFloorCmd())
	return cmd
}

// newBenchFloorCmd is the floor the bench measures against: a bare net/http handler served
// with gatehouse's own server settings.
func newBenchFloorCmd() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "floor",
		Short: `Serve a bare "hello" handler: the floor of "gatehouse bench"`,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			host, _, err := net.SplitHostPort(addr)
			if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
				return fmt.Errorf("--addr %q: the floor listens on a loopback address only", addr)
			}
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelError}))
			srv := ghttp.NewHTTPServer(addr, bench.FloorHandler(), nil, log)
			go func() {
				<-cmd.Context().Done()
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				srv.Shutdown(ctx)
			}()
			if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8081", "loopback address to listen on")
	return cmd
}

// storeSupported reports whether "gatehouse serve" of this build accepts the session store.
func storeSupported(store string) bool {
	cfg := &config{}
	fs := pflag.NewFlagSet("probe", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.serveFlags(fs)
	if err := fs.Parse([]string{"--session-store", store}); err != nil {
		return false
	}
	return cfg.validateServe() == nil
}

// seedSQLite writes n sessions of the user "admin" into the SQLite database of data directory
// dir, through the session manager and the SQLite store: what a login does after checking the
// password. No server may be running on dir.
func seedSQLite(ctx context.Context, dir string, n int) ([]string, error) {
	db, err := sqlite.Open(ctx, filepath.Join(dir, "gatehouse.db"), 0)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	u, err := sqlite.NewUserStore(db).UserByUsername(ctx, "admin")
	if err != nil {
		return nil, fmt.Errorf("seeding sessions: %w", err)
	}
	m := session.NewManager(sqlite.NewSessionStore(db), sqlite.NewRevocationStore(db), session.Options{})
	p := u.Principal()
	out := make([]string, n)
	for i := range out {
		secret, _, err := m.Create(ctx, p, "127.0.0.1", "gatehouse-bench")
		if err != nil {
			return nil, fmt.Errorf("seeding sessions: %w", err)
		}
		out[i] = secret
	}
	return out, nil
}

// findExpress looks for the seed's Express folder (shared/anchors/express) in the working
// directory and up to three folders above it, where the project keeps shared/.
func findExpress() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for range 4 {
		p := filepath.Join(dir, "shared", "anchors", "express")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		dir = filepath.Dir(dir)
	}
	return ""
}
