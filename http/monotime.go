package http

import (
	"sync/atomic"
	"time"
	_ "unsafe" // for go:linkname
)

// monotonic returns the runtime's monotonic clock in nanoseconds. It is one clock read where
// time.Now makes two (the wall clock and the monotonic one); observe times every request with
// it. On the 2-core virtual machine of BenchmarkAuthenticate a clock read costs from 40 ns
// (idle) to over 150 ns (loaded), and the clock reads were most of the cost that timing every
// request added. runtime.nanotime is one of the runtime functions that the Go project keeps
// reachable by linkname for exactly this use.
//
//go:linkname monotonic runtime.nanotime
func monotonic() int64

// wallClock turns monotonic readings into wall-clock times for the access log, so that a
// logged request costs no clock read beyond the two that time it. It keeps one pair of
// readings (wall, monotonic) and takes a fresh pair when the last is older than
// wallClockRefresh, so a change of the system's clock (NTP) shows in the log within that time.
type wallClock struct {
	base atomic.Pointer[wallBase]
}

type wallBase struct {
	wall time.Time
	mono int64
}

// wallClockRefresh is how long a (wall, monotonic) pair is used.
const wallClockRefresh = time.Second

// at returns the wall-clock time of the monotonic reading mono.
func (c *wallClock) at(mono int64) time.Time {
	b := c.base.Load()
	if b == nil || mono-b.mono > int64(wallClockRefresh) || b.mono-mono > int64(wallClockRefresh) {
		now := time.Now()
		b = &wallBase{wall: now.Round(0), mono: monotonic()}
		c.base.Store(b)
	}
	return b.wall.Add(time.Duration(mono - b.mono))
}
