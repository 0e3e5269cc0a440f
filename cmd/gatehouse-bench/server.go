package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/session"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// errNoServer says how to get the gatehouse binary the bench runs.
var errNoServer = errors.New(`no gatehouse binary found beside this one or on the PATH: build both with
  go build -o bin/ ./cmd/gatehouse ./cmd/gatehouse-bench
and run bin/gatehouse-bench, or name one with --gatehouse PATH`)

// findServer returns the gatehouse binary to measure: flag when set, else "gatehouse" in the
// directory of this executable, else "gatehouse" on the PATH.
func findServer(flag string) (string, error) {
	if flag != "" {
		p, err := exec.LookPath(flag)
		if err != nil {
			return "", fmt.Errorf("--gatehouse %q: %w", flag, err)
		}
		return filepath.Abs(p)
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "gatehouse")
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath("gatehouse"); err == nil {
		return filepath.Abs(p)
	}
	return "", errNoServer
}

// redisAddr is where the Redis modes expect Redis (bench.Modes: redis://127.0.0.1:6379/0).
const redisAddr = "127.0.0.1:6379"

// storeAvailable reports whether a session store can be used here: the Redis store when
// something listens on redisAddr (the instances then say more in the report if it is not
// Redis); the others always.
func storeAvailable(store string) bool {
	if store != "redis" {
		return true
	}
	c, err := net.DialTimeout("tcp", redisAddr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// fillSQLite writes n sessions of the user "admin" into the SQLite database of data directory
// dir: the sessions the session manager makes for a login after checking the password, stored
// by the SQLite store in transactions of fillBatch sessions (one transaction per session took
// 20 minutes for a million on a loaded machine). No server may be running on dir.
func fillSQLite(ctx context.Context, dir string, n int) ([]string, error) {
	db, err := sqlite.Open(ctx, filepath.Join(dir, "gatehouse.db"), 0)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	u, err := sqlite.NewUserStore(db).UserByUsername(ctx, "admin")
	if err != nil {
		return nil, fmt.Errorf("filling sessions: %w", err)
	}
	st := sqlite.NewSessionStore(db)
	m := session.NewManager(st, sqlite.NewRevocationStore(db), session.Options{})
	p := u.Principal()
	out := make([]string, 0, n)
	batch := make([]*gatehouse.Session, 0, min(n, fillBatch))
	for len(out) < n {
		secret, s, err := m.NewSession(ctx, p, gatehouse.MethodPassword, "127.0.0.1", "gatehouse-bench")
		if err != nil {
			return nil, fmt.Errorf("filling sessions: %w", err)
		}
		out, batch = append(out, secret), append(batch, s)
		if len(batch) == cap(batch) || len(out) == n {
			if err := st.CreateSessions(ctx, batch); err != nil {
				return nil, fmt.Errorf("filling sessions: %w", err)
			}
			batch = batch[:0]
		}
	}
	return out, nil
}

// fillBatch is how many sessions fillSQLite stores per transaction.
const fillBatch = 10_000
