package testkit

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestClockFollowsTheWallClock is the guard: every clock tests use starts near the real time.
func TestClockFollowsTheWallClock(t *testing.T) {
	for name, c := range map[string]*Clock{"NewClock": NewClock(), "NewSteppingClock": NewSteppingClock(time.Millisecond)} {
		if d := time.Since(c.Now()); d < -time.Second || d > time.Minute {
			t.Errorf("%s starts %s from the wall clock", name, d)
		}
		CheckNearWallClock(t, c.Now())
	}
}

func TestCheckNearWallClockRefusesADriftedClock(t *testing.T) {
	for _, d := range []time.Duration{MaxDrift + time.Hour, -MaxDrift - time.Hour} {
		ft := &fakeTB{TB: t}
		func() {
			defer func() { _ = recover() }()
			CheckNearWallClock(ft, time.Now().Add(d))
		}()
		if !ft.failed {
			t.Errorf("a clock %s from the wall clock passed the guard", d)
		}
	}
	CheckNearWallClock(t, time.Now().Add(MaxDrift-time.Hour))
}

func TestClockMoves(t *testing.T) {
	c := NewClock()
	t0 := c.Now()
	if !c.Now().Equal(t0) {
		t.Fatal("a still clock moved by itself")
	}
	c.Advance(90 * time.Second)
	if got := c.Now().Sub(t0); got != 90*time.Second {
		t.Fatalf("Advance(90s) moved the clock by %s", got)
	}
	c.Set(t0)
	if !c.Now().Equal(t0) {
		t.Fatal("Set did not put the clock back")
	}
	s := NewSteppingClock(time.Millisecond)
	a, b := s.Now(), s.Now()
	if b.Sub(a) != time.Millisecond {
		t.Fatalf("a stepping clock moved %s between readings, want 1ms", b.Sub(a))
	}
}

func TestSteppingClockIsSafeConcurrently(t *testing.T) {
	c := NewSteppingClock(time.Nanosecond)
	start := c.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				c.Now()
			}
		})
	}
	wg.Wait()
	if got := c.Now().Sub(start); got != 8001*time.Nanosecond {
		t.Fatalf("after 8001 readings the clock moved %s", got)
	}
}

func TestEventually(t *testing.T) {
	var n atomic.Int32
	go func() {
		time.Sleep(10 * time.Millisecond)
		n.Store(1)
	}()
	Eventually(t, 5*time.Second, "the goroutine ran", func() bool { return n.Load() == 1 })

	ft := &fakeTB{TB: t}
	func() {
		defer func() { _ = recover() }()
		Eventually(ft, 20*time.Millisecond, "never", func() bool { return false })
	}()
	if !ft.failed {
		t.Fatal("Eventually did not fail on a condition that never holds")
	}
}

// fakeTB records a failure instead of failing the real test.
type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}
