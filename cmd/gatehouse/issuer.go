package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse"
)

// checkIssuer records this instance's issuer in the user store on its first start, and refuses
// to start an instance whose issuer differs from the recorded one: its tokens would be refused
// by every other instance sharing the store (and theirs by it).
func (a *app) checkIssuer(ctx context.Context) error {
	rec, ok := a.users.(gatehouse.IssuerRecorder)
	if !ok {
		return nil
	}
	want := a.cfg.issuer()
	got, err := rec.RecordIssuer(ctx, want)
	if err != nil {
		return fmt.Errorf("issuer: %w", err)
	}
	if got == want {
		return nil
	}
	how := "--issuer is " + want
	if a.cfg.Issuer == "" {
		how = "without --issuer it defaults to " + want + ", from --addr"
	}
	return fmt.Errorf("the user store (%s) records the issuer %q, but this instance would issue tokens with the issuer %q (%s): "+
		"tokens of one would be refused by the other. Start it with --issuer %s, or, to move every instance to the new issuer, "+
		"run \"gatehouse issuer set %s\" with the same store flags (tokens issued under the old one then stop verifying)",
		a.cfg.userStoreName(), got, want, how, got, want)
}

// userStoreName says which user store the configuration names, for messages.
func (c *config) userStoreName() string {
	if c.UserStore == "postgres" {
		return "PostgreSQL, --postgres-url"
	}
	return "SQLite, " + c.dbPath()
}

func newIssuerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "issuer", Short: "Change the token issuer recorded in the user store"}
	cmd.AddCommand(newIssuerSetCmd())
	return cmd
}

func newIssuerSetCmd() *cobra.Command {
	cfg := &config{}
	cmd := &cobra.Command{
		Use:   "set ISSUER",
		Short: "Record a new issuer in the user store",
		Long: `Record ISSUER as the issuer ("iss") of the access tokens in the user store. Every instance
sharing the store must then be started with --issuer ISSUER: an instance with another issuer
refuses to start. Access tokens issued under the old issuer stop verifying (clients refresh them).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "" {
				return fmt.Errorf("the issuer must not be empty")
			}
			return withIssuerRecorder(cmd, cfg, func(ctx context.Context, rec gatehouse.IssuerRecorder) error {
				if err := rec.ReplaceIssuer(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "issuer recorded: %s; start every instance with --issuer %s\n", args[0], args[0])
				return nil
			})
		},
	}
	cfg.storeFlags(cmd.Flags())
	documentEnv(cmd.Flags())
	return cmd
}

// withIssuerRecorder opens the configured user store and calls f with it.
func withIssuerRecorder(cmd *cobra.Command, cfg *config, f func(context.Context, gatehouse.IssuerRecorder) error) error {
	if err := cfg.validateStore(); err != nil {
		return err
	}
	log, err := cfg.logger(cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	a, err := openStores(cmd.Context(), cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	rec, ok := a.users.(gatehouse.IssuerRecorder)
	if !ok {
		return fmt.Errorf("this user store does not record an issuer")
	}
	return f(cmd.Context(), rec)
}
