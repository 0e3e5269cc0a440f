package bench

import (
	"fmt"
	"strings"
)

func (w *md) performance(r *Report) {
	w.h2("Performance")
	p := r.Performance
	if p == nil {
		w.p("Not measured.")
		return
	}
	w.p("GET /api/protected with a credential drawn at random from a pool of %s per mode, %d connections, %gs per mode and round, %d round(s). Each mode is measured against two floors in %d alternating slices (hello, same bytes, mode, hello, ...), so that whatever else the machine does weighs on all alike: the plain floor (a bare net/http handler answering \"hello\", `gatehouse-bench floor`) and the mode's **same-bytes floor** (`gatehouse-bench floor --response`), a bare handler that answers exactly the status, headers and body the mode answered, to the same requests (credential header included, unread). The ratio to the same-bytes floor is the cost of authentication itself; the ratio to hello adds the cost of a larger request and answer. Ratios are medians over the rounds of mode req/s divided by floor req/s. CPU is the server process's user+system time (from /proc) per accepted request. CPUs: %s.\n",
		fmtCount(p.Pool), p.Connections, p.DurationS, p.Rounds, p.Slices, orText(p.Pinning, "not recorded"))
	w.head("mode", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "CPU µs/req", "no answer", "same-bytes floor req/s", "ratio to same bytes", "CPU ratio to same bytes", "hello floor req/s", "ratio to hello", "CPU ratio to hello")
	w.row("floor (hello)", f0(p.Floor.RPS), f3(p.Floor.P50Ms), f3(p.Floor.P99Ms), f3(p.Floor.P999Ms), f2(p.Floor.CPUPerReqUs), fmt.Sprint(p.Floor.Failed), "", "", "", "", "1.00x", "1.00x")
	for _, row := range p.Rows {
		same := "not measured"
		if row.SameBytesRatio > 0 {
			same = fmt.Sprintf("%.2fx", row.SameBytesRatio)
			if row.SameBytesRatio < sameBytesGoal {
				same = fmt.Sprintf("**%.3fx** (target %.2fx)", row.SameBytesRatio, sameBytesGoal)
			}
		}
		ratio := fmt.Sprintf("%.2fx", row.Ratio)
		if row.Ratio < 0.85 {
			ratio = fmt.Sprintf("**%.3fx** (target 0.85x)", row.Ratio)
		}
		w.row(row.Mode, f0(row.RPS), f3(row.P50Ms), f3(row.P99Ms), f3(row.P999Ms), f2(row.CPUPerReqUs), fmt.Sprint(row.Failed),
			f0(row.SameBytesRPS), same, fmt.Sprintf("%.2fx", row.SameBytesCPURatio), f0(row.FloorRPS), ratio, fmt.Sprintf("%.2fx", row.CPURatio))
	}
	w.p("\nThe CPU ratio is the floor's server CPU time per request divided by the mode's: what the throughput ratio would be if the server had the CPUs to itself (here the load generator takes a large share of them, which pulls every throughput ratio towards 1).")
	w.p("\nThe token modes are served from gatehouse's verified-token cache here (the pool fits in it): the signature is checked once per token. Their cost without the cache shows in the cost-growth table below, at sizes beyond the cache.")
}

func (w *md) resources(r *Report) {
	w.h2("Resource usage")
	if len(r.Resources) == 0 {
		w.p("Not measured.")
		return
	}
	w.p("Server-side cost per active session (token modes: per distinct token in use). Heap: the live Go heap of the server (the smallest `go_memstats_heap_alloc_bytes` scraped after a garbage collection) minus the same figure before the sessions existed, divided by their number (these instances run with `--gc-heap-floor 0`, so that the scrapes drive collections); RSS: the same with the resident set size, which includes the garbage collector's headroom; file: growth of the SQLite database file; Redis: growth of Redis's `used_memory` (the Redis modes; the instance's heap then holds its client-side cache). Sessions of the memory store are made by real logins (argon2id at its lowest cost); SQLite sessions are written through the store API (`session.Manager.Create`, what a login does after the password check) into the database file while the server is stopped; tokens are signed with the instance's own key file. Every session carries the bench's short user agent and 127.0.0.1.\n")
	w.head("mode", "active", "heap B/session", "RSS B/session", "file B/session", "Redis B/session", "heap figure")
	for _, row := range r.Resources {
		settled := "after a GC"
		if !row.HeapSettled {
			settled = "no GC seen: includes garbage"
		}
		file := ""
		if row.FilePerSession > 0 || row.FileTooSmall {
			file = sizeText(row.FilePerSession, row.FileTooSmall)
		}
		red := ""
		if row.RedisPerSession > 0 || row.RedisTooSmall {
			red = sizeText(row.RedisPerSession, row.RedisTooSmall)
		}
		w.row(row.Mode, fmtCount(row.Sessions), sizeText(row.HeapPerSession, row.HeapTooSmall), sizeText(row.RSSPerSession, row.RSSTooSmall), file, red, settled)
	}
	w.p("\nSQLite's heap figure also holds gatehouse's session cache (bounded at 512 MiB by default, which holds every session measured here); token modes hold their verified-token cache (up to 100,000 tokens) and the revocation mirror. Stateless does not mean free of server memory when the server caches verifications.")
	w.p("\n### Cost growth with the number of sessions\n")
	w.p("Lookup throughput of GET /api/protected with credentials drawn at random from all the active ones (half-length loads), after a pass that used every active credential once (as each user would have): the caches hold what fits in them, and the last-seen times that a session's first request after a minute writes are fresh.\n")
	w.head("mode", "active", "used once before", "req/s", "p50 ms", "p99 ms", "CPU µs/req", "req/s vs smallest", "CPU/req vs smallest")
	for _, g := range r.Growth {
		first, _ := growthEnds(r, g.Mode)
		w.row(g.Mode, fmtCount(g.Sessions), fmtCount(int(g.Warmed)), f0(g.RPS), f3(g.P50Ms), f3(g.P99Ms), f2(g.CPUPerReqUs),
			fmt.Sprintf("%.2fx", g.RPS/first.RPS), ratioOrDash(g.CPUPerReqUs, first.CPUPerReqUs))
	}
	w.p("\nOn a busy machine the server's CPU time per request is the steadier of the two figures: it does not count the time the server waited for a CPU.")
	if r.VerifyUs > 0 {
		w.p("\nBeyond the verified-token cache (100,000 tokens), a token request costs what a cached one costs plus one Ed25519 verification: %.1f µs on one core of this machine, measured by the bench itself. The limit of jwt-eddsa at a size is therefore its CPU per request at the smallest size plus %.1f µs; the targets above compare the largest size with it.", r.VerifyUs, r.VerifyUs)
	}
	if len(r.GrowthSkipped) > 0 {
		w.p("\nLeft out in this run:\n")
		for _, s := range r.GrowthSkipped {
			w.p("- %s", s)
		}
	}
}

func ratioOrDash(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

func (w *md) scalability(r *Report) {
	w.h2("Scalability")
	if len(r.Scale) == 0 {
		w.p("Not measured.")
		return
	}
	w.p("1, 2 and 3 instances of each mode, each with its own data directory (token instances share the signing keys), behind the **bench's own client-side round robin** (each connection is assigned an instance; no nginx). All instances and the load generator share this machine's %d CPUs, so more instances cannot mean more capacity here: the figure shows what the extra processes cost, and the next section shows what breaks.\n", r.Machine.CPUs)
	w.head("mode", "instances", "balancing", "req/s accepted", "p99 ms", "refused", "note")
	for _, row := range r.Scale {
		w.row(row.Mode, fmt.Sprint(row.Instances), row.Balancing, f0(row.RPS), f3(row.P99Ms), pct(row.FailureRate), orDash(row.Note))
	}
}

func (w *md) loadBalancing(r *Report) {
	w.h2("Load balancing")
	w.p("Sticky: a client's requests always reach the instance that created its session. Non-sticky: any request may reach any instance (each connection uses the sessions of every instance). Tokens need no affinity.\n")
	w.head("mode", "instances", "balancing", "refused", "answers/s (accepted or not)")
	n := 0
	for _, row := range r.Scale {
		if row.Instances < 2 {
			continue
		}
		n++
		w.row(row.Mode, fmt.Sprint(row.Instances), row.Balancing, pct(row.FailureRate), f0(row.AnsweredRPS))
	}
	if n == 0 {
		w.p("Not measured.")
	}
	shared := "A shared store (Redis) removes the need for affinity: no Redis mode ran."
	if ranMode(r, "session-redis") || ranMode(r, "session-redis-nocache") {
		shared = "A shared store removes the need for affinity: the session-redis rows above, where every instance reads the same Redis."
	}
	w.p("\nWhat breaks for the memory store (and for SQLite, a single-node store, with one file per instance) without affinity: a session exists only on the instance that created it, so with n instances about (n-1)/n of the requests are refused with 401 `session_expired`. " + shared)
}

func (w *md) fault(r *Report) {
	w.h2("Fault tolerance")
	if len(r.Fault) == 0 {
		w.p("Not measured.")
		return
	}
	w.p("Three instances, client-side round robin with session affinity and failover (a connection whose instance refuses connections moves to a live one, keeping its users' credentials); one instance is killed with SIGKILL a third of the way into the load. \"Failed\" are requests that got no answer (in flight on the killed instance, or refused connections); \"refused\" are 401 answers from the survivors to the moved users. Lost sessions: sessions created on the killed instance that a survivor refuses afterwards; back after restart: those the killed instance accepts again once restarted on its data directory.\n")
	w.head("mode", "requests", "failed (no answer)", "refused after the kill", "sessions on the killed instance", "lost", "back after restart", "note")
	for _, row := range r.Fault {
		sess, lost, back := "-", fmt.Sprint(row.LostSessions), "-"
		if row.Kind == KindSession {
			sess = fmt.Sprint(row.SessionsOnKilled)
			back = fmt.Sprint(row.RecoveredAfterRestart)
		} else {
			lost = fmt.Sprintf("%d tokens refused", row.LostSessions)
		}
		w.row(row.Mode, fmtCount(int(row.Requests)), fmtCount(int(row.Errors)), fmtCount(int(row.Rejected-row.RejectedBefore)), sess, lost, back, orDash(row.Note))
	}
}

func (w *md) logout(r *Report) {
	w.h2("Logout control")
	if len(r.Logout) == 0 {
		w.p("Not measured.")
		return
	}
	w.p("A client sends GET /api/protected back to back on its own connection; another sends POST /api/logout with the same credential. The delay runs from sending the logout to the first refused answer; \"accepted after the logout answered\" counts requests sent after the logout's 204 that were still accepted (it must be 0). \"Verifier with the public keys only\" is a plain JWT set-up: a service that checks the signature and nothing else.\n")
	w.head("mode", "seen from", "trials", "outcome", "p50 ms", "p99 ms", "max ms", "accepted after the logout answered", "note")
	for _, l := range r.Logout {
		p50, p99, mx := "-", "-", "-"
		if l.Outcome == "rejected" || l.Outcome == "partly" {
			p50, p99, mx = f3(l.P50Ms), f3(l.P99Ms), f3(l.MaxMs)
		}
		w.row(l.Mode, l.Scope, fmt.Sprint(l.Trials), l.Outcome, p50, p99, mx, fmt.Sprint(l.AcceptedAfterAck), orDash(l.Note))
	}
}

func (w *md) caching(r *Report) {
	w.h2("Caching")
	w.p("The usual claim: caching is complex for sessions and simple for tokens. gatehouse caches on both sides, in process: an exact session cache for SQLite (only correct because one process owns the file; every revocation goes through it) and a verified-token cache keyed by the exact token string (a revocation is still checked on every request, from the in-process revocation mirror). The cost-growth table shows each cache's effect: the verified-token cache holds 100,000 tokens, and beyond that most token lookups are misses that cost a signature verification; the session cache is bounded by memory and holds every session measured here, so what grows for session-sqlite is the writing of last-seen times, at most once a minute per session in use (BENCHMARKS.md, \"SQLite sessions among a million\").\n")
	w.head("mode", "smallest size", "req/s", "CPU µs/req", "largest size", "req/s", "CPU µs/req", "req/s ratio")
	for _, mode := range growthModes(r) {
		first, last := growthEnds(r, mode)
		w.row(mode, fmtCount(first.Sessions), f0(first.RPS), f2(first.CPUPerReqUs), fmtCount(last.Sessions), f0(last.RPS), f2(last.CPUPerReqUs), fmt.Sprintf("%.2fx", last.RPS/first.RPS))
	}
	if ranMode(r, "session-redis") && ranMode(r, "session-redis-nocache") {
		w.p("\nRedis with and without client-side caching: session-redis answers hot sessions from the instance's memory (rueidis client-side caching; Redis invalidates a cached key on every instance when any instance writes it), so it costs no round trip until the working set outgrows the cache; session-redis-nocache makes a Redis round trip on every request, whatever the size.")
	} else {
		w.p("\nRedis with and without client-side caching: not measured in this run (session-redis and session-redis-nocache did not both run).")
	}
}

// ranMode reports whether the mode was measured in r.
func ranMode(r *Report, name string) bool {
	for _, m := range r.Modes {
		if m.Name == name {
			return m.Unavailable == ""
		}
	}
	return false
}

func (w *md) login(r *Report) {
	w.h2("Login cost")
	if r.Login == nil {
		w.p("Not measured.")
		return
	}
	w.p("POST /api/login (mode token) with the production password hashing, %s, on a fresh instance per level. 503 answers are logins refused by the bounded hashing queue (the server protects its memory instead of queueing without limit). The floor is bare argon2id hashes with the same parameters on one worker per CPU in the bench process (no HTTP, JSON, user lookup or token), measured in slices alternating with the logins: a login cannot be faster than its hash, so the ratio is what the rest of a login costs.\n", r.Login.Params)
	w.head("concurrent clients", "logins/s", "bare hashes/s (paired)", "ratio to bare hashes", "p50 ms", "p99 ms", "answered 503", "RSS at start", "peak RSS")
	for _, row := range r.Login.Rows {
		ratio := "not measured"
		if row.Ratio > 0 {
			ratio = fmt.Sprintf("%.2fx", row.Ratio)
			if row.Ratio < loginGoal && row.Concurrency > 1 {
				ratio = fmt.Sprintf("**%.3fx** (target %.1fx)", row.Ratio, loginGoal)
			}
		}
		w.row(fmt.Sprint(row.Concurrency), fmt.Sprintf("%.1f", row.RPS), fmt.Sprintf("%.1f", row.FloorRate), ratio, f2(row.P50Ms), f2(row.P99Ms), fmt.Sprint(row.Unavailable), fmtBytes(float64(row.StartRSS)), fmtBytes(float64(row.PeakRSS)))
	}
}

func (w *md) peer(r *Report) {
	w.h2("Peer: an Express server")
	if r.Peer == nil {
		w.p("Not measured.")
		return
	}
	if r.Peer.Unavailable != "" {
		w.p("Not measured: %s.", r.Peer.Unavailable)
		return
	}
	w.p("A minimal Express + jsonwebtoken server, the textbook stateless example in Node (one user, HS256; a temporary copy of the --express-peer folder, `npm install`, run with node; the only change is its listen line: a free port on 127.0.0.1), and gatehouse's jwt-hs256 mode (the same algorithm), each measured with one token, the same load generator and settings, one right after the other.\n")
	w.head("server", "req/s", "p50 ms", "p99 ms", "CPU µs/req", "gatehouse jwt-hs256 req/s", "gatehouse p99 ms", "ratio")
	for _, row := range r.Peer.Rows {
		w.row(row.Name, f0(row.Peer.RPS), f3(row.Peer.P50Ms), f3(row.Peer.P99Ms), f2(row.Peer.CPUPerReqUs), f0(row.Gatehouse.RPS), f3(row.Gatehouse.P99Ms), fmt.Sprintf("%.1fx", row.Ratio))
	}
}

func (w *md) charts(r *Report) {
	w.h2("Charts")
	if len(r.Charts) == 0 {
		w.p("None were drawn.")
		return
	}
	for _, c := range r.Charts {
		if strings.HasSuffix(c, ".png") {
			name := strings.TrimSuffix(c, ".png")
			w.p("![%s](%s) (also as [SVG](%s.svg))\n", name, c, name)
		}
	}
}

func (w *md) method(r *Report) {
	w.h2("How it was measured")
	w.WriteString(`- Every server is the real gatehouse binary (` + "`gatehouse serve`" + `) started as a child process on a free 127.0.0.1 port with a temporary data directory, ` + "`--log-level error`" + `, and the lowest argon2id cost (` + "`--argon2-memory 64 --argon2-time 1`" + `) except in the login-cost measurement, which uses the production defaults.
- The load generator is built in: closed loop (each connection sends its next request when the answer to the previous one is read), keep-alive HTTP/1.1 written by hand to keep the client's own cost low, latencies in a log-linear histogram with under 2 % error. It sends traffic to loopback addresses only, and every load is bounded in time.
- Throughput counts 2xx answers only; latency percentiles are over 2xx answers.
- The machine may be shared, the load generator competes with the servers for the same CPUs, and other work may run at the same time: each mode's ratio to the floor comes from alternating slices of the two loads, which cancels most of that drift; absolute numbers move with the machine's load.
- Reproduce with ` + "`gatehouse-bench`" + ` (add ` + "`--quick`" + ` for a tiny run); ` + "`gatehouse-bench --help`" + ` lists the flags.
`)
}

// orText returns s, or alt when s is empty.
func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}
