package redis

import (
	"context"
	"math/bits"
	"strconv"

	"github.com/redis/rueidis"
)

// The user index. A session is listed in a small sorted set chosen by the hour of its deadline
// and its user, among sets shared with other users:
//
//	i:<hour>               hash {c: sessions indexed in that hour so far, n: of them not
//	                       deleted}, where hour is the deadline in Unix hours
//	i:<hour>:<k>:<shard>   sorted set of session locators (the key bytes of the sessions),
//	                       scored by the user's fingerprint (0 to 127); shard is the top k bits
//	                       of the user's hash
//
// A set is filled by level: the first indexSetSize sessions of an hour go to the one set of
// level 0, the next ones to the 2 sets of level 1, then 4, 8..., so a set holds about
// indexSetSize/2 sessions however many are created, and stays in Redis' compact listpack
// encoding (at most 128 members of at most 64 bytes): a session costs its 16-byte locator and
// a few bytes of the set's bookkeeping, instead of a key of its own per user. A user's sessions
// are found with one ZRANGEBYSCORE of the user's fingerprint per level of each hour that may
// still hold sessions (other users with the same fingerprint are filtered out by reading the
// sessions). The sets and the hour's counters expire at the end of their hour, when every
// session they list has expired.
const (
	indexSetSize  = 96
	indexLevels   = 17 // levels 0 to 16: up to 3 million sessions an hour
	hourMillis    = 3_600_000
	indexSlackMil = 60_000 // index keys outlive the end of their hour by this much
)

// userHash returns the hash of a user id that picks its sets and fingerprint (FNV-1a, 64 bits).
func userHash(userID string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(userID); i++ {
		h = (h ^ uint64(userID[i])) * 1099511628211
	}
	return h
}

func fingerprint(uh uint64) int64 { return int64(uh & 127) }

// level returns the level of the c-th session indexed in an hour.
func level(c int64) int {
	return min(bits.Len64(uint64(max(c-1, 0))/indexSetSize), indexLevels-1)
}

func (st *SessionStore) hourKey(hour int64) string {
	return st.prefix + "i:" + strconv.FormatInt(hour, 10)
}

func (st *SessionStore) setKey(hour int64, k int, uh uint64) string {
	shard := uh >> (64 - k) // 0 for k = 0: shifts of 64 bits give 0
	return st.prefix + "i:" + strconv.FormatInt(hour, 10) + ":" + strconv.Itoa(k) + ":" + strconv.FormatUint(shard, 10)
}

// indexTTL returns the TTL in ms, at nowMS, of the index keys of hour.
func indexTTL(hour, nowMS int64) int64 { return (hour+1)*hourMillis + indexSlackMil - nowMS }

// hours returns the hours whose index keys may list a live session at nowMS.
func (st *SessionStore) hours(nowMS int64) (first, last int64) {
	return nowMS/hourMillis - 1, (nowMS+st.lifetime.Milliseconds())/hourMillis + 1
}

// counters reads field of the hour keys of every hour that may list a live session.
func (st *SessionStore) counters(ctx context.Context, field string) (first int64, counts []int64, err error) {
	first, last := st.hours(st.opts.Now().UnixMilli())
	b := st.c.B()
	cmds := make(rueidis.Commands, 0, last-first+1)
	for h := first; h <= last; h++ {
		cmds = append(cmds, b.Hget().Key(st.hourKey(h)).Field(field).Build())
	}
	for _, r := range st.doMulti(ctx, cmds) {
		n, err := r.AsInt64()
		if err != nil && !rueidis.IsRedisNil(err) {
			return 0, nil, storeErr("session index", err)
		}
		counts = append(counts, n)
	}
	return first, counts, nil
}

// CountSessions returns the number of sessions created and not deleted whose deadline hour
// has not ended: the sum of the hours' n counters. A session that ended by idleness is counted
// until the end of the hour of its absolute expiry, as no delete tells the store about it. It
// reads one small key per hour of MaxLifetime.
func (st *SessionStore) CountSessions(ctx context.Context) (int, error) {
	ctx, cancel := st.bound(ctx)
	defer cancel()
	_, counts, err := st.counters(ctx, "n")
	total := int64(0)
	for _, n := range counts {
		total += max(n, 0)
	}
	return int(total), err
}

// entry is a session found in the index: its locator and the set that lists it.
type entry struct {
	loc string
	set string
}

// lookup returns the entries of the user's fingerprint in every set that may list a session
// of the user: one read of the hours' counters, then one of the sets.
func (st *SessionStore) lookup(ctx context.Context, userID string) ([]entry, error) {
	first, counts, err := st.counters(ctx, "c")
	if err != nil {
		return nil, err
	}
	uh := userHash(userID)
	fp := strconv.FormatInt(fingerprint(uh), 10)
	b := st.c.B()
	var cmds rueidis.Commands
	var sets []string
	for i, c := range counts {
		for k := 0; c > 0 && k <= level(c); k++ {
			set := st.setKey(first+int64(i), k, uh)
			sets = append(sets, set)
			cmds = append(cmds, b.Zrangebyscore().Key(set).Min(fp).Max(fp).Build())
		}
	}
	var out []entry
	for i, r := range st.doMulti(ctx, cmds) {
		locs, err := r.AsStrSlice()
		if err != nil {
			return nil, storeErr("session index", err)
		}
		for _, loc := range locs {
			out = append(out, entry{loc: loc, set: sets[i]})
		}
	}
	return out, nil
}

// entrySet returns the set that lists a session of userID with that deadline (Unix ms),
// the c-th of its hour.
func (st *SessionStore) entrySet(userID string, deadline, c int64) string {
	return st.setKey(deadline/hourMillis, level(c), userHash(userID))
}

// indexCmds returns the commands that list a session of userID with locator loc and deadline
// (Unix ms) as the c-th session of its hour, at nowMS.
func (st *SessionStore) indexCmds(userID, loc string, deadline, c, nowMS int64) rueidis.Commands {
	uh := userHash(userID)
	set, ttl := st.entrySet(userID, deadline, c), indexTTL(deadline/hourMillis, nowMS)
	b := st.c.B()
	return rueidis.Commands{
		b.Zadd().Key(set).Nx().ScoreMember().ScoreMember(float64(fingerprint(uh)), loc).Build(),
		b.Pexpire().Key(set).Milliseconds(ttl).Nx().Build(),
		b.Pexpire().Key(set).Milliseconds(ttl).Gt().Build(),
	}
}

// countCmds returns the commands that add delta to the n counter of hour (and to c if delta is
// positive), at nowMS.
func (st *SessionStore) countCmds(hour, delta, nowMS int64) rueidis.Commands {
	b := st.c.B()
	key, ttl := st.hourKey(hour), indexTTL(hour, nowMS)
	cmds := rueidis.Commands{b.Hincrby().Key(key).Field("n").Increment(delta).Build()}
	if delta > 0 {
		cmds = append(cmds, b.Hincrby().Key(key).Field("c").Increment(delta).Build())
	}
	return append(cmds,
		b.Pexpire().Key(key).Milliseconds(ttl).Nx().Build(),
		b.Pexpire().Key(key).Milliseconds(ttl).Gt().Build())
}

// decrScript takes a deleted session off the count of its hour, unless the hour's key has
// expired (HINCRBY would make it again, without a TTL).
const decrScript = `if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HINCRBY', KEYS[1], 'n', -1) end
return 0`

func (st *SessionStore) decrCmd(hour int64) rueidis.Completed {
	return st.eval(decrScript, []string{st.hourKey(hour)})
}

// unindexCmds returns the commands that drop a deleted session (of userID, locator loc,
// deadline in Unix ms) from its set, whichever level it is in, and from its hour's count.
func (st *SessionStore) unindexCmds(userID, loc string, deadline int64) rueidis.Commands {
	uh, hour := userHash(userID), deadline/hourMillis
	b := st.c.B()
	cmds := make(rueidis.Commands, 0, indexLevels+1)
	for k := range indexLevels {
		cmds = append(cmds, b.Zrem().Key(st.setKey(hour, k, uh)).Member(loc).Build())
	}
	return append(cmds, st.decrCmd(hour))
}
