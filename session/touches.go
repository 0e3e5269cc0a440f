package session

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// DefaultMaxPendingTouches bounds the last-seen times a CachedStore holds unwritten
// (CacheOptions.MaxPendingTouches): about 6 MiB of map at most.
const DefaultMaxPendingTouches = 65_536

// touchBatch is how many last-seen times one store transaction writes: SQLite holds its write
// lock for the whole transaction, so a batch of a thousand keeps a login or a logout that
// waits for it to tens of milliseconds.
const touchBatch = 1000

// flushTimeout bounds one background write of pending last-seen times.
const flushTimeout = 30 * time.Second

// writeBehind keeps the last-seen times a CachedStore has answered with but not yet written to
// its store, and writes them in batches every delay (see CacheOptions.TouchDelay).
type writeBehind struct {
	store   gatehouse.SessionStore
	max     int
	onError func(error) // told of each failed background write, if set

	mu      sync.Mutex
	pending map[gatehouse.Hash]time.Time
	closed  bool // add refuses once close began

	flushMu  sync.Mutex // one write of the pending times at a time
	failures atomic.Uint64

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// newWriteBehind returns a writeBehind for store that writes every delay until close.
func newWriteBehind(store gatehouse.SessionStore, delay time.Duration, max int, onError func(error)) *writeBehind {
	if max <= 0 {
		max = DefaultMaxPendingTouches
	}
	w := &writeBehind{store: store, max: max, onError: onError, pending: make(map[gatehouse.Hash]time.Time),
		stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop(delay)
	return w
}

func (w *writeBehind) loop(delay time.Duration) {
	defer close(w.done)
	t := time.NewTicker(delay)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
			// On failure the times stay pending and the next tick tries again.
			if err := w.flush(ctx); err != nil && w.onError != nil {
				w.onError(err)
			}
			cancel()
		}
	}
}

// add records that h was seen at t. It returns false, recording nothing, when max times are
// pending already or the writer is closing: the caller then writes it itself.
func (w *writeBehind) add(h gatehouse.Hash, t time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	if old, ok := w.pending[h]; ok {
		if t.After(old) {
			w.pending[h] = t
		}
		return true
	}
	if len(w.pending) >= w.max {
		return false
	}
	w.pending[h] = t
	return true
}

// latest returns the last-seen time of h that is waiting to be written, if any.
func (w *writeBehind) latest(h gatehouse.Hash) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.pending[h]
	return t, ok
}

// forget drops what is pending for h (its session was deleted).
func (w *writeBehind) forget(h gatehouse.Hash) {
	w.mu.Lock()
	delete(w.pending, h)
	w.mu.Unlock()
}

// len returns the number of pending times.
func (w *writeBehind) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}

// flush writes every pending time to the store, touchBatch at a time. A time stays pending
// until a write of it succeeded (or a newer one for the same session replaced it), so a
// failed write is tried again by the next flush.
func (w *writeBehind) flush(ctx context.Context) error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	w.mu.Lock()
	ts := make([]gatehouse.SessionTouch, 0, len(w.pending))
	for h, t := range w.pending {
		ts = append(ts, gatehouse.SessionTouch{Hash: h, LastSeen: t})
	}
	w.mu.Unlock()
	for len(ts) > 0 {
		n := min(len(ts), touchBatch)
		if err := writeTouches(ctx, w.store, ts[:n]); err != nil {
			w.failures.Add(1)
			return err
		}
		w.mu.Lock()
		for _, t := range ts[:n] {
			if cur, ok := w.pending[t.Hash]; ok && cur.Equal(t.LastSeen) {
				delete(w.pending, t.Hash)
			}
		}
		w.mu.Unlock()
		ts = ts[n:]
	}
	return nil
}

// close stops the background writes and writes what is pending.
func (w *writeBehind) close(ctx context.Context) error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.closeOnce.Do(func() { close(w.stop) })
	<-w.done
	return w.flush(ctx)
}

// writeTouches writes ts to store: in one call when it is a gatehouse.SessionBatchToucher, else
// one TouchSession each. A session that is gone is skipped either way.
func writeTouches(ctx context.Context, store gatehouse.SessionStore, ts []gatehouse.SessionTouch) error {
	if bt, ok := store.(gatehouse.SessionBatchToucher); ok {
		return bt.TouchSessions(ctx, ts)
	}
	for _, t := range ts {
		if _, err := store.TouchSession(ctx, t.Hash, t.LastSeen); err != nil {
			return err
		}
	}
	return nil
}
