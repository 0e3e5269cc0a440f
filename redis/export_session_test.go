package redis

import (
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// Key names and figures of the session store for the tests of package redis_test, which look
// at Redis directly.

// SessionKey returns the key of the session whose hash is h, under prefix.
func SessionKey(prefix string, h gatehouse.Hash) string {
	return (&SessionStore{base: base{prefix: prefix}}).sessKey(h)
}

// HourKey returns the index key of the hour of deadline (the session counts), under prefix,
// and its TTL when written at now.
func HourKey(prefix string, deadline, now time.Time) (string, time.Duration) {
	hour := deadline.UnixMilli() / hourMillis
	ttl := indexTTL(hour, now.UnixMilli())
	return (&SessionStore{base: base{prefix: prefix}}).hourKey(hour), time.Duration(ttl) * time.Millisecond
}
