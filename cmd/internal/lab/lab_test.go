package lab

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSimulate checks the simulation's accounting against what placement
// on a ring must give: a crash without backups loses the node's share,
// with backups nothing; memory per node is (1+k)/N of the sessions, all
// of them for all-to-all; replication costs k copies per write, N-1 for
// all-to-all.
func TestSimulate(t *testing.T) {
	const nodes, sessions = 20, 200_000
	rep, err := Simulate(SimConfig{Nodes: nodes, Sessions: sessions, Sample: 50_000, SessionBytes: 100, Writes: 1000, DeltaBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]SimRow{}
	for _, r := range rep.Rows {
		rows[r.Strategy] = r
	}
	share := float64(sessions) / nodes
	sticky, k1, k2, all := rows["sticky (cluster k=0)"], rows["cluster k=1"], rows["cluster k=2"], rows["all-to-all"]
	if sticky.CrashLost < 0.5*share || sticky.CrashLost > 1.5*share {
		t.Errorf("sticky: a crash loses %.0f sessions, want about %.0f", sticky.CrashLost, share)
	}
	if k1.CrashLost != 0 || k2.CrashLost != 0 {
		t.Errorf("a crash with backups loses %.0f (k=1) and %.0f (k=2) sessions", k1.CrashLost, k2.CrashLost)
	}
	if k1.JoinCopy != k1.JoinMoved || k1.JoinMoved == 0 {
		t.Errorf("k=1: a join moved %.0f sessions, previous owner keeps %.0f", k1.JoinMoved, k1.JoinCopy)
	}
	for k, r := range []SimRow{sticky, k1, k2} {
		want := float64(sessions) * float64(1+k) / nodes * 100
		if math.Abs(r.BytesPerNode-want) > 1 || r.MaxBytesPerNode < want {
			t.Errorf("k=%d: %.0f bytes per node (max %.0f), want %.0f", k, r.BytesPerNode, r.MaxBytesPerNode, want)
		}
		// The heap holds the data and HeapOverhead per session held.
		if heap := want + float64(sessions)*float64(1+k)/nodes*HeapOverhead; math.Abs(r.HeapPerNode-heap) > 1 || r.MaxHeapPerNode < heap {
			t.Errorf("k=%d: %.0f heap bytes per node (max %.0f), want %.0f", k, r.HeapPerNode, r.MaxHeapPerNode, heap)
		}
		if r.Replication != float64(k)*1000*10 {
			t.Errorf("k=%d: replication %.0f B/s", k, r.Replication)
		}
	}
	if all.BytesPerNode != sessions*100 || all.Replication != (nodes-1)*1000*10 {
		t.Errorf("all-to-all: %.0f bytes per node, %.0f B/s", all.BytesPerNode, all.Replication)
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| sticky (cluster k=0) |", "| cluster k=2 |", "| all-to-all |", "| central store |", "| cookie |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("the simulation's table lacks %q:\n%s", want, md.String())
		}
	}
}

func TestParseStrategies(t *testing.T) {
	all, err := ParseStrategies("all")
	if err != nil || len(all) != len(Strategies) {
		t.Fatalf("all: %v, %v", all, err)
	}
	two, err := ParseStrategies("sticky, redis")
	if err != nil || len(two) != 2 || two[0].Name != "sticky" || two[1].Demo != "redis" {
		t.Fatalf("sticky, redis: %v, %v", two, err)
	}
	if _, err := ParseStrategies("cluster,memcached"); err == nil || !strings.Contains(err.Error(), "memcached") {
		t.Fatalf("unknown strategy: %v", err)
	}
}

func TestQuantiles(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	q := quantiles(lat)
	if q.N != 100 || q.P50 != 50 || q.P99 != 99 {
		t.Fatalf("quantiles of 1..100 ms: %+v", q)
	}
	if q := quantiles(nil); q != (Quantiles{}) {
		t.Fatalf("quantiles of nothing: %+v", q)
	}
}

// TestWindow: a window counts the requests sent in it and their failures;
// a loss counts once per user, for the first event after the session was
// last seen whole.
func TestWindow(t *testing.T) {
	events := []time.Duration{2 * time.Second, 4 * time.Second}
	w := &workload{
		samples: []Sample{{T: 1 * time.Second, Code: 200}, {T: 2 * time.Second, Code: 502}, {T: 3 * time.Second, Code: 0}, {T: 5 * time.Second, Code: 200}},
		losses: []loss{
			{seen: 1 * time.Second, t: 2 * time.Second, user: 1, session: true, items: 2},
			{seen: 1 * time.Second, t: 3 * time.Second, user: 1, session: true},
			{seen: 1 * time.Second, t: 5 * time.Second, user: 2, items: 1},             // found after the join, seen before the kill
			{seen: 3 * time.Second, t: 5 * time.Second, user: 3, session: true},        // seen whole after the kill: the join
			{seen: 500 * time.Millisecond, t: 1 * time.Second, user: 4, session: true}, // no event: counted when found
		},
	}
	kill := window(w, 2*time.Second, 4*time.Second, events)
	if kill.Requests != 2 || kill.Failed != 2 || kill.LostSession != 1 || kill.LostCart != 1 || kill.LostItems != 3 {
		t.Fatalf("kill: %+v", kill)
	}
	if join := window(w, 4*time.Second, 6*time.Second, events); join.LostSession != 1 || join.LostCart != 0 || join.Requests != 1 {
		t.Fatalf("join: %+v", join)
	}
	if before := window(w, 0, 2*time.Second, events); before.LostSession != 1 || before.Requests != 1 {
		t.Fatalf("before the events: %+v", before)
	}
}

// TestReportFiles writes a report of made-up phases, one not measured,
// and checks every file and the charts' SVG.
func TestReportFiles(t *testing.T) {
	mem := func(per int64) Memory {
		return Memory{SessionBytes: map[string]int64{"n1": per, "n2": per}, Sessions: map[string]int64{"n1": per / 100, "n2": per / 100}, RSS: map[string]int64{"n1": 20 << 20, "n2": 21 << 20, "router": 15 << 20}}
	}
	ph := &Phase{
		Strategy: Strategies[0], Measured: true, Requests: 100, Latency: Quantiles{N: 100, P50: 1, P99: 4},
		ClientBytes: Bytes{Request: 200, Response: 500}, BackendBytes: 900, Memory: mem(3000),
		Events:  []Event{{Name: "kill n3", At: 4, OwnedByNode: 10, SessionsThen: 30, Users: 30}, {Name: "add n4", At: 7, OwnedByNode: -1, Users: 30}},
		Growth:  []Growth{{Nodes: 2, Users: 20, Memory: mem(2000)}, {Nodes: 3, Users: 30, Memory: mem(2000)}},
		Seconds: []Second{{T: 0, Requests: 10, P50: 1, P99: 3}, {T: 1, Requests: 12, P50: 1, P99: 5}},
		Samples: []Sample{{T: time.Second, Latency: time.Millisecond, Op: "login", Code: 200}},
	}
	rep := &Report{Started: time.Now(), Nodes: 3, Users: 30, Duration: 10, Growth: []int{2, 3}, Phases: []*Phase{
		ph, {Strategy: Strategies[4], Reason: "could not start: redis-server not found"},
	}}
	dir := t.TempDir()
	if err := rep.Write(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.md", "report.html", "report.json", "summary.csv", "seconds.csv", "requests.csv", "growth.csv"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, want := range []string{"**redis not measured**: could not start: redis-server not found", "0 of 30 (the node owned 10 of 30 sessions)", "*a central store adds a network round trip*",
		// 3000 bytes of data in 30 sessions: 3000 + 30 * HeapOverhead.
		"| session heap per node | " + mib(3000+30*HeapOverhead) + " |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if n := strings.Count(string(html), "<svg"); n != 5 {
		t.Errorf("report.html has %d SVG charts, want 5", n)
	}
}

// TestNotMeasured: a strategy whose server is missing is reported as not
// measured, with the reason, and the run goes on.
func TestNotMeasured(t *testing.T) {
	redis, _ := ParseStrategies("redis")
	rep, err := Run(t.Context(), Config{Binary: "/bin/false", Strategies: redis, Redis: "/nonexistent/redis-server", Growth: []int{0}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Phases) != 1 || rep.Phases[0].Measured || !strings.Contains(rep.Phases[0].Reason, "redis-server not found") {
		t.Fatalf("phases: %+v", rep.Phases)
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "**redis not measured**: could not start: redis-server not found") {
		t.Fatalf("report.md:\n%s", md.String())
	}
}

// TestCheck: a user notices a lost session and lost cart items, but not
// an empty cart after a checkout whose answer was lost.
func TestCheck(t *testing.T) {
	w := &workload{start: time.Now()}
	u := &user{w: w, name: "ada", loggedIn: true, cart: []string{"a", "b"}}
	if !u.check(view{User: "ada", Cart: []string{"a", "b", "c"}}, 1) || len(u.losses) != 0 {
		t.Fatalf("an added item: losses %v", u.losses)
	}
	u.cart = []string{"a", "b", "c"}
	u.unsure = true
	if !u.check(view{User: "ada", Cart: []string{}}, 0) || len(u.losses) != 0 || len(u.cart) != 0 {
		t.Fatalf("a checkout that went through unanswered: losses %v, cart %v", u.losses, u.cart)
	}
	u.cart = []string{"a", "b"}
	if u.check(view{User: "ada", Cart: []string{"a"}}, 0); len(u.losses) != 1 || u.losses[0].items != 1 || u.losses[0].session {
		t.Fatalf("a lost item: losses %v", u.losses)
	}
	if u.check(view{User: "", Cart: []string{}}, 0) || len(u.losses) != 2 || !u.losses[1].session || u.loggedIn {
		t.Fatalf("a lost session: losses %v", u.losses)
	}
}
