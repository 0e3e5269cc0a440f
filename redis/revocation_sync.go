package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse-auth/gatehouse"
)

// The marker of each revocation shard, and filling Redis from the durable store (see
// RevocationStore).

// verify reads key, of shard, again along with a check that the shard's marker names the
// running Redis server of the shard. If it does not, Redis has lost or may have lost
// revocations: it starts a fill from the durable store and reports trusted=false.
func (st *RevocationStore) verify(ctx context.Context, shard int, key string) (v string, found, trusted bool, err error) {
	got, err := st.readCheck.Exec(ctx, st.c, []string{st.markers[shard], key}, nil).AsStrSlice()
	if err != nil {
		return "", false, false, err
	}
	if len(got) != 4 || got[1] == "" {
		return "", false, false, fmt.Errorf("unexpected answer to the marker check: %q", got)
	}
	if got[0] != got[1] {
		empty := ""
		st.verified[shard].Store(&empty)
		st.refillInBackground()
		return "", false, false, nil
	}
	st.verified[shard].Store(&got[0])
	return got[3], got[2] == "1", true, nil
}

// fillTimeout bounds a fill of Redis from the durable store.
const fillTimeout = time.Minute

func (st *RevocationStore) refillInBackground() {
	if !st.refilling.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer st.refilling.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), fillTimeout)
		defer cancel()
		if err := st.Sync(ctx); err != nil {
			st.log("refilling Redis revocations from the durable store failed; reads use the durable store", "err", err)
		}
	}()
}

// Sync fills the shards of Redis whose marker does not show that they hold everything of the
// durable store, and writes their markers. Calling it at start-up spares the first requests
// the slower reads from the durable store. Without a durable store it does nothing.
func (st *RevocationStore) Sync(ctx context.Context) error {
	if st.durable == nil {
		return nil
	}
	st.fillMu.Lock()
	defer st.fillMu.Unlock()
	// Instances that start together fill concurrently; the last to begin writes the marker,
	// and the others find it on their next attempt.
	var err error
	for range 3 {
		var stale []int
		if stale, err = st.staleShards(ctx); err != nil || len(stale) == 0 {
			return err
		}
		if err = st.fillOnce(ctx, stale); err == nil {
			return nil
		}
	}
	return err
}

// staleShards returns the shards whose marker does not name their running server, checking
// every shard in one round trip, without starting a fill.
func (st *RevocationStore) staleShards(ctx context.Context) ([]int, error) {
	cmds := make(rueidis.Commands, revShards)
	for n := range revShards {
		cmds[n] = st.eval(checkScript, []string{st.markers[n]})
	}
	var stale []int
	for n, r := range st.doMulti(ctx, cmds) {
		got, err := r.AsStrSlice()
		if err != nil {
			return nil, storeErr("check revocations marker", err)
		}
		if len(got) != 2 || got[1] == "" || got[0] != got[1] {
			stale = append(stale, n)
		}
	}
	return stale, nil
}

// fillOnce fills the shards from the durable store and writes their markers, unless another
// fill started meanwhile (or Redis lost the fill's record).
func (st *RevocationStore) fillOnce(ctx context.Context, shards []int) error {
	nonce := gatehouse.NewSecret()
	cmds := make(rueidis.Commands, len(shards))
	for i, n := range shards {
		cmds[i] = st.eval(fillOpenScript, []string{st.fillKey(n)}, nonce, strconv.FormatInt(fillTimeout.Milliseconds(), 10))
	}
	runIDs := make([]string, len(shards))
	for i, r := range st.doMulti(ctx, cmds) {
		var err error
		if runIDs[i], err = r.ToString(); err != nil {
			return storeErr("fill revocations: open", err)
		}
	}
	now := st.opts.Now()
	tokens, notBefore, err := st.durable.ListRevocations(ctx, now)
	if err != nil {
		return err
	}
	var fill [revShards]bool
	for _, n := range shards {
		fill[n] = true
	}
	if err := st.fill(ctx, tokens, notBefore, now, &fill); err != nil {
		return err
	}
	return st.fillDone(ctx, shards, nonce, runIDs, len(tokens), len(notBefore))
}

// fillDone writes the markers of shards, each the run id its fill began on.
func (st *RevocationStore) fillDone(ctx context.Context, shards []int, nonce string, runIDs []string, tokens, users int) error {
	cmds := make(rueidis.Commands, len(shards))
	for i, n := range shards {
		cmds[i] = st.eval(fillDoneScript, []string{st.fillKey(n), st.markers[n]}, nonce, runIDs[i])
	}
	for _, r := range st.doMulti(ctx, cmds) {
		done, err := r.AsInt64()
		if err != nil {
			return storeErr("fill revocations: marker", err)
		}
		if done != 1 {
			return fmt.Errorf("redis: fill revocations: another fill started, or Redis was flushed or restarted, during the fill")
		}
	}
	st.log("filled Redis with the revocations of the durable store", "shards", len(shards), "tokens", tokens, "users", users)
	return nil
}

// fillBatch is how many writes one round trip of a fill carries.
const fillBatch = 500

// fill writes the durable store's revocations of the shards marked in shards into Redis,
// keeping whatever is later.
func (st *RevocationStore) fill(ctx context.Context, tokens, notBefore map[string]time.Time, now time.Time, shards *[revShards]bool) error {
	b := st.c.B()
	var cmds rueidis.Commands
	var keys []string
	send := func() error {
		err := firstErr(st.fenced(ctx, cmds, keys...))
		cmds, keys = cmds[:0], keys[:0]
		return storeErr("fill revocations", err)
	}
	for userID, t := range notBefore {
		k, n := st.nbKey(userID)
		if !shards[n] {
			continue
		}
		cmds, keys = append(cmds, st.eval(maxScript, []string{k}, formatNanos(t))), append(keys, k)
		if len(cmds) >= fillBatch {
			if err := send(); err != nil {
				return err
			}
		}
	}
	for jti, exp := range tokens {
		k, n := st.jtiKey(jti)
		if ttl := ttlMillis(now, exp); ttl > 0 && shards[n] {
			cmds = append(cmds, b.Set().Key(k).Value("1").Nx().PxMilliseconds(ttl).Build(),
				b.Pexpire().Key(k).Milliseconds(ttl).Gt().Build())
			keys = append(keys, k)
		}
		if len(cmds) >= fillBatch {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if len(cmds) > 0 {
		return send()
	}
	return nil
}
