package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// ThrottleClock is a settable clock for the throttle contract.
type ThrottleClock = testkit.Clock

// NewThrottleClock returns a clock at the real time that stands still until advanced.
func NewThrottleClock() *ThrottleClock { return testkit.NewClock() }

// TestThrottle runs the gatehouse.Throttle contract. newThrottle must return an empty throttle
// that reads the time from now, for each subtest; keys are unique to each subtest run, so that
// a shared backend may keep them.
func TestThrottle(t *testing.T, newThrottle func(t *testing.T, now func() time.Time) gatehouse.Throttle) {
	tests := []struct {
		name string
		fn   func(*testing.T, gatehouse.Throttle, *ThrottleClock, string)
	}{
		{"ExponentialBackoff", testThrottleBackoff},
		{"NeverPermanent", testThrottleNeverPermanent},
		{"AllOrNone", testThrottleAllOrNone},
		{"ResetAndRefund", testThrottleResetRefund},
		{"Forget", testThrottleForget},
		{"ConcurrentAttemptsAreExact", testThrottleConcurrent},
		{"ClockBehindTheLastAttempt", testThrottleClockBehind},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewThrottleClock()
			prefix := gatehouse.NewID(time.Now()) + ":"
			tt.fn(t, newThrottle(t, c.Now), c, prefix)
		})
	}
}

var testBackoff = gatehouse.Backoff{Free: 3, Base: time.Second, Max: 8 * time.Second, Forget: time.Hour}

func attempt(t *testing.T, th gatehouse.Throttle, limits ...gatehouse.Limit) time.Duration {
	t.Helper()
	w, err := th.Attempt(context.Background(), limits...)
	if err != nil {
		t.Fatalf("Attempt: %v", err)
	}
	return w
}

func testThrottleBackoff(t *testing.T, th gatehouse.Throttle, c *ThrottleClock, p string) {
	l := gatehouse.Limit{Key: p + "k", Backoff: testBackoff}
	for i := 0; i < 3; i++ {
		if w := attempt(t, th, l); w != 0 {
			t.Fatalf("free attempt %d waited %v", i+1, w)
		}
	}
	// Then 1 s, 2 s, 4 s after the previous attempt.
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		if w := attempt(t, th, l); w != want {
			t.Fatalf("wait = %v, want %v", w, want)
		}
		c.Advance(want - 100*time.Millisecond)
		if w := attempt(t, th, l); w != 100*time.Millisecond {
			t.Fatalf("wait after %v = %v, want 100ms", want-100*time.Millisecond, w)
		}
		c.Advance(100 * time.Millisecond)
		if w := attempt(t, th, l); w != 0 {
			t.Fatalf("not admitted after its wait: %v", w)
		}
	}
}

func testThrottleNeverPermanent(t *testing.T, th gatehouse.Throttle, c *ThrottleClock, p string) {
	l := gatehouse.Limit{Key: p + "k", Backoff: testBackoff}
	for i := 0; i < 50; i++ {
		w := attempt(t, th, l)
		if w == 0 {
			continue
		}
		if w > testBackoff.Max {
			t.Fatalf("attempt %d: wait %v over the maximum %v", i, w, testBackoff.Max)
		}
		c.Advance(w)
		if w := attempt(t, th, l); w != 0 {
			t.Fatalf("attempt %d refused after waiting: %v", i, w)
		}
	}
	if w := attempt(t, th, l); w != testBackoff.Max {
		t.Fatalf("after 50 failures the wait is %v, want the maximum %v", w, testBackoff.Max)
	}
}

func testThrottleAllOrNone(t *testing.T, th gatehouse.Throttle, c *ThrottleClock, p string) {
	a := gatehouse.Limit{Key: p + "a", Backoff: gatehouse.Backoff{Free: 1, Base: time.Second, Max: time.Minute}}
	b := gatehouse.Limit{Key: p + "b", Backoff: gatehouse.Backoff{Free: 2, Base: time.Second, Max: time.Minute}}
	attempt(t, th, a)
	for i := 0; i < 5; i++ {
		if w := attempt(t, th, a, b); w != time.Second {
			t.Fatalf("a is due a wait: got %v", w)
		}
	}
	// b was counted by none of the refused attempts: it still has both free attempts.
	if w := attempt(t, th, b); w != 0 {
		t.Fatalf("b was counted by refused attempts: %v", w)
	}
	if w := attempt(t, th, b); w != 0 {
		t.Fatalf("b's second free attempt: %v", w)
	}
	if w := attempt(t, th, b); w != time.Second {
		t.Fatalf("b after its free attempts: %v", w)
	}
	c.Advance(time.Second)
	if w := attempt(t, th, a, b); w != 0 {
		t.Fatalf("both due: %v", w)
	}
	// The longest wait of the keys is reported.
	if w := attempt(t, th, a, b); w != 2*time.Second {
		t.Fatalf("wait = %v, want the longer 2s", w)
	}
}

func testThrottleResetRefund(t *testing.T, th gatehouse.Throttle, c *ThrottleClock, p string) {
	ctx := context.Background()
	l := gatehouse.Limit{Key: p + "k", Backoff: testBackoff}
	for i := 0; i < 3; i++ {
		attempt(t, th, l)
	}
	if err := th.Refund(ctx, l.Key); err != nil {
		t.Fatal(err)
	}
	if w := attempt(t, th, l); w != 0 {
		t.Fatalf("after a refund the third attempt is free again: %v", w)
	}
	if w := attempt(t, th, l); w != time.Second {
		t.Fatalf("wait = %v", w)
	}
	if err := th.Reset(ctx, l.Key, p+"unknown"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if w := attempt(t, th, l); w != 0 {
			t.Fatalf("after a reset attempt %d waited %v", i+1, w)
		}
	}
	if err := th.Refund(ctx, p+"never-seen"); err != nil {
		t.Fatal(err)
	}
}

func testThrottleForget(t *testing.T, th gatehouse.Throttle, c *ThrottleClock, p string) {
	l := gatehouse.Limit{Key: p + "k", Backoff: testBackoff}
	for i := 0; i < 6; i++ {
		if w := attempt(t, th, l); w > 0 {
			c.Advance(w)
			attempt(t, th, l)
		}
	}
	if w := attempt(t, th, l); w == 0 {
		t.Fatal("throttled key admitted at once")
	}
	c.Advance(testBackoff.Forget)
	for i := 0; i < 3; i++ {
		if w := attempt(t, th, l); w != 0 {
			t.Fatalf("a forgotten key waited %v", w)
		}
	}
}

// testThrottleConcurrent checks that of many concurrent attempts exactly Free are admitted:
// counting at admission leaves no window between check and count.
func testThrottleConcurrent(t *testing.T, th gatehouse.Throttle, c *ThrottleClock, p string) {
	l := gatehouse.Limit{Key: p + "k", Backoff: gatehouse.Backoff{Free: 10, Base: time.Minute, Max: time.Hour}}
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := th.Attempt(context.Background(), l, gatehouse.Limit{Key: p + "other", Backoff: l.Backoff})
			if err != nil {
				t.Error(err)
			}
			if w == 0 {
				admitted.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := admitted.Load(); n != 10 {
		t.Fatalf("%d concurrent attempts admitted, want exactly 10", n)
	}
}

// testThrottleClockBehind: an attempt whose time is earlier than the last counted one (read just
// before a concurrent attempt took the lock, or on an instance whose clock runs behind another's)
// must not be delayed while the count is within Free, and never waits longer than the backoff.
func testThrottleClockBehind(t *testing.T, th gatehouse.Throttle, c *ThrottleClock, p string) {
	l := gatehouse.Limit{Key: p + "behind", Backoff: testBackoff}
	c.Advance(time.Second)
	if w := attempt(t, th, l); w != 0 {
		t.Fatalf("first attempt waits %v", w)
	}
	c.Advance(-time.Second) // the next attempt read the clock 1 s before the last one
	for i := 2; i <= testBackoff.Free; i++ {
		if w := attempt(t, th, l); w != 0 {
			t.Fatalf("free attempt %d, with a clock behind the last attempt, waits %v", i, w)
		}
	}
	c.Advance(time.Second) // the last attempts are now "now"
	c.Advance(-500 * time.Millisecond)
	if w := attempt(t, th, l); w <= 0 || w > testBackoff.Base {
		t.Fatalf("attempt beyond Free with a clock behind waits %v, want (0, %v]", w, testBackoff.Base)
	}
}
