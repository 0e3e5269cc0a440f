package redis

import (
	"context"
	"sort"

	"github.com/redis/rueidis"

	"github.com/gatehouse-auth/gatehouse"
)

// byHandle returns the session with that handle, or nil: the session whose locator the handle
// encodes (a handle made by gatehouse.SessionHandle), else the one its x: key names.
func (st *SessionStore) byHandle(ctx context.Context, handle string) (*storedSession, error) {
	b := st.c.B()
	cmds := rueidis.Commands{b.Get().Key(st.handleKey(handle)).Build()}
	loc, derived := gatehouse.IDBytes(handle)
	if derived {
		cmds = append(cmds, b.Get().Key(st.locKey(string(loc[:]))).Build())
	}
	res := st.c.DoMulti(ctx, cmds...)
	if err := firstErr(res); err != nil {
		return nil, storeErr("session by handle", err)
	}
	if derived {
		s, err := st.parse(string(loc[:]), res[1])
		if err != nil || (s != nil && s.derived && s.Handle == handle) {
			return s, err
		}
	}
	x, err := res[0].ToString()
	if err != nil || len(x) != 16 {
		return nil, nil // no x: key (or not one this store wrote)
	}
	s, err := st.parse(x, st.c.Do(ctx, b.Get().Key(st.locKey(x)).Build()))
	if err != nil || s == nil || s.Handle != handle {
		return nil, err
	}
	return s, nil
}

// parse decodes the answer to a GET of the session with locator loc: nil if there is none
// (or it is of another format version).
func (st *SessionStore) parse(loc string, r rueidis.RedisResult) (*storedSession, error) {
	v, err := r.ToString()
	if rueidis.IsRedisNil(err) {
		return nil, nil
	}
	if err != nil {
		return nil, storeErr("get session", err)
	}
	s, current, ok := decodeSession(loc, v)
	if !current {
		return nil, nil
	}
	if !ok {
		return nil, corrupt("get session", st.locKey(loc))
	}
	return &s, nil
}

// DeleteSessionByHandle removes the session with that handle if it belongs to userID, and
// returns its hash.
func (st *SessionStore) DeleteSessionByHandle(ctx context.Context, userID, handle string) (gatehouse.Hash, bool, error) {
	ctx, cancel := st.bound(ctx)
	defer cancel()
	s, err := st.byHandle(ctx, handle)
	if err != nil || s == nil || s.User.UserID != userID {
		return gatehouse.Hash{}, false, err
	}
	sk := st.sessKey(s.Hash)
	n, err := st.fenced(ctx, rueidis.Commands{st.c.B().Del().Key(sk).Build()}, sk)[0].AsInt64()
	if err != nil {
		return gatehouse.Hash{}, false, storeErr("delete session by handle", err)
	}
	if n == 0 {
		return gatehouse.Hash{}, false, nil // deleted meanwhile, by whoever unindexed it
	}
	err = st.unindex(ctx, []*storedSession{s}, nil)
	st.settle(ctx)
	return s.Hash, true, err
}

// SessionByHandle returns the session with that handle, whoever owns it.
func (st *SessionStore) SessionByHandle(ctx context.Context, handle string) (*gatehouse.Session, bool, error) {
	ctx, cancel := st.bound(ctx)
	defer cancel()
	s, err := st.byHandle(ctx, handle)
	if err != nil || s == nil {
		return nil, false, err
	}
	return &s.Session, true, nil
}

// owned reads the sessions that entries name and returns those of userID, with the set that
// lists each, and the entries whose session has gone.
func (st *SessionStore) owned(ctx context.Context, userID string, entries []entry) (mine []*storedSession, sets []string, stale []entry, err error) {
	b := st.c.B()
	cmds := make(rueidis.Commands, len(entries))
	for i, e := range entries {
		cmds[i] = b.Get().Key(st.locKey(e.loc)).Build()
	}
	for i, r := range st.doMulti(ctx, cmds) {
		s, err := st.parse(entries[i].loc, r)
		switch {
		case err != nil:
			return nil, nil, nil, err
		case s == nil:
			stale = append(stale, entries[i])
		case s.User.UserID == userID:
			mine, sets = append(mine, s), append(sets, entries[i].set)
		}
	}
	return mine, sets, stale, nil
}

// ListSessions returns the user's sessions, oldest first (ties broken by handle): one read of
// the hours' counts, one of the user's index entries, one of the sessions they name.
func (st *SessionStore) ListSessions(ctx context.Context, userID string) ([]*gatehouse.Session, error) {
	ctx, cancel := st.bound(ctx)
	defer cancel()
	entries, err := st.lookup(ctx, userID)
	if err != nil || len(entries) == 0 {
		return nil, err
	}
	mine, _, stale, err := st.owned(ctx, userID, entries)
	if err != nil {
		return nil, err
	}
	out := make([]*gatehouse.Session, len(mine))
	for i, s := range mine {
		out[i] = &s.Session
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].Handle < out[j].Handle
	})
	return out, st.prune(ctx, stale)
}

// DeleteUserSessions removes every session in the user's index and returns the hashes of those
// that existed. Only the index entries it read are removed, so a session created concurrently
// keeps its entry (and is caught by the user's not-before time, which callers move first).
func (st *SessionStore) DeleteUserSessions(ctx context.Context, userID string) ([]gatehouse.Hash, error) {
	ctx, cancel := st.bound(ctx)
	defer cancel()
	entries, err := st.lookup(ctx, userID)
	if err != nil || len(entries) == 0 {
		return nil, err
	}
	mine, sets, stale, err := st.owned(ctx, userID, entries)
	if err != nil || len(mine) == 0 {
		return nil, firstOf(err, st.prune(ctx, stale))
	}
	b := st.c.B()
	cmds := make(rueidis.Commands, len(mine))
	keys := make([]string, len(mine))
	for i, s := range mine {
		keys[i] = st.sessKey(s.Hash)
		cmds[i] = b.Del().Key(keys[i]).Build()
	}
	var deleted []*storedSession
	var deletedSets []string
	for i, r := range st.fenced(ctx, cmds, keys...) {
		n, err := r.AsInt64()
		if err != nil {
			return nil, storeErr("delete user sessions", err)
		}
		if n == 1 {
			deleted, deletedSets = append(deleted, mine[i]), append(deletedSets, sets[i])
		} else {
			stale = append(stale, entry{loc: string(mine[i].Hash[:16]), set: sets[i]})
		}
	}
	hashes := make([]gatehouse.Hash, len(deleted))
	for i, s := range deleted {
		hashes[i] = s.Hash
	}
	err = firstOf(st.unindex(ctx, deleted, deletedSets), st.prune(ctx, stale))
	if len(deleted) > 0 {
		st.settle(ctx)
	}
	return hashes, err
}

// unindex drops deleted sessions from the index, the count and the handle keys. sets, if not
// nil, names the set that lists each; else every level of the session's hour is tried.
func (st *SessionStore) unindex(ctx context.Context, deleted []*storedSession, sets []string) error {
	var cmds rueidis.Commands
	b := st.c.B()
	for i, s := range deleted {
		loc := string(s.Hash[:16])
		if sets != nil {
			cmds = append(cmds, b.Zrem().Key(sets[i]).Member(loc).Build(), st.decrCmd(s.deadline/hourMillis))
		} else {
			cmds = append(cmds, st.unindexCmds(s.User.UserID, loc, s.deadline)...)
		}
		if !s.derived {
			cmds = append(cmds, b.Del().Key(st.handleKey(s.Handle)).Build())
		}
	}
	if len(cmds) == 0 {
		return nil
	}
	return storeErr("unindex sessions", firstErr(st.doMulti(ctx, cmds)))
}

// prune drops index entries whose session has gone.
func (st *SessionStore) prune(ctx context.Context, stale []entry) error {
	if len(stale) == 0 {
		return nil
	}
	b := st.c.B()
	cmds := make(rueidis.Commands, len(stale))
	for i, e := range stale {
		cmds[i] = b.Zrem().Key(e.set).Member(e.loc).Build()
	}
	return storeErr("prune session index", firstErr(st.doMulti(ctx, cmds)))
}

func firstOf(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
