package redistest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// Sentinel is a Redis Sentinel set-up of the test's own: a primary, one replica of it and one
// sentinel that monitors them (quorum 1), each a redis-server on a free 127.0.0.1 port with
// its files under the test's temporary directory, all killed when the test ends.
type Sentinel struct {
	tb testing.TB
	// MasterSet is the name the sentinel monitors the primary under.
	MasterSet string
	// Sentinel is the sentinel process.
	Sentinel *Server
	// Nodes are the primary it started with and that primary's replica. After a failover
	// the roles are swapped: Master tells which is the primary.
	Nodes [2]*Server
}

// SentinelDownAfter is how long the sentinel waits for a primary that does not answer before
// it declares it down and fails over (down-after-milliseconds): a failover after a kill takes
// about this plus a second. It is long enough not to fail over because the machine is busy.
const SentinelDownAfter = 1500 * time.Millisecond

// StartSentinel starts a primary, its replica and a sentinel, and returns once the replica is
// in sync and the sentinel knows both (so that a failover can start at once). It skips the test
// when there is no redis-server and CI is unset.
func StartSentinel(tb testing.TB) *Sentinel {
	tb.Helper()
	s := &Sentinel{tb: tb, MasterSet: "gatehouse-test"}
	// Replication starts at once (no diskless-sync delay), on both nodes since either may
	// become the primary.
	s.Nodes[0] = Start(tb, "--repl-diskless-sync-delay", "0")
	host, port, _ := net.SplitHostPort(s.Nodes[0].Addr)
	s.Nodes[1] = Start(tb, "--repl-diskless-sync-delay", "0", "--replicaof", host, port)
	s.WaitReplicated()
	rhost, rport, _ := net.SplitHostPort(s.Nodes[1].Addr)
	s.Sentinel = launch(tb, func(dir, sport string) []string {
		conf := filepath.Join(dir, "sentinel.conf")
		text := strings.Join([]string{
			"port " + sport, "bind 127.0.0.1", "protected-mode no", "dir " + dir,
			fmt.Sprintf("sentinel monitor %s %s %s 1", s.MasterSet, host, port),
			fmt.Sprintf("sentinel down-after-milliseconds %s %d", s.MasterSet, SentinelDownAfter.Milliseconds()),
			fmt.Sprintf("sentinel failover-timeout %s 10000", s.MasterSet),
			// Known at once: otherwise the sentinel finds the replica in the primary's INFO,
			// which it reads every 10 seconds.
			fmt.Sprintf("sentinel known-replica %s %s %s", s.MasterSet, rhost, rport),
		}, "\n") + "\n"
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			tb.Fatalf("sentinel.conf: %v", err)
		}
		return []string{conf, "--sentinel"}
	})
	if !testkit.Poll(10*time.Second, s.replicaKnown) {
		tb.Fatalf("the sentinel on %s does not see the replica %s", s.Sentinel.Addr, s.Nodes[1].Addr)
	}
	return s
}

// URL is the --redis-url of the set-up: the sentinel's address and the master set.
func (s *Sentinel) URL() string {
	return "redis://" + s.Sentinel.Addr + "?master_set=" + s.MasterSet
}

// Master asks the sentinel for the primary's address.
func (s *Sentinel) Master() (string, error) {
	v, err := Do(s.Sentinel.Addr, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.MasterSet)
	if err != nil {
		return "", err
	}
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return "", fmt.Errorf("unexpected answer %v", v)
	}
	return net.JoinHostPort(fmt.Sprint(a[0]), fmt.Sprint(a[1])), nil
}

// Node returns the node at addr, or nil.
func (s *Sentinel) Node(addr string) *Server {
	for _, n := range s.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// replicaKnown reports whether the sentinel sees a replica of the primary in a state fit to be
// promoted.
func (s *Sentinel) replicaKnown() bool {
	v, err := Do(s.Sentinel.Addr, "SENTINEL", "REPLICAS", s.MasterSet)
	if err != nil {
		return false
	}
	list, _ := v.([]any)
	for _, r := range list {
		f := fields(r)
		if f["flags"] == "slave" && f["master-link-status"] == "ok" {
			return true
		}
	}
	return false
}

// fields turns a flat [name, value, ...] reply into a map.
func fields(v any) map[string]string {
	a, _ := v.([]any)
	m := make(map[string]string, len(a)/2)
	for i := 0; i+1 < len(a); i += 2 {
		m[fmt.Sprint(a[i])] = fmt.Sprint(a[i+1])
	}
	return m
}

// WaitReplicated waits until every running replica has everything the primary (as the
// sentinel names it, or the first node before the sentinel runs) has written so far.
func (s *Sentinel) WaitReplicated() {
	s.tb.Helper()
	master := s.Nodes[0].Addr
	if s.Sentinel != nil {
		var err error
		if master, err = s.Master(); err != nil {
			s.tb.Fatalf("sentinel: %v", err)
		}
	}
	info, err := DoString(master, "INFO", "replication")
	if err != nil {
		s.tb.Fatalf("INFO replication on %s: %v", master, err)
	}
	offset := infoField(info, "master_repl_offset")
	for _, n := range s.Nodes {
		if n.Addr == master || !n.Running() {
			continue
		}
		if !testkit.Poll(10*time.Second, func() bool { return replicatedUpTo(n.Addr, offset) }) {
			s.tb.Fatalf("replica %s did not reach offset %s of %s", n.Addr, offset, master)
		}
	}
}

// replicatedUpTo reports whether the replica at addr is linked and has processed the
// primary's replication stream up to offset.
func replicatedUpTo(addr, offset string) bool {
	info, err := DoString(addr, "INFO", "replication")
	if err != nil || infoField(info, "master_link_status") != "up" {
		return false
	}
	var got, want int64
	_, err1 := fmt.Sscan(infoField(info, "slave_repl_offset"), &got)
	_, err2 := fmt.Sscan(offset, &want)
	return err1 == nil && err2 == nil && got >= want
}

// Failover asks the sentinel to fail over (SENTINEL FAILOVER) and returns the new primary's
// address once the failover has ended and the new primary answers as one. The old primary is
// then made a replica of the new one at once: the sentinel would do the same, but only when it
// next reads the old primary's INFO, up to 10 seconds later. (Until then a client that has not
// switched yet could still write to the old primary, and those writes would be lost; a client
// that is slower to switch than this helper gets READONLY errors instead.)
func (s *Sentinel) Failover() string {
	s.tb.Helper()
	old, err := s.Master()
	if err != nil {
		s.tb.Fatalf("sentinel: %v", err)
	}
	if _, err := Do(s.Sentinel.Addr, "SENTINEL", "FAILOVER", s.MasterSet); err != nil {
		s.tb.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	addr := s.WaitNewMaster(old)
	host, port, _ := net.SplitHostPort(addr)
	if _, err := Do(old, "REPLICAOF", host, port); err != nil {
		s.tb.Fatalf("REPLICAOF on the old primary %s: %v", old, err)
	}
	return addr
}

// WaitNewMaster waits until the sentinel names a primary other than old (after Failover, or
// after the primary was killed), has ended the failover (and so announced +switch-master to
// its clients), and that node answers as a primary; it returns the node's address.
func (s *Sentinel) WaitNewMaster(old string) string {
	s.tb.Helper()
	var addr string
	ok := testkit.Poll(SentinelDownAfter+20*time.Second, func() bool {
		a, err := s.Master()
		if err != nil || a == old || s.failingOver() {
			return false
		}
		role, err := Do(a, "ROLE")
		r, _ := role.([]any)
		addr = a
		return err == nil && len(r) > 0 && r[0] == "master"
	})
	if !ok {
		s.tb.Fatalf("the sentinel did not fail over from %s", old)
	}
	return addr
}

// failingOver reports whether the sentinel has a failover of the master set in progress (or
// does not answer).
func (s *Sentinel) failingOver() bool {
	v, err := Do(s.Sentinel.Addr, "SENTINEL", "MASTER", s.MasterSet)
	return err != nil || strings.Contains(fields(v)["flags"], "failover_in_progress")
}
