package bench

import (
	"context"
	"crypto/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// The login floor: bare argon2id hashes with the server's default parameters (m=19456 KiB,
// t=2, p=1, 32-byte key, 16-byte salt), computed by as many workers as the server's hashing
// queue runs at once by default (one per CPU), with nothing else around them: no HTTP, no JSON,
// no user lookup, no token. A login cannot be faster than one hash, so logins per second over
// hashes per second, measured in alternating slices, is what the rest of a login costs.
const (
	floorHashMemory  = 19456
	floorHashTime    = 2
	floorHashThreads = 1
)

// hashFloor computes hashes on runtime.NumCPU() goroutines for d (or until ctx ends) and
// returns how many it finished and the time it took. Each worker starts a hash only while time
// remains, so the last ones finish at most one hash late; the rate counts that time.
func hashFloor(ctx context.Context, d time.Duration) (int, time.Duration) {
	var done atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	password := []byte(benchPassword)
	for range runtime.NumCPU() {
		wg.Go(func() {
			salt := make([]byte, 16)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				rand.Read(salt)
				argon2.IDKey(password, salt, floorHashTime, floorHashMemory, floorHashThreads, 32)
				done.Add(1)
			}
		})
	}
	wg.Wait()
	return int(done.Load()), time.Since(start)
}
