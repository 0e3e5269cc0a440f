package testkit

import (
	"testing"
	"time"
)

// pollEvery is how often Eventually and Poll test their condition.
const pollEvery = 2 * time.Millisecond

// Eventually polls cond until it holds and fails the test, naming what it waited for, when it
// does not within timeout. Use it for what happens asynchronously (invalidations, background
// goroutines, processes starting); how fast it happens belongs in a benchmark, not here.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	if !Poll(timeout, cond) {
		tb.Fatalf("timed out after %s waiting until %s", timeout, what)
	}
}

// Poll polls cond until it holds or timeout has passed, and reports whether it held. The
// condition is always tested once more after the deadline, so a slow machine that overslept
// the deadline still sees a condition that has become true.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return cond()
		}
		time.Sleep(pollEvery)
	}
}
