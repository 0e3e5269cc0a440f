package bench

import (
	"context"
	"fmt"
	"net/http"
)

// loginLevels are the numbers of concurrent clients of the login-cost measurement.
var loginLevels = []int{1, 8, 64}

// loginCost measures POST /api/login (mode token) with gatehouse's production argon2id
// parameters (the defaults: OWASP m=19 MiB, t=2, p=1) under 1, 8 and 64 concurrent clients,
// each level on a fresh instance so that its peak resident set size is its own.
func (b *Runner) loginCost(ctx context.Context) error {
	m := findMode("jwt-eddsa")
	lc := &LoginCost{Params: "argon2id m=19456 KiB, t=2, p=1 (the defaults); hashing queue: --hash-concurrency = CPUs, --hash-wait 2s"}
	body := []byte(fmt.Sprintf(`{"username":"admin","password":%q,"mode":"token"}`, benchPassword))
	for _, conc := range loginLevels {
		in, err := b.startGatehouse(ctx, fmt.Sprintf("login-%d", conc), m, b.dataDir("login"))
		if err != nil {
			return err
		}
		rssBefore, _, _ := procMem(in.Pid())
		l := Load{Targets: []string{in.Addr}, Method: "POST", Path: "/api/login", Body: body, Conns: conc,
			Duration: b.opts.Duration, Timeout: 10 * b.opts.Duration}
		res, f, err := b.measure(ctx, fmt.Sprintf("login x%d", conc), []*Instance{in}, l)
		if err != nil {
			return err
		}
		_, peak, _ := procMem(in.Pid())
		row := LoginRow{Concurrency: conc, LoadFigures: f, Unavailable: res.Status[http.StatusServiceUnavailable],
			PeakRSS: peak, StartRSS: rssBefore}
		lc.Rows = append(lc.Rows, row)
		b.p.note("logins with %d clients: %.1f/s, p99 %.1f ms, %d answered 503, peak RSS %s", conc, f.RPS, f.P99Ms, row.Unavailable, fmtBytes(float64(peak)))
		in.Stop()
	}
	b.report.Login = lc
	return nil
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
