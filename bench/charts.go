package bench

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// palette is a colour-blind-friendly set (Okabe-Ito).
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255}, color.RGBA{230, 159, 0, 255}, color.RGBA{0, 158, 115, 255},
	color.RGBA{204, 121, 167, 255}, color.RGBA{86, 180, 233, 255}, color.RGBA{213, 94, 0, 255},
	color.RGBA{0, 0, 0, 255}, color.RGBA{240, 228, 66, 255},
}

// ChartNames are the charts every full report has (each as .png and .svg).
var ChartNames = []string{"throughput", "latency", "revocation", "memory", "growth"}

// writeCharts draws the charts into dir and returns their file names.
func writeCharts(dir string, r *Report) ([]string, error) {
	draws := map[string]func(*Report) (*plot.Plot, error){
		"throughput": throughputChart, "latency": latencyChart, "revocation": revocationChart,
		"memory": memoryChart, "growth": growthChart,
	}
	var files []string
	for _, name := range ChartNames {
		p, err := draws[name](r)
		if err != nil {
			return files, fmt.Errorf("%s: %w", name, err)
		}
		if p == nil {
			continue
		}
		for _, ext := range []string{".png", ".svg"} {
			if err := p.Save(9*vg.Inch, 5*vg.Inch, filepath.Join(dir, name+ext)); err != nil {
				return files, fmt.Errorf("%s: %w", name, err)
			}
			files = append(files, name+ext)
		}
	}
	return files, nil
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	return p
}

// bars adds the i-th of n bar series; the width leaves room between the categories of a
// chart as wide as charts are drawn.
func bars(p *plot.Plot, vals []float64, i, n int, label string) error {
	width := 0.7 * 560 / float64(max(len(vals), 1)) / float64(max(n, 1))
	b, err := plotter.NewBarChart(plotter.Values(vals), vg.Points(width))
	if err != nil {
		return err
	}
	b.Color = palette[i%len(palette)]
	b.LineStyle.Width = 0
	b.Offset = vg.Points(width * (float64(i) - float64(n-1)/2))
	p.Add(b)
	if label != "" {
		p.Legend.Add(label, b)
	}
	return nil
}

func throughputChart(r *Report) (*plot.Plot, error) {
	if r.Performance == nil {
		return nil, nil
	}
	names := []string{"floor"}
	vals := []float64{r.Performance.Floor.RPS}
	for _, row := range r.Performance.Rows {
		names = append(names, row.Mode)
		vals = append(vals, row.RPS)
	}
	if r.Peer != nil {
		for _, row := range r.Peer.Rows {
			names = append(names, "express "+row.Server)
			vals = append(vals, row.Peer.RPS)
		}
	}
	p := newPlot("GET /api/protected: throughput by mode", "", "requests per second")
	if err := bars(p, vals, 0, 1, ""); err != nil {
		return nil, err
	}
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 8
	p.X.Tick.Label.XAlign = draw.XRight
	return p, nil
}

// latencyChart draws each mode's latency at the percentiles of distQuantiles, on a scale where
// each "nine" is one step.
func latencyChart(r *Report) (*plot.Plot, error) {
	if r.Performance == nil {
		return nil, nil
	}
	p := newPlot("GET /api/protected: latency distribution", "percentile", "latency (ms)")
	p.Legend.Left = true
	series := []struct {
		name string
		dist []float64
	}{{"floor", r.Performance.Floor.Dist}}
	for _, row := range r.Performance.Rows {
		series = append(series, struct {
			name string
			dist []float64
		}{row.Mode, row.Dist})
	}
	for i, s := range series {
		pts := make(plotter.XYs, 0, len(s.dist))
		for j, v := range s.dist {
			pts = append(pts, plotter.XY{X: nines(distQuantiles[j]), Y: max(v, 1e-3)}) // log scale: no zero
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.Color = palette[i%len(palette)]
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	var ticks []plot.Tick
	for _, q := range distQuantiles {
		ticks = append(ticks, plot.Tick{Value: nines(q), Label: strconv.FormatFloat(100*q, 'f', -1, 64)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	return p, nil
}

func nines(q float64) float64 { return -math.Log10(1 - q) }

func revocationChart(r *Report) (*plot.Plot, error) {
	var names []string
	var p50, p99 []float64
	for _, l := range r.Logout {
		if l.Outcome != "rejected" {
			continue
		}
		names = append(names, l.Mode+" ("+shortScope(l.Scope)+")")
		p50 = append(p50, l.P50Ms)
		p99 = append(p99, l.P99Ms)
	}
	if len(names) == 0 {
		return nil, nil
	}
	p := newPlot("Time from logout to the first refused request", "", "milliseconds")
	if err := bars(p, p50, 0, 2, "p50"); err != nil {
		return nil, err
	}
	if err := bars(p, p99, 1, 2, "p99"); err != nil {
		return nil, err
	}
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 8
	p.X.Tick.Label.XAlign = draw.XRight
	return p, nil
}

func shortScope(s string) string {
	if s == "same instance" {
		return "same"
	}
	return "other"
}

func memoryChart(r *Report) (*plot.Plot, error) {
	var names []string
	var heap, file []float64
	n := commonSize(r)
	for _, row := range r.Resources {
		if row.Sessions != n {
			continue
		}
		names = append(names, row.Mode)
		heap = append(heap, max(row.HeapPerSession, 0))
		file = append(file, max(row.FilePerSession, 0))
	}
	if len(names) == 0 {
		return nil, nil
	}
	p := newPlot(fmt.Sprintf("Server-side bytes per active session (or token), %s active", fmtCount(n)), "", "bytes")
	if err := bars(p, heap, 0, 2, "live heap"); err != nil {
		return nil, err
	}
	if err := bars(p, file, 1, 2, "SQLite file"); err != nil {
		return nil, err
	}
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 8
	p.X.Tick.Label.XAlign = draw.XRight
	return p, nil
}

func growthChart(r *Report) (*plot.Plot, error) {
	modes := growthModes(r)
	if len(modes) == 0 {
		return nil, nil
	}
	p := newPlot("Lookup throughput as active sessions (or tokens) grow", "active sessions or tokens", "requests per second")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	for i, mode := range modes {
		var pts plotter.XYs
		for _, g := range r.Growth {
			if g.Mode == mode {
				pts = append(pts, plotter.XY{X: float64(g.Sessions), Y: g.RPS})
			}
		}
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, err
		}
		l.Color, s.Color = palette[i%len(palette)], palette[i%len(palette)]
		p.Add(l, s)
		p.Legend.Add(mode, l, s)
	}
	p.Y.Min = 0
	return p, nil
}
