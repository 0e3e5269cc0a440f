package memory

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

var (
	_ gatehouse.SessionStore   = (*SessionStore)(nil)
	_ gatehouse.Expirer        = (*SessionStore)(nil)
	_ gatehouse.SessionCounter = (*SessionStore)(nil)
)

// SessionStore is a gatehouse.SessionStore in the memory of one process. It never fails and
// never drops a session by itself: call DeleteExpired now and then. Callers may change what
// they pass and what they get back: a session is stored as a compact record (sessionrecord.go)
// and every read decodes a new Session.
//
// It is laid out for size (BenchmarkSessionHeap: 714 B of heap per session before, now about
// 250 with the strings): the sessions sit in a table of slots, found by the first 16 bytes of
// their hash (byKey; the record holds the other 16) and listed per user through a ring of the
// slots whose user id has the same 64-bit hash (byUser points to one of them), so that a user
// costs one small map entry and listing and deleting a user's sessions do not scan the store.
// A handle derived from the hash (the manager's always is) is found through byKey too; only
// other handles have a map entry (byHandle).
type SessionStore struct {
	mu       sync.RWMutex
	slots    []slot
	free     uint32 // first free slot (its next is the one after), or noSlot
	byKey    map[[16]byte]uint32
	byUser   map[uint64]uint32
	byHandle map[string]uint32
	seed     maphash.Seed
}

// slot is a session (record "" for a free slot), its last-seen time and its neighbours in
// the ring of its user hash.
type slot struct {
	record     string
	lastSeen   int64 // Unix ns, or zeroTime
	next, prev uint32
}

const noSlot = math.MaxUint32

// NewSessionStore returns an empty SessionStore.
func NewSessionStore() *SessionStore {
	return &SessionStore{
		free:     noSlot,
		byKey:    make(map[[16]byte]uint32),
		byUser:   make(map[uint64]uint32),
		byHandle: make(map[string]uint32),
		seed:     maphash.MakeSeed(),
	}
}

func keyOf(h gatehouse.Hash) [16]byte { return [16]byte(h[:16]) }

// find returns the slot of the session h; ok=false if none. st.mu must be held.
func (st *SessionStore) find(h gatehouse.Hash) (uint32, bool) {
	i, ok := st.byKey[keyOf(h)]
	if !ok || !sameTail(st.slots[i].record, &h) {
		return 0, false
	}
	return i, true
}

// sameTail reports, in constant time, whether record r holds bytes 16 to 32 of h.
func sameTail(r string, h *gatehouse.Hash) bool {
	a := le64(r[recTail:]) ^ int64(binary.LittleEndian.Uint64(h[16:24]))
	b := le64(r[recTail+8:]) ^ int64(binary.LittleEndian.Uint64(h[24:32]))
	return a|b == 0
}

// findHandle returns the slot of the session with that handle; ok=false if none. st.mu must
// be held.
func (st *SessionStore) findHandle(handle string) (uint32, bool) {
	if i, ok := st.byHandle[handle]; ok {
		return i, true
	}
	key, ok := gatehouse.IDBytes(handle)
	if !ok {
		return 0, false
	}
	i, ok := st.byKey[key]
	if !ok {
		return 0, false
	}
	if _, h, _ := recordKey(st.slots[i].record); h != handle {
		return 0, false
	}
	return i, true
}

// CreateSession stores a copy of s. It returns gatehouse.ErrConflict if a session with the same
// hash (or the same first 16 bytes of it) or handle exists, and an error for a time before
// 1678 or after 2262, which it cannot hold.
func (st *SessionStore) CreateSession(_ context.Context, s *gatehouse.Session) error {
	r, err := encodeRecord(s)
	lastSeen, ok := nanos(s.LastSeenAt)
	if err != nil || !ok {
		return errTimeRange
	}
	key := keyOf(s.Hash)
	_, handle, rd := recordKey(r)
	userID := rd.string()
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.byKey[key]; ok {
		return gatehouse.ErrConflict
	}
	if _, ok := st.findHandle(handle); ok {
		return gatehouse.ErrConflict
	}
	i := st.alloc(slot{record: r, lastSeen: lastSeen})
	st.byKey[key] = i
	if r[recFlags]&recHandleOwn != 0 {
		st.byHandle[handle] = i // the record's substring: the key costs no copy
	}
	st.link(i, maphash.String(st.seed, userID))
	return nil
}

// alloc puts s in a free slot, or a new one, and returns its index.
func (st *SessionStore) alloc(s slot) uint32 {
	if i := st.free; i != noSlot {
		st.free = st.slots[i].next
		st.slots[i] = s
		return i
	}
	st.slots = append(st.slots, s)
	return uint32(len(st.slots) - 1)
}

// link adds slot i to the ring of user hash uh.
func (st *SessionStore) link(i uint32, uh uint64) {
	head, ok := st.byUser[uh]
	if !ok {
		st.slots[i].next, st.slots[i].prev = i, i
		st.byUser[uh] = i
		return
	}
	last := st.slots[head].prev
	st.slots[i].next, st.slots[i].prev = head, last
	st.slots[last].next = i
	st.slots[head].prev = i
}

// FindSession returns a copy of the session whose secret hashes to h; found=false if none.
func (st *SessionStore) FindSession(_ context.Context, h gatehouse.Hash) (*gatehouse.Session, bool, error) {
	st.mu.RLock()
	i, ok := st.find(h)
	if !ok {
		st.mu.RUnlock()
		return nil, false, nil
	}
	key := keyOf(h)
	s := decodeRecord(&key, st.slots[i].record, st.slots[i].lastSeen)
	st.mu.RUnlock()
	return s, true, nil
}

// TouchSession sets LastSeenAt of the session h. It never creates a session: found=false if
// there is none.
func (st *SessionStore) TouchSession(_ context.Context, h gatehouse.Hash, lastSeen time.Time) (bool, error) {
	n, ok := nanos(lastSeen)
	if !ok {
		return false, errTimeRange
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	i, ok := st.find(h)
	if ok {
		st.slots[i].lastSeen = n
	}
	return ok, nil
}

// DeleteSession removes the session h; found=false if there is none.
func (st *SessionStore) DeleteSession(_ context.Context, h gatehouse.Hash) (bool, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	i, ok := st.find(h)
	if ok {
		st.deleteLocked(i)
	}
	return ok, nil
}

// DeleteSessionByHandle removes the session with that handle if it belongs to userID and returns
// its hash; found=false if there is none or it belongs to someone else.
func (st *SessionStore) DeleteSessionByHandle(_ context.Context, userID, handle string) (gatehouse.Hash, bool, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	i, ok := st.findHandle(handle)
	if !ok || userOf(st.slots[i].record) != userID {
		return gatehouse.Hash{}, false, nil
	}
	return st.deleteLocked(i), true, nil
}

// SessionByHandle returns a copy of the session with that handle, whoever owns it.
func (st *SessionStore) SessionByHandle(_ context.Context, handle string) (*gatehouse.Session, bool, error) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	i, ok := st.findHandle(handle)
	if !ok {
		return nil, false, nil
	}
	return st.session(i), true, nil
}

// session decodes slot i. st.mu must be held.
func (st *SessionStore) session(i uint32) *gatehouse.Session {
	key, _, _ := recordKey(st.slots[i].record)
	return decodeRecord(&key, st.slots[i].record, st.slots[i].lastSeen)
}

// userSlots returns the slots of the sessions of userID. st.mu must be held.
func (st *SessionStore) userSlots(userID string) []uint32 {
	head, ok := st.byUser[maphash.String(st.seed, userID)]
	if !ok {
		return nil
	}
	var out []uint32
	for i := head; ; {
		if userOf(st.slots[i].record) == userID { // another user may share the hash
			out = append(out, i)
		}
		if i = st.slots[i].next; i == head {
			return out
		}
	}
}

// ListSessions returns copies of the user's sessions, oldest first (ties broken by handle),
// expired ones included.
func (st *SessionStore) ListSessions(_ context.Context, userID string) ([]*gatehouse.Session, error) {
	st.mu.RLock()
	slots := st.userSlots(userID)
	out := make([]*gatehouse.Session, 0, len(slots))
	for _, i := range slots {
		out = append(out, st.session(i))
	}
	st.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.Handle < b.Handle
	})
	return out, nil
}

// DeleteUserSessions removes every session of the user and returns their hashes.
func (st *SessionStore) DeleteUserSessions(_ context.Context, userID string) ([]gatehouse.Hash, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	slots := st.userSlots(userID)
	out := make([]gatehouse.Hash, 0, len(slots))
	for _, i := range slots {
		out = append(out, st.deleteLocked(i))
	}
	return out, nil
}

// DeleteExpired removes the sessions whose ExpiresAt is not after now and returns how many. It
// scans every session; run it from a background ticker, not on the request path.
func (st *SessionStore) DeleteExpired(_ context.Context, now time.Time) (int, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := 0
	for i := range st.slots {
		r := st.slots[i].record
		if r == "" {
			continue
		}
		if e, _ := expiresOf(r); !timeOf(e).After(now) {
			st.deleteLocked(uint32(i))
			n++
		}
	}
	return n, nil
}

// Len returns the number of stored sessions.
func (st *SessionStore) Len() int {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return len(st.byKey)
}

// CountSessions returns the number of stored sessions (gatehouse.SessionCounter).
func (st *SessionStore) CountSessions(context.Context) (int, error) { return st.Len(), nil }

// deleteLocked removes the session in slot i from every index, frees the slot and returns the
// session's hash. st.mu must be held for writing.
func (st *SessionStore) deleteLocked(i uint32) gatehouse.Hash {
	r := st.slots[i].record
	key, handle, rd := recordKey(r)
	uh := maphash.String(st.seed, rd.string())
	var h gatehouse.Hash
	copy(h[:16], key[:])
	copy(h[16:], r[recTail:recCreated])
	delete(st.byKey, key)
	if r[recFlags]&recHandleOwn != 0 {
		delete(st.byHandle, handle)
	}
	next, prev := st.slots[i].next, st.slots[i].prev
	switch {
	case next == i:
		delete(st.byUser, uh)
	default:
		st.slots[prev].next, st.slots[next].prev = next, prev
		if st.byUser[uh] == i {
			st.byUser[uh] = next
		}
	}
	st.slots[i] = slot{next: st.free}
	st.free = i
	return h
}
