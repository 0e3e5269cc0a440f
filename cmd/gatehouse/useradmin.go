package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/gatehouse-auth/gatehouse/refresh"
	"github.com/gatehouse-auth/gatehouse/session"
)

// The user administration commands (list, show, passwd, disable, enable, delete, set-role,
// groups) run the same use cases as the admin API, on the stores that serve is configured
// with: a change that a session or token depends on revokes the user's sessions, tokens and
// refresh families exactly as PATCH /api/admin/users/{id} does, and is audited.
//
// Who must learn of a revocation decides where a command may run:
//   - the cluster configuration (--user-store postgres --session-store redis): anywhere, while
//     the instances run. The revocation goes through the shared Redis store and the command
//     returns only after every running instance has applied it (the same barrier as a request).
//   - a SQLite data directory: only while no server holds it. A server's revocation view and
//     session cache live in its process and would not see another process' writes, so the
//     command refuses (errDataDirInUse) rather than pretend; it holds the directory's lock
//     while it runs, so that no server starts meanwhile.
//   - PostgreSQL users with memory sessions (one instance): nothing tells whether the server
//     runs, so a revoking command wants --servers-stopped.
//
// Reading (list, show) works in every case.

// adminFlags are the flags of the user administration commands: the stores of serve.
func (c *config) adminFlags(fs *pflag.FlagSet) {
	c.storeFlags(fs)
	fs.StringVar(&c.SessionStore, "session-store", "sqlite", "where sessions live, as serve has it: sqlite, memory or redis")
	fs.StringVar(&c.RedisURL, "redis-url", "redis://127.0.0.1:6379/0", "Redis URL (for --session-store redis), as serve has it")
	c.redisFlags(fs)
	fs.BoolVar(&c.ServersStopped, "servers-stopped", false, "with PostgreSQL users and memory sessions: state that no server runs, so that a revoking change may be written (a running one would not see it)")
}

// errServerMayRun refuses a revoking change that a running server could not see.
var errServerMayRun = errors.New("with --user-store postgres and --session-store memory a running server keeps sessions and revocations in its own memory and would not see this change: stop it and add --servers-stopped, or use the admin API")

// userAdmin is the use cases on the configured stores, for one command.
type userAdmin struct {
	a      *app
	uses   *authn.Service
	unlock func()
}

// openUserAdmin wires the use cases for a command; write says that the command changes users.
func openUserAdmin(ctx context.Context, cfg *config, stderr io.Writer, write bool) (*userAdmin, error) {
	if err := cfg.validateStores(true); err != nil {
		return nil, err
	}
	if err := cfg.validateStore(); err != nil {
		return nil, err
	}
	unlock, err := cfg.claimForWrite(write)
	if err != nil {
		return nil, err
	}
	log, err := cfg.logger(stderr)
	if err != nil {
		unlock()
		return nil, err
	}
	cfg.AuditRetention = gatehouse.DefaultAuditRetention // only serve sweeps the trail
	ua := &userAdmin{unlock: unlock}
	if ua.a, err = openStores(ctx, cfg, log); err != nil {
		unlock()
		return nil, err
	}
	if ua.uses, err = ua.a.adminUseCases(ctx); err != nil {
		ua.Close()
		return nil, err
	}
	return ua, nil
}

// claimForWrite checks that a writing command may run (see above) and, on a SQLite data
// directory, takes its lock until the returned function is called.
func (c *config) claimForWrite(write bool) (unlock func(), err error) {
	switch {
	case !write:
		return func() {}, nil
	case c.usesSQLite():
		if err := c.ensureDataDir(); err != nil {
			return nil, err
		}
		unlock, err := lockDataDir(c.Data)
		if errors.Is(err, errDataDirInUse) {
			return nil, fmt.Errorf("%w: stop it first (its revocation view and session cache live in its process and would not see this change), or use the admin API", err)
		}
		return unlock, err
	case !c.multiInstance() && !c.ServersStopped:
		return nil, errServerMayRun
	}
	return func() {}, nil
}

// adminUseCases wires the use cases the commands need: sessions, refresh families and
// revocations on the configured stores (the revocation writes of the cluster configuration
// wait for every running instance), the audit trail and the e-mail links.
func (a *app) adminUseCases(ctx context.Context) (*authn.Service, error) {
	if a.cfg.SessionStore == "redis" {
		// This process serves no request: it reads Redis directly and joins no lease, so that
		// no instance waits for it, while its own revocations still wait for every instance.
		a.cfg.RedisClientCache = false
		if err := a.openRedis(ctx); err != nil {
			return nil, err
		}
	}
	store, err := a.sessionStore(ctx)
	if err != nil {
		return nil, err
	}
	revs, err := a.revocations(ctx)
	if err != nil {
		return nil, fmt.Errorf("revocations: %w", err)
	}
	return authn.New(authn.Deps{
		Accounts: a.accounts, Users: a.users, Sessions: session.NewManager(store, revs, session.Options{Now: a.now}),
		Refresh: refresh.NewRefresher(a.refreshStore(), 0, a.now), Revocations: revs,
		Audit: a.auditStore(), Links: a.emailLinks(),
	}, authn.Config{Logger: a.log, Now: a.now}), nil
}

// Close releases the stores and the data directory.
func (ua *userAdmin) Close() {
	ua.a.Close()
	ua.unlock()
}

// cliClient is how the commands appear in the audit trail.
var cliClient = authn.Client{IP: "local", UserAgent: "gatehouse command line"}

// find returns the user named by a username or an id.
func (ua *userAdmin) find(ctx context.Context, who string) (*gatehouse.User, error) {
	if gatehouse.ValidID(who) {
		if u, err := ua.uses.User(ctx, who); err == nil || !errors.Is(err, authn.ErrUserNotFound) {
			return u, err
		}
	}
	u, err := ua.a.users.UserByUsername(ctx, who)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, fmt.Errorf("no user %q (give a username or an id; gatehouse user list shows them)", who)
	}
	return u, err
}

// userAdminCmd builds one administration sub-command: run gets the wired use cases.
func userAdminCmd(use, short, long string, args cobra.PositionalArgs, write bool,
	flags func(*pflag.FlagSet), run func(cmd *cobra.Command, ua *userAdmin, args []string) error) *cobra.Command {
	cfg := &config{}
	cmd := &cobra.Command{
		Use: use, Short: short, Long: long, Args: args,
		RunE: func(cmd *cobra.Command, args []string) error {
			ua, err := openUserAdmin(cmd.Context(), cfg, cmd.ErrOrStderr(), write)
			if err != nil {
				return err
			}
			defer ua.Close()
			return cliError(run(cmd, ua, args))
		},
	}
	if flags != nil {
		flags(cmd.Flags())
	}
	cfg.adminFlags(cmd.Flags())
	documentEnv(cmd.Flags())
	return cmd
}

// cliError is err as the command prints it: a use case's error by its message, anything else
// (a store that does not answer) whole, since the operator at the terminal needs the cause.
func cliError(err error) error {
	var e *gatehouse.Error
	if err == nil || !errors.As(err, &e) || e.Code == gatehouse.EINTERNAL || e.Code == gatehouse.EUNAVAILABLE {
		return err
	}
	return errors.New(e.Message)
}
