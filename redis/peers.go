package redis

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse-auth/gatehouse"
)

// DefaultLease is how long an instance trusts its client-side cache after a heartbeat that
// Redis answered (PeerOptions.Lease).
const DefaultLease = time.Second

// leaseWait is how long a revocation waits for an instance that does not acknowledge it: the
// lease and 5% more, so that the revoker's clock may run up to 2.4% slower than the silent
// instance's and the wait still outlasts its lease.
func leaseWait(lease time.Duration) time.Duration { return lease + lease/20 }

// Peers makes revocations hold on every gatehouse instance that shares a Redis and a key
// prefix, while each keeps serving hot reads from its client-side cache.
//
// Each instance with a cache holds a lease on it: it trusts its cached reads only until Lease
// after it sent its latest heartbeat that Redis answered, by its own monotonic clock; after
// that its reads go to Redis (and fail with gatehouse.ErrUnavailable within the store timeout
// if Redis does not answer). A heartbeat is a write to a registry of instances in Redis, sent
// on the connection that carries the instance's cached reads (on Redis Cluster, with a PING to
// every other node): Redis answers it after every invalidation it queued on that connection
// before, and the client handles those in order, so a heartbeat's answer proves that every
// write Redis applied before the heartbeat has reached the cache.
//
// After a revoking write has returned (Barrier), the revoker reads the registry, publishes a
// barrier, and waits until every registered instance has acknowledged it, or until
// leaseWait(Lease) has passed. An instance acknowledges after a heartbeat sent once the barrier
// arrived. So when Barrier returns, each instance has either applied the invalidation, or
// stopped trusting its cache, or was not registered, which means its last heartbeat is older
// than its lease (see tidy) or a heartbeat after the write registers it and brings its cache
// up to date.
//
// The argument assumes that the monotonic clocks of the instances run at the same rate within
// 2%, and that a client's cache goes with its connection (rueidis drops it when the connection
// is replaced). Redis' own clock plays no part.
type Peers struct {
	c    rueidis.Client
	id   string
	opts PeerOptions
	log  func(string, ...any)

	registry  string // hash: instance id -> number of its latest heartbeat
	barrierCh string // where barriers are published: "<origin id> <seq>"
	ackPrefix string // + instance id: where an instance's barriers are acknowledged

	epoch time.Time    // the monotonic origin of until
	until atomic.Int64 // end of the lease, in ns since epoch; 0 if none
	ended atomic.Bool  // Close was called: the cache is never trusted again

	mu    sync.Mutex
	seq   uint64                  // the last barrier this instance published
	waits map[uint64]*barrierWait // barriers waiting for acknowledgements
	acked map[string]uint64       // per instance, the latest barrier of ours it acknowledged
	owed  map[string]uint64       // per origin, the latest barrier to acknowledge
	seen  map[string]sighting     // per instance, since when its heartbeat count is the same
	beats uint64                  // heartbeats sent (heartbeat loop only)
	wake  chan struct{}           // asks the heartbeat loop for a heartbeat now

	stop context.CancelFunc
	done sync.WaitGroup
}

// PeerOptions configures Peers. Zero fields take the defaults.
type PeerOptions struct {
	// Lease is how long the instance trusts its client-side cache after it sent a heartbeat
	// that Redis answered; heartbeats go every quarter of it. It also bounds how long a
	// revocation waits for an instance that does not acknowledge it (5% more than Lease).
	// Default DefaultLease.
	Lease time.Duration
	// Cache says that this instance reads through the client-side cache: it registers, holds a
	// lease and acknowledges barriers. Without it, the instance never trusts its cache, and
	// only makes its own revocations wait for the others.
	Cache bool
	// Timeout bounds each call to Redis. Default DefaultTimeout.
	Timeout time.Duration
	// Logger receives the changes of the lease (lost, regained); nil discards them.
	Logger func(msg string, args ...any)
	// OnBarrier, when set, is told how long each barrier took and whether it had to wait for a
	// lease to run out.
	OnBarrier func(took time.Duration, waitedLease bool)
}

// NewPeers returns the Peers of this instance on client, for keys and channels under prefix
// (the stores' prefix). Call Start to join, Close to leave.
func NewPeers(client rueidis.Client, prefix string, opts PeerOptions) *Peers {
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	p := &Peers{
		c: client, id: gatehouse.NewSecret()[:16], opts: opts, log: opts.Logger,
		registry: prefix + "peers", barrierCh: prefix + "peers:barrier", ackPrefix: prefix + "peers:ack:",
		epoch: time.Now(), waits: make(map[uint64]*barrierWait), acked: make(map[string]uint64),
		owed: make(map[string]uint64), wake: make(chan struct{}, 1), seen: make(map[string]sighting),
	}
	if p.log == nil {
		p.log = func(string, ...any) {}
	}
	return p
}

// ID returns the instance's id in the registry.
func (p *Peers) ID() string { return p.id }

// Start subscribes to the barriers and acknowledgements and starts the heartbeats. It waits,
// up to the timeout, for the first heartbeat, so that the cache serves from the start; a
// Redis that does not answer only delays that (reads go to Redis meanwhile).
func (p *Peers) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	subscribed := make(chan struct{})
	p.done.Add(2)
	go p.listen(ctx, subscribed)
	go p.beatLoop(ctx)
	select {
	case <-subscribed:
	case <-time.After(p.opts.Timeout):
	}
	if p.opts.Cache {
		deadline := time.Now().Add(p.opts.Timeout)
		for !p.Trusted() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
}

// Close ends the lease, leaves the registry (best effort: otherwise the others drop this
// instance after its lease) and stops the heartbeats.
func (p *Peers) Close() {
	p.ended.Store(true)
	p.until.Store(0)
	if p.stop != nil {
		p.stop()
		p.done.Wait()
	}
	p.until.Store(0) // a heartbeat that ended meanwhile may have extended it
	if p.opts.Cache {
		ctx, cancel := context.WithTimeout(context.Background(), p.opts.Timeout)
		defer cancel()
		_ = p.c.Do(ctx, p.c.B().Hdel().Key(p.registry).Field(p.id).Build()).Error()
	}
}

// Trusted reports whether the instance may serve reads from its client-side cache now: it has
// a cache and a lease that has not run out. It reads the monotonic clock and allocates nothing.
func (p *Peers) Trusted() bool {
	if p == nil {
		return false
	}
	until := p.until.Load()
	return until != 0 && int64(time.Since(p.epoch)) < until
}

// now returns the monotonic time since epoch.
func (p *Peers) now() int64 { return int64(time.Since(p.epoch)) }

// extend moves the end of the lease to sent + Lease, for a heartbeat sent at sent (from now())
// that Redis answered, unless it is later already or the instance has left.
func (p *Peers) extend(sent int64) {
	end := sent + int64(p.opts.Lease)
	for {
		cur := p.until.Load()
		if end <= cur || p.ended.Load() {
			return
		}
		if p.until.CompareAndSwap(cur, end) {
			if cur != 0 && cur < p.now() {
				p.log("client-side cache trusted again: a heartbeat reached Redis")
			}
			return
		}
	}
}

// Registered returns how many instances are in the registry now: those that hold a lease on
// their cache (a process that joined without a cache, such as an administration command, is
// not one of them).
func (p *Peers) Registered(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	n, err := p.c.Do(ctx, p.c.B().Hlen().Key(p.registry).Build()).AsInt64()
	if err != nil {
		return 0, storeErr("read the instance registry", err)
	}
	return int(n), nil
}
