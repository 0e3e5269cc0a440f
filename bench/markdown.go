package bench

import (
	"fmt"
	"strings"
)

// Sections are the "##" headings every report.md has, in order (CI checks them).
var Sections = []string{
	"Targets", "Modes", "The stateful-vs-stateless comparison, measured", "Performance", "Resource usage",
	"Scalability", "Load balancing", "Fault tolerance", "Logout control", "Caching", "Login cost",
	"Peer: an Express server", "Capacity planning", "Charts", "How it was measured",
}

type md struct{ strings.Builder }

func (w *md) p(format string, args ...any) { fmt.Fprintf(&w.Builder, format+"\n", args...) }
func (w *md) h2(s string)                  { w.p("\n## %s\n", s) }
func (w *md) row(cells ...string)          { w.p("| %s |", strings.Join(cells, " | ")) }
func (w *md) head(cells ...string) {
	w.row(cells...)
	sep := make([]string, len(cells))
	for i := range sep {
		sep[i] = "---"
	}
	w.row(sep...)
}

func f0(v float64) string { return fmtCount(int(v + 0.5)) }
func f2(v float64) string { return fmt.Sprintf("%.2f", v) }
func f3(v float64) string { return fmt.Sprintf("%.3f", v) }
func pct(v float64) string {
	return fmt.Sprintf("%.1f%%", 100*v)
}

// renderMarkdown writes the report as markdown.
func renderMarkdown(r *Report) string {
	w := &md{}
	title := "gatehouse benchmark"
	if r.Quick {
		title += " (--quick: tiny loads, the numbers mean little)"
	}
	w.p("# %s\n", title)
	w.p("Measured %s with `%s` in %s.\n", r.Date, r.Command, r.Elapsed)
	m := r.Machine
	w.p("Machine: %d CPUs (%s), %s memory, %s, %s, %s; load average at start %s, at end %s. The load generator runs on the same machine as the servers (on CPUs of its own in the performance section when it says so), and the machine may be shared with other work: compare the **ratios** (each measured against a reference in the same run, right before), not the absolute numbers, with other machines.\n",
		m.CPUs, orDash(m.CPUModel), fmtBytes(float64(m.Memory)), m.Kernel, m.OS, m.Go, orDash(m.LoadAverage), orDash(m.LoadAverageEnd))
	s := r.Settings
	w.p("Settings: %d connections, %gs per load, %d round(s), a pool of %s credentials per mode, sizes %v, %d revocation trials per mode.",
		s.Connections, s.DurationS, s.Rounds, fmtCount(s.Pool), s.Sizes, s.Trials)
	if len(r.NotRun) > 0 {
		w.p("\n**Not run** (--phases): %s. Their sections say \"Not measured\".\n", strings.Join(r.NotRun, "; "))
	}
	if len(r.Problems) > 0 {
		w.p("\n**Problems in this run** (the sections they concern are incomplete):\n")
		for _, p := range r.Problems {
			w.p("- %s", p)
		}
	}
	w.targets(r)
	w.modes(r)
	w.comparison(r)
	w.performance(r)
	w.resources(r)
	w.scalability(r)
	w.loadBalancing(r)
	w.fault(r)
	w.logout(r)
	w.caching(r)
	w.login(r)
	w.peer(r)
	w.capacity(r)
	w.charts(r)
	w.method(r)
	return w.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (w *md) targets(r *Report) {
	w.h2("Targets")
	w.p("Benchmark targets, not pass/fail tests: a missed target is reported here, with why in the sections below.\n")
	w.head("target", "goal", "measured", "status", "note")
	for _, t := range r.Targets {
		st := t.Status
		if st == "missed" {
			st = "**missed**"
		}
		w.row(t.Name, t.Goal, orDash(t.Measured), st, orDash(t.Note))
	}
}

func (w *md) modes(r *Report) {
	w.h2("Modes")
	w.head("mode", "kind", "what it is", "ran")
	for _, m := range r.Modes {
		ran := "yes"
		if !m.Available {
			ran = m.Unavailable
		}
		w.row("`"+m.Name+"`", string(m.Kind), m.Summary, ran)
	}
}

// comparison lists the usual claims about stateful and stateless authentication, one row per
// aspect, with what this run measured.
func (w *md) comparison(r *Report) {
	w.h2("The stateful-vs-stateless comparison, measured")
	w.p("Each row is an aspect of the usual comparison of stateful (session) and stateless (token) authentication, with what is commonly claimed for each side and this run's figures beside the claims. Details and method in the sections below; docs/bench.md explains each row.\n")
	w.head("aspect", "claimed: stateful (sessions)", "claimed: stateless (tokens)", "measured here")
	w.row("Performance", "Increased latency due to session management overhead.", "Faster response times with no session overhead.", perfSummary(r))
	w.row("Resource usage", "Higher resource consumption for session storage and synchronization. (Server memory: required.)", "Efficient resource use due to lack of session state. (Server memory: not required.)", resourceSummary(r))
	w.row("Scalability", "Requires session data synchronization, complicating horizontal scaling.", "Straightforward horizontal scaling, as no session data is stored.", scaleSummary(r))
	w.row("Load balancing", "Requires session affinity (sticky sessions) for consistent state access.", "Simplified, as any server can handle any request.", lbSummary(r))
	w.row("Fault tolerance", "Server failure affects sessions stored on that server, requiring replication.", "Failures are isolated, impacting only individual requests.", faultSummary(r))
	w.row("Logout control", "Easy.", "Hard.", logoutSummary(r))
	w.row("Caching strategies", "Complex due to session data dependencies.", "Simplified, as requests are independent.", cachingSummary(r))
}

// sizePhrase is "N B of what", or "what too small to measure".
func sizePhrase(v float64, tooSmall bool, what string) string {
	if tooSmall {
		return what + " too small to measure"
	}
	return f0(v) + " B of " + what
}

func perfSummary(r *Report) string {
	if r.Performance == nil {
		return "not measured"
	}
	var parts []string
	for _, row := range r.Performance.Rows {
		parts = append(parts, fmt.Sprintf("%s %.2fx (CPU %.2fx; %s req/s, p99 %s ms)", row.Mode, row.Ratio, row.CPURatio, f0(row.RPS), f2(row.P99Ms)))
	}
	return fmt.Sprintf("throughput as a ratio to the floor measured alongside (floor %s req/s, p99 %s ms): %s",
		f0(r.Performance.Floor.RPS), f2(r.Performance.Floor.P99Ms), strings.Join(parts, "; "))
}

func resourceSummary(r *Report) string {
	var parts []string
	n := commonSize(r)
	for _, row := range r.Resources {
		if row.Sessions != n {
			continue
		}
		heap := sizePhrase(row.HeapPerSession, row.HeapTooSmall, "heap")
		if row.FilePerSession > 0 || row.FileTooSmall {
			parts = append(parts, fmt.Sprintf("%s %s and %s (its cache) per session", row.Mode, sizePhrase(row.FilePerSession, row.FileTooSmall, "file"), heap))
		} else {
			parts = append(parts, fmt.Sprintf("%s %s per %s", row.Mode, heap, kindNoun(row.Kind)))
		}
	}
	if len(parts) == 0 {
		return "not measured"
	}
	return fmt.Sprintf("with %s active: ", fmtCount(n)) + strings.Join(parts, "; ")
}

// commonSize is the largest number of active sessions (or tokens) measured for every mode.
func commonSize(r *Report) int {
	count := map[int]int{}
	modes := map[string]bool{}
	for _, row := range r.Resources {
		count[row.Sessions]++
		modes[row.Mode] = true
	}
	best := 0
	for n, c := range count {
		if c == len(modes) {
			best = max(best, n)
		}
	}
	return best
}

func scaleSummary(r *Report) string {
	var parts []string
	for _, row := range r.Scale {
		if row.Instances == 3 && row.Balancing != "non-sticky" {
			one := findScale(r, row.Mode, 1, row.Balancing)
			parts = append(parts, fmt.Sprintf("%s 3 instances %s req/s vs 1 instance %s", row.Mode, f0(row.RPS), f0(one)))
		}
	}
	if len(parts) == 0 {
		return "not measured"
	}
	return strings.Join(parts, "; ") + " (all instances share this machine's CPUs: extra instances add no capacity here; what matters is which requests fail, see load balancing)"
}

func findScale(r *Report, mode string, k int, bal string) float64 {
	for _, row := range r.Scale {
		if row.Mode == mode && row.Instances == k && row.Balancing == bal {
			return row.RPS
		}
	}
	return 0
}

func lbSummary(r *Report) string {
	var parts []string
	for _, row := range r.Scale {
		if row.Instances == 3 && row.Balancing != "sticky" {
			parts = append(parts, fmt.Sprintf("%s %s refused with %s balancing", row.Mode, pct(row.FailureRate), row.Balancing))
		}
	}
	if len(parts) == 0 {
		return "not measured"
	}
	return "3 instances, client-side round robin: " + strings.Join(parts, "; ") + "; with sticky sessions every mode: 0 refused"
}

func faultSummary(r *Report) string {
	var parts []string
	for _, row := range r.Fault {
		s := fmt.Sprintf("%s: %d requests failed, %d refused after the kill", row.Mode, row.Errors, row.Rejected-row.RejectedBefore)
		if row.Kind == KindSession {
			s += fmt.Sprintf(", %d of %d sessions lost", row.LostSessions, row.SessionsOnKilled)
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "not measured"
	}
	return "1 of 3 instances killed: " + strings.Join(parts, "; ")
}

func logoutSummary(r *Report) string {
	var parts []string
	for _, l := range r.Logout {
		switch {
		case l.Outcome == "rejected":
			parts = append(parts, fmt.Sprintf("%s (%s) rejected after p99 %s ms", l.Mode, l.Scope, f3(l.P99Ms)))
		case l.Outcome == "until expiry":
			parts = append(parts, fmt.Sprintf("%s (%s) valid until expiry", l.Mode, l.Scope))
		}
	}
	if len(parts) == 0 {
		return "not measured"
	}
	return strings.Join(parts, "; ")
}

func cachingSummary(r *Report) string {
	var parts []string
	for _, mode := range growthModes(r) {
		first, last := growthEnds(r, mode)
		if first == nil || last == nil || first == last {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s req/s at %s, %s at %s (%.2fx; CPU %s → %s µs/req)", mode, f0(first.RPS), fmtCount(first.Sessions),
			f0(last.RPS), fmtCount(last.Sessions), last.RPS/first.RPS, f2(first.CPUPerReqUs), f2(last.CPUPerReqUs)))
	}
	if len(parts) == 0 {
		return "not measured"
	}
	return "gatehouse caches both sides (sessions: exact in-process cache of SQLite, bounded at 512 MiB of heap by default, which holds every session measured here; tokens: verified-token cache, 100k); lookup throughput as the working set outgrows them: " + strings.Join(parts, "; ")
}

func growthModes(r *Report) []string {
	var out []string
	seen := map[string]bool{}
	for _, g := range r.Growth {
		if !seen[g.Mode] {
			seen[g.Mode] = true
			out = append(out, g.Mode)
		}
	}
	return out
}

func growthEnds(r *Report, mode string) (first, last *GrowthRow) {
	for i := range r.Growth {
		g := &r.Growth[i]
		if g.Mode != mode {
			continue
		}
		if first == nil {
			first = g
		}
		last = g
	}
	return first, last
}
