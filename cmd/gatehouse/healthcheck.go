package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// healthOptions are the flags of "gatehouse healthcheck".
type healthOptions struct {
	addr    string
	tlsCert string
	ready   bool
	timeout time.Duration
}

func newHealthcheckCmd() *cobra.Command {
	var o healthOptions
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Ask a local server whether it is alive (exit status 0) or not (1)",
		Long: `Ask the server listening on --addr (the same flag and GATEHOUSE_ADDR as serve; an
unspecified host such as 0.0.0.0 means this machine) for GET /healthz, or GET /readyz with
--ready, and exit 0 when it answers 200 within --timeout, 1 otherwise. It is meant for a
container's HEALTHCHECK or a supervisor's probe: it needs no shell, curl or wget, and sends no
credential. When --tls-cert is set (as for serve, so GATEHOUSE_TLS_CERT serves both) it
speaks HTTPS without checking the certificate, which names the public host rather than the
loopback address it dials.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return healthcheck(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address the server listens on")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "the server's TLS certificate, as given to serve: when set, the probe speaks HTTPS")
	fs.BoolVar(&o.ready, "ready", false, "ask /readyz (every store answers) instead of /healthz (the process serves)")
	fs.DurationVar(&o.timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	documentEnv(fs)
	return cmd
}

// errUnhealthy is what healthcheck returns for any answer but 200.
var errUnhealthy = errors.New("unhealthy")

// healthcheck asks the server for its health and returns nil when it answers 200.
func healthcheck(ctx context.Context, o healthOptions, out io.Writer) error {
	if o.timeout <= 0 {
		return fmt.Errorf("--timeout must be positive")
	}
	url, err := probeURL(o)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	c := &http.Client{CheckRedirect: noRedirect, Transport: &http.Transport{
		// The probe dials the loopback address of a certificate made for the public name,
		// sends nothing secret and reads only the status: there is nothing to verify.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
		Proxy:           nil,
	}}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", errUnhealthy, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s answered %s", errUnhealthy, url, resp.Status)
	}
	fmt.Fprintf(out, "%s: %s\n", url, resp.Status)
	return nil
}

// noRedirect makes the probe judge the first answer: a redirect is not health.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// probeURL returns the URL of the probe: an unspecified or empty host becomes the loopback
// address.
func probeURL(o healthOptions) (string, error) {
	host, port, err := net.SplitHostPort(o.addr)
	if err != nil {
		return "", fmt.Errorf("--addr %q: %w", o.addr, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	scheme, path := "http", "/healthz"
	if o.tlsCert != "" {
		scheme = "https"
	}
	if o.ready {
		path = "/readyz"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + path, nil
}
