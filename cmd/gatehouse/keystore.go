package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse-auth/gatehouse/postgres"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Where the signing keys live: the key file (the default), or PostgreSQL, sealed under a
// key-encryption key, for instances that share no file system.

// keyStoreConfig is the configuration of the signing keys' storage.
type keyStoreConfig struct {
	KeyStore string
	KEKFile  string
	KEK      string

	// copyFrom is set by migrate, whose --keys-file names the keys to copy, not where the
	// keys live.
	copyFrom bool
}

// keyStoreFlags are the flags of the keys' storage, for every command that opens the keys.
func (c *config) keyStoreFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.keyStore.KeyStore, "key-store", "file", "where the signing keys live: file (--keys-file) or postgres (the table signing_keys, sealed under the key-encryption key; needs --postgres-url)")
	fs.StringVar(&c.keyStore.KEKFile, "key-encryption-key-file", "", "with --key-store postgres: a file holding the key-encryption key, 32 random bytes in base64 or hex (gatehouse keys new-kek)")
	fs.StringVar(&c.keyStore.KEK, "key-encryption-key", "", "with --key-store postgres: the key-encryption key itself; prefer the file, or the environment variable (a flag's value shows in the process list)")
}

// validateKeyStore checks the storage's flags without reading anything.
func (c *config) validateKeyStore() error {
	ks := c.keyStore
	switch ks.KeyStore {
	case "file":
		if ks.KEKFile != "" || ks.KEK != "" {
			return errors.New("a key-encryption key is only for --key-store postgres: the key file is not encrypted (protect it with its 0600 mode)")
		}
		return nil
	case "postgres":
	default:
		return fmt.Errorf("--key-store %q: must be file or postgres", ks.KeyStore)
	}
	switch {
	case c.PostgresURL == "":
		return errors.New("--key-store postgres needs --postgres-url")
	case c.KeysFile != "" && !ks.copyFrom:
		return errors.New("--keys-file is for --key-store file; with --key-store postgres the keys live in the database")
	case ks.KEKFile == "" && ks.KEK == "":
		return fmt.Errorf("--key-store postgres needs a key-encryption key: --key-encryption-key-file, or the variable %s", envName("key-encryption-key"))
	case ks.KEKFile != "" && ks.KEK != "":
		return errors.New("give the key-encryption key once: --key-encryption-key-file or --key-encryption-key, not both")
	}
	return nil
}

// kek reads and decodes the key-encryption key.
func (c *config) kek() ([]byte, error) {
	text := []byte(c.keyStore.KEK)
	if c.keyStore.KEKFile != "" {
		var err error
		if text, err = os.ReadFile(c.keyStore.KEKFile); err != nil {
			return nil, fmt.Errorf("--key-encryption-key-file: %w", err)
		}
	}
	kek, err := token.ParseKEK(text)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	return kek, nil
}

// keyStorage returns where the keys live, connecting to PostgreSQL if needed.
func (a *app) keyStorage(ctx context.Context) (token.KeyStorage, error) {
	if a.cfg.keyStore.KeyStore != "postgres" {
		return token.FileStorage(a.cfg.keysPath()), nil
	}
	kek, err := a.cfg.kek()
	if err != nil {
		return nil, err
	}
	if a.shared.pg == nil {
		if err := a.openPostgres(ctx); err != nil {
			return nil, err
		}
	}
	return token.SealedStorage(postgres.NewKeyStore(a.shared.pg), kek)
}

func newKeysNewKEKCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "new-kek",
		Short: "Print a new key-encryption key (32 random bytes, base64), for --key-store postgres",
		Long: `Print a new key-encryption key: 32 bytes from the system's secure random source, in base64.
Write it to a file only the server's user can read and give it as --key-encryption-key-file to
every instance (or as the variable GATEHOUSE_KEY_ENCRYPTION_KEY):

    umask 077; gatehouse keys new-kek > /etc/gatehouse/kek`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), token.NewKEK())
			return err
		},
	}
}

func newKeysRewrapCmd() *cobra.Command {
	cfg := &config{}
	var next string
	cmd := &cobra.Command{
		Use:   "rewrap --postgres-url URL --key-encryption-key-file OLD --new-key-encryption-key-file NEW",
		Short: "Seal the signing keys in PostgreSQL under a new key-encryption key",
		Long: `Open the signing keys kept in PostgreSQL (--key-store postgres) with the current
key-encryption key and seal them again under the new one, under the keys' lock. The keys
themselves do not change: every token stays valid. Running instances keep the keys they have
loaded, but cannot read the table again (nor rotate) until they are restarted with the new
key-encryption key: restart them one after the other.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.keyStore.KeyStore = "postgres"
			if err := cfg.validateKeyStore(); err != nil {
				return err
			}
			return rewrap(cmd, cfg, next)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.PostgresURL, "postgres-url", "", "PostgreSQL connection URL (required)")
	fs.DurationVar(&cfg.PostgresTimeout, "postgres-timeout", 5*time.Second, "bound of each PostgreSQL call")
	fs.StringVar(&cfg.keyStore.KEKFile, "key-encryption-key-file", "", "the key-encryption key in use")
	fs.StringVar(&cfg.keyStore.KEK, "key-encryption-key", "", "the key-encryption key in use (prefer the file or the variable)")
	fs.StringVar(&next, "new-key-encryption-key-file", "", "the new key-encryption key (required; gatehouse keys new-kek)")
	documentEnv(fs)
	_ = cmd.MarkFlagRequired("new-key-encryption-key-file")
	return cmd
}

func rewrap(cmd *cobra.Command, cfg *config, nextFile string) error {
	text, err := os.ReadFile(nextFile)
	if err != nil {
		return fmt.Errorf("--new-key-encryption-key-file: %w", err)
	}
	nextKEK, err := token.ParseKEK(text)
	if err != nil {
		return fmt.Errorf("new key-encryption key: %w", err)
	}
	a := &app{cfg: cfg, log: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)), now: time.Now}
	defer a.closeShared()
	old, err := a.keyStorage(cmd.Context())
	if err != nil {
		return err
	}
	next, err := token.SealedStorage(postgres.NewKeyStore(a.shared.pg), nextKEK)
	if err != nil {
		return err
	}
	if err := token.Reseal(old, next); err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), "the signing keys are sealed under the new key-encryption key; restart every instance with it")
	return nil
}
