package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/sqlite"
	"github.com/gatehouse-auth/gatehouse/token"
)

func newBackupCmd() *cobra.Command {
	cfg := &config{}
	var out string
	cmd := &cobra.Command{
		Use:   "backup --data DIR --out FILE",
		Short: "Back up a data directory (database and signing keys) while the server runs",
		Long: `Write a backup of the SQLite data directory --data to --out, a new file (mode 0600): a
consistent copy of the database, taken in one read transaction while the server goes on
serving (SQLite's VACUUM INTO; a plain copy of a database in WAL mode is not a backup), with the
signing key file, the factor key that seals second-factor secrets (--factor-key-file, or
<data>/factor.key) when there is one, and a manifest of them. The copy passes SQLite's integrity check before the
archive is written. "gatehouse restore" puts it back.

The archive holds password hashes, the private signing keys and the factor key: keep it as
secret as the data directory. With --user-store postgres, back up PostgreSQL with pg_dump and the signing keys (the
key file, or the key-encryption key) instead: see docs/operations.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return backup(cmd.Context(), cfg, out, cmd.OutOrStdout())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.Data, "data", "./gatehouse-data", "the data directory to back up")
	fs.StringVar(&cfg.KeysFile, "keys-file", "", "the signing key file (default <data>/keys.json)")
	fs.StringVar(&cfg.mfa.FactorKeyFile, "factor-key-file", "", "the key file that seals second-factor secrets, if the server uses one outside the data directory (default <data>/factor.key, when it exists)")
	fs.StringVar(&out, "out", "", "the archive to write; it must not exist (required)")
	documentEnv(fs)
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// backup writes the archive of cfg's data directory to out.
func backup(ctx context.Context, cfg *config, out string, w io.Writer) error {
	if _, err := os.Lstat(out); err == nil {
		return fmt.Errorf("backup: %s already exists; refusing to overwrite it", out)
	}
	stage, err := os.MkdirTemp(filepath.Dir(out), ".gatehouse-backup-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(stage)
	err = sqlite.Backup(ctx, cfg.dbPath(), filepath.Join(stage, archiveDBName))
	if errors.Is(err, sqlite.ErrNoDatabase) {
		return fmt.Errorf("backup: %w; with --user-store postgres, back up PostgreSQL with pg_dump and the signing keys (docs/operations.md)", err)
	}
	if err != nil {
		return err
	}
	// The keys are read after the database: keys are only ever added, or removed once every
	// token they signed has expired, so these keys verify every token the copy knows of.
	doc, kids, err := token.ReadKeys(token.FileStorage(cfg.keysPath()))
	if err != nil {
		return fmt.Errorf("backup: signing keys: %w", err)
	}
	if err := os.WriteFile(filepath.Join(stage, archiveKeysName), doc, 0o600); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	withFactorKey, err := stageFactorKey(cfg, stage)
	if err != nil {
		return err
	}
	m, err := stageManifest(ctx, stage, kids, withFactorKey)
	if err != nil {
		return err
	}
	if err := writeArchive(out, m, stage); err != nil {
		return err
	}
	fmt.Fprintf(w, "backup of %s written to %s: %s; %d signing keys%s\n", cfg.Data, out, describeRows(m.Rows), len(kids), factorKeyNote(withFactorKey))
	return nil
}

// factorKeyPath is where the factor key of cfg's data directory is: --factor-key-file, or
// <data>/factor.key.
func (c *config) factorKeyPath() string {
	if c.mfa.FactorKeyFile != "" {
		return c.mfa.FactorKeyFile
	}
	return filepath.Join(c.Data, factorKeyName)
}

// stageFactorKey copies the factor key into stage, checked, and reports whether there was
// one: without it the copied second-factor secrets could not be opened. A --factor-key-file
// that is missing or not a key is an error; a data directory without factor.key has no key
// to keep (second factors were never used there, or the key lives elsewhere: the server's
// --factor-key-file, or one derived from the key-encryption key).
func stageFactorKey(cfg *config, stage string) (bool, error) {
	path := cfg.factorKeyPath()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && cfg.mfa.FactorKeyFile == "" {
		return false, nil
	}
	if _, err := readKeyFile(path); err != nil {
		return false, fmt.Errorf("backup: %w", err)
	}
	text, err := os.ReadFile(path)
	if err == nil {
		err = os.WriteFile(filepath.Join(stage, archiveFactorKey), text, 0o600)
	}
	if err != nil {
		return false, fmt.Errorf("backup: factor key: %w", err)
	}
	return true, nil
}

func factorKeyNote(with bool) string {
	if with {
		return "; the factor key"
	}
	return "; no factor key"
}

// stageManifest checks the staged database and describes the staged files.
func stageManifest(ctx context.Context, stage string, kids []string, withFactorKey bool) (*backupManifest, error) {
	facts, err := sqlite.Check(ctx, filepath.Join(stage, archiveDBName))
	if err != nil {
		return nil, fmt.Errorf("backup: the copy failed its check: %w", err)
	}
	m := &backupManifest{Format: archiveFormat, Version: archiveVersion, CreatedAt: time.Now().UTC(),
		SchemaVersion: facts.SchemaVersion, Rows: facts.Rows, KIDs: kids}
	names := []string{archiveDBName, archiveKeysName}
	if withFactorKey {
		names = append(names, archiveFactorKey)
	}
	for _, name := range names {
		f, err := describeFile(name, filepath.Join(stage, name))
		if err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		m.Files = append(m.Files, f)
	}
	return m, nil
}

// describeRows says how many rows of each table, in the schema's order.
func describeRows(rows map[string]int) string {
	var parts []string
	for _, t := range sqlite.Tables {
		parts = append(parts, fmt.Sprintf("%d %s", rows[t], strings.ReplaceAll(t, "_", " ")))
	}
	return strings.Join(parts, ", ")
}

func newRestoreCmd() *cobra.Command {
	cfg := &config{}
	var from string
	cmd := &cobra.Command{
		Use:   "restore --from FILE --data DIR",
		Short: "Restore a backup into a new data directory",
		Long: `Restore the archive --from (written by "gatehouse backup") into the data directory --data,
which must be new or empty, and in which no server may run: restore never overwrites data.
Every file is checked against the archive's manifest, and the database passes SQLite's
integrity check, before anything is put in place; files are written 0600 in a 0700
directory. Start the server on the directory afterwards. Run it as the user the server runs
as, so that the files belong to that user.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return restore(cmd.Context(), cfg, from, cmd.OutOrStdout())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&from, "from", "", "the backup archive (required)")
	fs.StringVar(&cfg.Data, "data", "./gatehouse-data", "the data directory to create; it must not exist or be empty")
	fs.StringVar(&cfg.KeysFile, "keys-file", "", "where to put the signing key file (default <data>/keys.json); it must not exist")
	fs.StringVar(&cfg.mfa.FactorKeyFile, "factor-key-file", "", "where to put the factor key, when the archive holds one (default <data>/factor.key); it must not exist")
	documentEnv(fs)
	_ = cmd.MarkFlagRequired("from")
	return cmd
}

// restore writes the archive from into cfg's new data directory.
func restore(ctx context.Context, cfg *config, from string, w io.Writer) error {
	if err := checkRestoreTarget(cfg); err != nil {
		return err
	}
	src, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer src.Close()
	_, statErr := os.Stat(cfg.Data)
	if err := cfg.ensureDataDir(); err != nil {
		return err
	}
	unlock, err := lockDataDir(cfg.Data) // no server may start on it meanwhile
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	m, err := restoreArchive(ctx, cfg, src)
	unlock()
	if err != nil {
		// Leave the directory as it was found, so that the next attempt is not refused.
		os.Remove(filepath.Join(cfg.Data, dataLockName))
		if statErr != nil {
			os.Remove(cfg.Data)
		}
		return fmt.Errorf("restore from %s: %w", from, err)
	}
	auditRestore(ctx, cfg, m)
	fmt.Fprintf(w, "restored %s (backup of %s) into %s: %s; %d signing keys\n",
		from, m.CreatedAt.Format(time.RFC3339), cfg.Data, describeRows(m.Rows), len(m.KIDs))
	return nil
}

// restoreArchive extracts, checks and places the files of the archive src.
func restoreArchive(ctx context.Context, cfg *config, src io.Reader) (*backupManifest, error) {
	m, staged, err := readArchive(src, cfg.Data)
	defer func() {
		for _, p := range staged {
			os.Remove(p) // a no-op for what was moved into place
		}
	}()
	if err != nil {
		return nil, err
	}
	if err := checkStaged(ctx, m, staged); err != nil {
		return nil, err
	}
	return m, placeRestored(cfg, staged)
}

// checkRestoreTarget refuses a data directory that a server runs on or that holds anything,
// and a key file that exists.
func checkRestoreTarget(cfg *config) error {
	if dataDirLive(cfg.Data) {
		return fmt.Errorf("restore: refusing to restore into %s: %w", cfg.Data, errDataDirInUse)
	}
	entries, err := os.ReadDir(cfg.Data)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("restore: %w", err)
	}
	if len(entries) > 0 {
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		return fmt.Errorf("restore: refusing to restore into %s: it is not empty (it holds %s); restore into a new or empty directory and point --data at it",
			cfg.Data, strings.Join(names, ", "))
	}
	if _, err := os.Lstat(cfg.keysPath()); err == nil {
		return fmt.Errorf("restore: refusing to overwrite the key file %s", cfg.keysPath())
	}
	if _, err := os.Lstat(cfg.factorKeyPath()); err == nil {
		return fmt.Errorf("restore: refusing to overwrite the factor key file %s", cfg.factorKeyPath())
	}
	return nil
}

// checkStaged checks the extracted files: the database's integrity and row counts, the keys.
func checkStaged(ctx context.Context, m *backupManifest, staged map[string]string) error {
	facts, err := sqlite.Check(ctx, staged[archiveDBName])
	if err != nil {
		return err
	}
	for t, n := range m.Rows {
		if facts.Rows[t] != n {
			return fmt.Errorf("%w: the database holds %d %s, the manifest says %d", errBadArchive, facts.Rows[t], t, n)
		}
	}
	if _, _, err := token.ReadKeys(token.FileStorage(staged[archiveKeysName])); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	if p, ok := staged[archiveFactorKey]; ok {
		if _, err := readKeyFile(p); err != nil {
			return err
		}
	}
	return nil
}

// placeRestored moves the checked files to their places: the key file first, the database
// last (a directory with a database and no keys would make the server refuse to start).
func placeRestored(cfg *config, staged map[string]string) error {
	doc, err := os.ReadFile(staged[archiveKeysName])
	if err == nil {
		err = token.FileStorage(cfg.keysPath()).Store(doc, true) // never over an existing file
	}
	if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	if p, ok := staged[archiveFactorKey]; ok {
		if err := placeNew(p, cfg.factorKeyPath()); err != nil {
			os.Remove(cfg.keysPath())
			return fmt.Errorf("factor key: %w", err)
		}
	}
	if err := os.Rename(staged[archiveDBName], cfg.dbPath()); err != nil {
		os.Remove(cfg.keysPath())
		if _, ok := staged[archiveFactorKey]; ok {
			os.Remove(cfg.factorKeyPath())
		}
		return fmt.Errorf("database: %w", err)
	}
	return nil
}

// placeNew moves the file from to the path to, which must not exist (a link, then the
// removal of from: never over an existing file, even across a race).
func placeNew(from, to string) error {
	if err := os.Link(from, to); err != nil {
		return err
	}
	return os.Remove(from)
}

// auditRestore records the restore in the restored database's audit trail (best effort).
func auditRestore(ctx context.Context, cfg *config, m *backupManifest) {
	log := slog.New(slog.DiscardHandler)
	db, err := sqlite.Open(ctx, cfg.dbPath(), 0)
	if err != nil {
		return
	}
	defer db.Close()
	recordAudit(ctx, log, sqlite.NewAuditStore(db, 0), gatehouse.AuditEvent{Action: gatehouse.AuditDataRestored,
		Outcome: gatehouse.AuditSuccess, Detail: "from a backup taken at " + m.CreatedAt.Format(time.RFC3339)})
}
