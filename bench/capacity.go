package bench

import "fmt"

// capacity turns the run's figures into sizing: what one core of this machine does per mode,
// and what 100,000 sessions cost in each store. docs/scaling.md carries the figures that need
// more than one instance or a store server (Redis operations, invalidations per revoke).
func (w *md) capacity(r *Report) {
	w.h2("Capacity planning")
	w.p("The figures above, turned into what one CPU core of this machine carries. Per core: 1,000,000 divided by the server's CPU time per request in µs (the performance and login sections), so the load generator's share of the machine is left out; a real deployment needs headroom on top (aim at 50-70 %% of it). Memory per 100,000 sessions: the per-session figures of the largest size measured. What a Redis or PostgreSQL node carries, how invalidations grow with instances, and the formulas are in docs/scaling.md.\n")
	w.head("mode", "authenticated requests/s per core", "server CPU µs/request")
	if r.Performance != nil {
		for _, row := range r.Performance.Rows {
			w.row(row.Mode, perCore(row.CPUPerReqUs), f2(row.CPUPerReqUs))
		}
	}
	if r.Login != nil {
		for _, row := range r.Login.Rows {
			w.row(fmt.Sprintf("login (argon2id, %s)", clients(row.Concurrency)), perCore(row.CPUPerReqUs), f2(row.CPUPerReqUs))
		}
	}
	w.p("")
	w.head("mode", "sessions measured", "server heap per 100k", "file per 100k")
	for _, row := range largestResources(r) {
		file := ""
		if row.FilePerSession > 0 || row.FileTooSmall {
			file = per100k(row.FilePerSession, row.FileTooSmall)
		}
		w.row(row.Mode, fmtCount(row.Sessions), per100k(row.HeapPerSession, row.HeapTooSmall), file)
	}
}

// perCore is the requests one core serves per second at cpuUs of CPU per request.
func perCore(cpuUs float64) string {
	if cpuUs <= 0 {
		return "not measured"
	}
	return f0(1e6 / cpuUs)
}

func per100k(perSession float64, tooSmall bool) string {
	if tooSmall {
		return "too small to measure"
	}
	return fmtBytes(perSession * 100_000)
}

// largestResources returns, per mode, the resource row with the most sessions.
func largestResources(r *Report) []ResourceRow {
	var out []ResourceRow
	index := map[string]int{}
	for _, row := range r.Resources {
		i, ok := index[row.Mode]
		switch {
		case !ok:
			index[row.Mode] = len(out)
			out = append(out, row)
		case row.Sessions > out[i].Sessions:
			out[i] = row
		}
	}
	return out
}

func clients(n int) string {
	if n == 1 {
		return "1 client"
	}
	return fmt.Sprintf("%d clients", n)
}
