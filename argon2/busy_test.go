package argon2

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

var tiny = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// blocker makes a Hasher's next n hashes stop while they hold their slot, until released;
// later hashes go through, so that a test fails rather than hangs when one unexpectedly gets
// a slot.
type blocker struct {
	entered chan struct{}
	release chan struct{}
	left    atomic.Int32
}

func block(h *Hasher, n int32) *blocker {
	b := &blocker{entered: make(chan struct{}, 16), release: make(chan struct{})}
	b.left.Store(n)
	h.holding = func() {
		if b.left.Add(-1) < 0 {
			return
		}
		b.entered <- struct{}{}
		<-b.release
	}
	return b
}

// hashAsync starts a Hash and returns the channel its error arrives on.
func hashAsync(h *Hasher, ctx context.Context) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := h.Hash(ctx, "password")
		done <- err
	}()
	return done
}

func TestSecondConcurrentHashIsBusy(t *testing.T) {
	h := New(Options{Params: tiny, MaxConcurrent: 1, MaxWait: 5 * time.Millisecond})
	b := block(h, 1)
	first := hashAsync(h, context.Background())
	<-b.entered
	if got := h.InFlight(); got != 1 {
		t.Fatalf("InFlight() = %d with one hash running, want 1", got)
	}

	_, err := h.Hash(context.Background(), "password")
	if !errors.Is(err, gatehouse.ErrBusy) {
		t.Fatalf("second Hash error = %v, want ErrBusy", err)
	}
	_, _, err = h.Verify(context.Background(), h.DummyHash(), "password")
	if !errors.Is(err, gatehouse.ErrBusy) {
		t.Fatalf("concurrent Verify error = %v, want ErrBusy", err)
	}

	close(b.release)
	if err := <-first; err != nil {
		t.Fatalf("first Hash: %v", err)
	}
	if in, w := h.InFlight(), h.Waiting(); in != 0 || w != 0 {
		t.Fatalf("after all hashes: InFlight %d, Waiting %d; want 0, 0", in, w)
	}
	if _, err := h.Hash(context.Background(), "password"); err != nil {
		t.Fatalf("Hash once the slot is free: %v", err)
	}
}

func TestWaiterGetsFreedSlot(t *testing.T) {
	h := New(Options{Params: tiny, MaxConcurrent: 1, MaxWait: time.Minute})
	b := block(h, 1)
	first := hashAsync(h, context.Background())
	<-b.entered
	second := hashAsync(h, context.Background())
	testkit.Eventually(t, 5*time.Second, "a waiter", func() bool { return h.Waiting() == 1 })
	if got := h.InFlight(); got != 1 {
		t.Fatalf("InFlight() = %d, want 1 (MaxConcurrent)", got)
	}
	close(b.release) // both the first and, once it has the slot, the second go through
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatalf("waiting Hash: %v", err)
	}
}

func TestCancelledContextIsBusy(t *testing.T) {
	h := New(Options{Params: tiny, MaxConcurrent: 1, MaxWait: time.Minute})
	b := block(h, 1)
	first := hashAsync(h, context.Background())
	<-b.entered

	ctx, cancel := context.WithCancel(context.Background())
	second := hashAsync(h, ctx)
	testkit.Eventually(t, 5*time.Second, "a waiter", func() bool { return h.Waiting() == 1 })
	cancel()
	err := <-second
	if !errors.Is(err, gatehouse.ErrBusy) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter error = %v, want ErrBusy and context.Canceled", err)
	}
	if got := h.Waiting(); got != 0 {
		t.Fatalf("Waiting() = %d after the waiter left, want 0", got)
	}
	close(b.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}

	// A context that is already done never starts a hash, even with free slots.
	if _, err := h.Hash(ctx, "password"); !errors.Is(err, gatehouse.ErrBusy) {
		t.Fatalf("Hash with a done context = %v, want ErrBusy", err)
	}
}

// TestBigStoredHashRunsAlone checks the memory cap: a stored hash with more memory than the
// current parameters needs the whole budget, so it waits while any other hash runs.
func TestBigStoredHashRunsAlone(t *testing.T) {
	h := New(Options{Params: tiny, MaxConcurrent: 2, MaxWait: 5 * time.Millisecond})
	big := Encode(Params{Memory: 256, Time: 2, Threads: 1}, []byte("somesalt"), make([]byte, 32))
	b := block(h, 1)
	first := hashAsync(h, context.Background())
	<-b.entered

	if _, _, err := h.Verify(context.Background(), big, "password"); !errors.Is(err, gatehouse.ErrBusy) {
		t.Fatalf("Verify of a 256 KiB hash beside a running hash: %v, want ErrBusy (budget 128 KiB)", err)
	}
	// A hash with the current parameters still fits beside the first.
	if _, err := h.Hash(context.Background(), "password"); err != nil {
		t.Fatalf("Hash beside a running hash: %v", err)
	}
	close(b.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(context.Background(), big, "password"); ok || err != nil {
		t.Fatalf("Verify of the big hash alone = %v, %v; want false, nil", ok, err)
	}
}

func TestSemaphoreFIFO(t *testing.T) {
	s := newSemaphore(4)
	ctx := context.Background()
	if err := s.acquire(ctx, 3, time.Second); err != nil {
		t.Fatal(err)
	}
	bigDone := make(chan error, 1)
	go func() { bigDone <- s.acquire(ctx, 4, time.Minute) }()
	testkit.Eventually(t, 5*time.Second, "the big waiter", func() bool { _, w := s.counts(); return w == 1 })

	// One unit is free, but the big waiter is first in line: a small request must not overtake it.
	if err := s.acquire(ctx, 1, 5*time.Millisecond); err == nil {
		t.Fatal("a small request overtook the waiting big one")
	}
	s.release(3)
	if err := <-bigDone; err != nil {
		t.Fatalf("big waiter: %v", err)
	}
	if in, w := s.counts(); in != 1 || w != 0 {
		t.Fatalf("counts = %d, %d; want 1, 0", in, w)
	}
	s.release(4)
}

func TestSemaphoreHeadGivingUpWakesOthers(t *testing.T) {
	s := newSemaphore(4)
	ctx := context.Background()
	if err := s.acquire(ctx, 3, time.Second); err != nil {
		t.Fatal(err)
	}
	headCtx, cancelHead := context.WithCancel(ctx)
	headDone := make(chan error, 1)
	go func() { headDone <- s.acquire(headCtx, 4, time.Minute) }()
	testkit.Eventually(t, 5*time.Second, "the head waiter", func() bool { _, w := s.counts(); return w == 1 })
	smallDone := make(chan error, 1)
	go func() { smallDone <- s.acquire(ctx, 1, 3*time.Second) }()
	testkit.Eventually(t, 5*time.Second, "the small waiter", func() bool { _, w := s.counts(); return w == 2 })

	cancelHead()
	if err := <-headDone; err == nil {
		t.Fatal("cancelled head acquired")
	}
	if err := <-smallDone; err != nil {
		t.Fatalf("small waiter behind a departed head: %v", err)
	}
	s.release(1)
	s.release(3)
	if in, w := s.counts(); in != 0 || w != 0 || s.cur != 0 {
		t.Fatalf("counts = %d, %d, cur %d; want all zero", in, w, s.cur)
	}
}

// TestSemaphoreGrantedWhileGivingUp races a release against a cancellation many times: a
// waiter that is granted its weight just as it gives up must hand the weight back.
func TestSemaphoreGrantedWhileGivingUp(t *testing.T) {
	for i := 0; i < 300; i++ {
		s := newSemaphore(1)
		if err := s.acquire(context.Background(), 1, time.Second); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.acquire(ctx, 1, time.Minute) }()
		testkit.Eventually(t, 5*time.Second, "the waiter", func() bool { _, w := s.counts(); return w == 1 })
		cancel() // wakes the waiter, which will likely find its grant ready too
		s.release(1)
		if err := <-done; err == nil {
			s.release(1)
		}
		if in, w := s.counts(); in != 0 || w != 0 || s.cur != 0 {
			t.Fatalf("round %d: in flight %d, waiting %d, held %d; want all zero", i, in, w, s.cur)
		}
	}
}
