// Package redis implements gatehouse's shared stores on Redis with github.com/redis/rueidis:
// a SessionStore, a RevocationStore and a Throttle that many gatehouse instances use at once.
//
// Reads on the request path (FindSession, TokenRevoked, NotBefore) go through rueidis
// server-assisted client-side caching (DoCache, RESP3 CLIENT TRACKING) when the stores have a
// Peers (Options.Peers): a hot session or revocation check is answered from the process's
// memory without a round trip, and a write on any instance makes Redis send an invalidation to
// every other instance that cached the key. Peers makes that exact: an instance trusts its
// cache only under a lease that its heartbeats renew, and every revoking write returns only
// once every instance has applied it or stopped trusting its cache. Without a Peers, or with a
// client created with DisableCache, every read is a round trip instead.
//
// Every key starts with a configurable prefix. Constructors take a ready rueidis.Client; parsing
// URLs (redis://, rediss://, Sentinel and Cluster options) is the caller's business. No
// operation scans the key space. The stores run on a single node, on Sentinel and on Redis
// Cluster: pipelines (DoMulti) may span hash slots, and every command or script that names
// several keys names keys of one hash slot (the revocation shards' hash tags {rev:n}, see
// RevocationStore, and the throttle's {thr}), so a Cluster client never has to refuse one.
//
// Every call is bounded by Options.Timeout; a Redis that does not answer in time, or at all,
// gives gatehouse.ErrUnavailable.
package redis

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse-auth/gatehouse"
)

// Defaults of Options.
const (
	// DefaultTimeout bounds each call to Redis, retries included. It is short so that a request
	// whose store is down fails with 503 well within half a second.
	DefaultTimeout = 250 * time.Millisecond
	// DefaultCacheTTL bounds how long a client-side cached read is kept. Invalidations from Redis
	// normally end it much earlier; the bound only limits the damage of a lost invalidation.
	DefaultCacheTTL = time.Minute
)

// Options configures the stores. Zero fields take the defaults.
type Options struct {
	// Timeout bounds each call to Redis, retries included. Default DefaultTimeout.
	Timeout time.Duration
	// CacheTTL is the longest time a client-side cached read is served. Default DefaultCacheTTL.
	CacheTTL time.Duration
	// Now is the clock that turns absolute expiry times into Redis TTLs. Default time.Now.
	// TTLs are relative durations, so the clocks of Redis and of the instances need not agree.
	Now func() time.Time
	// Peers, when set, lets reads come from the client-side cache while this instance holds
	// its lease, and makes every revoking write wait for the other instances (see Peers).
	// Every instance that shares the prefix must use one. Without it, every read is a round
	// trip to Redis.
	Peers *Peers
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = DefaultCacheTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// base is what both stores share: the client, the key prefix and the options.
type base struct {
	c      rueidis.Client
	prefix string
	opts   Options

	cacheWorks atomic.Bool // the client-side cache has answered a read
}

// trusted reports whether reads may come from the client-side cache now (Peers.Trusted).
func (b *base) trusted() bool { return b.opts.Peers.Trusted() }

// settle returns once every instance has applied the writes made so far or stopped trusting
// its cache (Peers.Barrier). The stores call it after each revoking write.
func (b *base) settle(ctx context.Context) { b.opts.Peers.Barrier(ctx) }

// readPair reads first, then second, through the client-side cache and returns the answers;
// call it only while trusted.
// Once the cache has answered a read, it asks for one key after the other: a key in the cache
// then costs no allocation, where DoMultiCache allocates its answers, and a key that is not
// costs its round trip (two if both miss, which a fresh or invalidated first key makes rare).
// Until then, and always on a client without caching (DisableCache), both go in one
// DoMultiCache: one round trip.
func (b *base) readPair(ctx context.Context, first, second string) (rueidis.RedisResult, rueidis.RedisResult) {
	bld := b.c.B()
	if b.cacheWorks.Load() {
		r1 := b.c.DoCache(ctx, bld.Get().Key(first).Cache(), b.opts.CacheTTL)
		return r1, b.c.DoCache(ctx, bld.Get().Key(second).Cache(), b.opts.CacheTTL)
	}
	res := b.c.DoMultiCache(ctx,
		rueidis.CT(bld.Get().Key(first).Cache(), b.opts.CacheTTL),
		rueidis.CT(bld.Get().Key(second).Cache(), b.opts.CacheTTL))
	if res[0].IsCacheHit() || res[1].IsCacheHit() {
		b.cacheWorks.Store(true)
	}
	return res[0], res[1]
}

// bound returns ctx limited to the store's timeout, and the function that releases it.
// rueidis retries reads on network errors until the context ends, so every call needs a
// deadline. The context makes no timer unless rueidis waits on it (see boundCtx).
func (b *base) bound(ctx context.Context) (context.Context, func()) {
	c := bind(ctx, b.opts.Timeout)
	return c, c.releaseFn
}

// fenced sends cmds in one round trip, followed by a PTTL of each of keys, and returns the
// answers to cmds. Redis sends the invalidation of a key that a client changed itself right
// after the reply to the change: the PTTL that follows on the same connection makes sure that
// invalidation has been processed, and the key's cached copy dropped, before the write returns.
// (Other instances' copies are invalidated concurrently: that delay is measured by the
// propagation benchmark.)
func (b *base) fenced(ctx context.Context, cmds rueidis.Commands, keys ...string) []rueidis.RedisResult {
	n := len(cmds)
	for _, k := range keys {
		cmds = append(cmds, b.c.B().Pttl().Key(k).Build())
	}
	return b.doMulti(ctx, cmds)[:n]
}

// maxPipeline is the most commands sent in one DoMulti. rueidis sends longer pipelines on a
// dedicated connection, where the fences above would not follow the writes.
const maxPipeline = 1000

// doMulti sends cmds in order, in pipelines of at most maxPipeline commands.
func (b *base) doMulti(ctx context.Context, cmds rueidis.Commands) []rueidis.RedisResult {
	if len(cmds) <= maxPipeline {
		return b.c.DoMulti(ctx, cmds...)
	}
	out := make([]rueidis.RedisResult, 0, len(cmds))
	for len(cmds) > 0 {
		n := min(len(cmds), maxPipeline)
		out = append(out, b.c.DoMulti(ctx, cmds[:n]...)...)
		cmds = cmds[n:]
	}
	return out
}

// eval builds an EVAL of script. Scripts go through DoMulti with their fence, so they are sent
// as EVAL (Redis caches the compiled script by its hash).
func (b *base) eval(script string, keys []string, args ...string) rueidis.Completed {
	return b.c.B().Eval().Script(script).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build()
}

// firstErr returns the first error among res that is not a nil reply.
func firstErr(res []rueidis.RedisResult) error {
	for _, r := range res {
		if err := r.Error(); err != nil && !rueidis.IsRedisNil(err) {
			return err
		}
	}
	return nil
}

// storeErr maps a Redis error to gatehouse's errors: every failure to get an answer (network,
// timeout, server error) is gatehouse.ErrUnavailable, so the request fails closed.
func storeErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return gatehouse.Unavailable("redis: "+op, err)
}

// errCorrupt reports a value that this package did not write.
var errCorrupt = errors.New("corrupt record")

func corrupt(op, key string) error {
	return storeErr(op, fmt.Errorf("%w at key %q", errCorrupt, key))
}

// ttlMillis returns the whole milliseconds from now until t, rounded up so that a key never
// expires before t, or 0 if t is not after now.
func ttlMillis(now, t time.Time) int64 {
	d := t.Sub(now)
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// PrepareClientOption sets the options of a rueidis client that the stores rely on, before the
// client is created:
//
//   - one connection per Redis node (PipelineMultiplex -1; rueidis pipelines every concurrent
//     command on it). rueidis spreads commands over several connections otherwise, and a write
//     sent on one connection could then return before the invalidation of a value cached
//     through another one: with a single connection, Redis queues the invalidation ahead of
//     the write's reply, so an instance always reads its own writes.
//   - a dial timeout and a response timeout of timeout (default DefaultTimeout), so that a
//     Redis that stops answering is detected and the connection replaced.
func PrepareClientOption(opt *rueidis.ClientOption, timeout time.Duration) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	opt.PipelineMultiplex = -1
	if opt.Dialer.Timeout == 0 || opt.Dialer.Timeout > timeout {
		opt.Dialer.Timeout = timeout
	}
	if opt.ConnWriteTimeout == 0 || opt.ConnWriteTimeout > 4*timeout {
		opt.ConnWriteTimeout = 4 * timeout
	}
}

// Ping checks that Redis answers, within the store timeout: the server, or every node of a
// Cluster. /readyz uses it.
func Ping(ctx context.Context, c rueidis.Client, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return storeErr("ping", pingAll(ctx, c))
}
