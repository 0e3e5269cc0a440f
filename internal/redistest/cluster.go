package redistest

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// Cluster is a Redis Cluster of the test's own: primaries only (no replicas), each a
// redis-server on a free 127.0.0.1 port (and a free cluster bus port) with its files under the
// test's temporary directory, all killed when the test ends. Node i serves the i-th equal
// range of the 16384 hash slots.
type Cluster struct {
	tb    testing.TB
	Nodes []*Server
	// firstSlot[i] is the first slot of node i; node i serves up to firstSlot[i+1]-1.
	firstSlot []int
}

const clusterSlots = 16384

// StartCluster starts a cluster of n primaries and returns once every node sees all n and
// every slot is served. A node that is killed and restarted keeps its identity and slots (its
// nodes.conf is in its directory) but not its data. It skips the test when there is no
// redis-server and CI is unset.
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	c := &Cluster{tb: tb}
	for i := range n {
		c.Nodes = append(c.Nodes, Start(tb, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000", "--cluster-port", strconv.Itoa(freePort(tb))))
		c.firstSlot = append(c.firstSlot, i*clusterSlots/n)
	}
	for i, node := range c.Nodes {
		last := strconv.Itoa(c.lastSlot(i))
		if _, err := Do(node.Addr, "CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(c.firstSlot[i]), last); err != nil {
			tb.Fatalf("CLUSTER ADDSLOTSRANGE on %s: %v", node.Addr, err)
		}
		if i > 0 {
			c.meet(c.Nodes[0], node)
		}
	}
	if !testkit.Poll(20*time.Second, c.ready) {
		tb.Fatalf("the cluster of %d nodes did not become ready", n)
	}
	return c
}

func (c *Cluster) lastSlot(i int) int {
	if i+1 < len(c.firstSlot) {
		return c.firstSlot[i+1] - 1
	}
	return clusterSlots - 1
}

// meet introduces node to from (CLUSTER MEET with node's cluster bus port).
func (c *Cluster) meet(from, node *Server) {
	c.tb.Helper()
	host, port, _ := net.SplitHostPort(node.Addr)
	bus := ""
	for i, a := range node.args {
		if a == "--cluster-port" {
			bus = node.args[i+1]
		}
	}
	if _, err := Do(from.Addr, "CLUSTER", "MEET", host, port, bus); err != nil {
		c.tb.Fatalf("CLUSTER MEET %s: %v", node.Addr, err)
	}
}

// ready reports whether every node says the cluster is ok and knows every node.
func (c *Cluster) ready() bool {
	for _, node := range c.Nodes {
		info, err := DoString(node.Addr, "CLUSTER", "INFO")
		if err != nil || infoField(info, "cluster_state") != "ok" ||
			infoField(info, "cluster_known_nodes") != strconv.Itoa(len(c.Nodes)) ||
			infoField(info, "cluster_slots_ok") != strconv.Itoa(clusterSlots) {
			return false
		}
	}
	return true
}

// WaitReady waits until the cluster is ok again (after a node was restarted).
func (c *Cluster) WaitReady() {
	c.tb.Helper()
	if !testkit.Poll(20*time.Second, c.ready) {
		c.tb.Fatal("the cluster did not become ready again")
	}
}

// URL is a --redis-url naming every node to start from: the first in the host part, the others
// as addr= parameters.
func (c *Cluster) URL() string {
	addrs := make([]string, 0, len(c.Nodes)-1)
	for _, node := range c.Nodes[1:] {
		addrs = append(addrs, "addr="+node.Addr)
	}
	return "redis://" + c.Nodes[0].Addr + "?" + strings.Join(addrs, "&")
}

// NodeOf returns the node that serves key.
func (c *Cluster) NodeOf(key string) *Server {
	c.tb.Helper()
	v, err := Do(c.Nodes[0].Addr, "CLUSTER", "KEYSLOT", key)
	slot, ok := v.(int64)
	if err != nil || !ok {
		c.tb.Fatalf("CLUSTER KEYSLOT: %v, %v", v, err)
	}
	for i := len(c.firstSlot) - 1; i >= 0; i-- {
		if int(slot) >= c.firstSlot[i] {
			return c.Nodes[i]
		}
	}
	panic(fmt.Sprintf("slot %d", slot))
}
