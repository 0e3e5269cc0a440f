package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Load describes one closed-loop run: Conns connections, each sending a request as soon as the
// previous answer has been read, over keep-alive HTTP/1.1, until Duration has passed or
// MaxRequests have been sent. Traffic goes only to the addresses in Targets, which must be
// loopback addresses.
type Load struct {
	// Targets are host:port addresses; connection i starts on Targets[i%len(Targets)].
	Targets []string
	// Method and Path of every request; Body, when set, is sent as application/json.
	Method, Path string
	Body         []byte
	// Creds returns the credential header lines ("Cookie: ...\r\n" or "Authorization: ...\r\n")
	// that connection conn, currently on target, picks from at random for each request; nil or an
	// empty list sends no credential.
	Creds func(conn, target int) [][]byte
	// Conns is the number of connections (default 1).
	Conns int
	// Duration bounds the run (required); MaxRequests bounds it too when non-zero.
	Duration    time.Duration
	MaxRequests uint64
	// Failover moves a connection whose target refuses connections to the next target that
	// still accepts them (client-side round robin with health checking). Without it the
	// connection keeps retrying its own target.
	Failover bool
	// Timeout bounds one request (default 5 s).
	Timeout time.Duration
	// Sequential makes the connections take the credentials in order, each once per pass over
	// the list, instead of at random (with MaxRequests = len(credentials): each exactly once).
	Sequential bool
	// Tick, when set, is called about every 100 ms with the time elapsed and the requests done.
	Tick func(elapsed time.Duration, done uint64)
}

// Result is what a Load measured.
type Result struct {
	Requests uint64            // answers read plus failed attempts
	OK       uint64            // 2xx answers
	Status   map[int]uint64    // every answer by status code
	Errors   uint64            // connection or protocol failures (no answer)
	Elapsed  time.Duration     // wall time of the run
	Latency  *Histogram        // latency of the 2xx answers
	Timeline []TimelineSlot    // outcomes per 100 ms slot
	ErrorMsg map[string]uint64 // failure kinds, for the report
}

// TimelineSlot counts the outcomes of the requests that finished in one 100 ms slot.
type TimelineSlot struct {
	OK, Rejected, Failed uint64
}

// Slot is the width of a timeline slot.
const Slot = 100 * time.Millisecond

// RPS is the rate of 2xx answers per second.
func (r *Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Failed is the number of requests that did not get a 2xx answer.
func (r *Result) Failed() uint64 { return r.Requests - r.OK }

// Refused is the number of answers that were not 2xx (failures with no answer excluded).
func (r *Result) Refused() uint64 { return r.Requests - r.OK - r.Errors }

// refusedErr reports answers that should not have been refused: on a load whose credentials
// are all valid, a refusal is a bug, not noise. Requests that got no answer (a timeout on an
// overloaded machine) are counted in the figures instead.
func (r *Result) refusedErr(what string) error {
	if r.Refused() == 0 {
		return nil
	}
	return fmt.Errorf("%s: %d of %d answers were refusals (%v)", what, r.Refused(), r.Requests, r.Status)
}

type slotCounters struct{ ok, rejected, failed atomic.Uint64 }

// run state shared by the connections.
type loadRun struct {
	l        *Load
	start    time.Time
	deadline time.Time
	sent     atomic.Uint64
	seq      atomic.Uint64
	dead     []atomic.Bool
	slots    []slotCounters
}

// Run performs the load and returns its result; it stops early when ctx ends.
func (l *Load) Run(ctx context.Context) (*Result, error) {
	if len(l.Targets) == 0 || l.Duration <= 0 {
		return nil, errors.New("bench: a load needs targets and a duration")
	}
	for _, t := range l.Targets {
		if err := checkLoopback(t); err != nil {
			return nil, err
		}
	}
	conns := max(l.Conns, 1)
	r := &loadRun{l: l, start: time.Now(), dead: make([]atomic.Bool, len(l.Targets)),
		slots: make([]slotCounters, int(l.Duration/Slot)+2)}
	r.deadline = r.start.Add(l.Duration)
	ctx, cancel := context.WithDeadline(ctx, r.deadline)
	defer cancel()
	results := make([]*connResult, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = r.conn(ctx, i)
		}()
	}
	stopTick := r.ticker(ctx)
	wg.Wait()
	stopTick()
	return r.merge(results), nil
}

func (r *loadRun) ticker(ctx context.Context) func() {
	if r.l.Tick == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(Slot)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-t.C:
				r.l.Tick(time.Since(r.start), r.sent.Load())
			}
		}
	}()
	return func() { close(done) }
}

func (r *loadRun) merge(results []*connResult) *Result {
	res := &Result{Status: map[int]uint64{}, Latency: &Histogram{}, ErrorMsg: map[string]uint64{}, Elapsed: time.Since(r.start)}
	if res.Elapsed > r.l.Duration && r.l.MaxRequests == 0 {
		res.Elapsed = r.l.Duration
	}
	for _, c := range results {
		res.Requests += c.requests
		res.OK += c.ok
		res.Errors += c.errors
		res.Latency.Merge(&c.hist)
		for k, v := range c.status {
			res.Status[k] += v
		}
		for k, v := range c.errMsg {
			res.ErrorMsg[k] += v
		}
	}
	last := min(int(res.Elapsed/Slot)+1, len(r.slots))
	for i := range last {
		s := &r.slots[i]
		res.Timeline = append(res.Timeline, TimelineSlot{OK: s.ok.Load(), Rejected: s.rejected.Load(), Failed: s.failed.Load()})
	}
	return res
}

type connResult struct {
	requests, ok, errors uint64
	status               map[int]uint64
	errMsg               map[string]uint64
	hist                 Histogram
}

// conn drives one connection until the run ends.
func (r *loadRun) conn(ctx context.Context, id int) *connResult {
	l := r.l
	cr := &connResult{status: map[int]uint64{}, errMsg: map[string]uint64{}}
	target := id % len(l.Targets)
	rng := newRand(uint64(id)*0x9E3779B97F4A7C15 + uint64(time.Now().UnixNano()))
	var creds [][]byte
	if l.Creds != nil {
		creds = l.Creds(id, target)
	}
	timeout := l.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	var c *httpConn
	defer func() {
		if c != nil {
			c.close()
		}
	}()
	var req []byte
	for ctx.Err() == nil {
		if l.MaxRequests > 0 && r.sent.Add(1) > l.MaxRequests {
			break
		} else if l.MaxRequests == 0 {
			r.sent.Add(1)
		}
		if c == nil {
			var err error
			c, err = r.dial(ctx, target)
			if err != nil {
				cr.fail(r, "connect: "+errKind(err))
				if l.Failover && r.markDead(target) {
					if next, ok := r.nextLive(target); ok {
						target = next
					}
				}
				sleepCtx(ctx, 10*time.Millisecond)
				continue
			}
		}
		var cred []byte
		if len(creds) > 0 {
			if l.Sequential {
				cred = creds[int(r.seq.Add(1)-1)%len(creds)]
			} else {
				cred = creds[rng.intn(len(creds))]
			}
		}
		req = l.appendRequest(req[:0], l.Targets[target], cred)
		t0 := time.Now()
		deadline := t0.Add(timeout)
		if deadline.After(r.deadline) {
			deadline = r.deadline
		}
		status, err := c.roundTrip(req, deadline)
		if err != nil {
			if !time.Now().Before(r.deadline) {
				break // cut by the end of the run: not a failure of the server
			}
			cr.fail(r, errKind(err))
			c.close()
			c = nil
			continue
		}
		cr.requests++
		cr.status[status]++
		slot := r.slot(time.Now())
		if status >= 200 && status < 300 {
			cr.ok++
			cr.hist.Record(time.Since(t0))
			if slot != nil {
				slot.ok.Add(1)
			}
		} else if slot != nil {
			slot.rejected.Add(1)
		}
		if c.mustClose {
			c.close()
			c = nil
		}
	}
	return cr
}

func (cr *connResult) fail(r *loadRun, kind string) {
	cr.requests++
	cr.errors++
	cr.errMsg[kind]++
	if s := r.slot(time.Now()); s != nil {
		s.failed.Add(1)
	}
}

func (r *loadRun) slot(t time.Time) *slotCounters {
	i := int(t.Sub(r.start) / Slot)
	if i < 0 || i >= len(r.slots) {
		return nil
	}
	return &r.slots[i]
}

// markDead marks target as refusing connections and reports whether there is another.
func (r *loadRun) markDead(target int) bool {
	r.dead[target].Store(true)
	return len(r.l.Targets) > 1
}

func (r *loadRun) nextLive(from int) (int, bool) {
	n := len(r.l.Targets)
	for i := 1; i < n; i++ {
		t := (from + i) % n
		if !r.dead[t].Load() {
			return t, true
		}
	}
	return from, false
}

func (r *loadRun) dial(ctx context.Context, target int) (*httpConn, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", r.l.Targets[target])
	if err != nil {
		return nil, err
	}
	return &httpConn{nc: nc, br: bufio.NewReaderSize(nc, 16<<10)}, nil
}

func (l *Load) appendRequest(b []byte, host string, cred []byte) []byte {
	method := l.Method
	if method == "" {
		method = "GET"
	}
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, l.Path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nUser-Agent: gatehouse-bench\r\n"...)
	b = append(b, cred...)
	if l.Body != nil {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(l.Body)), 10)
		b = append(b, "\r\n\r\n"...)
		return append(b, l.Body...)
	}
	return append(b, "\r\n"...)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// errKind names a failure without its addresses, so that failures of one kind add up.
func errKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		var se interface{ Unwrap() error }
		if errors.As(oe.Err, &se) && se.Unwrap() != nil {
			return se.Unwrap().Error()
		}
		return oe.Err.Error()
	}
	return err.Error()
}

// checkLoopback refuses any target that is not a loopback address: the bench never sends
// traffic anywhere else.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("bench: target %q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("bench: target %q is not a loopback address; the bench only measures servers on this machine", addr)
	}
	return nil
}

// httpConn is a minimal HTTP/1.1 client connection: it writes a prepared request and reads the
// status and the body of the answer, keeping nothing.
type httpConn struct {
	nc        net.Conn
	br        *bufio.Reader
	mustClose bool
}

func (c *httpConn) close() { c.nc.Close() }

var errProtocol = errors.New("malformed HTTP answer")

func (c *httpConn) roundTrip(req []byte, deadline time.Time) (int, error) {
	if err := c.nc.SetDeadline(deadline); err != nil {
		return 0, err
	}
	if _, err := c.nc.Write(req); err != nil {
		return 0, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, errProtocol
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, errProtocol
	}
	length, chunked, err := c.readHeaders()
	if err != nil {
		return 0, err
	}
	if chunked {
		return status, c.skipChunked()
	}
	if length > 0 {
		_, err = c.br.Discard(length)
	}
	return status, err
}

// readHeaders reads the header block and returns the body's length or whether it is chunked.
func (c *httpConn) readHeaders() (length int, chunked bool, err error) {
	c.mustClose = false
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			return length, chunked, nil
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, errProtocol
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(v)); err != nil || length < 0 {
				return 0, false, errProtocol
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			c.mustClose = bytes.EqualFold(v, []byte("close"))
		}
	}
}

func (c *httpConn) skipChunked() error {
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(line), 16, 64)
		if err != nil || n < 0 {
			return errProtocol
		}
		if n == 0 {
			// Trailers end with an empty line.
			for {
				l, err := c.br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(l, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := c.br.Discard(int(n) + 2); err != nil {
			return err
		}
	}
}

// xorshift is a small per-connection random source (math/rand/v2 would do, but this one is
// free of locks and allocations by construction).
type xorshift struct{ s uint64 }

func newRand(state uint64) *xorshift {
	if state == 0 {
		state = 1
	}
	return &xorshift{s: state}
}

func (x *xorshift) next() uint64 {
	x.s ^= x.s << 13
	x.s ^= x.s >> 7
	x.s ^= x.s << 17
	return x.s
}

func (x *xorshift) intn(n int) int { return int(x.next() % uint64(n)) }
