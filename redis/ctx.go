package redis

import (
	"context"
	"sync"
	"time"
)

// boundCtx is a context limited to a deadline, like the one context.WithDeadline returns,
// except that it makes its Done channel and its timer only when someone asks for Done. A read
// that rueidis answers from its client-side cache never does (it looks at no context at all),
// so the hot path pays for no timer, and a boundCtx whose Done was never asked for goes back to
// a pool for the next call. rueidis asks for Done when it waits for Redis, dials, or retries;
// such a context is left to the garbage collector, since a goroutine may still hold it.
//
// Kept over context.WithTimeout by BenchmarkAuthenticate in http/ (jwt-eddsa-redis 4.7 -> 8.9
// µs, p=0.009, 0 -> 8 allocs; session-redis 1 -> 9 allocs) and a load run (session-redis +18 %
// server CPU per request): see CHANGELOG.md. Its safety rests on rueidis not keeping a context
// whose Done it never asked for past the call: TestBoundCtx* and TestFindSessionAllocs watch it.
type boundCtx struct {
	parent  context.Context
	timeout time.Duration

	mu       sync.Mutex
	deadline time.Time     // zero until first needed
	done     chan struct{} // nil until Done is called
	err      error
	timer    *time.Timer
	stop     func() bool // ends the watch of parent

	releaseFn func() // release, made once per boundCtx so that handing it out costs nothing
}

var boundPool sync.Pool // of *boundCtx

func newBoundCtx() *boundCtx {
	c := new(boundCtx)
	c.releaseFn = c.release
	return c
}

// bind returns parent limited to timeout. The deadline is set the first time someone looks at
// the context (a cache hit never does): timeout after that, or parent's if it is earlier. The
// caller must call release once the call that used the context has returned.
func bind(parent context.Context, timeout time.Duration) (ctx *boundCtx) {
	ctx, _ = boundPool.Get().(*boundCtx)
	if ctx == nil {
		ctx = newBoundCtx()
	}
	ctx.parent, ctx.timeout = parent, timeout
	return ctx
}

// setDeadline fixes the deadline if it is not yet; c.mu must be held.
func (c *boundCtx) setDeadline() time.Time {
	if c.deadline.IsZero() {
		c.deadline = time.Now().Add(c.timeout)
		if d, ok := c.parent.Deadline(); ok && d.Before(c.deadline) {
			c.deadline = d
		}
	}
	return c.deadline
}

// release stops the timer, if any, and recycles c unless its Done channel was handed out.
func (c *boundCtx) release() {
	c.mu.Lock()
	used := c.done != nil
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.stop != nil {
		c.stop()
	}
	c.mu.Unlock()
	if !used {
		c.parent, c.deadline, c.err, c.timer, c.stop = nil, time.Time{}, nil, nil, nil
		boundPool.Put(c)
	}
}

func (c *boundCtx) Deadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.setDeadline(), true
}

func (c *boundCtx) Value(key any) any { return c.parent.Value(key) }

func (c *boundCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return c.done
	}
	c.done = make(chan struct{})
	if c.err == nil {
		c.err = c.expired()
	}
	if c.err != nil {
		close(c.done)
		return c.done
	}
	c.timer = time.AfterFunc(time.Until(c.setDeadline()), func() { c.cancel(context.DeadlineExceeded) })
	if c.parent.Done() != nil {
		c.stop = context.AfterFunc(c.parent, func() { c.cancel(c.parent.Err()) })
	}
	return c.done
}

func (c *boundCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && c.done == nil {
		// Without a Done channel nobody waits for the end: work it out now. It is final.
		c.err = c.expired()
	}
	return c.err
}

// expired returns the reason the context is over already, or nil; c.mu must be held.
func (c *boundCtx) expired() error {
	if err := c.parent.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.setDeadline()) {
		return context.DeadlineExceeded
	}
	return nil
}

func (c *boundCtx) cancel(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
		close(c.done)
	}
}
