package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// benchPassword is the password of the "admin" user every instance the bench starts creates on
// its first start (through GATEHOUSE_ADMIN_PASSWORD). It exists only in the bench's temporary
// data directories.
const benchPassword = "gatehouse bench admin password"

// benchIssuer is the "iss" of every instance, so that tokens of one instance verify on another
// that shares its keys.
const benchIssuer = "http://gatehouse-bench.invalid"

// lowCost are the argon2id flags of the instances whose logins only set up what is measured:
// the cheapest parameters the hasher accepts. The login-cost measurement uses the defaults.
var lowCost = []string{"--argon2-memory", "64", "--argon2-time", "1", "--argon2-parallelism", "1"}

// measuredHeap is lowCost for the instances whose live heap the resource measurement reads: the
// collector's heap floor off, so that the scrapes of /metrics drive collections as before (with
// the floor, 32 MiB of scrapes would have to come first) and the figure is the live heap.
var measuredHeap = append(append([]string{}, lowCost...), "--gc-heap-floor", "0")

// Instance is a server process the bench started.
type Instance struct {
	Name string
	Addr string // 127.0.0.1:port
	Data string // data directory ("" for processes without one)
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// Pid is the process id.
func (in *Instance) Pid() int { return in.cmd.Process.Pid }

// URL is the base URL of the instance.
func (in *Instance) URL() string { return "http://" + in.Addr }

// Alive reports whether the process is still running.
func (in *Instance) Alive() bool {
	select {
	case <-in.done:
		return false
	default:
		return true
	}
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// childEnv is the bench's environment without any GATEHOUSE_ setting (so that the user's own
// configuration cannot change what is measured), plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// start runs exe with args (where "{addr}" is replaced by a free loopback address) and waits
// until GET readyPath answers 200 (with readyPath "", until GET / gets any answer).
func (b *Runner) start(ctx context.Context, name, data string, env []string, readyPath string, exe string, args ...string) (*Instance, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	in, err := b.startAt(ctx, name, addr, env, readyPath, exe, args...)
	if in != nil {
		in.Data = data
	}
	return in, err
}

// startAt is start on a given address.
func (b *Runner) startAt(ctx context.Context, name, addr string, env []string, readyPath string, exe string, args ...string) (*Instance, error) {
	full := make([]string, len(args))
	for i, a := range args {
		full[i] = strings.ReplaceAll(a, "{addr}", addr)
	}
	logPath := filepath.Join(b.work, "logs", sanitize(name)+"-"+strconv.Itoa(b.nextID())+".log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return nil, err
	}
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	if b.pinned {
		exe, full = b.pin.command(exe, full)
	}
	cmd := exec.Command(exe, full...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = lf, lf
	childAttrs(cmd)
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("bench: starting %s: %w", name, err)
	}
	in := &Instance{Name: name, Addr: addr, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		in.err = cmd.Wait()
		lf.Close()
		close(in.done)
	}()
	b.instances = append(b.instances, in)
	if err := in.waitReady(ctx, readyPath); err != nil {
		in.Kill()
		return nil, err
	}
	return in, nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(s))
}

func (in *Instance) waitReady(ctx context.Context, path string) error {
	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		if !in.Alive() {
			return fmt.Errorf("bench: %s exited before answering: %v\n%s", in.Name, in.err, in.LogTail())
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", in.URL()+path, nil)
		if path == "" {
			req, _ = http.NewRequestWithContext(ctx, "GET", in.URL()+"/", nil)
		}
		if resp, err := client.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || path == "" {
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("bench: %s did not answer %s within 60 s\n%s", in.Name, path, in.LogTail())
}

// LogTail returns the last lines the process wrote.
func (in *Instance) LogTail() string {
	b, err := os.ReadFile(in.log)
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Stop ends the process gracefully (SIGTERM, then SIGKILL after 5 s) and waits for it.
func (in *Instance) Stop() {
	if !in.Alive() {
		return
	}
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(5 * time.Second):
		in.Kill()
	}
}

// Kill ends the process at once (SIGKILL), as a crash would, and waits for it.
func (in *Instance) Kill() {
	if !in.Alive() {
		return
	}
	in.cmd.Process.Kill()
	<-in.done
}

// startGatehouse starts "gatehouse serve" for mode m with data directory data (created when
// missing) and extra flags.
func (b *Runner) startGatehouse(ctx context.Context, name string, m *Mode, data string, extra ...string) (*Instance, error) {
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	// The bench's thousands of logins and deliberately revoked credentials all come from
	// 127.0.0.1: the brute-force throttles would answer them 429 and measure nothing.
	args := []string{"serve", "--addr", "{addr}", "--data", data, "--log-level", "error",
		"--issuer", benchIssuer, "--default-mode", "token", "--login-throttle=false"}
	args = append(args, m.ServeArgs...)
	args = append(args, extra...)
	env := childEnv("GATEHOUSE_ADMIN_PASSWORD=" + benchPassword)
	env = append(env, m.Env...)
	return b.start(ctx, name, data, env, "/readyz", b.opts.Server, args...)
}

// startFloor starts the bare net/http hello server ("gatehouse-bench floor").
func (b *Runner) startFloor(ctx context.Context) (*Instance, error) {
	return b.start(ctx, "floor", "", childEnv(), "/", b.opts.Floor, "floor", "--addr", "{addr}")
}

// stopAll ends every process the bench started.
func (b *Runner) stopAll() {
	for _, in := range b.instances {
		in.Kill()
	}
	b.instances = nil
}

// errUnavailable marks a measurement that cannot be made in this environment.
var errUnavailable = errors.New("not available")
