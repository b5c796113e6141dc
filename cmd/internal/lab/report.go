package lab

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The common claims, by measure and strategy: what the lab's figures are
// set beside.
var claims = map[string]map[string]string{
	"latency": {
		"cluster":    "replicated: sessions are local, each write also goes to one backup",
		"all-to-all": "replicated: each write goes to every node",
		"sticky":     "hash routing: local memory, the fastest",
		"cookie":     "client-side: no store to ask, but bigger requests",
		"redis":      "a central store adds a network round trip",
		"sql":        "a central database adds latency",
	},
	"bytes": {
		"cluster":    "k copies per write, whatever N",
		"all-to-all": "replication traffic grows with the cluster",
		"sticky":     "nothing beyond the request",
		"cookie":     "cookies waste bandwidth: the session rides on every request",
		"redis":      "a round trip to the store on each request",
		"sql":        "a round trip to the database on each request",
	},
	"memory": {
		"cluster":    "k backups: (1+k)/N of the sessions per node, flat as N grows",
		"all-to-all": "replication limits horizontal scaling: every node holds every session",
		"sticky":     "1/N of the sessions per node",
		"cookie":     "the servers hold nothing",
		"redis":      "the central store holds every session, the nodes none",
		"sql":        "the central database holds every session, the nodes none",
	},
	"loss": {
		"cluster":    "a backup takes over a crashed node's sessions",
		"all-to-all": "every node has a copy",
		"sticky":     "hash routing loses a crashed node's sessions, and sessions on re-hashing",
		"cookie":     "nothing on the servers to lose",
		"redis":      "sessions outlive the nodes",
		"sql":        "sessions outlive the nodes",
	},
}

// Write writes the report into dir: report.md, report.html (charts as
// SVG), report.json, and the raw data as CSV (summary.csv, seconds.csv,
// requests.csv, growth.csv).
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := []struct {
		name  string
		write func(io.Writer) error
	}{
		{"report.md", r.WriteMarkdown},
		{"report.html", r.WriteHTML},
		{"report.json", r.WriteJSON},
		{"summary.csv", r.writeSummaryCSV},
		{"seconds.csv", r.writeSecondsCSV},
		{"requests.csv", r.writeRequestsCSV},
		{"growth.csv", r.writeGrowthCSV},
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(dir, f.name), f.write); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// WriteJSON writes the whole report as JSON (without the per-request
// samples, which requests.csv holds).
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// row is one line of a measure's table: a label and a cell per phase.
type row struct {
	label string
	cell  func(p *Phase) string
}

// table is one measure: its rows, with the claims above them.
type table struct {
	title, claim, note string
	rows               []row
}

func mib(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

func ms(f float64) string { return fmt.Sprintf("%.1f ms", f) }

// eventCell formats one event's value, or "-" when there was no such event.
func eventCell(i int, f func(e Event) string) func(p *Phase) string {
	return func(p *Phase) string {
		if i >= len(p.Events) {
			return "-"
		}
		return f(p.Events[i])
	}
}

func (r *Report) tables() []table {
	growth := func(i int, f func(g Growth) string) func(p *Phase) string {
		return func(p *Phase) string {
			if i >= len(p.Growth) {
				return "-"
			}
			if p.Growth[i].Reason != "" {
				return "not measured"
			}
			return f(p.Growth[i])
		}
	}
	lost := func(e Event) string {
		s := fmt.Sprintf("%d of %d", e.Until.LostSession, e.Users)
		if e.OwnedByNode >= 0 {
			s += fmt.Sprintf(" (the node owned %d of %d sessions)", e.OwnedByNode, e.SessionsThen)
		} else if e.ServedUsers > 0 {
			s += fmt.Sprintf(" (the node served %d)", e.ServedUsers)
		}
		return s
	}
	ts := []table{
		{title: "Latency", claim: "latency", note: "Through the router, every request of every user. Before the events: from the start to the seconds around the kill. Around an event: from a fifth of the window before it to four fifths after.", rows: []row{
			{"requests", func(p *Phase) string { return strconv.Itoa(p.Requests) }},
			{"p50, whole run", func(p *Phase) string { return ms(p.Latency.P50) }},
			{"p99, whole run", func(p *Phase) string { return ms(p.Latency.P99) }},
			{"p50 before the events", func(p *Phase) string { return ms(p.Before.Latency.P50) }},
			{"p99 before the events", func(p *Phase) string { return ms(p.Before.Latency.P99) }},
			{"p50 around the kill", eventCell(0, func(e Event) string { return ms(e.Around.Latency.P50) })},
			{"p99 around the kill", eventCell(0, func(e Event) string { return ms(e.Around.Latency.P99) })},
			{"p50 around the join", eventCell(1, func(e Event) string { return ms(e.Around.Latency.P50) })},
			{"p99 around the join", eventCell(1, func(e Event) string { return ms(e.Around.Latency.P99) })},
		}},
		{title: "Bytes per request", claim: "bytes", note: "Steady state, before the first event. Client-router: counted on the clients' connections (request and response: headers, bodies, cookies). Back-end: bytes written by the router, the nodes and redis-server (wchar in /proc/PID/io) less the router's writes to the clients: router to node, replication and gossip, Redis; for SQLite the nodes' writes to the database file and its WAL.", rows: []row{
			{"client to router (request)", func(p *Phase) string { return mib(p.ClientBytes.Request) }},
			{"router to client (response)", func(p *Phase) string { return mib(p.ClientBytes.Response) }},
			{"back end", func(p *Phase) string { return mib(p.BackendBytes) }},
		}},
		{title: "Memory", claim: "memory", note: fmt.Sprintf("Session data as the stores report it (principals, keys and values on a cluster node; Redis MEMORY USAGE of every key; the SQLite sessions table's row bytes), and the heap the sessions cost a cluster node: their data plus %d bytes per session held, measured (docs/benchmarks.md, \"Bytes per session\"); in the steady state of the main run (%d nodes, %d users), and in separate runs with users in proportion to the nodes (each user logged in with three items in the cart).", HeapOverhead, r.Nodes, r.Users), rows: []row{
			{"session data per node", func(p *Phase) string { return mib(p.Memory.MeanSessionBytes()) }},
			{"session heap per node", func(p *Phase) string { return mib(p.Memory.MeanSessionHeap()) }},
			{"central store", func(p *Phase) string { return mib(float64(p.Memory.Central)) }},
			{"RSS per node", func(p *Phase) string { return mib(p.Memory.MeanNodeRSS()) }},
			{"RSS of the router", func(p *Phase) string { return mib(float64(p.Memory.RSS["router"])) }},
		}},
		{title: "Sessions lost and failed requests", claim: "loss", note: "Users who found their session gone (logged out) or cart items missing, at each event: a loss counts for the first event after the session was last seen whole. Failed requests: no answer or not 2xx (a checkout of a cart that was lost with its session answers 400). The steady state ends where the seconds around the kill begin.", rows: []row{
			{"users who lost their session, steady state", func(p *Phase) string { return strconv.Itoa(p.Before.LostSession) }},
			{"failed requests, steady state", func(p *Phase) string { return strconv.Itoa(p.Before.Failed) }},
			{"users who lost their session at the kill", eventCell(0, lost)},
			{"users who lost cart items at the kill", eventCell(0, func(e Event) string { return strconv.Itoa(e.Until.LostCart) })},
			{"failed requests around the kill", eventCell(0, func(e Event) string { return fmt.Sprintf("%d of %d", e.Around.Failed, e.Around.Requests) })},
			{"users who lost their session at the join", eventCell(1, func(e Event) string { return fmt.Sprintf("%d of %d", e.Until.LostSession, e.Users) })},
			{"users who lost cart items at the join", eventCell(1, func(e Event) string { return strconv.Itoa(e.Until.LostCart) })},
			{"failed requests around the join", eventCell(1, func(e Event) string { return fmt.Sprintf("%d of %d", e.Around.Failed, e.Around.Requests) })},
			{"failed requests, whole run", func(p *Phase) string { return fmt.Sprintf("%d of %d", p.Failed, p.Requests) }},
		}},
	}
	if len(r.Growth) > 0 {
		g := table{title: "Memory as the cluster grows", claim: "memory", note: fmt.Sprintf("Users grow with the nodes (%d per node). Session data per node (mean), or held by the central store, and the session heap per node (data plus %d bytes per session held, measured).", max(1, r.Users/max(1, r.Nodes)), HeapOverhead), rows: nil}
		for i, n := range r.Growth {
			g.rows = append(g.rows, row{fmt.Sprintf("N=%d: session data per node", n), growth(i, func(g Growth) string {
				if g.Memory.Central != 0 {
					return mib(float64(g.Memory.Central)) + " central"
				}
				return mib(g.Memory.MeanSessionBytes())
			})})
		}
		for i, n := range r.Growth {
			g.rows = append(g.rows, row{fmt.Sprintf("N=%d: session heap per node", n), growth(i, func(g Growth) string { return mib(g.Memory.MeanSessionHeap()) })})
		}
		for i, n := range r.Growth {
			g.rows = append(g.rows, row{fmt.Sprintf("N=%d: RSS per node", n), growth(i, func(g Growth) string { return mib(g.Memory.MeanNodeRSS()) })})
		}
		ts = append(ts, g)
	}
	return ts
}

// WriteMarkdown writes report.md: a table per measure, strategies as
// columns, the common claim above the figures.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# sessionkit lab\n\n")
	fmt.Fprintf(&b, "%s; %d nodes, %d users, %gs per strategy, think time %gs; node killed (SIGKILL) at 40%%, a node added at 70%%; total %.0fs. Machine: %s.\n\n",
		r.Started.Format("2006-01-02 15:04 UTC"), r.Nodes, r.Users, float64(r.Duration), float64(r.Think), float64(r.Elapsed), r.Machine)
	for _, p := range r.Phases {
		if !p.Measured {
			fmt.Fprintf(&b, "- **%s not measured**: %s\n", p.Strategy.Name, firstLine(p.Reason))
		}
		for _, pr := range p.Problems {
			fmt.Fprintf(&b, "- %s: %s\n", p.Strategy.Name, firstLine(pr))
		}
	}
	b.WriteString("\n")
	header := "| |"
	sep := "|---|"
	for _, p := range r.Phases {
		header += " " + p.Strategy.Name + " |"
		sep += "---|"
	}
	for _, t := range r.tables() {
		fmt.Fprintf(&b, "## %s\n\n%s\n\n%s\n%s\n", t.title, t.note, header, sep)
		b.WriteString("| *common claim* |")
		for _, p := range r.Phases {
			fmt.Fprintf(&b, " *%s* |", claims[t.claim][p.Strategy.Name])
		}
		b.WriteString("\n")
		for _, rw := range t.rows {
			fmt.Fprintf(&b, "| %s |", rw.label)
			for _, p := range r.Phases {
				cell := "not measured"
				if p.Measured {
					cell = rw.cell(p)
				}
				fmt.Fprintf(&b, " %s |", cell)
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	b.WriteString("Strategies: ")
	for i, p := range r.Phases {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s = %s", p.Strategy.Name, p.Strategy.Family)
	}
	b.WriteString(".\n\nRaw data: report.json, summary.csv, seconds.csv (per second), requests.csv (per request), growth.csv.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

var htmlPage = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sessionkit lab</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}.claim td{font-style:italic;color:#555;text-align:left}
figure{margin:1em 0}figure svg{max-width:100%;height:auto}.note{color:#555}
</style></head><body>
<h1>sessionkit lab</h1>
<p>{{.Summary}}</p>
{{range .Missing}}<p><strong>{{.}}</strong></p>{{end}}
<h2>Charts</h2>
{{range .Charts}}<figure class="chart" id="{{.ID}}">{{.SVG}}<figcaption>{{.Caption}}</figcaption></figure>
{{end}}
{{range .Tables}}<h2>{{.Title}}</h2><p class="note">{{.Note}}</p>
<table><tr><th></th>{{range $.Names}}<th>{{.}}</th>{{end}}</tr>
<tr class="claim"><td>common claim</td>{{range .Claims}}<td>{{.}}</td>{{end}}</tr>
{{range .Rows}}<tr><td>{{.Label}}</td>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>{{end}}
</table>{{end}}
<p class="note">Raw data: <a href="report.json">report.json</a>, <a href="summary.csv">summary.csv</a>, <a href="seconds.csv">seconds.csv</a>, <a href="requests.csv">requests.csv</a>, <a href="growth.csv">growth.csv</a>.</p>
</body></html>
`))

// WriteHTML writes report.html: the charts (SVG, embedded) and the tables.
func (r *Report) WriteHTML(w io.Writer) error {
	charts, err := r.charts()
	if err != nil {
		return err
	}
	type htmlRow struct {
		Label string
		Cells []string
	}
	type htmlTable struct {
		Title, Note string
		Claims      []string
		Rows        []htmlRow
	}
	data := struct {
		Summary string
		Missing []string
		Names   []string
		Charts  []chart
		Tables  []htmlTable
	}{
		Summary: fmt.Sprintf("%s; %d nodes, %d users, %gs per strategy; a node killed at 40%%, one added at 70%%; total %.0fs. Machine: %s.",
			r.Started.Format("2006-01-02 15:04 UTC"), r.Nodes, r.Users, float64(r.Duration), float64(r.Elapsed), r.Machine),
		Charts: charts,
	}
	for _, p := range r.Phases {
		data.Names = append(data.Names, p.Strategy.Name)
		if !p.Measured {
			data.Missing = append(data.Missing, p.Strategy.Name+" not measured: "+firstLine(p.Reason))
		}
	}
	for _, t := range r.tables() {
		ht := htmlTable{Title: t.title, Note: t.note}
		for _, p := range r.Phases {
			ht.Claims = append(ht.Claims, claims[t.claim][p.Strategy.Name])
		}
		for _, rw := range t.rows {
			hr := htmlRow{Label: rw.label}
			for _, p := range r.Phases {
				cell := "not measured"
				if p.Measured {
					cell = rw.cell(p)
				}
				hr.Cells = append(hr.Cells, cell)
			}
			ht.Rows = append(ht.Rows, hr)
		}
		data.Tables = append(data.Tables, ht)
	}
	return htmlPage.Execute(w, data)
}

func (r *Report) writeSummaryCSV(w io.Writer) error {
	c := csv.NewWriter(w)
	c.Write([]string{"measure", "strategy", "value", "common claim"})
	for _, t := range r.tables() {
		for _, rw := range t.rows {
			for _, p := range r.Phases {
				cell := "not measured"
				if p.Measured {
					cell = rw.cell(p)
				}
				c.Write([]string{t.title + ": " + rw.label, p.Strategy.Name, cell, claims[t.claim][p.Strategy.Name]})
			}
		}
	}
	c.Flush()
	return c.Error()
}

func (r *Report) writeSecondsCSV(w io.Writer) error {
	c := csv.NewWriter(w)
	c.Write([]string{"strategy", "second", "requests", "failed", "p50_ms", "p99_ms"})
	for _, p := range r.Phases {
		for _, s := range p.Seconds {
			c.Write([]string{p.Strategy.Name, strconv.Itoa(s.T), strconv.Itoa(s.Requests), strconv.Itoa(s.Failed), fmt.Sprintf("%.3f", s.P50), fmt.Sprintf("%.3f", s.P99)})
		}
	}
	c.Flush()
	return c.Error()
}

func (r *Report) writeRequestsCSV(w io.Writer) error {
	c := csv.NewWriter(w)
	c.Write([]string{"strategy", "t_ms", "user", "op", "status", "latency_us"})
	for _, p := range r.Phases {
		for _, s := range p.Samples {
			c.Write([]string{p.Strategy.Name, strconv.FormatInt(s.T.Milliseconds(), 10), strconv.Itoa(s.User), s.Op, strconv.Itoa(s.Code), strconv.FormatInt(s.Latency.Microseconds(), 10)})
		}
	}
	c.Flush()
	return c.Error()
}

func (r *Report) writeGrowthCSV(w io.Writer) error {
	c := csv.NewWriter(w)
	c.Write([]string{"strategy", "nodes", "users", "session_bytes_per_node", "central_bytes", "rss_per_node", "reason"})
	for _, p := range r.Phases {
		for _, g := range p.Growth {
			c.Write([]string{p.Strategy.Name, strconv.Itoa(g.Nodes), strconv.Itoa(g.Users), fmt.Sprintf("%.0f", g.Memory.MeanSessionBytes()),
				strconv.FormatInt(g.Memory.Central, 10), fmt.Sprintf("%.0f", g.Memory.MeanNodeRSS()), g.Reason})
		}
	}
	c.Flush()
	return c.Error()
}
