package bench

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// distQuantiles are the points of the latency distributions kept in the report.
var distQuantiles = []float64{0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999}

// figures turns a load result and the CPU the servers used during it into report figures.
func figures(res *Result, cpu time.Duration) LoadFigures {
	f := LoadFigures{
		RPS: res.RPS(), Requests: res.Requests, Failed: res.Failed(),
		P50Ms: ms(res.Latency.Quantile(0.5)), P99Ms: ms(res.Latency.Quantile(0.99)), P999Ms: ms(res.Latency.Quantile(0.999)),
	}
	if res.OK > 0 && cpu > 0 {
		f.CPUPerReqUs = float64(cpu.Microseconds()) / float64(res.OK)
	}
	for _, q := range distQuantiles {
		f.Dist = append(f.Dist, ms(res.Latency.Quantile(q)))
	}
	return f
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// measure runs l and reports the CPU time the given servers used meanwhile.
func (b *Runner) measure(ctx context.Context, label string, servers []*Instance, l Load) (*Result, LoadFigures, error) {
	if l.Conns == 0 {
		l.Conns = b.opts.Connections
	}
	if l.Duration == 0 {
		l.Duration = b.opts.Duration
	}
	res, cpu, err := b.measureRaw(ctx, label, servers, l)
	if err != nil {
		return nil, LoadFigures{}, err
	}
	return res, figures(res, cpu), nil
}

// measureRaw runs l and returns its result and the CPU time the servers used meanwhile (0 when
// it cannot be read).
func (b *Runner) measureRaw(ctx context.Context, label string, servers []*Instance, l Load) (*Result, time.Duration, error) {
	if l.Conns == 0 {
		l.Conns = b.opts.Connections
	}
	l.Tick = b.p.tick(label, l.Duration)
	before := cpuOf(servers)
	res, err := l.Run(ctx)
	if err != nil {
		return nil, 0, err
	}
	after := cpuOf(servers)
	if before < 0 || after < 0 {
		return res, 0, nil
	}
	return res, after - before, nil
}

// cpuOf sums the CPU time of the servers, or returns -1 when it cannot be read.
func cpuOf(servers []*Instance) time.Duration {
	var sum time.Duration
	for _, s := range servers {
		if !s.Alive() {
			continue
		}
		c, err := procCPU(s.Pid())
		if err != nil {
			return -1
		}
		sum += c
	}
	return sum
}

// credentials logs in n times on in (as mode m would: a session or a token).
func (b *Runner) credentials(ctx context.Context, in *Instance, m *Mode, n int) ([]Cred, error) {
	creds, err := b.api.loginMany(ctx, in.URL(), m.Kind, n, 8, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name, err)
	}
	return creds, b.api.check(ctx, in.URL(), creds)
}

// poolSize is the number of distinct users' credentials the performance loads cycle through.
func (b *Runner) poolSize() int {
	if b.opts.Quick {
		return 50
	}
	return 1000
}

// revokedCount is how many tokens a revocation mode revokes before it is measured.
func (b *Runner) revokedCount(m *Mode) int {
	if b.opts.Quick {
		return min(m.Revoked, 100)
	}
	return m.Revoked
}

// prepareRevocations revokes n tokens on in through the API (login, then logout), so that the
// mode is measured with a populated denylist.
func (b *Runner) prepareRevocations(ctx context.Context, in *Instance, n int) error {
	if n == 0 {
		return nil
	}
	creds, err := b.api.loginMany(ctx, in.URL(), KindToken, n, 8, nil)
	if err != nil {
		return err
	}
	for _, c := range creds {
		code, err := b.api.do(ctx, "POST", in.URL()+"/api/logout", c)
		if err != nil {
			return err
		}
		if code != 204 {
			return fmt.Errorf("revoking a token: status %d", code)
		}
	}
	return nil
}

func (b *Runner) rounds() int {
	if b.opts.Quick {
		return 1
	}
	return 2
}

type perfSubject struct {
	m     *Mode
	in    *Instance
	same  *Instance // the mode's same-bytes floor
	creds []Cred
}

// perfAcc gathers one mode's measurements over the rounds.
type perfAcc struct {
	runs, floors, sames       []LoadFigures
	ratios, cpuRatios         []float64
	sameRatios, sameCPURatios []float64
}

func (a *perfAcc) add(ff, sf, mf LoadFigures) {
	a.runs, a.floors, a.sames = append(a.runs, mf), append(a.floors, ff), append(a.sames, sf)
	a.ratios = append(a.ratios, mf.RPS/ff.RPS)
	a.sameRatios = append(a.sameRatios, mf.RPS/sf.RPS)
	if mf.CPUPerReqUs > 0 {
		a.cpuRatios = append(a.cpuRatios, ff.CPUPerReqUs/mf.CPUPerReqUs)
		a.sameCPURatios = append(a.sameCPURatios, sf.CPUPerReqUs/mf.CPUPerReqUs)
	}
}

// performance measures GET /api/protected for every mode against two floors measured in the
// same alternating slices: the plain hello handler, and the mode's same-bytes floor, which
// answers exactly the mode's bytes to the same requests (SameBytesHandler). Servers and the
// load generator are pinned to separate CPUs where the machine allows (pin.go).
func (b *Runner) performance(ctx context.Context) error {
	undo, err := b.pin.pinSelf()
	if err != nil {
		b.p.note("%v: measuring unpinned", err)
		b.pin = pinning{why: "not pinned (" + err.Error() + ")"}
		undo = func() {}
	}
	b.pinned = true
	defer func() { b.pinned = false; undo() }()
	floor, err := b.startFloor(ctx)
	if err != nil {
		return err
	}
	var subjects []*perfSubject
	for _, m := range b.modes {
		s, err := b.perfSubject(ctx, m)
		if err != nil {
			return err
		}
		subjects = append(subjects, s)
		b.p.note("%s ready: %d credentials", m.Name, len(s.creds))
	}
	warm := min(b.opts.Duration/5, time.Second)
	perf := &Performance{Rounds: b.rounds(), Slices: b.slices(), Connections: b.opts.Connections,
		DurationS: b.opts.Duration.Seconds(), Pool: b.poolSize(), Pinning: b.pin.describe()}
	accs := make([]*perfAcc, len(subjects))
	for i := range accs {
		accs[i] = &perfAcc{}
	}
	var floors []LoadFigures
	for round := 1; round <= b.rounds(); round++ {
		for i, s := range subjects {
			creds := poolCreds(headers(s.creds))
			sides := []perfSide{
				{"floor", floor, Load{Targets: []string{floor.Addr}, Path: "/"}},
				{"same-bytes floor", s.same, Load{Targets: []string{s.same.Addr}, Path: "/api/protected", Creds: creds}},
				{s.m.Name, s.in, Load{Targets: []string{s.in.Addr}, Path: "/api/protected", Creds: creds}},
			}
			for _, side := range sides {
				l := side.l
				l.Duration, l.Conns = warm, b.opts.Connections
				if _, err := l.Run(ctx); err != nil {
					return err
				}
			}
			got, err := b.alternate(ctx, sides)
			if err != nil {
				return err
			}
			ff, sf, mf := got[0], got[1], got[2]
			floors = append(floors, ff)
			accs[i].add(ff, sf, mf)
			b.p.note("round %d %-22s %9s req/s  same-bytes %9s req/s %.2fx  hello %9s req/s %.2fx  p99 %.2f ms", round, s.m.Name,
				fmtCount(int(mf.RPS)), fmtCount(int(sf.RPS)), mf.RPS/sf.RPS, fmtCount(int(ff.RPS)), mf.RPS/ff.RPS, mf.P99Ms)
		}
	}
	perf.Floor = medianFigures(floors)
	for i, s := range subjects {
		a := accs[i]
		perf.Rows = append(perf.Rows, PerfRow{Mode: s.m.Name, Kind: s.m.Kind, LoadFigures: medianFigures(a.runs),
			FloorRPS: medianFigures(a.floors).RPS, Ratio: median(a.ratios), CPURatio: median(a.cpuRatios),
			SameBytesRPS: medianFigures(a.sames).RPS, SameBytesRatio: median(a.sameRatios), SameBytesCPURatio: median(a.sameCPURatios)})
	}
	b.report.Performance = perf
	return nil
}

// perfSubject starts mode m's instance, makes its credentials, and starts its same-bytes floor.
func (b *Runner) perfSubject(ctx context.Context, m *Mode) (*perfSubject, error) {
	in, err := b.startGatehouse(ctx, m.Name, m, b.dataDir(m.Name), lowCost...)
	if err != nil {
		return nil, err
	}
	if err := b.prepareRevocations(ctx, in, b.revokedCount(m)); err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name, err)
	}
	creds, err := b.credentials(ctx, in, m, b.poolSize())
	if err != nil {
		return nil, err
	}
	same, err := b.startSameBytesFloor(ctx, m.Name, in, "/api/protected", creds[0])
	if err != nil {
		return nil, err
	}
	return &perfSubject{m: m, in: in, same: same, creds: creds}, nil
}

// slices is the number of alternating slices a paired measurement is cut into.
func (b *Runner) slices() int {
	if b.opts.Quick {
		return 1
	}
	return 5
}

// perfSide is one server and its load in an alternating measurement.
type perfSide struct {
	label string
	in    *Instance
	l     Load
}

// alternate measures sides in alternating slices (A, B, C, A, B, C, ...) that add up to
// --duration each, so that a change in what else the machine is doing affects all alike; it
// returns the figures of each side over all its slices.
func (b *Runner) alternate(ctx context.Context, sides []perfSide) ([]LoadFigures, error) {
	n := b.slices()
	accs := make([]accum, len(sides))
	for k := range n {
		for i, side := range sides {
			l := side.l
			l.Duration = b.opts.Duration / time.Duration(n)
			label := fmt.Sprintf("%s %d/%d", side.label, k+1, n)
			res, cpu, err := b.measureRaw(ctx, label, []*Instance{side.in}, l)
			if err != nil {
				return nil, err
			}
			if err := res.refusedErr(side.label); err != nil {
				return nil, err
			}
			accs[i].add(res, cpu)
		}
	}
	out := make([]LoadFigures, len(sides))
	for i := range accs {
		out[i] = accs[i].figures()
	}
	return out, nil
}

// paired is alternate with two sides: the floor and a mode.
func (b *Runner) paired(ctx context.Context, name string, floor *Instance, floorLoad Load, in *Instance, load Load) (LoadFigures, LoadFigures, error) {
	got, err := b.alternate(ctx, []perfSide{{"floor", floor, floorLoad}, {name, in, load}})
	if err != nil {
		return LoadFigures{}, LoadFigures{}, err
	}
	return got[0], got[1], nil
}

// accum adds up the results of several loads.
type accum struct {
	res *Result
	cpu time.Duration
}

func (a *accum) add(r *Result, cpu time.Duration) {
	a.cpu += cpu
	if a.res == nil {
		c := *r
		c.Latency = &Histogram{}
		c.Latency.Merge(r.Latency)
		c.Status = map[int]uint64{}
		for k, v := range r.Status {
			c.Status[k] += v
		}
		a.res = &c
		return
	}
	for k, v := range r.Status {
		a.res.Status[k] += v
	}
	a.res.Requests += r.Requests
	a.res.OK += r.OK
	a.res.Errors += r.Errors
	a.res.Elapsed += r.Elapsed
	a.res.Latency.Merge(r.Latency)
}

func (a *accum) figures() LoadFigures {
	if a.res == nil {
		return LoadFigures{}
	}
	return figures(a.res, a.cpu)
}

// poolCreds gives every connection the whole pool.
func poolCreds(pool [][]byte) func(int, int) [][]byte {
	return func(int, int) [][]byte { return pool }
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// medianFigures returns the run with the median throughput (so that its latencies belong to
// one real run).
func medianFigures(runs []LoadFigures) LoadFigures {
	if len(runs) == 0 {
		return LoadFigures{}
	}
	s := append([]LoadFigures(nil), runs...)
	sort.Slice(s, func(i, j int) bool { return s[i].RPS < s[j].RPS })
	return s[(len(s)-1)/2]
}
