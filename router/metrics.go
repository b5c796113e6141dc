package router

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	healthy  *prometheus.GaugeVec
	reroutes *prometheus.CounterVec
	falls    *prometheus.CounterVec
	panics   prometheus.Counter

	mu     sync.RWMutex
	byCode map[codeKey]codeMetrics // the children of requests and latency, looked up once
}

type codeKey struct {
	backend string
	code    int
}

type codeMetrics struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessionkit_router_requests_total", Help: "Requests by backend and status code.",
		}, []string{"backend", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sessionkit_router_request_duration_seconds", Help: "Request latency through the router, by backend.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"backend"}),
		healthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sessionkit_router_backend_healthy", Help: "1 when the backend is healthy.",
		}, []string{"backend"}),
		reroutes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessionkit_router_reroutes_total", Help: "Requests retried on the next preference after a backend failed.",
		}, []string{"from", "to"}),
		falls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessionkit_router_backend_down_total", Help: "Times a backend was marked unhealthy.",
		}, []string{"backend"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sessionkit_router_panics_total", Help: "Panics recovered while serving a client connection; each closed that connection only.",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.healthy, m.reroutes, m.falls, m.panics)
	m.byCode = map[codeKey]codeMetrics{}
	return m
}

func (m *metrics) request(backend string, code int, start time.Time) {
	m.served(backend, code, time.Since(start))
}

// served counts a request that took d.
func (m *metrics) served(backend string, code int, d time.Duration) {
	k := codeKey{backend, code}
	m.mu.RLock()
	cm, ok := m.byCode[k]
	m.mu.RUnlock()
	if !ok {
		cm = codeMetrics{m.requests.WithLabelValues(backend, strconv.Itoa(code)), m.latency.WithLabelValues(backend)}
		m.mu.Lock()
		m.byCode[k] = cm
		m.mu.Unlock()
	}
	cm.requests.Inc()
	cm.latency.Observe(d.Seconds())
}

func (m *metrics) members(list []*backend) {
	m.healthy.Reset()
	for _, b := range list {
		m.health(b)
	}
}

func (m *metrics) health(b *backend) {
	v := 0.0
	if b.healthy.Load() {
		v = 1
	}
	m.healthy.WithLabelValues(b.Name).Set(v)
}

func (m *metrics) unhealthy(name string) { m.falls.WithLabelValues(name).Inc() }

func (m *metrics) reroute(from, to string) { m.reroutes.WithLabelValues(from, to).Inc() }
