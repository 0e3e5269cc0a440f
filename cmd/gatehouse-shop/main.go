// Command gatehouse-shop is a demo: gatehouse's web pages and a small shop on one address. The
// catalog at /shop/catalog is stateless (ETag, Cache-Control: public, the same for everyone);
// the cart at /shop/cart is stateful (session cookie, session store, cart store). It embeds
// gatehouse as a Go library (gatehouse.go), which is also an example of doing so; it is a
// separate binary so that the server does not carry the demo.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/argon2"
	"github.com/gatehouse-auth/gatehouse/examples/shop"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd(os.Stderr).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse-shop:", err)
		os.Exit(1)
	}
}

// demoOptions configure the demo.
type demoOptions struct {
	Addr          string
	Data          string // "" means a temporary directory, removed at exit
	CatalogMaxAge time.Duration
	// Passwords of the demo users; "" means a random one, printed once.
	AdminPassword, AlicePassword string
	// Argon2Memory and Argon2Time lower the hashing cost (tests); 0 keeps the defaults.
	Argon2Memory, Argon2Time uint32
}

// demoReady tells a caller (a test) where the demo listens and what it runs.
type demoReady struct {
	Addr string
	Shop *shop.Shop
}

func newRootCmd(stderr io.Writer) *cobra.Command {
	o := demoOptions{}
	cmd := &cobra.Command{
		Use:   "gatehouse-shop",
		Short: "Run gatehouse's web pages and a shop demo (stateless catalog, stateful cart)",
		Long: `Run gatehouse's web pages and a shop on one address. The catalog at /shop/catalog is
stateless (ETag, Cache-Control: public, the same for everyone); the cart at /shop/cart is
stateful (session cookie, session store, cart store). /shop/ shows which is which, with live
counters.

Two users are created: "admin" (role admin) and "alice" (role user), with random passwords printed
once on standard error (GATEHOUSE_ADMIN_PASSWORD sets admin's). Data lives in a temporary
directory removed at exit, unless --data names one.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.AdminPassword = os.Getenv("GATEHOUSE_ADMIN_PASSWORD")
			return runDemo(cmd.Context(), o, cmd.ErrOrStderr(), nil)
		},
	}
	cmd.SetErr(stderr)
	fs := cmd.Flags()
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&o.Data, "data", "", "data directory (default: a temporary one, removed at exit)")
	fs.DurationVar(&o.CatalogMaxAge, "catalog-max-age", time.Minute, "Cache-Control max-age of the catalog")
	return cmd
}

// hashParams are the password hashing parameters of the demo: gatehouse's defaults, or the
// cheaper ones of a test.
func (o demoOptions) hashParams() argon2.Params {
	p := argon2.DefaultParams
	if o.Argon2Memory > 0 {
		p.Memory, p.Time = o.Argon2Memory, o.Argon2Time
	}
	return p
}

// runDemo serves gatehouse and the shop until ctx ends. ready, if not nil, receives the address.
func runDemo(ctx context.Context, o demoOptions, stderr io.Writer, ready chan<- demoReady) error {
	data := o.Data
	if data == "" {
		dir, err := os.MkdirTemp("", "gatehouse-shop-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		data = dir
	} else if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	addr := ln.Addr().String()
	log := slog.New(slog.NewTextHandler(stderr, nil))
	gh, err := openGatehouse(ctx, embedOptions{Data: data, Issuer: "http://" + addr, Hash: o.hashParams(), Log: log, Now: time.Now})
	if err != nil {
		return err
	}
	defer gh.Close()
	carts, err := shop.NewSQLiteCarts(ctx, gh.db.SQL())
	if err != nil {
		return err
	}
	sh, err := shop.New(shop.Options{
		Carts: carts, Authenticate: sessionUser(gh.pages), SessionStore: "SQLite, gatehouse.db",
		CartStore: "SQLite, table shop_carts", CatalogMaxAge: o.CatalogMaxAge, Logger: log,
	})
	if err != nil {
		return err
	}
	gh.pages.SetLinks(web.PageLink{Label: "Shop", Href: "/shop/"})
	if err := demoUsers(ctx, gh.accounts, o, addr, stderr); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/shop/", sh)
	mux.Handle("/", gh.server)
	srv := ghttp.NewHTTPServer(o.Addr, mux, nil, log)
	if ready != nil {
		ready <- demoReady{Addr: addr, Shop: sh}
	}
	mctx, stop := context.WithCancel(ctx)
	defer stop()
	go maintain(mctx, gh, carts, log)
	return serveUntil(ctx, srv, ln)
}

// serveUntil serves on ln until ctx ends, then shuts down gracefully.
func serveUntil(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// sessionUser adapts the server's session authentication to the shop.
func sessionUser(s *web.Pages) func(*http.Request) (gatehouse.Principal, error) {
	return func(r *http.Request) (gatehouse.Principal, error) {
		sess, err := s.AuthenticateSession(r)
		if err != nil {
			return gatehouse.Principal{}, err
		}
		return sess.User, nil
	}
}

// demoUsers creates admin and alice (unless they exist) and prints how to sign in.
func demoUsers(ctx context.Context, accounts *account.Service, o demoOptions, addr string, stderr io.Writer) error {
	creds := [][3]string{}
	for _, u := range []struct {
		name, pw string
		role     gatehouse.Role
	}{{"admin", o.AdminPassword, gatehouse.RoleAdmin}, {"alice", o.AlicePassword, gatehouse.RoleUser}} {
		pw := u.pw
		if pw == "" {
			pw = gatehouse.NewSecret()[:24]
		}
		_, err := accounts.Create(ctx, account.NewUser{Username: u.name, Password: pw, Role: u.role,
			Name: map[string]string{"admin": "Administrator", "alice": "Alice Example"}[u.name], Email: u.name + "@example.com"})
		switch {
		case gatehouse.ErrorCode(err) == gatehouse.ECONFLICT:
			creds = append(creds, [3]string{u.name, "(unchanged: the user already exists in --data)", string(u.role)})
		case err != nil:
			return fmt.Errorf("demo user %s: %w", u.name, err)
		default:
			creds = append(creds, [3]string{u.name, pw, string(u.role)})
		}
	}
	fmt.Fprintf(stderr, "\ngatehouse shop demo on http://%s/\n\n", addr)
	for _, c := range creds {
		fmt.Fprintf(stderr, "    %-6s %-26s (role %s)\n", c[0], c[1], c[2])
	}
	fmt.Fprintf(stderr, "\n    sign in:  http://%s/\n    shop:     http://%s/shop/\n\nPasswords are shown only this once. Ctrl-C stops the demo.\n\n", addr, addr)
	return nil
}

// maintain sweeps expired records every 10 seconds and carts untouched for 30 days hourly,
// until ctx ends.
func maintain(ctx context.Context, gh *embedded, carts shop.CartStore, log *slog.Logger) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	lastCarts := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			gh.sweep(ctx, now)
			if now.Sub(lastCarts) < time.Hour {
				continue
			}
			lastCarts = now
			if _, err := carts.DeleteStaleCarts(ctx, now.Add(-30*24*time.Hour)); err != nil && ctx.Err() == nil {
				log.Warn("deleting stale carts", "err", err)
			}
		}
	}
}
