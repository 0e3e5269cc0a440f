package redis

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse-auth/gatehouse"
)

// The session indexes: u:<user id> (handle -> session hash) lists a user's sessions, and
// h:<hour>:<2 chars> (handle -> session hash) finds a session by its handle.

// handleKey returns the handle index key of handle: the hour the handle was made (ids from
// gatehouse.NewID start with a millisecond timestamp) and two of its random characters.
func (st *SessionStore) handleKey(handle string) string {
	if !gatehouse.ValidID(handle) {
		return st.prefix + "h:other"
	}
	var ms uint64
	for i := 0; i < 10; i++ { // 50 bits: the 48-bit timestamp and 2 random bits
		ms = ms<<5 | uint64(crockford(handle[i]))
	}
	hour := (ms >> 2) / uint64(time.Hour/time.Millisecond)
	return st.handleBucket(hour, handle[23:25])
}

func (st *SessionStore) handleBucket(hour uint64, shard string) string {
	return st.prefix + "h:" + strconv.FormatUint(hour, 10) + ":" + shard
}

// CountSessions returns the number of entries of the handle index keys of the last
// MaxLifetime: the sessions created in that time and not deleted. A session that ended by
// idleness is counted until its index key expires (MaxLifetime after the session's creation
// hour, at the latest). It reads 1024 small keys per hour, pipelined: it is meant for a metrics
// scrape, not for the request path.
func (st *SessionStore) CountSessions(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 8*st.opts.Timeout)
	defer cancel()
	const digits = "0123456789abcdefghjkmnpqrstvwxyz"
	hourMS := uint64(time.Hour / time.Millisecond)
	now := st.opts.Now()
	first := uint64(now.Add(-st.lifetime-time.Hour).UnixMilli()) / hourMS
	last := uint64(now.Add(time.Hour).UnixMilli()) / hourMS
	total := 0
	b := st.c.B()
	cmds := make(rueidis.Commands, 0, len(digits)*len(digits))
	for hour := first; hour <= last; hour++ {
		cmds = cmds[:0]
		for i := 0; i < len(digits); i++ {
			for j := 0; j < len(digits); j++ {
				cmds = append(cmds, b.Hlen().Key(st.handleBucket(hour, digits[i:i+1]+digits[j:j+1])).Build())
			}
		}
		for _, r := range st.doMulti(ctx, cmds) {
			n, err := r.AsInt64()
			if err != nil {
				return 0, storeErr("count sessions", err)
			}
			total += int(n)
		}
	}
	return total, nil
}

// crockford returns the value of a lower-case Crockford base32 digit (as gatehouse.NewID
// writes them).
func crockford(c byte) byte {
	const digits = "0123456789abcdefghjkmnpqrstvwxyz"
	for i := 0; i < len(digits); i++ {
		if digits[i] == c {
			return byte(i)
		}
	}
	return 0
}

// unindex removes handles from the user's index and from the handle index.
func (st *SessionStore) unindex(ctx context.Context, userID string, handles []string) error {
	if len(handles) == 0 {
		return nil
	}
	b := st.c.B()
	cmds := make(rueidis.Commands, 0, len(handles)+1)
	cmds = append(cmds, b.Hdel().Key(st.userKey(userID)).Field(handles...).Build())
	for _, handle := range handles {
		cmds = append(cmds, b.Hdel().Key(st.handleKey(handle)).Field(handle).Build())
	}
	return storeErr("unindex sessions", firstErr(st.doMulti(ctx, cmds)))
}

// indexed looks handle up in the index hash key and returns the session hash it names.
func (st *SessionStore) indexed(ctx context.Context, key, handle string) (gatehouse.Hash, bool, error) {
	v, err := st.c.Do(ctx, st.c.B().Hget().Key(key).Field(handle).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return gatehouse.Hash{}, false, nil
	}
	if err != nil {
		return gatehouse.Hash{}, false, storeErr("session index", err)
	}
	var h gatehouse.Hash
	if len(v) != len(h) {
		return h, false, corrupt("session index", key)
	}
	copy(h[:], v)
	return h, true, nil
}

// userIndex returns the handles and session hashes of the user's index.
func (st *SessionStore) userIndex(ctx context.Context, userID string) ([]string, []gatehouse.Hash, error) {
	key := st.userKey(userID)
	m, err := st.c.Do(ctx, st.c.B().Hgetall().Key(key).Build()).AsStrMap()
	if err != nil {
		return nil, nil, storeErr("session index", err)
	}
	handles := make([]string, 0, len(m))
	hashes := make([]gatehouse.Hash, 0, len(m))
	for handle, v := range m {
		var h gatehouse.Hash
		if len(v) != len(h) {
			return nil, nil, corrupt("session index", key)
		}
		copy(h[:], v)
		handles, hashes = append(handles, handle), append(hashes, h)
	}
	return handles, hashes, nil
}
