package redis_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/redistest"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/redis"
)

// TestClusterContracts runs the contract suites on a 3-node Redis Cluster, given the address of every
// node (?addr=) and with and without client-side caching: every multi-key operation of the
// stores must keep its keys in one hash slot for this to pass.
func TestClusterContracts(t *testing.T) {
	testkit.Slow(t, "starts a Redis Cluster")
	cl := redistest.StartCluster(t, 3)
	for _, cache := range []bool{true, false} {
		t.Run("cache="+strconv.FormatBool(cache), func(t *testing.T) {
			c := urlClient(t, cl.URL(), cache)
			if c.Mode() != rueidis.ClientModeCluster {
				t.Fatalf("client mode %v, want cluster", c.Mode())
			}
			runContracts(t, c)
		})
	}
}

// TestClusterOneNodeAddress connects with the address of a single node: the client finds the others,
// and one user's sessions, spread over the nodes, are listed and deleted together.
func TestClusterOneNodeAddress(t *testing.T) {
	testkit.Slow(t, "starts a Redis Cluster")
	cl := redistest.StartCluster(t, 3)
	c := urlClient(t, "redis://"+cl.Nodes[2].Addr, true)
	if c.Mode() != rueidis.ClientModeCluster {
		t.Fatalf("client mode %v, want cluster", c.Mode())
	}
	prefix := privatePrefix()
	st := redis.NewSessionStore(c, prefix, redis.SessionOptions{Options: slow})
	ctx := context.Background()
	nodes := map[string]bool{}
	for range 30 {
		s := storetest.NewTestSession("spread", time.Now())
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		nodes[cl.NodeOf(redis.SessionKey(prefix, s.Hash)).Addr] = true
	}
	if len(nodes) != 3 {
		t.Fatalf("30 sessions on %d nodes, want all 3", len(nodes))
	}
	if list, err := st.ListSessions(ctx, "spread"); err != nil || len(list) != 30 {
		t.Fatalf("ListSessions = %d, %v", len(list), err)
	}
	if gone, err := st.DeleteUserSessions(ctx, "spread"); err != nil || len(gone) != 30 {
		t.Fatalf("DeleteUserSessions = %d, %v", len(gone), err)
	}
}

// TestClusterRevocationNodeLost flushes, then restarts without its data, one node of the
// cluster: each revocation shard's marker lives in the shard's hash slot, so the shards on
// that node are known to be lost, and every revocation still holds (read from the durable
// store) while they are filled again.
func TestClusterRevocationNodeLost(t *testing.T) {
	testkit.Slow(t, "starts a Redis Cluster")
	cl := redistest.StartCluster(t, 3)
	c := urlClient(t, cl.URL(), true)
	prefix := privatePrefix()
	durable := memory.NewRevocationStore()
	st := redis.NewRevocationStore(c, prefix, redis.RevocationOptions{Options: redis.Options{Timeout: time.Second}, Durable: durable})
	ctx := context.Background()
	nb := time.Now().Truncate(time.Millisecond)
	var jtis, users []string
	for i := range 32 {
		jtis, users = append(jtis, "j"+strconv.Itoa(i)), append(users, "u"+strconv.Itoa(i))
		if err := st.RevokeToken(ctx, jtis[i], time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := st.SetNotBefore(ctx, users[i], nb); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	victim := cl.NodeOf(redis.RevocationKey(prefix, "jti", "j0"))
	check := func(what string) {
		t.Helper()
		for i := range jtis {
			mustRevoked(t, st, jtis[i], true)
			mustNotBefore(t, st, users[i], nb)
		}
		testkit.Eventually(t, 2*time.Second, what+": Redis is filled again", func() bool { return st.Sync(ctx) == nil })
		if n, err := c.Do(ctx, c.B().Exists().Key(redis.RevocationKey(prefix, "jti", "j0")).Build()).AsInt64(); err != nil || n != 1 {
			t.Fatalf("%s: j0 not back in Redis: %d, %v", what, n, err)
		}
	}
	if _, err := redistest.Do(victim.Addr, "FLUSHALL"); err != nil {
		t.Fatal(err)
	}
	check("after FLUSHALL on one node")

	victim.Kill()
	victim.Restart()
	cl.WaitReady()
	testkit.Eventually(t, 20*time.Second, "the cluster answers again", func() bool {
		_, err := st.TokenRevoked(ctx, "j0")
		return err == nil
	})
	check("after a restart of one node")
}

// TestClusterNodeDown kills one node: reads of the sessions it holds fail with
// ErrUnavailable (never "not found"), and the other nodes' sessions are still found.
func TestClusterNodeDown(t *testing.T) {
	testkit.Slow(t, "starts a Redis Cluster")
	cl := redistest.StartCluster(t, 3)
	c := urlClient(t, cl.URL(), true)
	prefix := privatePrefix()
	st := redis.NewSessionStore(c, prefix, redis.SessionOptions{Options: redis.Options{Timeout: 300 * time.Millisecond}})
	setup := redis.NewSessionStore(c, prefix, redis.SessionOptions{Options: slow})
	ctx := context.Background()
	victim := cl.Nodes[1]
	var onVictim, elsewhere []*gatehouse.Session
	for len(onVictim) < 5 || len(elsewhere) < 5 {
		s := storetest.NewTestSession("u", time.Now())
		if err := setup.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		if _, found, err := st.FindSession(ctx, s.Hash); err != nil || !found { // cached now
			t.Fatal(found, err)
		}
		if cl.NodeOf(redis.SessionKey(prefix, s.Hash)) == victim {
			onVictim = append(onVictim, s)
		} else {
			elsewhere = append(elsewhere, s)
		}
	}
	checkServerWide(t, c, cl)
	victim.Kill()
	if err := redis.Ping(ctx, c, time.Second); !isUnavailable(err) {
		t.Fatalf("Ping with a node down = %v, want ErrUnavailable", err)
	}
	testkit.Eventually(t, 2*time.Second, "reads of the dead node's sessions fail", func() bool {
		for _, s := range onVictim {
			_, found, err := st.FindSession(ctx, s.Hash)
			if err == nil && !found {
				t.Fatal("a session of the dead node was reported as not found")
			}
			if !errors.Is(err, gatehouse.ErrUnavailable) {
				return false
			}
		}
		return true
	})
	for _, s := range elsewhere {
		// Until the cluster declares the node failed (cluster-node-timeout), the others
		// answer for their own slots; afterwards the whole cluster refuses.
		_, found, err := st.FindSession(ctx, s.Hash)
		if !(err == nil && found) && !errors.Is(err, gatehouse.ErrUnavailable) {
			t.Fatalf("a session of a live node: %v, %v", found, err)
		}
	}
}

// checkServerWide checks Ping and UsedMemory on a cluster: they ask every node.
func checkServerWide(t *testing.T, c rueidis.Client, cl *redistest.Cluster) {
	t.Helper()
	ctx := context.Background()
	if err := redis.Ping(ctx, c, time.Second); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	total, err := redis.UsedMemory(ctx, c, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var most int64
	for _, n := range cl.Nodes {
		info, err := redistest.DoString(n.Addr, "INFO", "memory")
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(info, "used_memory:")
		used, _ := strconv.ParseInt(strings.TrimSpace(strings.SplitN(info[i+len("used_memory:"):], "\n", 2)[0]), 10, 64)
		most = max(most, used)
	}
	// Each node uses about a megabyte; the sum of three is well above the largest one.
	if most <= 0 || total < most*2 {
		t.Fatalf("UsedMemory = %d, largest node %d: not the sum of the nodes", total, most)
	}
}
