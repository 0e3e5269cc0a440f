// Package redistest runs private redis-server processes for tests that must stop, restart or
// flush their Redis without disturbing the shared one.
package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Server is a redis-server child process of the test, on 127.0.0.1 and a port of its own,
// with its files in a temporary directory.
type Server struct {
	tb   testing.TB
	Addr string
	dir  string
	args []string
	cmd  *exec.Cmd
}

// Start runs a redis-server without persistence (extra arguments are added to its command
// line), or skips the test when there is no redis-server binary and CI is unset. The server is
// killed when the test ends.
func Start(tb testing.TB, extra ...string) *Server {
	tb.Helper()
	return launch(tb, func(dir, port string) []string {
		return append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", dir, "--dbfilename", "dump.rdb", "--protected-mode", "no"}, extra...)
	})
}

// launch starts redis-server with the arguments that args returns for the server's directory
// and port, waits until it answers PING, and kills it when the test ends.
func launch(tb testing.TB, args func(dir, port string) []string) *Server {
	tb.Helper()
	bin := redisServer(tb)
	s := &Server{tb: tb, dir: tb.TempDir(), Addr: "127.0.0.1:" + strconv.Itoa(freePort(tb))}
	_, port, _ := net.SplitHostPort(s.Addr)
	s.args = append([]string{bin}, args(s.dir, port)...)
	s.Restart()
	tb.Cleanup(s.Kill)
	return s
}

// redisServer returns the path of redis-server, or skips the test (fails it under CI) when
// there is none.
func redisServer(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("redis-server is not installed (CI is set, so this fails): %v", err)
		}
		tb.Skipf("redis-server is not installed, skipping (set CI to make this fail): %v", err)
	}
	return bin
}

// Dir returns the server's working directory (where SAVE writes dump.rdb).
func (s *Server) Dir() string { return s.dir }

// Restart starts the server again (after Kill) on the same port and directory; it loads
// dump.rdb if there is one. It waits until the server accepts connections.
func (s *Server) Restart() {
	s.tb.Helper()
	s.cmd = exec.Command(s.args[0], s.args[1:]...)
	s.cmd.Dir = s.dir
	s.cmd.Stdout, s.cmd.Stderr = nil, nil
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", s.Addr, 100*time.Millisecond); err == nil {
			if ping(c) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Kill()
	s.tb.Fatalf("redis-server on %s did not start", s.Addr)
}

// ping sends an inline PING and waits for +PONG (a server still loading its data answers an
// error instead).
func ping(c net.Conn) bool {
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	buf := make([]byte, 7)
	n, _ := c.Read(buf)
	return string(buf[:n]) == "+PONG\r\n"
}

// Kill stops the server with SIGKILL and waits for it to exit. Killing a stopped server does
// nothing.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Running reports whether the server process is up.
func (s *Server) Running() bool { return s.cmd != nil }

// RDB returns the path of the server's snapshot file.
func (s *Server) RDB() string { return filepath.Join(s.dir, "dump.rdb") }

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort(tb testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// String describes the server for test messages.
func (s *Server) String() string { return fmt.Sprintf("redis-server %s", s.Addr) }
