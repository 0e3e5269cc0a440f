package argon2

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// BenchmarkHashCost hashes with the default parameters on as many goroutines as GOMAXPROCS and
// reports, beside the time, what the kernel spent on each hash: minor page faults and system
// CPU time. golang.org/x/crypto/argon2 allocates its 19 MiB of blocks afresh for every hash,
// and the pages the Go runtime has returned to the kernel since fault in again and are zeroed
// by it: on the 2-core development VM, about 980 faults and 25-35 ms of system time per hash,
// close to half of a hash's CPU (BENCHMARKS.md, logins).
//
//	go test ./argon2 -run '^$' -bench HashCost -benchtime 40x
func BenchmarkHashCost(b *testing.B) {
	h := New(Options{})
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Hash(context.Background(), "a password to hash"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	n := float64(b.N)
	b.ReportMetric(float64(after.Minflt-before.Minflt)/n, "faults/op")
	sys := time.Duration(after.Stime.Nano() - before.Stime.Nano())
	user := time.Duration(after.Utime.Nano() - before.Utime.Nano())
	b.ReportMetric(float64(sys.Milliseconds())/n, "sys-ms/op")
	b.ReportMetric(float64(user.Milliseconds())/n, "user-ms/op")
}
