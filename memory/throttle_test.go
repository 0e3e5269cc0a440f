package memory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/memory"
)

func TestThrottleContract(t *testing.T) {
	storetest.TestThrottle(t, func(t *testing.T, now func() time.Time) gatehouse.Throttle {
		return memory.NewThrottle(memory.ThrottleOptions{Now: now})
	})
}

// TestThrottleBounded floods a small throttle with distinct keys: memory stays bounded, and the
// key that is actually throttling someone survives the flood.
func TestThrottleBounded(t *testing.T) {
	c := storetest.NewThrottleClock()
	th := memory.NewThrottle(memory.ThrottleOptions{Now: c.Now, MaxKeys: 64 * 16})
	ctx := context.Background()
	victim := gatehouse.Limit{Key: "account:victim", Backoff: gatehouse.Backoff{Free: 2, Base: time.Second, Max: time.Hour}}
	for i := 0; i < 10; i++ {
		c.Advance(time.Hour)
		if _, err := th.Attempt(ctx, victim); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 100_000; i++ {
		th.Attempt(ctx, gatehouse.Limit{Key: fmt.Sprintf("flood:%d", i), Backoff: victim.Backoff})
	}
	if n := th.Len(); n > 64*16 {
		t.Fatalf("%d keys kept, bound is %d", n, 64*16)
	}
	if w, _ := th.Attempt(ctx, victim); w == 0 {
		t.Fatal("the flood evicted the throttled key")
	}
}

func TestBackoffNormalize(t *testing.T) {
	b := gatehouse.Backoff{}.Normalize()
	if b.Free != gatehouse.DefaultBackoffFree || b.Base != time.Second || b.Max != 15*time.Minute || b.Forget != 24*time.Hour {
		t.Fatalf("defaults: %+v", b)
	}
	b = gatehouse.Backoff{Free: -1, Base: time.Minute, Max: time.Second, Forget: time.Second}.Normalize()
	if b.Free != 0 || b.Max != time.Minute || b.Forget != time.Minute {
		t.Fatalf("normalised: %+v", b)
	}
	if d := b.Delay(0); d != time.Minute {
		t.Fatalf("Free 0: the first attempt waits the base after the previous one: %v", d)
	}
	// No overflow however many attempts.
	if d := (gatehouse.Backoff{Free: 1}).Normalize().Delay(1 << 40); d != 15*time.Minute {
		t.Fatalf("Delay(huge) = %v", d)
	}
}
