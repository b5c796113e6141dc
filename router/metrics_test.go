package router

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func BenchmarkMetricsRequest(b *testing.B) {
	m := newMetrics(prometheus.NewRegistry())
	start := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		m.request("n1", 200, start)
	}
}
