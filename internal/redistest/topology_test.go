package redistest

import (
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// TestSentinel starts the Sentinel set-up, writes to the primary, fails over on request and
// after a kill, and checks what the helpers report at each step.
func TestSentinel(t *testing.T) {
	testkit.Slow(t, "starts a Redis topology")
	s := StartSentinel(t)
	first, err := s.Master()
	if err != nil || first != s.Nodes[0].Addr {
		t.Fatalf("Master = %q, %v; want the first node %s", first, err, s.Nodes[0].Addr)
	}
	if !strings.Contains(s.URL(), s.Sentinel.Addr) || !strings.Contains(s.URL(), "master_set="+s.MasterSet) {
		t.Fatalf("URL = %s", s.URL())
	}
	if _, err := Do(first, "SET", "k", "v1"); err != nil {
		t.Fatal(err)
	}
	s.WaitReplicated()
	if v, err := DoString(s.Nodes[1].Addr, "GET", "k"); err != nil || v != "v1" {
		t.Fatalf("the replica has %q, %v", v, err)
	}
	second := s.Failover()
	if second != s.Nodes[1].Addr {
		t.Fatalf("failover promoted %s, want %s", second, s.Nodes[1].Addr)
	}
	if v, err := DoString(second, "GET", "k"); err != nil || v != "v1" {
		t.Fatalf("the new primary has %q, %v", v, err)
	}
	if _, err := Do(second, "SET", "k", "v2"); err != nil {
		t.Fatalf("the new primary refuses writes: %v", err)
	}
	// The sentinel makes the old primary a replica of the new one before a second failover
	// can pick it.
	s.WaitReplicated()
	s.Node(second).Kill()
	third := s.WaitNewMaster(second)
	if third != first {
		t.Fatalf("after the kill the primary is %s, want %s", third, first)
	}
	if v, err := DoString(third, "GET", "k"); err != nil || v != "v2" {
		t.Fatalf("after the kill the primary has %q, %v", v, err)
	}
}

// TestCluster starts a 3-node cluster and checks that NodeOf names the node that serves a
// key: it accepts the key, the others redirect.
func TestCluster(t *testing.T) {
	testkit.Slow(t, "starts a Redis topology")
	c := StartCluster(t, 3)
	seen := map[string]bool{}
	for _, key := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		owner := c.NodeOf(key)
		seen[owner.Addr] = true
		if _, err := Do(owner.Addr, "SET", key, "1"); err != nil {
			t.Fatalf("SET %s on its node %s: %v", key, owner.Addr, err)
		}
		for _, n := range c.Nodes {
			if n == owner {
				continue
			}
			if _, err := Do(n.Addr, "GET", key); err == nil || !strings.HasPrefix(err.Error(), "MOVED") {
				t.Fatalf("GET %s on %s = %v, want MOVED", key, n.Addr, err)
			}
		}
	}
	if len(seen) < 2 {
		t.Fatalf("8 keys all on one node: %v", seen)
	}
	if !strings.HasPrefix(c.URL(), "redis://"+c.Nodes[0].Addr+"?addr=") {
		t.Fatalf("URL = %s", c.URL())
	}
}
