package bench

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sample is a small report with a row in every section.
func sample() *Report {
	fig := LoadFigures{RPS: 1000, P50Ms: 0.5, P99Ms: 2, P999Ms: 3, Requests: 1000, CPUPerReqUs: 20, Dist: []float64{0.5, 0.6, 0.8, 1, 2, 3, 4}}
	r := &Report{Date: "2026-01-01T00:00:00Z", Command: "gatehouse-bench", Machine: Machine{CPUs: 2},
		Settings: Settings{DurationS: 1, Connections: 8, Sizes: []int{10_000, 100_000}},
		Modes: []ModeInfo{{Name: "session-memory", Kind: KindSession, Available: true},
			{Name: "session-redis", Kind: KindSession, Unavailable: "not available in this build (no redis session store)"},
			{Name: "jwt-eddsa", Kind: KindToken, Available: true}},
		Performance: &Performance{Rounds: 1, Connections: 8, Pool: 10, Floor: fig, Rows: []PerfRow{
			{Mode: "session-memory", Kind: KindSession, LoadFigures: fig, FloorRPS: 1000, Ratio: 0.95, SameBytesRPS: 1000, SameBytesRatio: 0.97},
			{Mode: "jwt-eddsa", Kind: KindToken, LoadFigures: fig, FloorRPS: 1250, Ratio: 0.8, SameBytesRPS: 1100, SameBytesRatio: 0.9}}},
		Resources: []ResourceRow{{Mode: "session-memory", Kind: KindSession, Sessions: 10_000, HeapPerSession: 300, HeapSettled: true},
			{Mode: "session-memory", Kind: KindSession, Sessions: 100_000, HeapPerSession: 290, HeapSettled: true}},
		Growth: []GrowthRow{{Mode: "jwt-eddsa", Sessions: 10_000, LoadFigures: fig}, {Mode: "jwt-eddsa", Sessions: 100_000, LoadFigures: fig}},
		Logout: []LogoutRow{{Mode: "session-memory", Scope: "same instance", Trials: 10, P50Ms: 0.3, P99Ms: 0.9, Outcome: "rejected"},
			{Mode: "jwt-eddsa", Scope: "another instance", Trials: 3, Outcome: "until expiry"},
			{Mode: "jwt-eddsa", Scope: "verifier with the public keys only", Trials: 1, Outcome: "until expiry"}},
		Scale: []ScaleRow{{Mode: "session-memory", Instances: 1, Balancing: "sticky", LoadFigures: fig},
			{Mode: "session-memory", Instances: 3, Balancing: "non-sticky", LoadFigures: fig, FailureRate: 0.66}},
		Fault: []FaultRow{{Mode: "session-memory", Kind: KindSession, Instances: 3, LoadFigures: fig, SessionsOnKilled: 3, LostSessions: 3}},
		Login: &LoginCost{Rows: []LoginRow{{Concurrency: 1, LoadFigures: fig, PeakRSS: 1 << 20}}},
		Peer:  &Peer{Unavailable: "node is not installed"},
	}
	r.finish()
	return r
}

func TestMarkdownHasEverySection(t *testing.T) {
	out := renderMarkdown(sample())
	for _, s := range Sections {
		if !strings.Contains(out, "\n## "+s+"\n") {
			t.Errorf("report.md lacks the section %q", s)
		}
	}
	for _, want := range []string{
		"not available in this build (no redis session store)", // the Redis modes are named
		"**0.800x** (target 0.85x)",                            // a missed target is said so
		"**0.900x** (target 0.95x)",                            // the same-bytes floor too
		"| performance | every mode >= 0.85x the floor",
		"valid until expiry", "66.0% refused with non-sticky balancing", "3 of 3 sessions lost",
		"Not measured: node is not installed.",
		"under 2 % error", // the method text is not a format string
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
}

func TestTargets(t *testing.T) {
	byName := map[string]Target{}
	for _, tg := range sample().Targets {
		byName[tg.Name] = tg
	}
	for name, want := range map[string]string{
		"performance": "missed", "same bytes": "missed", "peer": "not measured", "logout control": "not measured",
		"Redis sessions": "not measured", "resource usage": "missed",
	} {
		if got := byName[name].Status; got != want {
			t.Errorf("target %q: %q, want %q (%+v)", name, got, want, byName[name])
		}
	}
}

func TestWriteChartsAndJSON(t *testing.T) {
	dir := t.TempDir()
	r := sample()
	files, err := writeCharts(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2*len(ChartNames) {
		t.Fatalf("charts %v", files)
	}
	for _, f := range files {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Size() < 1000 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	if err := writeJSON(filepath.Join(dir, "report.json"), r); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || back.Performance.Rows[1].Ratio != 0.8 {
		t.Fatalf("report.json does not read back: %v", err)
	}
}

// TestRevocationTargetAcrossInstances: the target is met or missed only by a mode whose
// instances share their revocations.
func TestRevocationTargetAcrossInstances(t *testing.T) {
	r := sample()
	r.Logout = append(r.Logout, LogoutRow{Mode: "session-redis", Scope: "another instance", Trials: 10, P99Ms: 12, Outcome: "rejected"})
	if tg := r.revocationTarget(); tg.Status != "missed" || !strings.Contains(tg.Measured, "12.000 ms on another instance") {
		t.Fatalf("%+v", tg)
	}
	r.Logout[len(r.Logout)-1].P99Ms = 3
	if tg := r.revocationTarget(); tg.Status != "met" || !strings.Contains(tg.Note, "jwt-eddsa: until expiry") {
		t.Fatalf("%+v", tg)
	}
}

func TestSelectModes(t *testing.T) {
	if ms, err := selectModes(""); err != nil || len(ms) != len(Modes) {
		t.Fatalf("all modes: %d %v", len(ms), err)
	}
	ms, err := selectModes("jwt-eddsa, session-memory")
	if err != nil || len(ms) != 2 || ms[0].Name != "jwt-eddsa" {
		t.Fatalf("%v %v", ms, err)
	}
	if _, err := selectModes("session-carrier-pigeon"); err == nil {
		t.Fatal("an unknown mode was accepted")
	}
	opts := &Options{StoreAvailable: func(s string) bool { return s != "redis" }, Fillers: map[string]Filler{"sqlite": nil}}
	for name, want := range map[string]bool{"session-memory": true, "session-sqlite": true, "jwt-es256": true, "session-redis": false, "session-redis-nocache": false} {
		if got := findMode(name).unavailable(opts) == ""; got != want {
			t.Errorf("%s available: %v, want %v", name, got, want)
		}
	}
	// With Redis on the machine, both Redis modes run.
	opts.StoreAvailable = func(string) bool { return true }
	for _, name := range []string{"session-redis", "session-redis-nocache"} {
		if why := findMode(name).unavailable(opts); why != "" {
			t.Errorf("%s with a Redis store: %q", name, why)
		}
	}
}

// TestRedisTarget: session-redis is judged against jwt-eddsa, both as ratios to their floor.
func TestRedisTarget(t *testing.T) {
	r := sample()
	if tg := r.redisTarget(); tg.Status != "not measured" {
		t.Fatalf("without session-redis: %+v", tg)
	}
	fig := r.Performance.Rows[0].LoadFigures
	r.Performance.Rows = append(r.Performance.Rows,
		PerfRow{Mode: "session-redis", Kind: KindSession, LoadFigures: fig, Ratio: 0.78},
		PerfRow{Mode: "session-redis-nocache", Kind: KindSession, LoadFigures: fig, Ratio: 0.2})
	tg := r.redisTarget() // jwt-eddsa is at 0.8x: 0.78/0.8 = 97.5 %
	if tg.Status != "met" || !strings.Contains(tg.Measured, "97.5% of JWT") || !strings.Contains(tg.Note, "0.200x") {
		t.Fatalf("%+v", tg)
	}
	r.Performance.Rows[len(r.Performance.Rows)-2].Ratio = 0.7
	if tg := r.redisTarget(); tg.Status != "missed" {
		t.Fatalf("at 87.5 %% of JWT: %+v", tg)
	}
}

// TestRerender: a report written by Run is written again from its report.json with the same
// figures and this version's texts.
func TestRerender(t *testing.T) {
	dir := t.TempDir()
	r := sample()
	r.Modes = []ModeInfo{{Name: "jwt-hs256", Kind: KindToken, Summary: "an old summary", Available: true}}
	r.Targets = []Target{{Name: "an old target"}}
	if err := writeJSON(filepath.Join(dir, "report.json"), r); err != nil {
		t.Fatal(err)
	}
	if err := Rerender(dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{findMode("jwt-hs256").Summary, "## " + Sections[2], "| performance |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if strings.Contains(string(md), "an old") {
		t.Error("report.md keeps the old texts")
	}
	if err := Rerender(t.TempDir()); err == nil {
		t.Error("rendered a directory without report.json")
	}
}

// A growth within the noise of its figure is "too small to measure", never a negative or tiny
// number per session.
func TestSmallGrowthIsTooSmallToMeasure(t *testing.T) {
	for _, c := range []struct {
		growth int64
		n      int
		small  bool
	}{{-271_200, 100, true}, {0, 100, true}, {minHeapGrowth - 1, 100, true}, {minHeapGrowth, 1000, false}, {5 << 20, 0, true}} {
		v, small := perSession(c.growth, c.n, minHeapGrowth)
		if small != c.small || small && v != 0 || !small && v <= 0 {
			t.Errorf("perSession(%d, %d) = %v, %v", c.growth, c.n, v, small)
		}
	}
	r := &Report{Quick: true, Resources: []ResourceRow{{Mode: "session-memory", Kind: KindSession, Sessions: 100, HeapTooSmall: true, RSSTooSmall: true}}}
	md := renderMarkdown(r)
	if !strings.Contains(md, "too small to measure") || regexp.MustCompile(`\| -[0-9]`).MatchString(md) {
		t.Errorf("report of a too-small sample:\n%s", md)
	}
	if got := r.sizeTarget(); got.Status != "not measured" && strings.Contains(got.Measured, "-") {
		t.Errorf("size target: %+v", got)
	}
}

// The login target reads the levels with 8 clients or more against their bare-hash floor.
func TestLoginTarget(t *testing.T) {
	r := &Report{Login: &LoginCost{Rows: []LoginRow{{Concurrency: 1, Ratio: 0.5}, {Concurrency: 8, Ratio: 0.93}, {Concurrency: 64, Ratio: 0.88}}}}
	if got := r.loginTarget(); got.Status != "missed" || !strings.Contains(got.Measured, "64 clients 0.88x") {
		t.Errorf("%+v", got)
	}
	r.Login.Rows[2].Ratio = 0.91
	if got := r.loginTarget(); got.Status != "met" {
		t.Errorf("%+v", got)
	}
	if !strings.Contains(renderMarkdown(r), "| 8 | 0.0 | 0.0 | 0.93x |") {
		t.Errorf("login table:\n%s", renderMarkdown(r))
	}
}

// The bare-hash floor computes real argon2id hashes, on every CPU, for about the time asked.
func TestHashFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("computes argon2id hashes of 19 MiB")
	}
	n, took := hashFloor(context.Background(), 200*time.Millisecond)
	if n < 1 || took < 200*time.Millisecond {
		t.Fatalf("%d hashes in %v", n, took)
	}
}

func TestBeyondCachesTarget(t *testing.T) {
	r := &Report{}
	if tg := r.beyondCachesTarget(); tg.Status != "not measured" {
		t.Fatalf("without growth rows: %+v", tg)
	}
	row := func(mode string, n int, rps, cpu float64) GrowthRow {
		return GrowthRow{Mode: mode, Sessions: n, LoadFigures: LoadFigures{RPS: rps, CPUPerReqUs: cpu}}
	}
	r.VerifyUs = 50
	r.Growth = []GrowthRow{
		row("session-sqlite", 1_000, 10_000, 20), row("session-sqlite", 1_000_000, 7_500, 27),
		row("jwt-eddsa", 1_000, 12_000, 30), row("jwt-eddsa", 1_000_000, 4_000, 85), // limit 80 µs: 0.94x
	}
	tg := r.beyondCachesTarget()
	if tg.Status != "met" || !strings.Contains(tg.Measured, "0.75x of 1,000") || !strings.Contains(tg.Measured, "0.94x of the limit") {
		t.Fatalf("%+v", tg)
	}
	r.Growth[3].CPUPerReqUs = 100 // 0.80x of the limit
	if tg := r.beyondCachesTarget(); tg.Status != "missed" || !strings.Contains(tg.Note, "jwt-eddsa") {
		t.Fatalf("%+v", tg)
	}
	r.Growth[3].CPUPerReqUs = 85
	r.Growth[1].Sessions = 100_000 // the 1,000,000 point was left out: not met
	if tg := r.beyondCachesTarget(); tg.Status != "missed" || !strings.Contains(tg.Note, "session-sqlite") {
		t.Fatalf("%+v", tg)
	}
}

func TestVerifyCost(t *testing.T) {
	us, err := verifyCost(t.Context(), 20*time.Millisecond)
	if err != nil || us <= 0 || us > 10_000 {
		t.Fatalf("verifyCost = %v µs, %v", us, err)
	}
}
