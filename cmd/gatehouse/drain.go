package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/pflag"
)

// Graceful drain. On SIGTERM (or SIGINT) the server first turns /readyz to 503 and stops
// keeping connections alive, so that load balancers that probe it take the instance out of
// rotation, while it goes on answering whatever still reaches it; after --drain-delay it stops
// accepting connections and waits up to --drain-timeout for the requests in flight. A second
// signal during the delay cuts it short.

// drainConfig is the configuration of the graceful drain.
type drainConfig struct {
	Delay   time.Duration
	Timeout time.Duration
}

// maxDrainDelay bounds --drain-delay: a supervisor kills a process that takes too long.
const maxDrainDelay = 5 * time.Minute

func (c *config) drainFlags(fs *pflag.FlagSet) {
	fs.DurationVar(&c.drain.Delay, "drain-delay", 0, "on SIGTERM, how long /readyz answers 503 (while requests are still served) before the server stops accepting connections: set it to what your load balancer needs to notice, such as its health-check interval times its failure threshold")
	fs.DurationVar(&c.drain.Timeout, "drain-timeout", shutdownGrace, "after the drain delay, how long requests in flight get to finish before their connections are closed")
}

func (c *config) validateDrain() error {
	switch {
	case c.drain.Delay < 0 || c.drain.Delay > maxDrainDelay:
		return fmt.Errorf("--drain-delay must be between 0 and %v", maxDrainDelay)
	case c.drain.Timeout <= 0:
		return errors.New("--drain-timeout must be positive")
	}
	return nil
}

// errDraining is what /readyz reports once a drain has begun.
var errDraining = errors.New("draining: this instance is shutting down")

// drainState is what /readyz and the shutdown share.
type drainState struct {
	draining atomic.Bool
	inFlight atomic.Int64 // requests being served
}

// notDraining is a readiness check: it fails once the drain has begun.
func (d *drainState) notDraining(context.Context) error {
	if d.draining.Load() {
		return errDraining
	}
	return nil
}

// count wraps h to count the requests in flight, for the shutdown's log line (two atomic
// additions per request).
func (d *drainState) count(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.inFlight.Add(1)
		defer d.inFlight.Add(-1)
		h.ServeHTTP(w, r)
	})
}

// drainPlan says how serveUntil stops.
type drainPlan struct {
	state   *drainState // nil: no readiness to turn, no counting
	delay   time.Duration
	timeout time.Duration
	log     *slog.Logger
}

// listener is one HTTP server and the listener it serves on: the public one, and the admin
// listener when there is one.
type listener struct {
	srv *http.Server
	ln  net.Listener
}

// serveUntil serves on ln until ctx ends, then drains as p says and logs what it did.
func serveUntil(ctx context.Context, srv *http.Server, ln net.Listener, p drainPlan) error {
	return serveAllUntil(ctx, []listener{{srv, ln}}, p)
}

// serveAllUntil serves every listener until ctx ends (or one of them fails), then drains them
// together as p says: /readyz answers 503 on each, keep-alives stop on each, and after the
// delay they all stop accepting and share the one timeout for the requests in flight.
func serveAllUntil(ctx context.Context, ls []listener, p drainPlan) error {
	errc := make(chan error, len(ls))
	for _, l := range ls {
		if p.state != nil {
			l.srv.Handler = p.state.count(l.srv.Handler)
		}
		go func() {
			if l.srv.TLSConfig != nil {
				errc <- l.srv.ServeTLS(l.ln, "", "")
			} else {
				errc <- l.srv.Serve(l.ln)
			}
		}()
	}
	var failed error
	select {
	case failed = <-errc:
	case <-ctx.Done():
	}
	if failed != nil {
		for _, l := range ls {
			l.srv.Close()
		}
		return failed
	}
	waited, cutShort := p.announce(ls)
	inFlight := int64(0)
	if p.state != nil {
		inFlight = p.state.inFlight.Load()
	}
	start := time.Now()
	forced, err := shutdownAll(ls, p.timeout)
	if p.log != nil {
		p.log.Info("gatehouse stopped", "readyz_503_for", waited.Round(time.Millisecond), "drain_delay", p.delay,
			"cut_short", cutShort, "requests_in_flight", inFlight, "drained_in", time.Since(start).Round(time.Millisecond),
			"closed_unfinished", forced)
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	for range ls {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	return nil
}

// shutdownAll shuts every server down at once, waiting up to timeout for their requests in
// flight; what is left then is closed. forced says whether anything was.
func shutdownAll(ls []listener, timeout time.Duration) (forced bool, err error) {
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	errs := make(chan error, len(ls))
	for _, l := range ls {
		go func() {
			err := l.srv.Shutdown(sctx)
			if errors.Is(err, context.DeadlineExceeded) {
				err = l.srv.Close()
				if err == nil {
					err = context.DeadlineExceeded
				}
			}
			errs <- err
		}()
	}
	for range ls {
		switch e := <-errs; {
		case errors.Is(e, context.DeadlineExceeded):
			forced = true
		case e != nil && err == nil:
			err = e
		}
	}
	return forced, err
}

// announce turns /readyz to 503, stops keep-alives (a client's next request opens a new
// connection, which the load balancer sends elsewhere) and waits the drain delay, or until a
// second signal.
func (p drainPlan) announce(ls []listener) (waited time.Duration, cutShort bool) {
	if p.state == nil {
		return 0, false
	}
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	start := time.Now()
	p.state.draining.Store(true)
	for _, l := range ls {
		l.srv.SetKeepAlivesEnabled(false)
	}
	if p.delay <= 0 {
		return 0, false
	}
	if p.log != nil {
		p.log.Info("draining: /readyz answers 503; waiting for load balancers before closing the listener (a second signal skips the wait)", "drain_delay", p.delay)
	}
	t := time.NewTimer(p.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-again:
		cutShort = true
	}
	return time.Since(start), cutShort
}
