package memory

import (
	"context"
	"slices"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/shardmap"
)

var _ gatehouse.Throttle = (*Throttle)(nil)

// DefaultThrottleKeys is the default bound on the keys a Throttle remembers.
const DefaultThrottleKeys = 100_000

// throttleShards is the number of independently locked parts of a Throttle, so that logins
// for different keys do not wait for one lock (see internal/shardmap for what the split
// measures), and the bound on keys is enforced per shard.
const throttleShards = 64

// ThrottleOptions configures a Throttle. Zero fields take the defaults.
type ThrottleOptions struct {
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// MaxKeys bounds the number of keys remembered (default DefaultThrottleKeys), so that a
	// flood of distinct usernames or addresses cannot grow memory without limit. When it is
	// reached, forgotten keys go first, then the keys with the fewest attempts: the keys that
	// are actually throttling someone are the last to go.
	MaxKeys int
}

// Throttle is a gatehouse.Throttle in the memory of one process: exact for one instance, not
// shared with others. It never fails.
type Throttle struct {
	now      func() time.Time
	perShard int
	shards   *shardmap.Map[string, throttleEntry]
}

type throttleEntry struct {
	n      int
	last   int64 // Unix nanoseconds of the last counted attempt
	forget int64 // Unix nanoseconds from which the entry is forgotten
}

// NewThrottle returns an empty Throttle.
func NewThrottle(opts ThrottleOptions) *Throttle {
	t := &Throttle{now: opts.Now, shards: shardmap.New[string, throttleEntry](throttleShards, shardmap.String())}
	if t.now == nil {
		t.now = time.Now
	}
	keys := opts.MaxKeys
	if keys <= 0 {
		keys = DefaultThrottleKeys
	}
	t.perShard = max(1, keys/throttleShards)
	return t
}

// Attempt implements gatehouse.Throttle.
func (t *Throttle) Attempt(_ context.Context, limits ...gatehouse.Limit) (time.Duration, error) {
	now := t.now().UnixNano()
	unlock := t.lock(limits)
	defer unlock()
	var wait time.Duration
	for _, l := range limits {
		b := l.Backoff.Normalize()
		e, ok := t.shards.Of(l.Key).M[l.Key]
		if !ok || now >= e.forget {
			continue
		}
		// The time since the last attempt counts as zero when the clock reads earlier (it was
		// read before a concurrent attempt took the lock): within Free nothing waits, and no
		// wait exceeds the backoff.
		if w := b.Delay(e.n) - time.Duration(max(now-e.last, 0)); w > wait {
			wait = w
		}
	}
	if wait > 0 {
		return wait, nil
	}
	for _, l := range limits {
		b := l.Backoff.Normalize()
		m := t.shards.Of(l.Key).M
		e, ok := m[l.Key]
		if !ok || now >= e.forget {
			e = throttleEntry{}
		}
		e.n++
		e.last, e.forget = now, now+int64(b.Forget)
		if !ok && len(m) >= t.perShard {
			evictLocked(m, now)
		}
		m[l.Key] = e
	}
	return 0, nil
}

// lock locks the shards of the limits' keys in index order and returns the function that
// unlocks them.
func (t *Throttle) lock(limits []gatehouse.Limit) func() {
	idx := make([]int, 0, len(limits))
	for _, l := range limits {
		idx = append(idx, t.shards.Index(l.Key))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		t.shards.At(i).Lock()
	}
	return func() {
		for _, i := range idx {
			t.shards.At(i).Unlock()
		}
	}
}

// evictLocked makes room for one entry in the map of a locked shard: it drops every forgotten
// entry, and if none was, the entry with the fewest attempts (the oldest among equals).
func evictLocked(m map[string]throttleEntry, now int64) {
	dropped := false
	for k, e := range m {
		if now >= e.forget {
			delete(m, k)
			dropped = true
		}
	}
	if dropped {
		return
	}
	var victim string
	var ve throttleEntry
	first := true
	for k, e := range m {
		if first || e.n < ve.n || e.n == ve.n && e.last < ve.last {
			victim, ve, first = k, e, false
		}
	}
	delete(m, victim)
}

// Reset implements gatehouse.Throttle.
func (t *Throttle) Reset(_ context.Context, keys ...string) error {
	for _, k := range keys {
		sh := t.shards.Of(k)
		sh.Lock()
		delete(sh.M, k)
		sh.Unlock()
	}
	return nil
}

// Refund implements gatehouse.Throttle.
func (t *Throttle) Refund(_ context.Context, key string) error {
	sh := t.shards.Of(key)
	sh.Lock()
	defer sh.Unlock()
	e, ok := sh.M[key]
	if !ok {
		return nil
	}
	if e.n <= 1 {
		delete(sh.M, key)
		return nil
	}
	e.n--
	sh.M[key] = e
	return nil
}

// Len returns the number of keys remembered, forgotten ones not yet dropped included.
func (t *Throttle) Len() int { return t.shards.Len() }
