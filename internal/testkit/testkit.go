// Package testkit holds what the module's tests share: a settable clock that starts from the
// real time, so that no test depends on the date it runs, and a poller for conditions that
// become true asynchronously.
//
// It is the only place tests construct a clock: a CI step refuses time.Date in test code
// elsewhere, and TestClockFollowsTheWallClock fails when a new clock drifts from the wall clock.
package testkit

import (
	"sync/atomic"
	"testing"
	"time"
)

// MaxDrift is how far a freshly made test clock may be from the wall clock.
const MaxDrift = 24 * time.Hour

// Clock is a settable clock: tests move it instead of sleeping for an expiry. It is safe for
// concurrent use. The zero value is not usable; use NewClock or NewSteppingClock.
type Clock struct {
	ns   atomic.Int64
	step atomic.Int64 // nanoseconds added at every reading
}

// NewClock returns a clock that reads the current wall time, truncated to the second, and
// stands still until Advance or Set moves it.
func NewClock() *Clock {
	c := &Clock{}
	c.ns.Store(Start().UnixNano())
	return c
}

// NewSteppingClock is NewClock with a clock that also moves forward by step at every reading,
// as a real clock does, so that the events a test causes have an order.
func NewSteppingClock(step time.Duration) *Clock {
	c := NewClock()
	c.SetStep(step)
	return c
}

// Start is the instant a clock made now starts from: the wall time truncated to the second,
// in UTC.
func Start() time.Time { return time.Now().UTC().Truncate(time.Second) }

// Now reads the clock (moving it by its step first, for a stepping clock).
func (c *Clock) Now() time.Time {
	if step := c.step.Load(); step > 0 {
		return time.Unix(0, c.ns.Add(step)).UTC()
	}
	return time.Unix(0, c.ns.Load()).UTC()
}

// Advance moves the clock by d (backwards if d is negative).
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// SetStep changes how far the clock moves at every reading; 0 makes it stand still (a
// benchmark does, so that nothing expires however large b.N grows).
func (c *Clock) SetStep(step time.Duration) { c.step.Store(int64(step)) }

// Set puts the clock at t; tests use it to go back to an instant they read from the clock.
func (c *Clock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// CheckNearWallClock fails the test when t, a harness clock's reading at its start, is more
// than MaxDrift from the wall clock: cookies, TTLs in Redis and browsers' cookie jars all
// compare against the real time, so a harness that starts elsewhere breaks on some date.
func CheckNearWallClock(tb testing.TB, t time.Time) {
	tb.Helper()
	if d := time.Since(t); d > MaxDrift || d < -MaxDrift {
		tb.Fatalf("harness clock reads %s, %s from the wall clock: clocks in tests must start from the real time (internal/testkit)", t.Format(time.RFC3339), d.Round(time.Second))
	}
}

// Slow skips the test in the fast tier (go test -short): what names what makes it slow, such as
// "starts a browser" or "starts a Redis Sentinel topology". The full suite (go test ./...) and
// CI run it.
func Slow(tb testing.TB, what string) {
	tb.Helper()
	if testing.Short() {
		tb.Skipf("skipped by -short: %s", what)
	}
}
