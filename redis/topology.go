package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// Server-wide questions (is Redis up, how much memory does it use) have one answer per node on
// Redis Cluster; the helpers here ask every node there, and the one server otherwise (a single
// node, or the primary that Sentinel names).

// servers returns a client per server to ask: every node of a Cluster, or c itself.
func servers(c rueidis.Client) map[string]rueidis.Client {
	if c.Mode() == rueidis.ClientModeCluster {
		return c.Nodes()
	}
	return map[string]rueidis.Client{"": c}
}

// pingAll sends PING to every server; the first failure is the answer.
func pingAll(ctx context.Context, c rueidis.Client) error {
	for addr, n := range servers(c) {
		if err := n.Do(ctx, n.B().Ping().Build()).Error(); err != nil {
			if addr != "" {
				err = fmt.Errorf("%s: %w", addr, err)
			}
			return err
		}
	}
	return nil
}

// UsedMemory returns the memory the Redis server uses (INFO used_memory), summed over the
// primaries of a Cluster (replicas hold copies), within timeout (DefaultTimeout if zero).
func UsedMemory(ctx context.Context, c rueidis.Client, timeout time.Duration) (int64, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var total int64
	for _, n := range servers(c) {
		info, err := n.Do(ctx, n.B().Info().Section("memory", "replication").Build()).ToString()
		if err != nil {
			return 0, storeErr("used memory", err)
		}
		if infoValue(info, "role") == "slave" {
			continue
		}
		used, err := strconv.ParseInt(infoValue(info, "used_memory"), 10, 64)
		if err != nil {
			return 0, storeErr("used memory", fmt.Errorf("INFO has no used_memory: %w", err))
		}
		total += used
	}
	return total, nil
}

// infoValue returns the value of a field of an INFO answer, or "".
func infoValue(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

// SampleKeys returns up to n keys that start with prefix, from every primary of a Cluster (or
// the one server), scanning with SCAN; none when the prefix is unused. Commands that must not
// write into a prefix in use ask it first.
func SampleKeys(ctx context.Context, c rueidis.Client, prefix string, n int) ([]string, error) {
	pattern := globEscape(prefix) + "*"
	var found []string
	for _, node := range servers(c) {
		var cursor uint64
		for {
			e, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(pattern).Count(1000).Build()).AsScanEntry()
			if err != nil {
				return nil, storeErr("scan", err)
			}
			found = append(found, e.Elements...)
			if len(found) >= n {
				return found[:n], nil
			}
			if cursor = e.Cursor; cursor == 0 {
				break
			}
		}
	}
	return found, nil
}

// globEscape escapes the characters SCAN's MATCH treats as a pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
