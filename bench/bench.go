// Package bench is gatehouse's measured comparison of stateful and stateless authentication:
// it starts gatehouse instances (the real binary, as child processes on 127.0.0.1), drives them
// with a built-in closed-loop HTTP load generator, and writes a report whose rows mirror the
// comparison tables of the classic "stateful vs stateless" write-up, with the numbers measured
// on this machine beside each claim, as markdown, JSON and charts.
//
// Everything it starts listens on a loopback address, every load is bounded in time, and every
// process and temporary directory it made is gone when Run returns.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
)

// Filler writes n sessions of the user "admin" into the store of the gatehouse data directory
// dir through the store API (the same code a login runs after checking the password), while no
// server is running on it, and returns their secrets (the cookie values). It is how the bench
// fills a persistent store with a million sessions in reasonable time; the memory store has no
// filler and is filled through real logins.
type Filler func(ctx context.Context, dir string, n int) ([]string, error)

// Options configures a run.
type Options struct {
	// Server is the gatehouse binary whose "serve" command is measured.
	Server string
	// Floor is the executable whose "floor --addr ADDR" command serves the floor: a bare
	// net/http handler (FloorHandler), the yardstick of every throughput figure.
	Floor string
	// Out is the directory the report and charts are written to (created if missing).
	Out string
	// Quick runs a tiny version: short loads, few sessions, few trials.
	Quick bool
	// Duration of each load (default 10 s; 500 ms with Quick).
	Duration time.Duration
	// Connections of the load generator (default 64; 16 with Quick).
	Connections int
	// Modes is a comma-separated list of mode names, or "" for all.
	Modes string
	// Sizes are the numbers of active sessions (or tokens) of the resource-usage and
	// cost-growth measurements (default 1k, 10k, 100k, 1M; 100 and 1,000 with Quick).
	Sizes []int
	// FillBudget bounds the time spent making the sessions (or tokens) of one size: a size whose
	// fill would take longer at the rate of the previous one is skipped (default 3 minutes).
	FillBudget time.Duration
	// ExpressPeer is the folder of an Express + jsonwebtoken server to measure against (see
	// ExpressFiles); "" measures none. It is never measured with Quick.
	ExpressPeer string
	// StoreAvailable reports whether a session store ("memory", "sqlite", "redis", ...) can be
	// used on this machine; nil means every store can.
	StoreAvailable func(store string) bool
	// Fillers fill a persistent session store directly, by store name.
	Fillers map[string]Filler
	// RedisMemory, when set, returns Redis's used_memory: the resource measurement of the
	// Redis modes reads it beside the instance's heap.
	RedisMemory func(ctx context.Context) (int64, error)
	// Phases, when set, is a comma-separated list of the phases to run, by the first word of
	// their names (performance, resource, logout, scalability, fault, login, peer); the others
	// are named in the report as not run. Empty runs them all.
	Phases string
	// NoPin leaves the servers and the load generator of the performance measurement where the
	// scheduler puts them; by default they are pinned to separate CPUs where the machine allows
	// (pin.go).
	NoPin bool
	// Progress receives the progress display (default: discarded).
	Progress io.Writer
	// Command is the command line, for the report.
	Command string
}

func (o *Options) defaults() {
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
		if o.Quick {
			o.Duration = 500 * time.Millisecond
		}
	}
	if o.Connections <= 0 {
		o.Connections = 64
		if o.Quick {
			o.Connections = 16
		}
	}
	if len(o.Sizes) == 0 {
		o.Sizes = []int{1_000, 10_000, 100_000, 1_000_000}
		if o.Quick {
			o.Sizes = []int{100, 1_000}
		}
	}
	if o.FillBudget <= 0 {
		o.FillBudget = 3 * time.Minute
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Out == "" {
		o.Out = "bench-out"
	}
}

// Runner runs one bench.
type Runner struct {
	opts      Options
	modes     []*Mode // the selected modes that can run
	work      string  // temporary directory
	instances []*Instance
	ids       atomic.Int64
	api       *api
	p         *progress
	report    *Report
	pin       pinning
	pinned    bool // start servers on the pinned CPU (during the performance measurement)
}

func (b *Runner) nextID() int { return int(b.ids.Add(1)) }

// Run measures, writes report.md, report.json and the charts into opts.Out, and returns the
// report. A phase that fails is recorded in the report (and the run goes on); Run returns an
// error only when nothing could be measured or the report cannot be written.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts.defaults()
	if opts.Server == "" || opts.Floor == "" {
		return nil, errors.New("bench: no gatehouse binary or no floor executable")
	}
	selected, err := selectModes(opts.Modes)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	b := &Runner{opts: opts, work: work, api: newAPI(), p: newProgress(opts.Progress), pin: newPinning(!opts.NoPin)}
	defer b.stopAll()
	b.report = newReport(&b.opts)
	for _, m := range selected {
		if why := m.unavailable(&b.opts); why != "" {
			b.report.Modes = append(b.report.Modes, ModeInfo{Name: m.Name, Kind: m.Kind, Summary: m.Summary, Unavailable: why})
			b.p.note("%s: %s", m.Name, why)
			continue
		}
		b.modes = append(b.modes, m)
		b.report.Modes = append(b.report.Modes, ModeInfo{Name: m.Name, Kind: m.Kind, Summary: m.Summary, Available: true})
	}
	if len(b.modes) == 0 {
		return nil, errors.New("bench: none of the selected modes can run on this machine")
	}
	start := time.Now()
	phases := []phase{
		{"performance", b.performance},
		{"resource usage and cost growth", b.resources},
		{"logout control", b.logoutControl},
		{"scalability and load balancing", b.scalability},
		{"fault tolerance", b.faultTolerance},
		{"login cost", b.loginCost},
		{"peer (an Express server)", b.peer},
	}
	phases, b.report.NotRun = selectPhases(phases, b.opts.Phases)
	for i, ph := range phases {
		if ctx.Err() != nil {
			break
		}
		b.p.phase(i+1, len(phases), ph.name)
		if err := ph.run(ctx); err != nil {
			if ctx.Err() != nil {
				break
			}
			msg := fmt.Sprintf("%s: %v", ph.name, err)
			b.report.Problems = append(b.report.Problems, msg)
			b.p.note("FAILED %s", msg)
		}
		b.stopAll()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.report.Elapsed = time.Since(start).Round(time.Second).String()
	b.report.Machine.LoadAverageEnd = loadAverage()
	b.report.finish()
	if err := b.write(); err != nil {
		return nil, err
	}
	b.p.note("report written to %s (%s)", filepath.Join(opts.Out, "report.md"), b.report.Elapsed)
	return b.report, nil
}

func (b *Runner) write() error {
	if err := os.MkdirAll(b.opts.Out, 0o755); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(b.opts.Out, "report.json"), b.report); err != nil {
		return err
	}
	charts, err := writeCharts(b.opts.Out, b.report)
	if err != nil {
		b.report.Problems = append(b.report.Problems, "charts: "+err.Error())
	}
	b.report.Charts = charts
	// report.json again, now with the list of charts.
	if err := writeJSON(filepath.Join(b.opts.Out, "report.json"), b.report); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(b.opts.Out, "report.md"), []byte(renderMarkdown(b.report)), 0o644)
}

// phase is one part of a run.
type phase struct {
	name string
	run  func(context.Context) error
}

// selectPhases keeps the phases whose first word is listed in spec (all when spec is empty)
// and returns the names of the others.
func selectPhases(phases []phase, spec string) (kept []phase, skipped []string) {
	if strings.TrimSpace(spec) == "" {
		return phases, nil
	}
	want := map[string]bool{}
	for _, w := range strings.Split(spec, ",") {
		want[strings.TrimSpace(w)] = true
	}
	for _, ph := range phases {
		if want[strings.Fields(ph.name)[0]] {
			kept = append(kept, ph)
		} else {
			skipped = append(skipped, ph.name)
		}
	}
	return kept, skipped
}

// machine describes where the run happened.
func machine() Machine {
	return Machine{
		CPUs: runtime.NumCPU(), CPUModel: cpuModel(), Memory: memTotal(), Kernel: kernel(),
		OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version(), LoadAverage: loadAverage(),
	}
}

// modesOf returns the runnable modes of kind k ("" for all).
func (b *Runner) modesOf(k Kind) []*Mode {
	var out []*Mode
	for _, m := range b.modes {
		if k == "" || m.Kind == k {
			out = append(out, m)
		}
	}
	return out
}

func (b *Runner) dataDir(name string) string {
	return filepath.Join(b.work, "data", fmt.Sprintf("%s-%d", sanitize(name), b.nextID()))
}

// fmtCount writes n with thousands separators.
func fmtCount(n int) string {
	s := fmt.Sprint(n)
	var out strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out.WriteByte(',')
		}
		out.WriteRune(r)
	}
	return out.String()
}
