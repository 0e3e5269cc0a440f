package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/token"
)

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage the token signing keys"}
	cmd.AddCommand(newKeysRotateCmd())
	return cmd
}

func newKeysRotateCmd() *cobra.Command {
	cfg := &config{}
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Add a new signing key",
		Long: `Add a new signing key of --signing-alg to the key file in --data. The new key signs from
now on; old public keys stay published and keep verifying the tokens they signed. A running
server picks the new key up within 10 seconds, and removes a replaced key from the key file and
the JWKS once every token it signed has expired (access TTL + clock skew + 1 minute). To rotate
on a schedule instead, run the server with --key-rotation-interval.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cfg.ensureDataDir(); err != nil {
				return err
			}
			kid, err := token.RotateFile(cfg.keysPath(), token.KeyOptions{Alg: cfg.SigningAlg, HMACSecret: []byte(cfg.HMACSecret)})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "new %s signing key %s\n", cfg.SigningAlg, kid)
			auditKeyRotation(cmd.Context(), cfg, slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)), kid)
			return nil
		},
	}
	cmd.Flags().StringVar(&cfg.Data, "data", "./gatehouse-data", "directory of the signing keys")
	cfg.keyFlags(cmd.Flags())
	documentEnv(cmd.Flags())
	return cmd
}
