package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"
	"github.com/spf13/pflag"

	"github.com/gatehouse-auth/gatehouse"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/postgres"
	"github.com/gatehouse-auth/gatehouse/redis"
	"github.com/gatehouse-auth/gatehouse/revocation"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// Store wiring. Which store holds what:
//
//	--user-store  --session-store   users, refresh   sessions   revocations (request path)
//	sqlite        sqlite | memory   SQLite           as named   Mirror of SQLite       one instance
//	sqlite        redis             SQLite           Redis      Mirror of SQLite       one instance
//	postgres      sqlite | memory   PostgreSQL       as named   Mirror of PostgreSQL   one instance
//	postgres      redis             PostgreSQL       Redis      Redis, durable in PG   any number
//
// Only the last line is correct with several instances: every other line keeps state in one
// process or one file, or reads revocations from an in-process Mirror that only sees its own
// writes. The audit trail lives with the users (audit.go); the brute-force
// throttle counts in Redis whenever Redis is configured, else in process (throttle).

// postgresFlags are the PostgreSQL flags every command that opens the stores needs.
func (c *config) postgresFlags(fs *pflag.FlagSet) {
	fs.DurationVar(&c.PostgresTimeout, "postgres-timeout", 500*time.Millisecond, "bound of each PostgreSQL call; a database that does not answer in time gives 503")
}

// redisFlags are the Redis flags of "gatehouse serve".
func (c *config) redisFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.RedisPrefix, "redis-prefix", "gatehouse:", "prefix of every Redis key (in Redis Cluster, a hash tag such as {gatehouse}: would keep every key on one node; without one they spread)")
	fs.DurationVar(&c.RedisTimeout, "redis-timeout", redis.DefaultTimeout, "bound of each Redis call, retries included; a Redis that does not answer in time gives 503")
	fs.DurationVar(&c.RedisCacheTTL, "redis-cache-ttl", redis.DefaultCacheTTL, "longest time a client-side cached Redis read is served (invalidations normally end it sooner)")
	fs.DurationVar(&c.RedisLease, "redis-cache-lease", redis.DefaultLease, "how long an instance trusts its client-side cache after a heartbeat that Redis answered; each write of a revocation waits at most this long (and 5% more) for an instance that does not acknowledge it")
	fs.IntVar(&c.RedisSessionFormat, "redis-session-format", 3, "format of the sessions written to Redis: 3 (compact), or 2 while instances of the previous version, which read only format 2, share Redis during an upgrade (both are always read; see docs/redis-layout.md)")
	fs.BoolVar(&c.RedisClientCache, "redis-client-cache", true, "serve hot session and revocation reads from a client-side cache that Redis invalidates (RESP3 CLIENT TRACKING); turn it off for a Redis or proxy without it, at the cost of a round trip per read")
}

// validateStores checks the store names and what they need.
func (c *config) validateStores(serve bool) error {
	switch c.UserStore {
	case "sqlite":
	case "postgres":
		if c.PostgresURL == "" {
			return fmt.Errorf("--user-store postgres needs --postgres-url")
		}
	default:
		return fmt.Errorf("--user-store %q: must be sqlite or postgres", c.UserStore)
	}
	if c.PostgresTimeout <= 0 {
		return fmt.Errorf("--postgres-timeout must be positive")
	}
	if !serve {
		return nil
	}
	switch c.SessionStore {
	case "sqlite", "memory", "redis":
	default:
		return fmt.Errorf("--session-store %q: must be sqlite, memory or redis", c.SessionStore)
	}
	if c.RedisTimeout <= 0 || c.RedisCacheTTL <= 0 {
		return fmt.Errorf("--redis-timeout and --redis-cache-ttl must be positive")
	}
	if c.RedisLease < 20*time.Millisecond || c.RedisLease > time.Minute {
		return fmt.Errorf("--redis-cache-lease %v: must be between 20ms and 1m", c.RedisLease)
	}
	if c.RedisSessionFormat != 2 && c.RedisSessionFormat != 3 {
		return fmt.Errorf("--redis-session-format %d: must be 2 or 3", c.RedisSessionFormat)
	}
	if strings.Contains(c.RedisPrefix, "{}") {
		// Redis hashes a key with an empty hash tag whole, which would split each revocation
		// shard over several Cluster slots.
		return fmt.Errorf("--redis-prefix %q: an empty hash tag {} is not allowed", c.RedisPrefix)
	}
	return nil
}

// usesSQLite reports whether a store of serve lives in the SQLite database of the data
// directory.
func (c *config) usesSQLite() bool { return c.UserStore == "sqlite" || c.SessionStore == "sqlite" }

// multiInstance reports whether the configuration is correct with several instances.
func (c *config) multiInstance() bool { return c.UserStore == "postgres" && c.SessionStore == "redis" }

// shared holds the clients of the shared stores, when they are configured.
type shared struct {
	rdb   rueidis.Client
	peers *redis.Peers // the other instances on the same Redis prefix (revocation barriers, cache lease)
	// settled observes how long revocations waited for the other instances.
	settled *prometheus.HistogramVec
	// invalidations counts the client-side-cache invalidations Redis pushed to this instance.
	invalidations prometheus.Counter
	pgPool        *pgxpool.Pool
	pg            *postgres.DB
}

// openPostgres connects to --postgres-url and migrates the schema.
func (a *app) openPostgres(ctx context.Context) error {
	pcfg, err := pgxpool.ParseConfig(a.cfg.PostgresURL)
	if err != nil {
		return fmt.Errorf("--postgres-url: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	db, err := postgres.Open(ctx, pool, postgres.Options{Timeout: a.cfg.PostgresTimeout})
	if err != nil {
		pool.Close()
		return fmt.Errorf("postgres: %w", err)
	}
	a.shared.pgPool, a.shared.pg = pool, db
	return nil
}

// openRedis connects to --redis-url: redis:// or rediss:// (TLS), with ?addr= for more
// nodes (a Cluster is detected by itself) and ?master_set= for Sentinel (the addresses are
// then the sentinels').
func (a *app) openRedis(ctx context.Context) error {
	opt, err := rueidis.ParseURL(a.cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("--redis-url: %w", err)
	}
	redis.PrepareClientOption(&opt, a.cfg.RedisTimeout)
	a.shared.invalidations = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_redis_invalidations_total",
		Help: "Keys whose client-side-cached copy Redis invalidated on this instance (one per key and instance that had read it; a lost connection, which flushes the whole cache, counts none).",
	})
	opt.OnInvalidations = func(keys []rueidis.RedisMessage) { a.shared.invalidations.Add(float64(len(keys))) }
	if !a.cfg.RedisClientCache {
		opt.DisableCache = true // DoCache becomes a plain read; ?client_cache=0 does the same
	}
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return fmt.Errorf("redis at %s: %w", strings.Join(opt.InitAddress, ","), err)
	}
	a.shared.rdb = c
	a.warnEviction(ctx)
	a.shared.settled = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gatehouse_revocation_settle_seconds",
		Help:    "How long each revoking write waited until every instance had applied it or stopped trusting its cache; lease_waited=true when an instance did not acknowledge and its lease had to run out.",
		Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"lease_waited"})
	a.shared.peers = redis.NewPeers(c, a.cfg.RedisPrefix, redis.PeerOptions{
		Lease: a.cfg.RedisLease, Cache: a.cfg.RedisClientCache, Timeout: a.cfg.RedisTimeout,
		Logger: func(msg string, args ...any) { a.log.Warn(msg, args...) },
		OnBarrier: func(took time.Duration, waited bool) {
			a.shared.settled.WithLabelValues(strconv.FormatBool(waited)).Observe(took.Seconds())
		},
	})
	a.shared.peers.Start()
	return nil
}

// warnEviction logs a warning when Redis may evict keys: an evicted session logs a user out,
// but an evicted revocation would bring a revoked token back.
func (a *app) warnEviction(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c := a.shared.rdb
	m, err := c.Do(ctx, c.B().ConfigGet().Parameter("maxmemory-policy").Build()).AsStrMap()
	if err != nil {
		a.log.Warn("could not read the Redis eviction policy (CONFIG GET); make sure it is noeviction", "err", err)
		return
	}
	if p := m["maxmemory-policy"]; p != "noeviction" {
		a.log.Warn("Redis may evict keys: set maxmemory-policy to noeviction", "maxmemory-policy", p)
	}
}

// sqliteDB opens the SQLite database on first use.
func (a *app) sqliteDB(ctx context.Context) (*sqlite.DB, error) {
	if a.db != nil {
		return a.db, nil
	}
	db, err := sqlite.Open(ctx, a.cfg.dbPath(), a.cfg.BusyTimeout)
	if err != nil {
		return nil, err
	}
	a.db = db
	return db, nil
}

// userStore opens the configured user store.
func (a *app) userStore(ctx context.Context) (gatehouse.UserStore, error) {
	if a.cfg.UserStore == "postgres" {
		if err := a.openPostgres(ctx); err != nil {
			return nil, err
		}
		return postgres.NewUserStore(a.shared.pg), nil
	}
	db, err := a.sqliteDB(ctx)
	if err != nil {
		return nil, err
	}
	return sqlite.NewUserStore(db), nil
}

// clientStore returns the store of the registered OpenID Connect clients, which lives with the
// users.
func (a *app) clientStore() gatehouse.ClientStore {
	if a.shared.pg != nil {
		return postgres.NewClientStore(a.shared.pg)
	}
	return sqlite.NewClientStore(a.db)
}

// grantStore returns the store of users' grants to clients, which lives with the users.
func (a *app) grantStore() gatehouse.GrantStore {
	if a.shared.pg != nil {
		return postgres.NewGrantStore(a.shared.pg)
	}
	return sqlite.NewGrantStore(a.db)
}

// refreshStore returns the refresh-token store, which lives with the users.
func (a *app) refreshStore() gatehouse.RefreshStore {
	if a.shared.pg != nil {
		s := postgres.NewRefreshStore(a.shared.pg)
		a.expirers = append(a.expirers, s)
		return s
	}
	s := sqlite.NewRefreshStore(a.db)
	a.expirers = append(a.expirers, s)
	return s
}

// revocations returns the revocation view of the request path. With users in PostgreSQL and
// sessions in Redis it is Redis, client-side cached and durable in PostgreSQL; otherwise an
// in-process Mirror of the users' database, exact for one instance.
func (a *app) revocations(ctx context.Context) (gatehouse.RevocationStore, error) {
	if a.cfg.multiInstance() {
		durable := postgres.NewRevocationStore(a.shared.pg)
		a.expirers = append(a.expirers, durable)
		rs := redis.NewRevocationStore(a.shared.rdb, a.cfg.RedisPrefix, redis.RevocationOptions{
			Options: a.redisOptions(), Durable: durable,
			Logger: func(msg string, args ...any) { a.log.Warn(msg, args...) },
		})
		if err := rs.Sync(ctx); err != nil {
			// Not fatal: until Redis is filled, revocation reads go to PostgreSQL and the
			// first of them starts another fill.
			a.log.Warn("filling Redis with the revocations of PostgreSQL failed; reading them from PostgreSQL meanwhile", "err", err)
		}
		return rs, nil
	}
	var store gatehouse.RevocationStore
	if a.shared.pg != nil {
		store = postgres.NewRevocationStore(a.shared.pg)
	} else {
		store = sqlite.NewRevocationStore(a.db)
	}
	m, err := revocation.NewMirror(ctx, store, a.now)
	if err != nil {
		return nil, err
	}
	a.mirror = m
	a.expirers = append(a.expirers, m)
	return m, nil
}

func (a *app) redisOptions() redis.Options {
	return redis.Options{Timeout: a.cfg.RedisTimeout, CacheTTL: a.cfg.RedisCacheTTL, Now: a.now, Peers: a.shared.peers}
}

// sessionStore returns the configured session store. The SQLite and memory ones are swept for
// expired sessions; Redis expires its keys itself.
func (a *app) sessionStore(ctx context.Context) (gatehouse.SessionStore, error) {
	switch a.cfg.SessionStore {
	case "memory":
		s := memory.NewSessionStore()
		a.expirers = append(a.expirers, s)
		return s, nil
	case "redis":
		return redis.NewSessionStore(a.shared.rdb, a.cfg.RedisPrefix, redis.SessionOptions{
			Options: a.redisOptions(), IdleTimeout: a.cfg.SessionIdle, MaxLifetime: a.cfg.SessionAbsolute,
			Format: a.cfg.RedisSessionFormat,
		}), nil
	}
	db, err := a.sqliteDB(ctx)
	if err != nil {
		return nil, err
	}
	s := sqlite.NewSessionStore(db)
	a.expirers = append(a.expirers, s)
	return s, nil
}

// readyChecks are what /readyz runs: every store in use must answer.
func (a *app) readyChecks() []func(context.Context) error {
	checks := []func(context.Context) error{a.drain.notDraining}
	if a.db != nil {
		checks = append(checks, a.db.Ping)
	}
	if a.shared.pg != nil {
		checks = append(checks, a.shared.pg.Ping)
	}
	if c := a.shared.rdb; c != nil {
		timeout := a.cfg.RedisTimeout
		checks = append(checks, func(ctx context.Context) error { return redis.Ping(ctx, c, timeout) })
	}
	return checks
}

// registerRedisGauges reports the memory Redis uses: the overhead of the sessions kept there.
func (a *app) registerRedisGauges(m *ghttp.Metrics) {
	c := a.shared.rdb
	if c == nil {
		return
	}
	m.Registry().MustRegister(a.shared.settled, a.shared.invalidations)
	m.GaugeFunc("gatehouse_redis_used_memory_bytes", "Memory used by the Redis server (INFO memory used_memory; on Redis Cluster the sum over the primaries), -1 if it does not answer.", func() float64 {
		used, err := redis.UsedMemory(context.Background(), c, time.Second)
		if err != nil {
			return -1
		}
		return float64(used)
	})
}

// closeShared releases the clients of the shared stores.
func (a *app) closeShared() {
	if a.shared.peers != nil {
		a.shared.peers.Close()
	}
	if a.shared.rdb != nil {
		a.shared.rdb.Close()
	}
	if a.shared.pgPool != nil {
		a.shared.pgPool.Close()
	}
}
