// Command gatehouse-bench measures stateful (session) and stateless (token) authentication
// with gatehouse on this machine and writes a report. It runs the gatehouse server binary
// ("gatehouse serve") as child processes; it is a separate binary so that the server does not
// carry the charting and reporting code.
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
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/bench"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd(os.Stdout, os.Stderr).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse-bench:", err)
		os.Exit(1)
	}
}

// newRootCmd builds the command tree; tests call it with their own streams.
func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := bench.Options{}
	var sizes []int
	cmd := &cobra.Command{
		Use:   "gatehouse-bench",
		Short: "Measure session and token authentication on this machine and write a report",
		Long: `Measure the usual comparison of stateful (session) and stateless (token)
authentication on this machine: throughput and latency of an authenticated request against a
bare net/http handler, memory per session, lookup cost as sessions grow, revocation delay,
1 to 3 instances with and without session affinity, an instance killed under load, and the
cost of password logins. It starts the gatehouse binary's "serve" as child processes on
127.0.0.1 with temporary data directories, drives them with a built-in load generator (loopback
only, every load bounded in time), and writes report.md, report.json and charts (PNG and SVG)
to --out.

The gatehouse binary is --gatehouse, or "gatehouse" beside this binary, or "gatehouse" on the
PATH. Build both with:  go build -o bin/ ./cmd/gatehouse ./cmd/gatehouse-bench

A full run takes about half an hour on 2 cores; --quick runs a tiny version in under a minute.
Modes: ` + strings.Join(bench.ModeNames(), ", ") + `.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.Server, err = findServer(opts.Server); err != nil {
				return err
			}
			if opts.Floor, err = os.Executable(); err != nil {
				return fmt.Errorf("finding this binary: %w", err)
			}
			opts.Sizes = sizes
			opts.Progress = cmd.ErrOrStderr()
			opts.StoreAvailable = storeAvailable
			opts.Fillers = map[string]bench.Filler{"sqlite": fillSQLite}
			opts.RedisMemory = redisUsedMemory
			opts.Command = "gatehouse-bench " + strings.Join(os.Args[1:], " ")
			return runBench(cmd, opts)
		},
	}
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	fs := cmd.Flags()
	fs.StringVar(&opts.Server, "gatehouse", "", `the gatehouse server binary to measure (default: "gatehouse" beside this binary, else on the PATH)`)
	fs.BoolVar(&opts.Quick, "quick", false, "a tiny run in seconds (short loads, few sessions): checks that everything works, the numbers mean little")
	fs.DurationVar(&opts.Duration, "duration", 0, "length of each load (default 10s, 500ms with --quick)")
	fs.StringVar(&opts.Phases, "phases", "", "comma-separated phases to run, by their first word (performance, resource, logout, scalability, fault, login, peer); default all")
	fs.BoolVar(&opts.NoPin, "no-pin", false, "do not pin the performance measurement's servers to CPU 0 and the load generator to the other CPUs (pinned by default on Linux with taskset and 2 or more CPUs)")
	fs.StringVar(&opts.Modes, "modes", "", "comma-separated modes to measure (default all): "+strings.Join(bench.ModeNames(), ","))
	fs.StringVar(&opts.Out, "out", "./bench-out", "directory for report.md, report.json and the charts")
	fs.IntVar(&opts.Connections, "connections", 0, "connections of the load generator (default 64, 16 with --quick)")
	fs.IntSliceVar(&sizes, "sizes", nil, "active sessions (or tokens) for the resource and cost-growth measurements (default 1000,10000,100000,1000000; 100,1000 with --quick)")
	fs.DurationVar(&opts.FillBudget, "fill-budget", 3*time.Minute, "longest time spent making the sessions (or tokens) of one size; a size that would take longer is left out")
	fs.StringVar(&opts.ExpressPeer, "express-peer", "", "folder of an Express + jsonwebtoken server (package.json, server.mjs) to measure gatehouse against, with node and npm (docs/bench.md; never with --quick); default: none")
	cmd.AddCommand(newFloorCmd(), newRenderCmd())
	return cmd
}

// newRenderCmd writes a report's markdown again from its JSON.
func newRenderCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Write report.md again from report.json (same figures, this version's texts)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return bench.Rerender(dir)
		},
	}
	cmd.Flags().StringVar(&dir, "out", "./bench-out", "directory of the report")
	return cmd
}

func runBench(cmd *cobra.Command, opts bench.Options) error {
	r, err := bench.Run(cmd.Context(), opts)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "report: %s\n", filepath.Join(opts.Out, "report.md"))
	for _, t := range r.Targets {
		fmt.Fprintf(out, "  %-15s %-13s %s\n", t.Name, t.Status, t.Measured)
	}
	return nil
}

// newFloorCmd is the floor the bench measures against: a bare net/http handler served with
// gatehouse's own server settings.
func newFloorCmd() *cobra.Command {
	var addr, response string
	cmd := &cobra.Command{
		Use:   "floor",
		Short: `Serve a bare "hello" handler, or a recorded answer: the floors of the measurements`,
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
			h := bench.FloorHandler()
			if response != "" {
				resp, err := bench.ReadResponse(response)
				if err != nil {
					l.Close()
					return fmt.Errorf("--response: %w", err)
				}
				h = bench.SameBytesHandler(resp)
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelError}))
			srv := ghttp.NewHTTPServer(addr, h, nil, log)
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
	cmd.Flags().StringVar(&response, "response", "", "JSON file of an answer (status, header, body) to give every request instead of hello: a mode's same-bytes floor")
	return cmd
}
