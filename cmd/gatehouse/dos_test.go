package main

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/procfs"
)

// TestSlowloris: connections that never finish their headers are cut after
// --read-header-timeout, and the server keeps serving others meanwhile.
func TestSlowloris(t *testing.T) {
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	addr, _ := startServe(t, "--read-header-timeout", "300ms")
	const n = 100
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: gatehouse\r\nX-Slow: ")); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	start := time.Now()
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("a normal request beside %d slow ones: %v %v", n, resp, err)
	}
	resp.Body.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var longest time.Duration
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 512)
			for {
				// The server closes the connection (possibly after a 408): read until it does.
				if _, err := c.Read(buf); err != nil {
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						t.Error("a slow connection was still open after 10 s")
					}
					break
				}
			}
			mu.Lock()
			longest = max(longest, time.Since(start))
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Logf("%d connections with unfinished headers closed within %v (read-header-timeout 300ms)", n, longest.Round(time.Millisecond))
	if longest > 5*time.Second {
		t.Fatalf("slow connections lived %v with a 300 ms header timeout", longest)
	}
}

// peakRSS returns the peak resident set size (VmHWM) of a process, in KiB.
func peakRSS(t *testing.T, pid int) int {
	t.Helper()
	p, err := procfs.NewProc(pid)
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	st, err := p.NewStatus()
	if err != nil {
		t.Fatalf("/proc status: %v", err)
	}
	return int(st.VmHWM >> 10)
}

// TestConcurrentLoginsBoundedMemory fires 200 concurrent logins at a server with the production
// argon2id parameters (19 MiB per hash) and a hashing queue of 2: memory stays bounded by the
// queue (200 hashes at once would need 3.8 GiB), and the logins beyond the queue and the
// throttle answer 503 or 429 at once instead of piling up.
func TestConcurrentLoginsBoundedMemory(t *testing.T) {
	bin := buildBinary(t)
	srv := startChild(t, bin, "--data", t.TempDir(), "--hash-concurrency", "2", "--hash-wait", "1s")
	const n = 200
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxConnsPerHost: n, MaxIdleConnsPerHost: n}}
	counts := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _, err := postJSON(client, srv.base+"/api/login", map[string]string{"username": fmt.Sprintf("guess%d", i), "password": "some password guess"})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			counts[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	took := time.Since(start)
	rss := peakRSS(t, srv.cmd.Process.Pid)
	t.Logf("%d concurrent logins in %v: statuses %v; peak RSS %.1f MiB", n, took.Round(time.Millisecond), counts, float64(rss)/1024)
	for code := range counts {
		if code != 401 && code != 429 && code != 503 {
			t.Fatalf("unexpected status %d (%v)", code, counts)
		}
	}
	if counts[429]+counts[503] == 0 {
		t.Fatalf("nothing was turned away: %v", counts)
	}
	// 2 hashes of 19 MiB at a time plus the Go runtime; unbounded it would be gigabytes.
	if rss > 256*1024 {
		t.Fatalf("peak RSS %d KiB: the hashing queue did not bound memory", rss)
	}
	if resp, err := client.Get(srv.base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz after the burst: %v %v", resp, err)
	}
}
