package bench

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress is the display on standard error: one line per step, and on a terminal a live line
// for the load that is running.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	start time.Time
	live  bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) stamp() string {
	d := time.Since(p.start).Round(time.Second)
	return fmt.Sprintf("[%02d:%02d]", int(d.Minutes()), int(d.Seconds())%60)
}

func (p *progress) clearLive() {
	if p.live {
		fmt.Fprint(p.w, "\r\033[K")
		p.live = false
	}
}

func (p *progress) phase(i, n int, name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLive()
	fmt.Fprintf(p.w, "%s == %d/%d %s\n", p.stamp(), i, n, name)
}

func (p *progress) note(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLive()
	fmt.Fprintf(p.w, "%s    %s\n", p.stamp(), fmt.Sprintf(format, args...))
}

// tick returns a Load.Tick that shows the running load on a terminal.
func (p *progress) tick(label string, total time.Duration) func(time.Duration, uint64) {
	if !p.tty {
		return nil
	}
	return func(el time.Duration, done uint64) {
		p.mu.Lock()
		defer p.mu.Unlock()
		rate := float64(done) / max(el.Seconds(), 1e-3)
		fmt.Fprintf(p.w, "\r\033[K%s    %s %4.1fs/%.0fs %s req/s", p.stamp(), label, el.Seconds(), total.Seconds(), fmtCount(int(rate)))
		p.live = true
	}
}
