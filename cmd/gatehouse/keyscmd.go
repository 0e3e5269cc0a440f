package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/token"
)

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage the token signing keys"}
	cmd.AddCommand(newKeysRotateCmd(), newKeysNewKEKCmd(), newKeysRewrapCmd())
	return cmd
}

func newKeysRotateCmd() *cobra.Command {
	cfg := &config{}
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Add a new signing key",
		Long: `Add a new signing key of --signing-alg to the key file in --data. The new key is published
in the JWKS at once and signs after --key-publish-ahead (default 10m): every running server
re-reads the key file within 10 seconds and JWKS caches expire within 5 minutes, so by the time
the new key signs, every instance and every verifier has it. --key-publish-ahead 0 makes it sign
at once (one instance, or a key to replace now). Old public keys stay published and keep
verifying the tokens they signed; a running server removes a replaced key from the key file and
the JWKS once every token it signed has expired (access TTL + clock skew + 1 minute after the new
key began to sign). To rotate on a schedule instead, run the server with --key-rotation-interval.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cfg.validateKeys(); err != nil {
				return err
			}
			if err := cfg.validateKeyStore(); err != nil {
				return err
			}
			if err := cfg.ensureDataDir(); err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			a := &app{cfg: cfg, log: log, now: time.Now}
			defer a.closeShared()
			storage, err := a.keyStorage(cmd.Context())
			if err != nil {
				return err
			}
			kid, err := token.RotateKeys(storage, cfg.keyOptions(time.Now))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "new %s signing key %s in the %s, signing %s\n", cfg.SigningAlg, kid, storage, activation(cfg.KeyPublishAhead))
			auditKeyRotation(cmd.Context(), a, kid)
			return nil
		},
	}
	cmd.Flags().StringVar(&cfg.Data, "data", "./gatehouse-data", "directory of the signing keys")
	cfg.keyFlags(cmd.Flags())
	cmd.Flags().StringVar(&cfg.PostgresURL, "postgres-url", "", "PostgreSQL connection URL (for --key-store postgres)")
	cmd.Flags().DurationVar(&cfg.PostgresTimeout, "postgres-timeout", 5*time.Second, "bound of each PostgreSQL call")
	documentEnv(cmd.Flags())
	return cmd
}

// activation says when a key published ahead by that long signs.
func activation(ahead time.Duration) string {
	if ahead <= 0 {
		return "now"
	}
	return "in " + ahead.String()
}
