package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/postgres"
	"github.com/gatehouse-auth/gatehouse/redis"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

func newMigrateCmd() *cobra.Command {
	cfg := &config{}
	var force bool
	cmd := &cobra.Command{
		Use:   "migrate --data DIR --postgres-url URL --redis-url URL",
		Short: "Copy a single-binary deployment into PostgreSQL and Redis, for a cluster",
		Long: `Copy the SQLite data directory --data of a single gatehouse into the stores of a cluster:
users, refresh-token families (every token, rotated ones included, so reuse detection keeps
working), revocations and the audit trail into PostgreSQL, sessions into Redis under
--redis-prefix. Passwords, session cookies, access tokens and refresh tokens all keep working
on the cluster; revoked ones stay revoked. The cluster's instances must use the same signing
keys: the key file (--keys-file), or, with --key-store postgres, the keys copied into
PostgreSQL.

Stop the server first: the data directory must not be in use (or copy from a restored backup).
The copy refuses to write into a PostgreSQL database or a Redis prefix that holds anything,
unless --force. It is idempotent and resumable: run again, it copies what is missing and skips
what is there, and a copy from the same database that was interrupted resumes without --force.
Give the instances the same --session-idle-timeout and --session-absolute-timeout as here.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMigrate(cmd.Context(), cfg, force, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.Data, "data", "./gatehouse-data", "the single binary's data directory (its SQLite database)")
	fs.StringVar(&cfg.KeysFile, "keys-file", "", "the single binary's signing key file (default <data>/keys.json)")
	fs.DurationVar(&cfg.BusyTimeout, "sqlite-busy-timeout", 5*time.Second, "how long a SQLite statement waits for a lock")
	fs.StringVar(&cfg.PostgresURL, "postgres-url", "", "PostgreSQL connection URL of the cluster (required)")
	fs.DurationVar(&cfg.PostgresTimeout, "postgres-timeout", 30*time.Second, "bound of each PostgreSQL call")
	fs.StringVar(&cfg.RedisURL, "redis-url", "", "Redis URL of the cluster (required)")
	fs.StringVar(&cfg.RedisPrefix, "redis-prefix", "gatehouse:", "prefix of every Redis key, as the instances will use it")
	fs.DurationVar(&cfg.RedisTimeout, "redis-timeout", 5*time.Second, "bound of each Redis call")
	fs.DurationVar(&cfg.SessionIdle, "session-idle-timeout", 30*time.Minute, "as the instances will use it: a session unused this long expires")
	fs.DurationVar(&cfg.SessionAbsolute, "session-absolute-timeout", 12*time.Hour, "as the instances will use it: a session expires this long after login")
	cfg.keyStoreFlags(fs)
	fs.StringVar(&cfg.mfa.FactorKeyFile, "factor-key-file", "", "the factor key the instances will use (as their --factor-key-file); default: derived from the key-encryption key with --key-store postgres. The source's is <data>/factor.key")
	fs.BoolVar(&force, "force", false, "write into a PostgreSQL database or Redis prefix that already holds data")
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&cfg.LogFormat, "log-format", "text", "text or json")
	documentEnv(fs)
	return cmd
}

// tally counts what one part of a copy stored, and what it found stored already.
type tally struct{ copied, present, skipped int }

func (t tally) String() string {
	s := fmt.Sprintf("%d copied", t.copied)
	if t.present > 0 {
		s += fmt.Sprintf(", %d there already", t.present)
	}
	if t.skipped > 0 {
		s += fmt.Sprintf(", %d expired and left out", t.skipped)
	}
	return s
}

// migration is one run of gatehouse migrate.
type migration struct {
	cfg    *config
	log    *slog.Logger
	src    *sqlite.DB
	source string // the source database's id
	tgt    *app   // the PostgreSQL and Redis clients
	now    func() time.Time
	report []string
}

func (c *config) validateMigrate() error {
	switch {
	case c.PostgresURL == "":
		return errors.New("migrate needs --postgres-url")
	case c.RedisURL == "":
		return errors.New("migrate needs --redis-url")
	case c.PostgresTimeout <= 0 || c.RedisTimeout <= 0 || c.SessionIdle <= 0 || c.SessionAbsolute <= 0:
		return errors.New("timeouts must be positive")
	}
	c.UserStore, c.SessionStore = "postgres", "redis"
	c.keyStore.copyFrom = true
	return c.validateKeyStore()
}

func runMigrate(ctx context.Context, cfg *config, force bool, stdout, stderr io.Writer) error {
	if err := cfg.validateMigrate(); err != nil {
		return err
	}
	log, err := cfg.logger(stderr)
	if err != nil {
		return err
	}
	m, err := openMigration(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer m.close()
	if err := m.checkTarget(ctx, force); err != nil {
		return err
	}
	if err := m.copyAll(ctx); err != nil {
		return fmt.Errorf("migrate: %w (run the same command again to resume)", err)
	}
	fmt.Fprintf(stdout, "copied %s into PostgreSQL and Redis (prefix %q):\n  %s\n", cfg.Data, cfg.RedisPrefix, strings.Join(m.report, "\n  "))
	return nil
}

// openMigration opens the source database and the target stores.
func openMigration(ctx context.Context, cfg *config, log *slog.Logger) (*migration, error) {
	if dataDirLive(cfg.Data) {
		return nil, fmt.Errorf("migrate: %s: %w; stop it first (or copy from a restored backup)", cfg.Data, errDataDirInUse)
	}
	if _, err := sqlite.Check(ctx, cfg.dbPath()); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	m := &migration{cfg: cfg, log: log, now: time.Now, tgt: &app{cfg: cfg, log: log, now: time.Now}}
	var err error
	if m.src, err = sqlite.Open(ctx, cfg.dbPath(), cfg.BusyTimeout); err != nil {
		return nil, err
	}
	if m.source, err = m.src.ID(ctx); err == nil {
		err = m.tgt.openPostgres(ctx)
	}
	if err == nil {
		err = m.tgt.openRedis(ctx)
	}
	if err != nil {
		m.close()
		return nil, err
	}
	return m, nil
}

func (m *migration) close() {
	m.tgt.closeShared()
	if m.src != nil {
		m.src.Close()
	}
}

// checkTarget refuses a target that holds anything, unless a copy from this source was begun
// there (it resumes) or force is set.
func (m *migration) checkTarget(ctx context.Context, force bool) error {
	pg := m.tgt.shared.pg
	earlier, err := pg.ImportOf(ctx, m.source)
	if err != nil {
		return err
	}
	if earlier != nil {
		m.log.Info("a copy from this database was begun before: copying what is missing", "begun", earlier.StartedAt, "finished", !earlier.FinishedAt.IsZero())
		return nil
	}
	held, err := m.targetContents(ctx)
	if err != nil || len(held) == 0 {
		return err
	}
	if !force {
		return fmt.Errorf("migrate: the target is not empty (%s); refusing to mix two deployments. Copy into an empty database and Redis prefix, or pass --force to write into these",
			strings.Join(held, "; "))
	}
	m.log.Warn("writing into a target that is not empty (--force)", "holds", strings.Join(held, "; "))
	return nil
}

// targetContents describes what the target holds already.
func (m *migration) targetContents(ctx context.Context) ([]string, error) {
	counts, err := m.tgt.shared.pg.RowCounts(ctx)
	if err != nil {
		return nil, err
	}
	var held []string
	for _, t := range postgres.Tables {
		if counts[t] > 0 {
			held = append(held, fmt.Sprintf("%d rows in %s", counts[t], t))
		}
	}
	keys, err := redis.SampleKeys(ctx, m.tgt.shared.rdb, m.cfg.RedisPrefix, 3)
	if err != nil {
		return nil, err
	}
	if len(keys) > 0 {
		held = append(held, fmt.Sprintf("Redis keys under %q such as %q", m.cfg.RedisPrefix, keys[0]))
	}
	return held, nil
}

// copyAll copies every part, records the copy and audits it.
func (m *migration) copyAll(ctx context.Context) error {
	pg := m.tgt.shared.pg
	if err := pg.BeginImport(ctx, m.source, m.now()); err != nil {
		return err
	}
	for _, part := range []struct {
		name string
		copy func(context.Context) (string, error)
	}{
		{"users", m.copyUsers}, {"refresh families", m.copyRefresh}, {"revocations", m.copyRevocations},
		{"audit events", m.copyAudit}, {"sessions", m.copySessions}, {"signing keys", m.copyKeys},
		{"second factors", m.copyFactors},
	} {
		what, err := part.copy(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", part.name, err)
		}
		m.log.Info("copied", "part", part.name, "result", what)
		m.report = append(m.report, part.name+": "+what)
	}
	if err := pg.FinishImport(ctx, m.source, m.now(), strings.Join(m.report, "; ")); err != nil {
		return err
	}
	recordAudit(ctx, m.log, postgres.NewAuditStore(pg, 0), gatehouse.AuditEvent{Action: gatehouse.AuditDataMigrated,
		Outcome: gatehouse.AuditSuccess, Detail: "gatehouse migrate from a SQLite data directory: " + strings.Join(m.report, "; ")})
	return nil
}
