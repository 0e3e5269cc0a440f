//go:build unix

package http_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the process has used so far (user and system, every thread), so
// that benchmarks can report CPU per operation, which a machine shared with other work
// disturbs far less than wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
