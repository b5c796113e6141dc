package lab

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// chart is one SVG chart of the HTML report.
type chart struct {
	ID, Caption string
	SVG         template.HTML
}

// charts draws the report's charts.
func (r *Report) charts() ([]chart, error) {
	var measured []*Phase
	for _, p := range r.Phases {
		if p.Measured {
			measured = append(measured, p)
		}
	}
	var names []string
	for _, p := range measured {
		names = append(names, p.Strategy.Name)
	}
	values := func(f func(p *Phase) float64) plotter.Values {
		v := make(plotter.Values, len(measured))
		for i, p := range measured {
			v[i] = f(p)
		}
		return v
	}
	var out []chart
	add := func(id, caption string, p *plot.Plot, err error) error {
		if err != nil {
			return fmt.Errorf("chart %s: %w", id, err)
		}
		svg, err := toSVG(p)
		if err != nil {
			return fmt.Errorf("chart %s: %w", id, err)
		}
		out = append(out, chart{ID: id, Caption: caption, SVG: svg})
		return nil
	}
	if len(measured) == 0 {
		return nil, nil
	}

	p, err := bars("Latency through the router, before the events", "ms", names, []series{
		{"p50", values(func(p *Phase) float64 { return p.Before.Latency.P50 })},
		{"p99", values(func(p *Phase) float64 { return p.Before.Latency.P99 })},
	})
	if err := add("latency", "Request latency in the steady state, from the start to the kill; the timeline below shows the events.", p, err); err != nil {
		return nil, err
	}
	p, err = bars("Bytes per request", "bytes", names, []series{
		{"client-router", values(func(p *Phase) float64 { return p.ClientBytes.Total() })},
		{"back end", values(func(p *Phase) float64 { return p.BackendBytes })},
	})
	if err := add("bytes", "Bytes per request on the wire: between clients and router (request and response), and behind the router.", p, err); err != nil {
		return nil, err
	}
	p, err = bars("Users who lost their session", "users", names, []series{
		{"at the kill", values(func(p *Phase) float64 {
			if len(p.Events) > 0 {
				return float64(p.Events[0].Until.LostSession)
			}
			return 0
		})},
		{"at the join", values(func(p *Phase) float64 {
			if len(p.Events) > 1 {
				return float64(p.Events[1].Until.LostSession)
			}
			return 0
		})},
	})
	if err := add("losses", "Users who found themselves logged out after a node was killed, and after one was added.", p, err); err != nil {
		return nil, err
	}
	if len(r.Growth) > 0 {
		p, err = growthChart(measured)
		if err := add("growth", "Session bytes per node (central store: all its bytes) as nodes and users grow together.", p, err); err != nil {
			return nil, err
		}
	}
	p, err = timeline(measured)
	if err := add("timeline", "p99 latency per second; dashed lines: the kill and the join.", p, err); err != nil {
		return nil, err
	}
	return out, nil
}

type series struct {
	name   string
	values plotter.Values
}

// bars draws grouped bars: a group per strategy, a bar per series.
func bars(title, unit string, names []string, ss []series) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = unit
	w := vg.Points(float64(min(18, 60/len(ss))))
	for i, s := range ss {
		b, err := plotter.NewBarChart(s.values, w)
		if err != nil {
			return nil, err
		}
		b.LineStyle.Width = 0
		b.Color = plotutil.Color(i)
		b.Offset = w * vg.Length(float64(i)-float64(len(ss)-1)/2)
		p.Add(b)
		p.Legend.Add(s.name, b)
	}
	// Room above the tallest bar for the legend.
	top := 0.0
	for _, s := range ss {
		for _, v := range s.values {
			top = max(top, v)
		}
	}
	p.Y.Min, p.Y.Max = 0, max(1, top*1.3)
	p.Legend.Top = true
	p.NominalX(names...)
	p.Add(plotter.NewGrid())
	return p, nil
}

func growthChart(phases []*Phase) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Memory per node as the cluster grows (users in proportion)"
	p.X.Label.Text = "nodes"
	p.Y.Label.Text = "KiB"
	var args []any
	for _, ph := range phases {
		var xys plotter.XYs
		central := false
		for _, g := range ph.Growth {
			if g.Reason != "" {
				continue
			}
			v := g.Memory.MeanSessionBytes()
			if g.Memory.Central != 0 {
				v, central = float64(g.Memory.Central), true
			}
			xys = append(xys, plotter.XY{X: float64(g.Nodes), Y: v / 1024})
		}
		if len(xys) == 0 {
			continue
		}
		name := ph.Strategy.Name
		if central {
			name += " (central store)"
		}
		args = append(args, name, xys)
	}
	if len(args) == 0 {
		return p, nil
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return nil, err
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	return p, nil
}

func timeline(phases []*Phase) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "p99 latency per second"
	p.X.Label.Text = "seconds"
	p.Y.Label.Text = "ms"
	for i, ph := range phases {
		var xys plotter.XYs
		for _, s := range ph.Seconds {
			if s.Requests > 0 {
				xys = append(xys, plotter.XY{X: float64(s.T) + 0.5, Y: s.P99})
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		l.Color = plotutil.Color(i)
		l.Dashes = plotutil.Dashes(i)
		p.Add(l)
		p.Legend.Add(ph.Strategy.Name, l)
	}
	if len(phases) > 0 {
		for _, m := range phases[0].timeline {
			x := m.at.Seconds()
			l, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: maxP99(phases)}})
			if err != nil {
				return nil, err
			}
			l.Color = color.Gray{Y: 100}
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(l)
		}
	}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p, nil
}

func maxP99(phases []*Phase) float64 {
	m := 1.0
	for _, ph := range phases {
		for _, s := range ph.Seconds {
			m = max(m, s.P99)
		}
	}
	return m
}

// toSVG renders a plot as an SVG element for inline use.
func toSVG(p *plot.Plot) (template.HTML, error) {
	wt, err := p.WriterTo(7*vg.Inch, 3.6*vg.Inch, "svg")
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return "", err
	}
	s := buf.String()
	i := strings.Index(s, "<svg")
	if i < 0 {
		return "", fmt.Errorf("no <svg> element in the plot's output")
	}
	return template.HTML(s[i:]), nil
}
