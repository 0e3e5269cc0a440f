package argon2

import (
	"context"
	"sync"
	"time"

	xsemaphore "golang.org/x/sync/semaphore"
)

// semaphore is the hashing queue: a weighted semaphore over a memory budget in KiB
// (golang.org/x/sync/semaphore, which serves waiters in order of arrival, so a large request,
// a stored hash with more memory than the current parameters, is not starved by a stream of
// small ones), with the counts that InFlight and Waiting report.
type semaphore struct {
	w    *xsemaphore.Weighted
	size int64

	mu       sync.Mutex
	cur      int64 // weight held
	inFlight int
	waiting  int
}

func newSemaphore(size int64) *semaphore {
	return &semaphore{w: xsemaphore.NewWeighted(size), size: size}
}

// acquireError tells the caller why acquire gave up: ctxErr is the context's error, or nil
// when maxWait ran out.
type acquireError struct{ ctxErr error }

func (e *acquireError) Error() string {
	if e.ctxErr != nil {
		return e.ctxErr.Error()
	}
	return "timed out"
}

// acquire takes n (at most size) out of the budget, waiting at most maxWait and no longer than
// ctx allows. It returns an *acquireError when it gives up.
func (s *semaphore) acquire(ctx context.Context, n int64, maxWait time.Duration) error {
	if err := ctx.Err(); err != nil {
		return &acquireError{ctxErr: err}
	}
	if s.w.TryAcquire(n) {
		s.count(n, 1, 0)
		return nil
	}
	s.count(0, 0, 1)
	wait, cancel := context.WithTimeout(ctx, maxWait)
	err := s.w.Acquire(wait, n)
	cancel()
	if err != nil {
		s.count(0, 0, -1)
		return &acquireError{ctxErr: ctx.Err()}
	}
	s.count(n, 1, -1)
	return nil
}

// release returns n to the budget, which wakes the waiters that now fit.
func (s *semaphore) release(n int64) {
	s.count(-n, -1, 0)
	s.w.Release(n)
}

// count moves the counters by the deltas, in one step so that a reader never sees a waiter
// that got its slot counted in neither (or both) of inFlight and waiting.
func (s *semaphore) count(weight int64, inFlight, waiting int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur += weight
	s.inFlight += inFlight
	s.waiting += waiting
	if s.cur < 0 || s.inFlight < 0 {
		panic("argon2: semaphore released more than held")
	}
}

// counts returns the number of holders and of waiters.
func (s *semaphore) counts() (inFlight, waiting int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight, s.waiting
}
