// Command soak drives mixed traffic at a running gatehouse server on the loopback interface for a
// bounded time and samples the server process every interval: resident memory, goroutines, open
// file descriptors, requests and errors. It exits non-zero when any request got an unexpected
// answer or when a resource trends upward. scripts/soak.sh builds and starts the server and runs
// it; see there.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/procfs"
)

type sample struct {
	at         time.Duration
	rssKiB     int
	goroutines int
	fds        int
	requests   int64
	errors     int64
}

type driver struct {
	base     string
	client   *http.Client
	requests atomic.Int64
	errors   atomic.Int64
	maxReqs  int64
	errMu    sync.Mutex
	firstErr []string
}

func main() {
	base := flag.String("base", "", "server URL, http://127.0.0.1:PORT (loopback only)")
	pid := flag.Int("pid", 0, "server process id, to sample")
	duration := flag.Duration("duration", 30*time.Second, "how long to drive traffic")
	interval := flag.Duration("interval", 10*time.Second, "sampling interval")
	workers := flag.Int("workers", 4, "concurrent clients")
	users := flag.Int("users", 8, "accounts the clients log in as")
	maxReqs := flag.Int64("max-requests", 20_000_000, "stop after this many requests")
	adminPW := flag.String("admin-password", os.Getenv("GATEHOUSE_ADMIN_PASSWORD"), "the admin's password")
	flag.Parse()
	u, err := url.Parse(*base)
	if err != nil || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" && u.Hostname() != "::1") {
		fail("--base must be a loopback URL, got %q", *base)
	}
	if *pid <= 0 || *duration <= 0 || *interval <= 0 || *workers < 1 || *users < 1 {
		fail("--pid, --duration, --interval, --workers and --users must be positive")
	}
	d := &driver{base: strings.TrimRight(*base, "/"), maxReqs: *maxReqs,
		client: &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *workers * 2}}}
	names := d.setUp(*adminPW, *users)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.work(w, names, stop)
		}()
	}
	samples := d.sampleUntil(*pid, *duration, *interval)
	close(stop)
	wg.Wait()
	os.Exit(report(samples, d))
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "soak: "+format+"\n", args...)
	os.Exit(2)
}

// setUp creates the accounts the clients use, as the admin.
func (d *driver) setUp(adminPW string, n int) []string {
	code, v := d.call("POST", "/api/login", "", map[string]any{"username": "admin", "password": adminPW, "mode": "token"}, "")
	if code != 200 {
		fail("admin login: %d", code)
	}
	admin := v["access_token"].(string)
	var names []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("soak%d-%d", i, rand.IntN(1_000_000))
		code, _ := d.call("POST", "/api/admin/users", admin, map[string]any{"username": name, "password": password(name)}, "")
		if code != 201 {
			fail("creating %s: %d", name, code)
		}
		names = append(names, name)
	}
	return names
}

func password(name string) string { return "soak password of " + name }

// call sends one request and returns the status and decoded JSON object (nil if none).
func (d *driver) call(method, path, bearer string, body any, cookie string, hdr ...string) (int, map[string]any) {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = strings.NewReader(string(raw))
	}
	req, _ := http.NewRequest(method, d.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	d.requests.Add(1)
	resp, err := d.client.Do(req)
	if err != nil {
		d.fault(method + " " + path + ": " + err.Error())
		return 0, nil
	}
	defer resp.Body.Close()
	var v map[string]any
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &v)
	if resp.StatusCode == http.StatusOK {
		for _, c := range resp.Cookies() {
			if c.Value != "" {
				if v == nil {
					v = map[string]any{}
				}
				v["_cookie"] = c.Name + "=" + c.Value
			}
		}
	}
	return resp.StatusCode, v
}

func (d *driver) fault(msg string) {
	d.errors.Add(1)
	d.errMu.Lock()
	if len(d.firstErr) < 10 {
		d.firstErr = append(d.firstErr, msg)
	}
	d.errMu.Unlock()
}

// expect records an error unless code is want.
func (d *driver) expect(what string, code, want int) bool {
	if code != want {
		d.fault(fmt.Sprintf("%s: status %d, want %d", what, code, want))
		return false
	}
	return true
}

// work runs the traffic mix until stop: token login, protected requests, refresh, logout (and
// the revoked token refused), session login, protected requests and session listing, logout,
// and a wrong password from a fresh address (through the trusted proxy header).
func (d *driver) work(w int, names []string, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		if d.requests.Load() >= d.maxReqs {
			return
		}
		name := names[(w+i)%len(names)]
		d.tokenRound(name)
		d.sessionRound(name)
		code, _ := d.call("POST", "/api/login", "", map[string]any{"username": name, "password": "a wrong password, on purpose"}, "",
			"X-Forwarded-For", randomAddr())
		d.expect("wrong password", code, 401)
	}
}

// randomAddr is an address of the benchmarking range 198.18.0.0/15, sent as X-Forwarded-For
// (the server trusts 127.0.0.1 as a proxy); nothing is ever sent to it.
func randomAddr() string {
	return fmt.Sprintf("198.%d.%d.%d", 18+rand.IntN(2), rand.IntN(256), rand.IntN(256))
}

func (d *driver) tokenRound(name string) {
	code, v := d.call("POST", "/api/login", "", map[string]any{"username": name, "password": password(name), "mode": "token"}, "")
	if !d.expect("token login", code, 200) {
		return
	}
	access, refresh := v["access_token"].(string), v["refresh_token"].(string)
	for j := 0; j < 20; j++ {
		code, _ = d.call("GET", "/api/protected", access, nil, "")
		d.expect("protected (token)", code, 200)
	}
	code, v = d.call("POST", "/api/token/refresh", "", map[string]any{"refresh_token": refresh}, "")
	if !d.expect("refresh", code, 200) {
		return
	}
	access = v["access_token"].(string)
	code, _ = d.call("GET", "/api/me", access, nil, "")
	d.expect("me", code, 200)
	code, _ = d.call("POST", "/api/logout", access, nil, "")
	d.expect("logout (token)", code, 204)
	// From an address of its own: one address presenting a dead token every round would, as
	// designed, soon be answered 429 by the failed-credential throttle.
	code, _ = d.call("GET", "/api/protected", access, nil, "", "X-Forwarded-For", randomAddr())
	d.expect("revoked token", code, 401)
}

func (d *driver) sessionRound(name string) {
	code, v := d.call("POST", "/api/login", "", map[string]any{"username": name, "password": password(name), "mode": "session"}, "")
	if !d.expect("session login", code, 200) {
		return
	}
	cookie, _ := v["_cookie"].(string)
	for j := 0; j < 20; j++ {
		code, _ = d.call("GET", "/api/protected", "", nil, cookie)
		d.expect("protected (session)", code, 200)
	}
	code, _ = d.call("GET", "/api/sessions", "", nil, cookie)
	d.expect("sessions", code, 200)
	code, _ = d.call("POST", "/api/logout", "", nil, cookie)
	d.expect("logout (session)", code, 204)
}

// sampleUntil samples the server every interval for duration.
func (d *driver) sampleUntil(pid int, duration, interval time.Duration) []sample {
	start := time.Now()
	var out []sample
	fmt.Printf("%8s %10s %10s %6s %10s %7s\n", "time", "rss_mib", "goroutines", "fds", "requests", "errors")
	for {
		time.Sleep(min(interval, time.Until(start.Add(duration))))
		s := sample{at: time.Since(start).Round(time.Second), rssKiB: rss(pid), goroutines: d.goroutines(), fds: fds(pid),
			requests: d.requests.Load(), errors: d.errors.Load()}
		out = append(out, s)
		fmt.Printf("%8s %10.1f %10d %6d %10d %7d\n", s.at, float64(s.rssKiB)/1024, s.goroutines, s.fds, s.requests, s.errors)
		if time.Since(start) >= duration {
			return out
		}
	}
}

// rss returns the resident set size of process pid in KiB, or -1.
func rss(pid int) int {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return -1
	}
	st, err := p.NewStatus()
	if err != nil {
		return -1
	}
	return int(st.VmRSS >> 10)
}

// fds returns the number of open file descriptors of process pid, or -1.
func fds(pid int) int {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return -1
	}
	n, err := p.FileDescriptorsLen()
	if err != nil {
		return -1
	}
	return n
}

// goroutines reads go_goroutines from the server's /metrics.
func (d *driver) goroutines() int {
	resp, err := d.client.Get(d.base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return int(n)
		}
	}
	return -1
}

// report prints the verdict: every request answered as expected, and no resource grew from the
// first half of the run (after the first sample, the warm-up) to its last samples by more than
// the allowance.
func report(s []sample, d *driver) int {
	var problems []string
	if n := d.errors.Load(); n > 0 {
		problems = append(problems, fmt.Sprintf("%d requests failed, first: %s", n, strings.Join(d.firstErr, "; ")))
	}
	if len(s) >= 3 {
		warm := s[1:]
		half := warm[:max(1, len(warm)/2)]
		tail := warm[len(warm)-min(len(warm), max(1, len(warm)/3)):]
		peak := func(ss []sample, f func(sample) int) int {
			m := 0
			for _, x := range ss {
				m = max(m, f(x))
			}
			return m
		}
		check := func(name string, f func(sample) int, ratio float64, slack int) {
			early, late := peak(half, f), peak(tail, f)
			if early < 0 || late < 0 {
				problems = append(problems, name+": could not be sampled")
				return
			}
			if float64(late) > float64(early)*ratio+float64(slack) {
				problems = append(problems, fmt.Sprintf("%s trends upward: peak %d early, %d late", name, early, late))
			}
		}
		check("rss_kib", func(x sample) int { return x.rssKiB }, 1.25, 16*1024)
		check("goroutines", func(x sample) int { return x.goroutines }, 1.5, 20)
		check("fds", func(x sample) int { return x.fds }, 1.0, 16)
	} else {
		problems = append(problems, "too few samples to judge a trend (need 3: lengthen --duration or shorten --interval)")
	}
	last := s[len(s)-1]
	fmt.Printf("soak: %d requests in %s (%.0f/s), %d errors\n", last.requests, last.at, float64(last.requests)/last.at.Seconds(), d.errors.Load())
	if len(problems) > 0 {
		fmt.Println("soak: FAIL: " + strings.Join(problems, "; "))
		return 1
	}
	fmt.Println("soak: PASS: no request error, memory, goroutines and file descriptors flat")
	return 0
}
