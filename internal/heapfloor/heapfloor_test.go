package heapfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		base        int
		live, floor uint64
		want        int
	}{
		{100, 5 * mib, 32 * mib, 525},  // (32-5)/5 = 540 %, rounded down to 525
		{100, 1 * mib, 32 * mib, 800},  // 3,100 % capped: the runtime's 4 MiB minimum times 8 is the floor
		{100, 1024, 32 * mib, 800},     // a nearly empty heap: the same cap
		{100, 20 * mib, 32 * mib, 100}, // 60 % would collect sooner than GOGC asks: GOGC wins
		{100, 64 * mib, 32 * mib, 100}, // above the floor: untouched
		{200, 5 * mib, 32 * mib, 525},
		{600, 5 * mib, 32 * mib, 600},
		{-1, 5 * mib, 32 * mib, -1}, // GOGC=off stays off
		{100, 0, 32 * mib, 100},     // nothing measured yet
	} {
		if got := Percent(c.base, c.live, c.floor); got != c.want {
			t.Errorf("Percent(%d, %d, %d) = %d, want %d", c.base, c.live, c.floor, got, c.want)
		}
	}
}

// TestStartFollowsCollections: with a floor far above the live heap, the percentage rises after
// a collection; stop gives GOGC's back; only one floor runs per process.
func TestStartFollowsCollections(t *testing.T) {
	base := debug.SetGCPercent(100)
	defer debug.SetGCPercent(base)
	stop := Start(256 << 20)
	second := Start(1 << 30)
	second() // the no-op of a second floor leaves the first running
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // cleanups run on their own goroutine after the cycle
		if p := gogc(); p > 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the GC percentage stayed at %d after collections with a 256 MiB floor", gogc())
		}
	}
	stop()
	stop() // twice is harmless
	if p := gogc(); p != 100 {
		t.Fatalf("after stop the GC percentage is %d, want GOGC's 100", p)
	}
	if Start(0)(); running != nil {
		t.Fatal("a floor of 0 started")
	}
}

// gogc reads the GC percentage without setting it.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}
