package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/examples/shop"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

// demoOptions configure "gatehouse demo".
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
	App  *app
	Shop *shop.Shop
}

func newDemoCmd() *cobra.Command {
	o := demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the web pages and the shop demo (stateless catalog, stateful cart)",
		Long: `Run gatehouse with its web pages and the seed's shop demo on one address. The catalog at
/shop/catalog is stateless (ETag, Cache-Control: public, the same for everyone); the cart at
/shop/cart is stateful (session cookie, session store, cart store). /shop/ shows which is which,
with live counters.

Two users are created: "admin" (role admin) and "alice" (role user), with random passwords printed
once on standard error (GATEHOUSE_ADMIN_PASSWORD sets admin's). Data lives in a temporary
directory removed at exit, unless --data names one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.AdminPassword = os.Getenv("GATEHOUSE_ADMIN_PASSWORD")
			return runDemo(cmd.Context(), o, cmd.ErrOrStderr(), nil)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&o.Data, "data", "", "data directory (default: a temporary one, removed at exit)")
	fs.DurationVar(&o.CatalogMaxAge, "catalog-max-age", time.Minute, "Cache-Control max-age of the catalog")
	documentEnv(fs)
	return cmd
}

// demoConfig is the configuration of "serve" with its defaults, on the demo's address and data.
func demoConfig(o demoOptions, data string) (*config, error) {
	cfg := &config{}
	fs := pflag.NewFlagSet("demo", pflag.ContinueOnError)
	cfg.serveFlags(fs)
	if err := fs.Parse(nil); err != nil {
		return nil, err
	}
	cfg.Addr, cfg.Data, cfg.DefaultMode = o.Addr, data, gatehouse.AuthSession
	if o.Argon2Memory > 0 {
		cfg.Argon2Memory, cfg.Argon2Time = o.Argon2Memory, o.Argon2Time
	}
	return cfg, cfg.validateServe()
}

// runDemo serves gatehouse and the shop until ctx ends. ready, if not nil, receives the address.
func runDemo(ctx context.Context, o demoOptions, stderr io.Writer, ready chan<- demoReady) error {
	data := o.Data
	if data == "" {
		dir, err := os.MkdirTemp("", "gatehouse-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		data = dir
	}
	cfg, err := demoConfig(o, data)
	if err != nil {
		return err
	}
	log, err := cfg.logger(stderr)
	if err != nil {
		return err
	}
	a, err := buildApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	carts, err := shop.NewSQLiteCarts(ctx, a.db.SQL())
	if err != nil {
		return err
	}
	sh, err := shop.New(shop.Options{
		Carts: carts, Authenticate: sessionUser(a.server), SessionStore: "SQLite, gatehouse.db",
		CartStore: "SQLite, table shop_carts", CatalogMaxAge: o.CatalogMaxAge, Logger: log,
	})
	if err != nil {
		return err
	}
	a.server.SetPageLinks(ghttp.PageLink{Label: "Shop", Href: "/shop/"})
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	if err := demoUsers(ctx, a, o, ln.Addr().String(), stderr); err != nil {
		ln.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/shop/", sh)
	mux.Handle("/", a.server)
	srv := ghttp.NewHTTPServer(cfg.Addr, mux, nil, log)
	if ready != nil {
		ready <- demoReady{Addr: ln.Addr().String(), App: a, Shop: sh}
	}
	mctx, stop := context.WithCancel(ctx)
	defer stop()
	go a.maintain(mctx, 10*time.Second)
	go sweepCarts(mctx, carts, log)
	return runHTTP(ctx, srv, ln)
}

// sessionUser adapts the server's session authentication to the shop.
func sessionUser(s *ghttp.Server) func(*http.Request) (gatehouse.Principal, error) {
	return func(r *http.Request) (gatehouse.Principal, error) {
		sess, err := s.AuthenticateSession(r)
		if err != nil {
			return gatehouse.Principal{}, err
		}
		return sess.User, nil
	}
}

// demoUsers creates admin and alice (unless they exist) and prints how to sign in.
func demoUsers(ctx context.Context, a *app, o demoOptions, addr string, stderr io.Writer) error {
	creds := [][3]string{}
	for _, u := range []struct {
		name, pw string
		role     gatehouse.Role
	}{{"admin", o.AdminPassword, gatehouse.RoleAdmin}, {"alice", o.AlicePassword, gatehouse.RoleUser}} {
		pw := u.pw
		if pw == "" {
			pw = gatehouse.NewSecret()[:24]
		}
		_, err := a.accounts.Create(ctx, account.NewUser{Username: u.name, Password: pw, Role: u.role,
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
	fmt.Fprintf(stderr, "\ngatehouse demo on http://%s/\n\n", addr)
	for _, c := range creds {
		fmt.Fprintf(stderr, "    %-6s %-26s (role %s)\n", c[0], c[1], c[2])
	}
	fmt.Fprintf(stderr, "\n    sign in:  http://%s/\n    shop:     http://%s/shop/\n\nPasswords are shown only this once. Ctrl-C stops the demo.\n\n", addr, addr)
	return nil
}

// sweepCarts deletes carts untouched for 30 days, hourly.
func sweepCarts(ctx context.Context, carts shop.CartStore, log interface{ Warn(string, ...any) }) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if _, err := carts.DeleteStaleCarts(ctx, now.Add(-30*24*time.Hour)); err != nil && ctx.Err() == nil {
				log.Warn("deleting stale carts", "err", err)
			}
		}
	}
}
