package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// labReport is the part of the lab's report.json the test checks.
type labReport struct {
	Phases []struct {
		Strategy struct{ Name string }
		Measured bool
		Reason   string
		Requests int
		Events   []struct {
			Name         string
			OwnedByNode  int `json:"owned_by_node"`
			SessionsThen int `json:"sessions_then"`
			Until        struct {
				LostSession int `json:"users_lost_session"`
				LostCart    int `json:"users_lost_cart_items"`
			} `json:"until_next"`
		}
		Growth []struct {
			Nodes  int
			Reason string
			Memory struct {
				SessionBytes map[string]int64 `json:"session_bytes_per_node"`
			}
		}
	}
}

// TestLab runs a short `sessionkit lab` as a user does and checks the
// outcomes that must hold whatever the machine: plain sticky sessions
// lose the killed node's users, the cluster store with one backup loses
// none at the crash or the join, and with users in proportion to the
// nodes, all-to-all memory per node grows while one backup stays flat.
// The HTML report opens in Chromium with its charts drawn.
func TestLab(t *testing.T) {
	chromium(t) // fail now, not after the run, when the browser is missing
	out := t.TempDir()
	p := start(t, "lab", "--strategies", "cluster,sticky,all-to-all", "--nodes", "3", "--users", "30",
		"--duration", "8s", "--think", "100ms", "--growth", "2,3,5", "--out", out)
	if _, err := p.Expect(regexp.MustCompile(`^report: `), 150*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the lab did not exit after writing its report")
	}
	if err := p.Err(); err != nil {
		t.Fatalf("lab: %v\n%s", err, p.Output())
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep labReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	growth := map[string]map[int]float64{} // strategy -> nodes -> mean bytes per node
	for _, ph := range rep.Phases {
		name := ph.Strategy.Name
		if !ph.Measured {
			t.Fatalf("%s not measured: %s", name, ph.Reason)
		}
		if ph.Requests == 0 || len(ph.Events) != 2 {
			t.Fatalf("%s: %d requests, %d events", name, ph.Requests, len(ph.Events))
		}
		kill, join := ph.Events[0], ph.Events[1]
		t.Logf("%s: %s: owned %d of %d, lost %d sessions, %d carts; %s: lost %d sessions, %d carts", name,
			kill.Name, kill.OwnedByNode, kill.SessionsThen, kill.Until.LostSession, kill.Until.LostCart,
			join.Name, join.Until.LostSession, join.Until.LostCart)
		switch name {
		case "sticky":
			owned, lost := kill.OwnedByNode, kill.Until.LostSession
			if owned <= 0 {
				t.Fatalf("sticky: the killed node owned %d sessions", owned)
			}
			if d := lost - owned; d < -max(2, owned/5) || d > max(2, owned/5) {
				t.Errorf("sticky: %d users lost their session at the kill; the killed node owned %d", lost, owned)
			}
		case "cluster":
			if kill.Until.LostSession != 0 || kill.Until.LostCart != 0 {
				t.Errorf("cluster k=1: at the kill %d users lost their session, %d cart items", kill.Until.LostSession, kill.Until.LostCart)
			}
			if join.Until.LostSession != 0 || join.Until.LostCart != 0 {
				t.Errorf("cluster k=1: at the join %d users lost their session, %d cart items", join.Until.LostSession, join.Until.LostCart)
			}
		}
		growth[name] = map[int]float64{}
		for _, g := range ph.Growth {
			if g.Reason != "" {
				t.Fatalf("%s: growth with %d nodes not measured: %s", name, g.Nodes, g.Reason)
			}
			var sum int64
			for _, v := range g.Memory.SessionBytes {
				sum += v
			}
			growth[name][g.Nodes] = float64(sum) / float64(len(g.Memory.SessionBytes))
		}
	}
	all, k1 := growth["all-to-all"], growth["cluster"]
	t.Logf("bytes per node, N=2,3,5: all-to-all %.0f %.0f %.0f; k=1 %.0f %.0f %.0f", all[2], all[3], all[5], k1[2], k1[3], k1[5])
	// Users in proportion to N: all-to-all holds them all on every node
	// (x2.5 from N=2 to N=5); k=1 holds 2/N of them (flat).
	if all[2] <= 0 || all[5] < 2*all[2] || all[3] <= all[2] {
		t.Errorf("all-to-all bytes per node do not grow with N: %v", all)
	}
	if k1[2] <= 0 || k1[5] > 1.3*k1[2] || k1[5] < 0.7*k1[2] {
		t.Errorf("k=1 bytes per node are not flat as N grows: %v", k1)
	}

	for _, f := range []string{"report.md", "summary.csv", "seconds.csv", "requests.csv", "growth.csv"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty (%v)", f, err)
		}
	}
	labCharts(t, filepath.Join(out, "report.html"))
}

// labCharts opens the HTML report in headless Chromium and checks that
// every chart is an SVG drawn with content and a size on the page.
func labCharts(t *testing.T, path string) {
	ctx := browser(t)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	type chartInfo struct {
		ID     string  `json:"id"`
		Shapes int     `json:"shapes"`
		Texts  int     `json:"texts"`
		Width  float64 `json:"width"`
		Height float64 `json:"height"`
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+path), chromedp.WaitVisible(css(`figure.chart svg`))); err != nil {
		t.Fatal(err)
	}
	charts, err := chromedp.Run(ctx, chromedp.Evaluate[[]chartInfo](`[...document.querySelectorAll("figure.chart")].map(f => {
		const svg = f.querySelector("svg"); const r = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
		return {id: f.id, shapes: svg ? svg.querySelectorAll("path,rect,line,polyline").length : 0,
			texts: svg ? svg.querySelectorAll("text").length : 0, width: r.width, height: r.height};
	})`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"latency": true, "bytes": true, "losses": true, "growth": true, "timeline": true}
	for _, c := range charts {
		if c.Shapes < 5 || c.Texts < 3 || c.Width < 200 || c.Height < 100 {
			t.Errorf("chart %s: %d shapes, %d texts, %.0fx%.0f px", c.ID, c.Shapes, c.Texts, c.Width, c.Height)
		}
		delete(want, c.ID)
	}
	if len(want) > 0 {
		t.Errorf("charts missing from the report: %v (found %+v)", want, charts)
	}
}
