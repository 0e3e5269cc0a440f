package redis

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBoundCtxDeadline(t *testing.T) {
	c := bind(context.Background(), 50*time.Millisecond)
	defer c.release()
	before := time.Now()
	if c.Err() != nil {
		t.Fatal("a fresh context is over")
	}
	d, ok := c.Deadline()
	after := time.Now()
	if !ok || d.Before(before.Add(50*time.Millisecond)) || d.After(after.Add(50*time.Millisecond)) {
		t.Fatalf("Deadline = %v, %v; want 50ms after the first look", d, ok)
	}
	select { // the timer of the deadline closes Done
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after the deadline")
	}
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err = %v", c.Err())
	}
}

func TestBoundCtxParent(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), "k", "v"))
	c := bind(parent, time.Hour)
	defer c.release()
	if c.Value("k") != "v" {
		t.Fatal("value of the parent lost")
	}
	done := c.Done()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed when the parent was canceled")
	}
	if !errors.Is(c.Err(), context.Canceled) {
		t.Fatalf("Err = %v", c.Err())
	}
	// An earlier deadline of the parent wins.
	soon, cancel2 := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel2()
	c2 := bind(soon, time.Hour)
	defer c2.release()
	if d, _ := c2.Deadline(); d.After(time.Now().Add(time.Millisecond)) {
		t.Fatalf("Deadline = %v, want the parent's", d)
	}
}

// TestBoundCtxErrWithoutDone checks that a context whose Done was never asked for still
// reports its end, and that its channel, asked for afterwards, is closed. (The deadline counts
// from the first look at the context.)
func TestBoundCtxErrWithoutDone(t *testing.T) {
	c := bind(context.Background(), time.Nanosecond)
	defer c.release()
	d, _ := c.Deadline()
	for !time.Now().After(d) { // a nanosecond
	}
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err = %v", c.Err())
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done open on an expired context")
	}
}

// TestBoundCtxRecycled checks that a released context comes back clean, and that one whose
// Done channel was handed out is not recycled.
func TestBoundCtxRecycled(t *testing.T) {
	for range 100 {
		c := bind(context.Background(), time.Hour)
		if c.Err() != nil || c.done != nil || !c.deadline.IsZero() && time.Until(c.deadline) < 59*time.Minute {
			t.Fatalf("a recycled context carries state: err %v, deadline %v", c.err, c.deadline)
		}
		c.release()
	}
	c := bind(context.Background(), time.Hour)
	ch := c.Done()
	c.release()
	for range 100 {
		d := bind(context.Background(), time.Hour)
		if d == c {
			t.Fatal("a context whose Done was handed out was recycled")
		}
		d.release()
	}
	select {
	case <-ch:
		t.Fatal("release closed Done")
	default:
	}
}
