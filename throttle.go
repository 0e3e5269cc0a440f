package gatehouse

import (
	"context"
	"time"
)

// Backoff is an exponential backoff policy for attempts counted under one key (an account, a
// client address, or both). The first Free consecutive attempts go through at once; after that
// each attempt must wait Base, then 2*Base, 4*Base and so on, never more than Max, counted from
// the previous attempt. A success resets the count (see Throttle.Reset), and a key with no
// attempt for Forget is forgotten. There is never a permanent lockout: the longest wait is Max.
type Backoff struct {
	// Free is the number of consecutive attempts admitted without delay (default 5). NIST SP
	// 800-63B-4 asks that at most 100 consecutive failures per account go unthrottled.
	Free int
	// Base is the first wait once Free is used up (default 1 s).
	Base time.Duration
	// Max caps the wait (default 15 minutes).
	Max time.Duration
	// Forget is how long after its last attempt a key is forgotten (default 24 hours, and
	// never less than Max, so that waiting is never cheaper than forgetting).
	Forget time.Duration
}

// Defaults of Backoff.
const (
	DefaultBackoffFree   = 5
	DefaultBackoffBase   = time.Second
	DefaultBackoffMax    = 15 * time.Minute
	DefaultBackoffForget = 24 * time.Hour
)

// Normalize returns b with its zero fields set to their defaults and Forget at least Max.
func (b Backoff) Normalize() Backoff {
	if b.Free < 0 {
		b.Free = 0
	} else if b.Free == 0 {
		b.Free = DefaultBackoffFree
	}
	if b.Base <= 0 {
		b.Base = DefaultBackoffBase
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoffMax
	}
	if b.Max < b.Base {
		b.Max = b.Base
	}
	if b.Forget <= 0 {
		b.Forget = DefaultBackoffForget
	}
	if b.Forget < b.Max {
		b.Forget = b.Max
	}
	return b
}

// Delay returns how long after the previous attempt the next one may be made, when n attempts
// are already counted. b must be normalized.
func (b Backoff) Delay(n int) time.Duration {
	if n < b.Free {
		return 0
	}
	d := b.Base
	for i := b.Free; i < n; i++ {
		d *= 2
		if d >= b.Max {
			return b.Max
		}
	}
	return min(d, b.Max)
}

// Limit is one key of an attempt and the backoff policy of that key.
type Limit struct {
	Key     string
	Backoff Backoff
}

// Throttle counts attempts (logins, presented credentials) under keys and tells when the next
// one may be made. Implementations keep bounded state and must be safe for concurrent use; an
// in-process one serves a single instance, a shared one (Redis) makes the counts exact across
// instances. A throttle that cannot answer returns an error wrapping ErrUnavailable: callers
// then fail closed.
type Throttle interface {
	// Attempt admits one attempt under every limit at once, or under none: if any key must
	// still wait, it returns the longest wait and counts nothing; otherwise it counts the
	// attempt under each key and returns 0. Counting at admission (rather than after a
	// failure) keeps concurrent attempts from slipping past the policy.
	Attempt(ctx context.Context, limits ...Limit) (wait time.Duration, err error)
	// Reset forgets the attempts counted under each key (after a success).
	Reset(ctx context.Context, keys ...string) error
	// Refund takes one counted attempt back under key, if it has any: a success that should
	// not forgive the key's other failures (a client address shared by many users).
	Refund(ctx context.Context, key string) error
}
