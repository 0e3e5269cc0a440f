package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse"
)

// The "client" commands manage the applications registered to sign users in through the
// OpenID Provider, in the configured user store (same --data and --user-store flags as serve).

func newClientCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "client", Short: "Manage the applications that sign users in through gatehouse (OpenID Connect clients)"}
	cmd.AddCommand(newClientAddCmd(), newClientListCmd(), newClientShowCmd(), newClientRotateSecretCmd(), newClientDeleteCmd())
	return cmd
}

// clientCommand builds a client sub-command that opens the stores and runs fn on the client
// store.
func clientCommand(use, short, long string, args cobra.PositionalArgs, fn func(cmd *cobra.Command, a *app, cs gatehouse.ClientStore, args []string) error) (*cobra.Command, *config) {
	cfg := &config{}
	cmd := &cobra.Command{Use: use, Short: short, Long: long, Args: args,
		RunE: func(cmd *cobra.Command, args []string) error {
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
			if err := fn(cmd, a, a.clientStore(), args); err != nil {
				return errors.New(gatehouse.ErrorMessage(err))
			}
			return nil
		}}
	cfg.storeFlags(cmd.Flags())
	documentEnv(cmd.Flags())
	return cmd, cfg
}

func newClientAddCmd() *cobra.Command {
	var spec gatehouse.ClientSpec
	cmd, _ := clientCommand("add --name N --redirect-uri URI [--public] [--first-party] [--scopes openid,profile,email]",
		"Register a client",
		`Register an application that signs users in with OpenID Connect (authorization code flow).
A confidential client (the default: a server-side web app) gets a secret, printed once and
stored only as a hash: keep it in the application's configuration. A public client (--public:
a single-page or native app) has no secret and must use PKCE. Redirect URIs are matched
exactly; on http://127.0.0.1 and http://[::1] any port is accepted, for native apps.`,
		cobra.NoArgs, func(cmd *cobra.Command, a *app, cs gatehouse.ClientStore, _ []string) error {
			c, secret, err := gatehouse.NewClient(spec, a.now())
			if err != nil {
				return err
			}
			if err := cs.CreateClient(cmd.Context(), c); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "created client %q\nclient_id: %s\n", c.Name, c.ID)
			if secret != "" {
				fmt.Fprintf(out, "client_secret (shown only this once): %s\n", secret)
			}
			recordAudit(cmd.Context(), a.log, a.auditSink(), gatehouse.AuditEvent{Action: gatehouse.AuditClientCreated,
				Outcome: gatehouse.AuditSuccess, Detail: "gatehouse client add " + c.ID})
			return nil
		})
	fs := cmd.Flags()
	fs.StringVar(&spec.Name, "name", "", "the application's name, shown to users (required)")
	fs.StringArrayVar(&spec.RedirectURIs, "redirect-uri", nil, "a redirect URI, matched exactly; repeat for more (required)")
	fs.BoolVar(&spec.Public, "public", false, "a public client (single-page or native app): no secret, PKCE required")
	fs.BoolVar(&spec.FirstParty, "first-party", false, "an application of this deployment's operator: users are not asked to consent")
	fs.StringSliceVar(&spec.Scopes, "scopes", nil, "scopes the client may ask for, among "+strings.Join(gatehouse.ClientScopes, ",")+" (default all)")
	fs.StringArrayVar(&spec.PostLogoutRedirectURIs, "post-logout-redirect-uri", nil, "where the end-session endpoint may send the browser back, matched exactly; repeat for more")
	fs.StringVar(&spec.BackchannelLogoutURI, "backchannel-logout-uri", "", "receives a signed logout token when a user of the client signs out (https, or http on a loopback address)")
	fs.StringVar(&spec.IDTokenAlg, "id-token-alg", "", "the client's ID token algorithm, "+strings.Join(gatehouse.IDTokenAlgs, ", ")+" (default: the server's)")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("redirect-uri")
	return cmd
}

func newClientListCmd() *cobra.Command {
	cmd, _ := clientCommand("list", "List the registered clients", "", cobra.NoArgs,
		func(cmd *cobra.Command, _ *app, cs gatehouse.ClientStore, _ []string) error {
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLIENT_ID\tNAME\tTYPE\tFIRST_PARTY\tREDIRECT_URIS")
			after := ""
			for {
				page, err := cs.ListClients(cmd.Context(), after, 100)
				if err != nil {
					return err
				}
				for _, c := range page {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\n", c.ID, c.Name, clientType(c), c.FirstParty, strings.Join(c.RedirectURIs, " "))
				}
				if len(page) < 100 {
					return tw.Flush()
				}
				after = page[len(page)-1].ID
			}
		})
	return cmd
}

func newClientShowCmd() *cobra.Command {
	cmd, _ := clientCommand("show CLIENT_ID", "Show a registered client (never its secret)", "", cobra.ExactArgs(1),
		func(cmd *cobra.Command, _ *app, cs gatehouse.ClientStore, args []string) error {
			c, err := clientByArg(cmd.Context(), cs, args[0])
			if err != nil {
				return err
			}
			printClient(cmd.OutOrStdout(), c)
			return nil
		})
	return cmd
}

func newClientRotateSecretCmd() *cobra.Command {
	cmd, _ := clientCommand("rotate-secret CLIENT_ID", "Give a confidential client a new secret (printed once; the old one stops working)", "", cobra.ExactArgs(1),
		func(cmd *cobra.Command, a *app, cs gatehouse.ClientStore, args []string) error {
			c, err := clientByArg(cmd.Context(), cs, args[0])
			if err != nil {
				return err
			}
			secret, err := c.RotateSecret()
			if err != nil {
				return err
			}
			if err := cs.UpdateClient(cmd.Context(), c); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "client_id: %s\nclient_secret (shown only this once): %s\n", c.ID, secret)
			recordAudit(cmd.Context(), a.log, a.auditSink(), gatehouse.AuditEvent{Action: gatehouse.AuditClientSecretRotated,
				Outcome: gatehouse.AuditSuccess, Detail: "gatehouse client rotate-secret " + c.ID})
			return nil
		})
	return cmd
}

func newClientDeleteCmd() *cobra.Command {
	cmd, _ := clientCommand("delete CLIENT_ID", "Delete a registered client", "", cobra.ExactArgs(1),
		func(cmd *cobra.Command, a *app, cs gatehouse.ClientStore, args []string) error {
			if _, err := clientByArg(cmd.Context(), cs, args[0]); err != nil {
				return err
			}
			if err := cs.DeleteClient(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted client %s\n", args[0])
			recordAudit(cmd.Context(), a.log, a.auditSink(), gatehouse.AuditEvent{Action: gatehouse.AuditClientDeleted,
				Outcome: gatehouse.AuditSuccess, Detail: "gatehouse client delete " + args[0]})
			return nil
		})
	return cmd
}

// clientByArg looks a client up, answering "no client" for anything that is not an id.
func clientByArg(ctx context.Context, cs gatehouse.ClientStore, id string) (*gatehouse.Client, error) {
	if !gatehouse.ValidID(id) {
		return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "no client %q", id)
	}
	c, err := cs.ClientByID(ctx, id)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "no client %q", id)
	}
	return c, err
}

func clientType(c *gatehouse.Client) string {
	if c.Public {
		return "public"
	}
	return "confidential"
}

func printClient(w io.Writer, c *gatehouse.Client) {
	fmt.Fprintf(w, "client_id:     %s\nname:          %s\ntype:          %s\nfirst_party:   %t\nscopes:        %s\ncreated_at:    %s\n",
		c.ID, c.Name, clientType(c), c.FirstParty, strings.Join(c.Scopes, " "), c.CreatedAt.Format(time.RFC3339))
	for _, u := range c.RedirectURIs {
		fmt.Fprintf(w, "redirect_uri:  %s\n", u)
	}
	for _, u := range c.PostLogoutRedirectURIs {
		fmt.Fprintf(w, "post_logout_redirect_uri: %s\n", u)
	}
	if c.BackchannelLogoutURI != "" {
		fmt.Fprintf(w, "backchannel_logout_uri: %s\n", c.BackchannelLogoutURI)
	}
	if c.IDTokenAlg != "" {
		fmt.Fprintf(w, "id_token_signed_response_alg: %s\n", c.IDTokenAlg)
	}
}
