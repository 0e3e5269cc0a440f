package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Report is everything one run measured. It is written as report.json; report.md renders it.
type Report struct {
	Date     string     `json:"date"`
	Command  string     `json:"command"`
	Quick    bool       `json:"quick"`
	Elapsed  string     `json:"elapsed"`
	Machine  Machine    `json:"machine"`
	Settings Settings   `json:"settings"`
	Modes    []ModeInfo `json:"modes"`

	Performance *Performance  `json:"performance"`
	Resources   []ResourceRow `json:"resources"`
	Growth      []GrowthRow   `json:"growth"`
	// GrowthSkipped lists the sizes left out because filling them would take too long.
	GrowthSkipped []string `json:"growth_skipped"`
	// VerifyUs is one Ed25519 verification on this machine, in µs (verifyCost): what a token
	// request costs beyond the verified-token cache.
	VerifyUs float64     `json:"ed25519_verify_us,omitempty"`
	Logout   []LogoutRow `json:"logout"`
	Scale    []ScaleRow  `json:"scale"`
	Fault    []FaultRow  `json:"fault"`
	Login    *LoginCost  `json:"login"`
	Peer     *Peer       `json:"peer"`

	Targets  []Target `json:"targets"`
	Problems []string `json:"problems"`
	// NotRun names the phases left out of this run (--phases).
	NotRun []string `json:"phases_not_run,omitempty"`
	Charts []string `json:"charts"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs        int    `json:"cpus"`
	CPUModel    string `json:"cpu_model"`
	Memory      int64  `json:"memory_bytes"`
	Kernel      string `json:"kernel"`
	OS          string `json:"os"`
	Go          string `json:"go"`
	LoadAverage string `json:"load_average_at_start"`
	// LoadAverageEnd is the load average when the run ended.
	LoadAverageEnd string `json:"load_average_at_end,omitempty"`
}

// Settings are the run's parameters.
type Settings struct {
	DurationS   float64 `json:"duration_s"`
	Connections int     `json:"connections"`
	Sizes       []int   `json:"sizes"`
	Pool        int     `json:"credential_pool"`
	Rounds      int     `json:"rounds"`
	Trials      int     `json:"revocation_trials"`
}

// ModeInfo says whether a mode ran.
type ModeInfo struct {
	Name        string `json:"name"`
	Kind        Kind   `json:"kind"`
	Summary     string `json:"summary"`
	Available   bool   `json:"available"`
	Unavailable string `json:"unavailable,omitempty"`
}

// LoadFigures are the figures of one load: accepted answers per second, latency percentiles
// of the accepted answers, and the CPU time the server(s) spent per accepted answer.
type LoadFigures struct {
	RPS         float64   `json:"rps"`
	P50Ms       float64   `json:"p50_ms"`
	P99Ms       float64   `json:"p99_ms"`
	P999Ms      float64   `json:"p999_ms"`
	Requests    uint64    `json:"requests"`
	Failed      uint64    `json:"failed"`
	CPUPerReqUs float64   `json:"cpu_per_request_us"`
	Dist        []float64 `json:"latency_ms_at"` // at distQuantiles
}

// Performance is GET /api/protected per mode against the floor.
type Performance struct {
	Rounds      int     `json:"rounds"`
	Slices      int     `json:"slices"`
	Connections int     `json:"connections"`
	DurationS   float64 `json:"duration_s"`
	Pool        int     `json:"credential_pool"`
	// Pinning says how servers and load generator shared the CPUs.
	Pinning   string      `json:"pinning,omitempty"`
	Floor     LoadFigures `json:"floor"`
	Rows      []PerfRow   `json:"modes"`
	Quantiles []float64   `json:"quantiles"`
}

// PerfRow is one mode's performance; Ratio is the median over the rounds of its throughput
// divided by the floor's, measured right before it.
type PerfRow struct {
	Mode string `json:"mode"`
	Kind Kind   `json:"kind"`
	LoadFigures
	FloorRPS float64 `json:"floor_rps"`
	Ratio    float64 `json:"ratio_to_floor"`
	// CPURatio is the floor's CPU time per request divided by the mode's (paired, median over
	// the rounds): the throughput ratio the mode would reach if the server alone had the CPUs.
	CPURatio float64 `json:"cpu_ratio_to_floor"`
	// SameBytesRPS is the throughput of the mode's same-bytes floor (SameBytesHandler: the
	// mode's exact answer to the same requests, without authentication); SameBytesRatio and
	// SameBytesCPURatio are the mode's throughput and CPU ratios to it, paired like the others.
	SameBytesRPS      float64 `json:"same_bytes_rps,omitempty"`
	SameBytesRatio    float64 `json:"ratio_to_same_bytes,omitempty"`
	SameBytesCPURatio float64 `json:"cpu_ratio_to_same_bytes,omitempty"`
}

// ResourceRow is the server-side cost of n active sessions (or tokens) of a mode, per session:
// the live Go heap, the resident set size, and for SQLite the database file.
type ResourceRow struct {
	Mode           string  `json:"mode"`
	Kind           Kind    `json:"kind"`
	Sessions       int     `json:"sessions"`
	HeapPerSession float64 `json:"heap_bytes_per_session"`
	HeapSettled    bool    `json:"heap_settled"`
	RSSPerSession  float64 `json:"rss_bytes_per_session"`
	FilePerSession float64 `json:"file_bytes_per_session"`
	// RedisPerSession is the growth of Redis's used_memory per session (Redis modes).
	RedisPerSession float64 `json:"redis_bytes_per_session,omitempty"`
	RedisTooSmall   bool    `json:"redis_too_small_to_measure,omitempty"`
	// HeapTooSmall, RSSTooSmall and FileTooSmall say that the growth was too small to measure
	// (perSession): the figure beside it is 0, not a measurement.
	HeapTooSmall bool `json:"heap_too_small_to_measure,omitempty"`
	RSSTooSmall  bool `json:"rss_too_small_to_measure,omitempty"`
	FileTooSmall bool `json:"file_too_small_to_measure,omitempty"`
}

// sizeText is a per-session figure for the report: its bytes, or "too small to measure".
func sizeText(v float64, tooSmall bool) string {
	if tooSmall {
		return "too small to measure"
	}
	return f0(v)
}

// GrowthRow is the lookup throughput of a mode with n active sessions (or distinct tokens).
type GrowthRow struct {
	Mode     string `json:"mode"`
	Kind     Kind   `json:"kind"`
	Sessions int    `json:"sessions"`
	// Warmed is how many credentials were used once before the measurement (all of them unless
	// the pass ran out of time).
	Warmed uint64 `json:"warmed"`
	LoadFigures
}

// LogoutRow is how long a revoked session or token kept working, seen from Scope.
type LogoutRow struct {
	Mode             string  `json:"mode"`
	Kind             Kind    `json:"kind"`
	Scope            string  `json:"scope"`
	Trials           int     `json:"trials"`
	P50Ms            float64 `json:"p50_ms"`
	P99Ms            float64 `json:"p99_ms"`
	MaxMs            float64 `json:"max_ms"`
	AcceptedAfterAck int     `json:"accepted_after_ack"`
	NeverRejected    int     `json:"never_rejected"`
	Outcome          string  `json:"outcome"`
	Note             string  `json:"note,omitempty"`
}

// ScaleRow is k instances of a mode behind the client-side round robin.
type ScaleRow struct {
	Mode      string `json:"mode"`
	Kind      Kind   `json:"kind"`
	Instances int    `json:"instances"`
	Balancing string `json:"balancing"`
	LoadFigures
	AnsweredRPS float64 `json:"answered_rps"`
	FailureRate float64 `json:"failure_rate"`
	Rejected    uint64  `json:"rejected"`
	Errors      uint64  `json:"errors"`
	Note        string  `json:"note,omitempty"`
}

// FaultRow is one mode on three instances, one of them killed during the load.
type FaultRow struct {
	Mode      string  `json:"mode"`
	Kind      Kind    `json:"kind"`
	Instances int     `json:"instances"`
	KilledAtS float64 `json:"killed_at_s"`
	LoadFigures
	Errors                uint64 `json:"errors"`
	Rejected              uint64 `json:"rejected"`
	RejectedBefore        uint64 `json:"rejected_before_kill"`
	SessionsOnKilled      int    `json:"sessions_on_killed"`
	LostSessions          int    `json:"lost_sessions"`
	RecoveredAfterRestart int    `json:"recovered_after_restart"`
	Note                  string `json:"note,omitempty"`
}

// LoginCost is the price of password logins with the production parameters.
type LoginCost struct {
	Params string     `json:"params"`
	Rows   []LoginRow `json:"levels"`
}

// LoginRow is one level of concurrency.
type LoginRow struct {
	Concurrency int `json:"concurrency"`
	LoadFigures
	Unavailable uint64 `json:"answered_503"`
	StartRSS    int64  `json:"start_rss_bytes"`
	PeakRSS     int64  `json:"peak_rss_bytes"`
	// FloorRate is bare argon2id hashes per second with one worker per CPU (hashfloor.go),
	// measured in slices alternating with the logins; Ratio is logins/s over it.
	FloorRate float64 `json:"bare_hashes_per_s,omitempty"`
	Ratio     float64 `json:"ratio_to_bare_hashes,omitempty"`
}

// Peer is an Express + jsonwebtoken server against gatehouse.
type Peer struct {
	Unavailable string    `json:"unavailable,omitempty"`
	Rows        []PeerRow `json:"servers"`
}

// PeerRow is one Express variant and gatehouse measured right after it.
type PeerRow struct {
	Name          string      `json:"name"`
	Server        string      `json:"server"`
	Peer          LoadFigures `json:"peer"`
	GatehouseMode string      `json:"gatehouse_mode"`
	Gatehouse     LoadFigures `json:"gatehouse"`
	Ratio         float64     `json:"ratio"`
}

// Target is one of gatehouse's performance targets, with what was measured.
type Target struct {
	Name     string `json:"name"`
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	Status   string `json:"status"` // "met", "missed", "not measured"
	Note     string `json:"note,omitempty"`
}

func newReport(o *Options) *Report {
	r := &Report{
		Date: time.Now().UTC().Format(time.RFC3339), Command: o.Command, Quick: o.Quick, Machine: machine(),
		Settings: Settings{DurationS: o.Duration.Seconds(), Connections: o.Connections, Sizes: o.Sizes},
	}
	return r
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// finish evaluates the targets.
func (r *Report) finish() {
	if r.Performance != nil {
		r.Performance.Quantiles = distQuantiles
		r.Settings.Pool, r.Settings.Rounds = r.Performance.Pool, r.Performance.Rounds
	}
	for _, l := range r.Logout {
		if l.Scope == "same instance" {
			r.Settings.Trials = l.Trials
			break
		}
	}
	r.Targets = append(r.Targets, r.floorTarget(), r.sameBytesTarget(), r.loginTarget(), r.peerTarget(), r.revocationTarget(), r.redisTarget(), r.sizeTarget(), r.beyondCachesTarget())
}

func status(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

func (r *Report) floorTarget() Target {
	t := Target{Name: "performance", Goal: "every mode >= 0.85x the floor (a bare net/http handler)", Status: "not measured"}
	if r.Performance == nil || len(r.Performance.Rows) == 0 {
		return t
	}
	worst := r.Performance.Rows[0]
	for _, row := range r.Performance.Rows {
		if row.Ratio < worst.Ratio {
			worst = row
		}
	}
	t.Measured = fmt.Sprintf("lowest: %s at %.3fx", worst.Mode, worst.Ratio)
	t.Status = status(worst.Ratio >= 0.85)
	var missed []string
	for _, row := range r.Performance.Rows {
		if row.Ratio < 0.85 {
			missed = append(missed, fmt.Sprintf("%s %.3fx", row.Mode, row.Ratio))
		}
	}
	if len(missed) > 0 {
		t.Note = "below target: " + strings.Join(missed, ", ")
	}
	return t
}

// sameBytesGoal is the lowest ratio of a mode to its same-bytes floor that the bench accepts
// as "authentication costs little": warm caches, the same bytes in and out.
const sameBytesGoal = 0.95

func (r *Report) sameBytesTarget() Target {
	t := Target{Name: "same bytes", Goal: fmt.Sprintf("every mode >= %.2fx its same-bytes floor (the same answer from a bare handler)", sameBytesGoal), Status: "not measured"}
	if r.Performance == nil {
		return t
	}
	var worst *PerfRow
	var missed []string
	for i, row := range r.Performance.Rows {
		if row.SameBytesRatio == 0 {
			continue
		}
		if worst == nil || row.SameBytesRatio < worst.SameBytesRatio {
			worst = &r.Performance.Rows[i]
		}
		if row.SameBytesRatio < sameBytesGoal {
			missed = append(missed, fmt.Sprintf("%s %.3fx", row.Mode, row.SameBytesRatio))
		}
	}
	if worst == nil {
		return t
	}
	t.Measured = fmt.Sprintf("lowest: %s at %.3fx", worst.Mode, worst.SameBytesRatio)
	t.Status = status(len(missed) == 0)
	if len(missed) > 0 {
		t.Note = "below target: " + strings.Join(missed, ", ")
	}
	return t
}

// loginGoal is the lowest ratio of logins per second to bare argon2id hashes per second (with
// as many clients as CPUs or more) that the bench accepts.
const loginGoal = 0.9

func (r *Report) loginTarget() Target {
	t := Target{Name: "logins", Goal: fmt.Sprintf("logins/s >= %.1fx bare argon2id hashes/s at 8 and 64 clients", loginGoal), Status: "not measured"}
	if r.Login == nil {
		return t
	}
	var parts []string
	ok, found := true, false
	for _, row := range r.Login.Rows {
		if row.Concurrency < 8 || row.Ratio == 0 {
			continue
		}
		found = true
		ok = ok && row.Ratio >= loginGoal
		parts = append(parts, fmt.Sprintf("%d clients %.2fx", row.Concurrency, row.Ratio))
	}
	if found {
		t.Measured, t.Status = strings.Join(parts, ", "), status(ok)
	}
	return t
}

func (r *Report) peerTarget() Target {
	t := Target{Name: "peer", Goal: ">= 30x an Express + jsonwebtoken server on /api/protected", Status: "not measured"}
	if r.Peer == nil || len(r.Peer.Rows) == 0 {
		if r.Peer != nil {
			t.Note = r.Peer.Unavailable
		}
		return t
	}
	row := r.Peer.Rows[0]
	t.Measured = fmt.Sprintf("%.1fx (%s %s req/s against %s req/s)", row.Ratio, row.GatehouseMode, f0(row.Gatehouse.RPS), f0(row.Peer.RPS))
	t.Status = status(row.Ratio >= 30)
	if len(r.Peer.Rows) > 1 {
		k := r.Peer.Rows[1]
		t.Note = fmt.Sprintf("against the one-line KeyObject variant: %.1fx", k.Ratio)
	}
	return t
}

func (r *Report) revocationTarget() Target {
	t := Target{Name: "logout control", Goal: "revocation p99 < 10 ms across instances", Status: "not measured"}
	same, across, found, crossFound := 0.0, 0.0, false, false
	var elsewhere []string
	for _, l := range r.Logout {
		switch {
		case l.Scope == "same instance" && l.Outcome == "rejected":
			found, same = true, max(same, l.P99Ms)
		case l.Scope == "another instance" && l.Outcome == "rejected":
			crossFound, across = true, max(across, l.P99Ms)
		case l.Scope == "another instance":
			elsewhere = append(elsewhere, l.Mode+": "+l.Outcome)
		}
	}
	if crossFound {
		t.Measured = fmt.Sprintf("worst p99 %.3f ms on another instance", across)
		t.Status = status(across < 10)
	} else if found {
		t.Measured = fmt.Sprintf("on the revoking instance only: worst p99 %.3f ms", same)
	}
	if len(elsewhere) > 0 {
		t.Note = "modes without a shared store, on another instance: " + strings.Join(elsewhere, ", ")
	}
	return t
}

// redisTarget compares session-redis (client-side cache on) with jwt-eddsa, each as a ratio
// to the floor measured just before it; session-redis-nocache is shown beside them.
func (r *Report) redisTarget() Target {
	t := Target{Name: "Redis sessions", Goal: "stateful with Redis within 5% of stateless JWT", Status: "not measured"}
	redis, jwt := r.perfRow("session-redis"), r.perfRow("jwt-eddsa")
	if redis == nil || jwt == nil || jwt.Ratio <= 0 {
		t.Note = "needs the session-redis and jwt-eddsa modes"
		return t
	}
	rel := redis.Ratio / jwt.Ratio
	t.Measured = fmt.Sprintf("session-redis %.3fx the floor, jwt-eddsa %.3fx: %.1f%% of JWT", redis.Ratio, jwt.Ratio, 100*rel)
	t.Status = status(rel >= 0.95)
	if nc := r.perfRow("session-redis-nocache"); nc != nil {
		t.Note = fmt.Sprintf("without the client-side cache (session-redis-nocache): %.3fx the floor", nc.Ratio)
	}
	return t
}

// perfRow returns the performance row of mode, or nil.
func (r *Report) perfRow(mode string) *PerfRow {
	if r.Performance == nil {
		return nil
	}
	for i := range r.Performance.Rows {
		if r.Performance.Rows[i].Mode == mode {
			return &r.Performance.Rows[i]
		}
	}
	return nil
}

func (r *Report) sizeTarget() Target {
	t := Target{Name: "resource usage", Goal: "<= 256 B per session", Status: "not measured"}
	var parts []string
	ok, found := true, false
	for _, row := range r.Resources {
		if row.Kind != KindSession || row.Sessions < 10_000 && !r.Quick {
			continue
		}
		v, small := row.HeapPerSession, row.HeapTooSmall
		what := "heap"
		switch {
		case row.FilePerSession > 0 || row.FileTooSmall:
			v, small, what = row.FilePerSession, row.FileTooSmall, "file"
		case row.RedisPerSession > 0 || row.RedisTooSmall:
			v, small, what = row.RedisPerSession, row.RedisTooSmall, "Redis used_memory"
		}
		if small {
			parts = append(parts, fmt.Sprintf("%s at %s: too small to measure (%s)", row.Mode, fmtCount(row.Sessions), what))
			continue
		}
		found = true
		ok = ok && v <= 256
		parts = append(parts, fmt.Sprintf("%s at %s: %.0f B (%s)", row.Mode, fmtCount(row.Sessions), v, what))
	}
	if found {
		t.Measured = strings.Join(parts, ", ")
		t.Status = status(ok)
	}
	return t
}

// Rerender reads report.json in dir and writes report.md (and report.json) again with this
// version's texts: the mode summaries and the targets are recomputed from the measured figures,
// which stay as they were. The charts are left alone.
func Rerender(dir string) error {
	raw, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		return err
	}
	var r Report
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, "report.json"), err)
	}
	for i, m := range r.Modes {
		if mode := findMode(m.Name); mode != nil {
			r.Modes[i].Summary = mode.Summary
		}
	}
	if r.Peer != nil {
		for i, row := range r.Peer.Rows {
			for _, v := range expressVariants {
				if v.file == row.Server {
					r.Peer.Rows[i].Name = v.label
				}
			}
		}
	}
	r.Targets = nil
	r.finish()
	if err := writeJSON(filepath.Join(dir, "report.json"), &r); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(renderMarkdown(&r)), 0o644)
}
