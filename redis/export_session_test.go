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

// Format3DeadlineScript is a script that returns the deadline TouchSession derives from a
// value of format 3 whose ExpiresAt is ARGV[1] (8 bytes, Unix ns big-endian).
const Format3DeadlineScript = "local v = '\\128' .. ARGV[1]\nlocal d = 0\n" + format3Deadline + "\nreturn d"

// EncodeFormat2 returns s as an older gatehouse stores it (format 2), with that deadline (Unix
// ms).
func EncodeFormat2(s *gatehouse.Session, deadline int64) string { return encodeSession2(s, deadline) }
