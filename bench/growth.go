package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// resources measures, for each mode, the memory (and for SQLite the file space) that active
// sessions or tokens cost, and the lookup throughput as their number grows.
func (b *Runner) resources(ctx context.Context) error {
	d := time.Second
	if b.opts.Quick {
		d = 100 * time.Millisecond
	}
	us, err := verifyCost(ctx, d)
	if err != nil {
		return err
	}
	b.report.VerifyUs = us
	for _, m := range b.modes {
		if m.Revoked > 0 {
			continue // the same code path as its plain mode; its denylist is measured in performance
		}
		if err := b.growMode(ctx, m); err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
		b.stopAll()
	}
	return nil
}

// grower fills one mode's instance with credentials up to a given number.
type grower struct {
	b     *Runner
	m     *Mode
	data  string
	in    *Instance
	creds [][]byte
}

func (b *Runner) growMode(ctx context.Context, m *Mode) error {
	g := &grower{b: b, m: m, data: b.dataDir("grow-" + m.Name)}
	in, err := b.startGatehouse(ctx, m.Name, m, g.data, measuredHeap...)
	if err != nil {
		return err
	}
	g.in = in
	base, err := b.memory(ctx, in)
	if err != nil {
		return err
	}
	redisBase, err := b.redisMemory(ctx, m)
	if err != nil {
		return err
	}
	offline := m.File && b.opts.Fillers[m.Store] != nil // filled into the file, server stopped
	baseFile := int64(0)
	if offline {
		in.Stop()
		if baseFile, err = dbSize(g.data); err != nil {
			return err
		}
	}
	rate := 0.0 // credentials made per second by the last fill
	for _, n := range b.opts.Sizes {
		need := n - len(g.creds)
		if eta := time.Duration(float64(need) / rate * float64(time.Second)); rate > 0 && eta > b.opts.FillBudget {
			note := fmt.Sprintf("%s at %s and more: skipped, making %s more %ss at %s/s would take about %s (over --fill-budget %s)",
				m.Name, fmtCount(n), fmtCount(need), kindNoun(m.Kind), fmtCount(int(rate)), eta.Round(time.Second), b.opts.FillBudget)
			b.report.GrowthSkipped = append(b.report.GrowthSkipped, note)
			b.p.note("%s", note)
			break
		}
		t0 := time.Now()
		if err := g.fill(ctx, n); err != nil {
			return err
		}
		rate = float64(need) / max(time.Since(t0).Seconds(), 1e-3)
		b.p.note("%s: %s active %ss (%s/s made)", m.Name, fmtCount(n), kindNoun(m.Kind), fmtCount(int(rate)))
		row := ResourceRow{Mode: m.Name, Kind: m.Kind, Sessions: n}
		if offline {
			size, err := dbSize(g.data)
			if err != nil {
				return err
			}
			row.FilePerSession, row.FileTooSmall = perSession(size-baseFile, n, minFileGrowth)
			if g.in, err = b.startGatehouse(ctx, m.Name, m, g.data, measuredHeap...); err != nil {
				return err
			}
		}
		if err := g.lookups(ctx, n); err != nil {
			return err
		}
		mem, err := b.memory(ctx, g.in)
		if err != nil {
			return err
		}
		row.HeapPerSession, row.HeapTooSmall = perSession(mem.heap-base.heap, n, minHeapGrowth)
		row.RSSPerSession, row.RSSTooSmall = perSession(mem.rss-base.rss, n, minRSSGrowth)
		row.HeapSettled = mem.settled
		if redisBase >= 0 {
			now, err := b.redisMemory(ctx, m)
			if err != nil {
				return err
			}
			row.RedisPerSession, row.RedisTooSmall = perSession(now-redisBase, n, minRedisGrowth)
		}
		b.report.Resources = append(b.report.Resources, row)
		if offline {
			g.in.Stop()
		}
	}
	return nil
}

// The smallest growth of each figure that says something: below it, the growth is within what
// the figure moves by on its own between two readings (the live heap by a few hundred kB with
// the collector's timing and the scrapes themselves, the RSS by megabytes, the SQLite file by
// whole pages and what its free list had), and a figure per session made from it would be
// noise, or negative. Such figures are reported as too small to measure.
const (
	minHeapGrowth = 1 << 20
	minRSSGrowth  = 4 << 20
	minFileGrowth = 64 << 10
	// Redis's used_memory is exact, but other clients of the same Redis move it too.
	minRedisGrowth = 64 << 10
)

// redisMemory returns Redis's used_memory for a mode that keeps its sessions in Redis, or -1
// for the others (and when the bench cannot read it).
func (b *Runner) redisMemory(ctx context.Context, m *Mode) (int64, error) {
	if m.Store != "redis" || b.opts.RedisMemory == nil {
		return -1, nil
	}
	return b.opts.RedisMemory(ctx)
}

// perSession divides growth among n sessions, or reports that growth is below least and too
// small to measure (the figure is then 0).
func perSession(growth int64, n int, least int64) (float64, bool) {
	if n <= 0 || growth < least {
		return 0, true
	}
	return float64(growth) / float64(n), false
}

func kindNoun(k Kind) string {
	if k == KindSession {
		return "session"
	}
	return "token"
}

// fill brings the number of credentials to n: tokens minted with the instance's keys for the
// token modes, the store's filler when it has one (SQLite: with the server stopped), else real
// logins (the memory store).
func (g *grower) fill(ctx context.Context, n int) error {
	need := n - len(g.creds)
	if need <= 0 {
		return nil
	}
	var secrets []string
	var err error
	switch {
	case g.m.Kind == KindToken:
		secrets, err = g.b.mint(ctx, g.in, g.m, need)
	case g.b.opts.Fillers[g.m.Store] == nil:
		var creds []Cred
		creds, err = g.b.api.loginMany(ctx, g.in.URL(), KindSession, need, 16, nil)
		for _, c := range creds {
			g.creds = append(g.creds, c.Header())
		}
		return err
	default:
		secrets, err = g.b.opts.Fillers[g.m.Store](ctx, g.data, need)
	}
	if err != nil {
		return err
	}
	for _, s := range secrets {
		g.creds = append(g.creds, Cred{Kind: g.m.Kind, Secret: s}.Header())
	}
	return nil
}

// lookups measures GET /api/protected with credentials drawn at random from all n.
func (g *grower) lookups(ctx context.Context, n int) error {
	b := g.b
	d := b.opts.Duration / 2
	l := Load{Targets: []string{g.in.Addr}, Path: "/api/protected", Creds: poolCreds(g.creds), Conns: b.opts.Connections}
	// Every credential is used once before the measurement, as each active user would have
	// been: the caches hold what they can, and the last-seen times are fresh.
	warm := l
	warm.Sequential, warm.MaxRequests, warm.Duration = true, uint64(len(g.creds)), b.warmLimit()
	wr, err := warm.Run(ctx)
	if err != nil {
		return err
	}
	if err := wr.refusedErr("the pass over every credential"); err != nil {
		return err
	}
	row := GrowthRow{Mode: g.m.Name, Kind: g.m.Kind, Sessions: n, Warmed: wr.OK}
	l.Duration = d
	res, f, err := b.measure(ctx, fmt.Sprintf("%s at %s", g.m.Name, fmtCount(n)), []*Instance{g.in}, l)
	if err != nil {
		return err
	}
	if err := res.refusedErr("lookups"); err != nil {
		return err
	}
	row.LoadFigures = f
	b.report.Growth = append(b.report.Growth, row)
	b.p.note("%s at %s: %s req/s, p99 %.2f ms", g.m.Name, fmtCount(n), fmtCount(int(f.RPS)), f.P99Ms)
	return nil
}

// warmLimit bounds the pass that uses every credential once.
func (b *Runner) warmLimit() time.Duration {
	if b.opts.Quick {
		return 10 * time.Second
	}
	return max(6*b.opts.Duration, 2*time.Minute)
}

// dbSize is the size of the SQLite database of a data directory (with its WAL, if any).
func dbSize(dir string) (int64, error) {
	var total int64
	for _, name := range []string{"gatehouse.db", "gatehouse.db-wal"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return 0, err
		}
		total += st.Size()
	}
	return total, nil
}

type memFigures struct {
	heap, rss int64
	settled   bool
}

// memory measures the live heap of a gatehouse instance and its resident set size. The live
// heap is the smallest go_memstats_heap_alloc_bytes seen over scrapes of /metrics made after a
// garbage collection that followed the measurement's start (scrapes allocate, so they drive
// the collector; the smallest value is the one right after a collection, when the heap holds
// little more than live objects). settled is false when no collection happened in time, in
// which case the figure includes garbage.
func (b *Runner) memory(ctx context.Context, in *Instance) (memFigures, error) {
	limit := 20 * time.Second
	if b.opts.Quick {
		limit = 2 * time.Second
	}
	deadline := time.Now().Add(limit)
	var gc0 float64 = -1
	var best int64 = -1
	gcs := 0
	for time.Now().Before(deadline) && gcs < 3 {
		mt, err := b.api.metrics(ctx, in.URL())
		if err != nil {
			return memFigures{}, err
		}
		n := mt["go_gc_duration_seconds_count"]
		heap := int64(mt["go_memstats_heap_alloc_bytes"])
		if gc0 < 0 {
			gc0 = n
			continue
		}
		gcs = int(n - gc0)
		if gcs >= 1 && (best < 0 || heap < best) {
			best = heap
		}
	}
	f := memFigures{heap: best, settled: best >= 0}
	if best < 0 {
		mt, err := b.api.metrics(ctx, in.URL())
		if err != nil {
			return memFigures{}, err
		}
		f.heap = int64(mt["go_memstats_heap_alloc_bytes"])
	}
	rss, _, err := procMem(in.Pid())
	if err == nil {
		f.rss = rss
	}
	return f, nil
}
