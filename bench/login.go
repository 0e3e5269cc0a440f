package bench

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// loginLevels are the numbers of concurrent clients of the login-cost measurement.
var loginLevels = []int{1, 8, 64}

// loginCost measures POST /api/login (mode token) with gatehouse's production argon2id
// parameters (the defaults: OWASP m=19 MiB, t=2, p=1) under 1, 8 and 64 concurrent clients,
// each level on a fresh instance so that its peak resident set size is its own, against the
// bare-hash floor (hashfloor.go) measured in alternating slices with the logins.
func (b *Runner) loginCost(ctx context.Context) error {
	m := findMode("jwt-eddsa")
	lc := &LoginCost{Params: "argon2id m=19456 KiB, t=2, p=1 (the defaults); hashing queue: --hash-concurrency = CPUs, --hash-wait 2s"}
	for _, conc := range loginLevels {
		row, err := b.loginLevel(ctx, m, conc)
		if err != nil {
			return err
		}
		lc.Rows = append(lc.Rows, row)
		b.p.note("logins with %d clients: %.1f/s (bare hashes %.1f/s: %.2fx), p99 %.1f ms, %d answered 503, peak RSS %s",
			conc, row.RPS, row.FloorRate, row.Ratio, row.P99Ms, row.Unavailable, fmtBytes(float64(row.PeakRSS)))
	}
	b.report.Login = lc
	return nil
}

// loginLevel measures logins with conc clients on a fresh instance, in slices alternating
// with the bare-hash floor.
func (b *Runner) loginLevel(ctx context.Context, m *Mode, conc int) (LoginRow, error) {
	in, err := b.startGatehouse(ctx, fmt.Sprintf("login-%d", conc), m, b.dataDir("login"))
	if err != nil {
		return LoginRow{}, err
	}
	defer in.Stop()
	rssBefore, _, _ := procMem(in.Pid())
	body := []byte(fmt.Sprintf(`{"username":"admin","password":%q,"mode":"token"}`, benchPassword))
	n := b.slices()
	slice := b.opts.Duration / time.Duration(n)
	var acc accum
	hashes, hashTime := 0, time.Duration(0)
	for k := range n {
		h, took := hashFloor(ctx, slice)
		hashes, hashTime = hashes+h, hashTime+took
		l := Load{Targets: []string{in.Addr}, Method: "POST", Path: "/api/login", Body: body, Conns: conc,
			Duration: slice, Timeout: 10 * b.opts.Duration}
		res, cpu, err := b.measureRaw(ctx, fmt.Sprintf("login x%d %d/%d", conc, k+1, n), []*Instance{in}, l)
		if err != nil {
			return LoginRow{}, err
		}
		acc.add(res, cpu)
	}
	_, peak, _ := procMem(in.Pid())
	f := acc.figures()
	row := LoginRow{Concurrency: conc, LoadFigures: f, Unavailable: acc.res.Status[http.StatusServiceUnavailable],
		PeakRSS: peak, StartRSS: rssBefore}
	if hashTime > 0 && hashes > 0 {
		row.FloorRate = float64(hashes) / hashTime.Seconds()
		row.Ratio = f.RPS / row.FloorRate
	}
	return row, nil
}

// fmtBytes writes a byte count with a binary unit.
func fmtBytes(v float64) string {
	switch {
	case v >= 1<<30:
		return fmt.Sprintf("%.2f GiB", v/(1<<30))
	case v >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%.0f B", v)
}
