package http

import (
	"testing"
	"time"
)

// The access log's times follow the wall clock: a monotonic reading taken now maps to now,
// and one taken later maps to that much later.
func TestWallClockFollowsTheWallClock(t *testing.T) {
	var c wallClock
	before := time.Now()
	got := c.at(monotonic())
	after := time.Now()
	if got.Before(before.Add(-time.Millisecond)) || got.After(after.Add(time.Millisecond)) {
		t.Fatalf("at(now) = %v, not between %v and %v", got, before, after)
	}
	m := monotonic()
	if d := c.at(m + int64(time.Hour)).Sub(c.at(m)); d < time.Hour-time.Millisecond || d > time.Hour+time.Millisecond {
		t.Fatalf("an hour of monotonic time is %v of wall time", d)
	}
	if at := c.at(m); at.Location() != time.Local || at.Round(0) != at {
		t.Fatal("the times carry a monotonic reading or another location")
	}
}
