package main

import (
	"strings"
	"testing"
)

// TestSessionCacheMemoryRefused: a session cache of less than 1 MiB refuses to start, naming
// the flag.
func TestSessionCacheMemoryRefused(t *testing.T) {
	dir := t.TempDir()
	for _, mib := range []string{"0", "-5"} {
		_, _, err := run(t, "", append([]string{"serve", "--data", dir, "--session-cache-memory", mib}, fastHash...)...)
		if err == nil || !strings.Contains(err.Error(), "--session-cache-memory") {
			t.Errorf("--session-cache-memory %s: %v; want a startup error naming the flag", mib, err)
		}
	}
}
