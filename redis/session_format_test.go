package redis_test

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/redis"
)

// TestFormat3Deadline checks the deadline that the touch script derives from ExpiresAt in Lua,
// whose numbers are doubles, against exact integer arithmetic: on the millisecond, a
// nanosecond either side, and random times up to 2262.
func TestFormat3Deadline(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	ctx := context.Background()
	ns := []int64{1, 999_999, 1_000_000, 1_000_001, 1<<62 - 1, 1<<63 - 1}
	base := testkit.Start().UnixNano() / 1e6 * 1e6
	ns = append(ns, base-1, base, base+1, base+999_999)
	for range 200 {
		ns = append(ns, rand.Int64N(1<<63-1)+1)
	}
	for _, n := range ns {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(n))
		got, err := c.Do(ctx, c.B().Eval().Script(redis.Format3DeadlineScript).Numkeys(0).Arg(string(b[:])).Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		want := n / 1_000_000
		if n%1_000_000 != 0 {
			want++
		}
		if got != want {
			t.Fatalf("deadline of %d ns = %d ms, want %d", n, got, want)
		}
	}
}

// TestSessionFormat2 stores a session as an older gatehouse does (format 2), as happens while
// instances of both versions share Redis during an upgrade: it is found, touched (its idle
// expiry pushed on), listed and deleted like a session of format 3.
func TestSessionFormat2(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	prefix := testPrefix(t, c)
	st := redis.NewSessionStore(c, prefix, redis.SessionOptions{Options: slow, IdleTimeout: time.Hour})
	ctx := context.Background()
	s := managerSession("u1", time.Now())
	if err := st.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	key := redis.SessionKey(prefix, s.Hash)
	old := redis.EncodeFormat2(s, (s.ExpiresAt.UnixNano()+999_999)/1e6)
	if err := c.Do(ctx, c.B().Set().Key(key).Value(old).Keepttl().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if got, found, err := st.FindSession(ctx, s.Hash); err != nil || !found || storetest.SameSession(got, s) != nil {
		t.Fatalf("FindSession = %v, %v; %v", found, err, storetest.SameSession(got, s))
	}
	seen := s.LastSeenAt.Add(5*time.Minute + 1)
	if found, err := st.TouchSession(ctx, s.Hash, seen); err != nil || !found {
		t.Fatalf("TouchSession = %v, %v", found, err)
	}
	if v, _ := c.Do(ctx, c.B().Get().Key(key).Build()).ToString(); v[0] != 2 {
		t.Fatalf("the touch rewrote the value in format %#x", v[0])
	}
	list, err := st.ListSessions(ctx, "u1")
	if err != nil || len(list) != 1 || !list[0].LastSeenAt.Equal(seen) {
		t.Fatalf("ListSessions = %d, %v", len(list), err)
	}
	if hashes, err := st.DeleteUserSessions(ctx, "u1"); err != nil || len(hashes) != 1 || hashes[0] != s.Hash {
		t.Fatalf("DeleteUserSessions = %d, %v", len(hashes), err)
	}
	mustCount(t, st, 0)
}

// TestSessionTouchRange: format 3 keeps LastSeenAt as a distance before ExpiresAt. A touch after
// the expiry is kept as the expiry (the session is over either way, and an earlier last-seen
// time can only end it sooner); one more than 78 hours before it, or before 1970, is refused
// and changes nothing.
func TestSessionTouchRange(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	st := redis.NewSessionStore(c, testPrefix(t, c), redis.SessionOptions{Options: slow, IdleTimeout: time.Hour})
	ctx := context.Background()
	s := managerSession("u1", time.Now())
	if err := st.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []time.Time{s.ExpiresAt.Add(-79 * time.Hour), time.Unix(0, -5), {}} {
		if _, err := st.TouchSession(ctx, s.Hash, bad); err == nil {
			t.Fatalf("a touch at %v was accepted", bad)
		}
	}
	if got, _, _ := st.FindSession(ctx, s.Hash); got == nil || !got.LastSeenAt.Equal(s.LastSeenAt) {
		t.Fatal("a refused touch changed the session")
	}
	if found, err := st.TouchSession(ctx, s.Hash, s.ExpiresAt.Add(time.Minute)); err != nil || !found {
		t.Fatalf("a touch after the expiry = %v, %v", found, err)
	}
	if got, _, _ := st.FindSession(ctx, s.Hash); got == nil || !got.LastSeenAt.Equal(s.ExpiresAt) {
		t.Fatalf("a touch after the expiry kept %v, want the expiry %v", got.LastSeenAt, s.ExpiresAt)
	}
}

// TestSessionWriteFormat2: with Format 2 the store writes what instances of the previous
// version read, and reads it back.
func TestSessionWriteFormat2(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	prefix := testPrefix(t, c)
	st := redis.NewSessionStore(c, prefix, redis.SessionOptions{Options: slow, Format: 2})
	ctx := context.Background()
	s := managerSession("u1", time.Now())
	if err := st.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	v, err := c.Do(ctx, c.B().Get().Key(redis.SessionKey(prefix, s.Hash)).Build()).ToString()
	if err != nil || v[0] != 2 {
		t.Fatalf("stored %q, %v; want format 2", v[:1], err)
	}
	if got, found, err := st.FindSession(ctx, s.Hash); err != nil || !found || storetest.SameSession(got, s) != nil {
		t.Fatalf("FindSession = %v, %v", found, err)
	}
}
