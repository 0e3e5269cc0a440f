package argon2

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// semaphore is a weighted FIFO semaphore over a memory budget in KiB. Waiters are served in
// order of arrival, so a large request (a stored hash with more memory than the current
// parameters) is not starved by a stream of small ones.
type semaphore struct {
	mu       sync.Mutex
	size     int64
	cur      int64
	inFlight int
	waiters  list.List // of *waiter
}

type waiter struct {
	n     int64
	ready chan struct{} // closed when the waiter holds its weight
}

func newSemaphore(size int64) *semaphore { return &semaphore{size: size} }

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
	s.mu.Lock()
	if s.size-s.cur >= n && s.waiters.Len() == 0 {
		s.cur += n
		s.inFlight++
		s.mu.Unlock()
		return nil
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	elem := s.waiters.PushBack(w)
	s.mu.Unlock()

	timer := time.NewTimer(maxWait)
	defer timer.Stop()
	var err error
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		err = &acquireError{ctxErr: ctx.Err()}
	case <-timer.C:
		err = &acquireError{}
	}
	s.giveUp(elem, w)
	return err
}

// giveUp removes a waiter that stopped waiting. If it was granted its weight in the meantime,
// the weight goes back: the caller is about to report failure and will not release it.
func (s *semaphore) giveUp(elem *list.Element, w *waiter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-w.ready:
		s.releaseLocked(w.n)
	default:
		front := s.waiters.Front() == elem
		s.waiters.Remove(elem)
		if front {
			// The departing head may have blocked smaller waiters behind it.
			s.notifyLocked()
		}
	}
}

// release returns n to the budget and wakes the waiters that now fit.
func (s *semaphore) release(n int64) {
	s.mu.Lock()
	s.releaseLocked(n)
	s.mu.Unlock()
}

func (s *semaphore) releaseLocked(n int64) {
	s.cur -= n
	s.inFlight--
	if s.cur < 0 || s.inFlight < 0 {
		panic("argon2: semaphore released more than held")
	}
	s.notifyLocked()
}

func (s *semaphore) notifyLocked() {
	for {
		front := s.waiters.Front()
		if front == nil {
			return
		}
		w := front.Value.(*waiter)
		if s.size-s.cur < w.n {
			return // strict FIFO: nobody overtakes the head
		}
		s.cur += w.n
		s.inFlight++
		s.waiters.Remove(front)
		close(w.ready)
	}
}

// counts returns the number of holders and of waiters.
func (s *semaphore) counts() (inFlight, waiting int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight, s.waiters.Len()
}
