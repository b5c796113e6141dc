package clusterstore

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	members     prometheus.Gauge
	queue       prometheus.Gauge
	lag         prometheus.Histogram
	sent        prometheus.Counter
	received    prometheus.Counter
	dropped     prometheus.Counter
	promotions  prometheus.Counter
	forwarded   prometheus.Counter
	backupReads prometheus.Counter
	readThrough prometheus.Counter
	fenced      prometheus.Counter
	warm        prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		members:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "sessionkit_cluster_members", Help: "Storing nodes in this node's view."}),
		queue:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "sessionkit_cluster_replication_queue", Help: "Replication messages waiting to be sent."}),
		lag:         prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sessionkit_cluster_replication_seconds", Help: "Time to ship a replication batch and get its ack.", Buckets: prometheus.ExponentialBuckets(0.0001, 3, 10)}),
		sent:        prometheus.NewCounter(prometheus.CounterOpts{Name: "sessionkit_cluster_sent_bytes_total", Help: "Data plane bytes sent (request bodies)."}),
		received:    prometheus.NewCounter(prometheus.CounterOpts{Name: "sessionkit_cluster_received_bytes_total", Help: "Data plane bytes received (request bodies)."}),
		dropped:     prometheus.NewCounter(prometheus.CounterOpts{Name: "sessionkit_cluster_replication_dropped_total", Help: "Replication messages dropped on a full queue."}),
		promotions:  prometheus.NewCounter(prometheus.CounterOpts{Name: "sessionkit_cluster_promotions_total", Help: "Sessions this node came to own after a membership change."}),
		forwarded:   prometheus.NewCounter(prometheus.CounterOpts{Name: "sessionkit_cluster_forwarded_total", Help: "Operations forwarded to the owner node."}),
		backupReads: prometheus.NewCounter(prometheus.CounterOpts{Name: "sessionkit_cluster_backup_reads_total", Help: "Loads answered by a backup because the owner did not."}),
		readThrough: prometheus.NewCounter(prometheus.CounterOpts{Name: "sessionkit_cluster_read_through_total", Help: "Sessions an owner fetched from their previous holder after a membership change."}),
		fenced:      prometheus.NewCounter(prometheus.CounterOpts{Name: "sessionkit_cluster_fenced_total", Help: "Replicated writes refused because their writer did not own the key under the view both nodes then held."}),
		warm:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "sessionkit_cluster_warm", Help: "1 when this node holds the newest copy of every session it owns; 0 while it pulls them after joining or coming back."}),
	}
	if reg != nil {
		reg.MustRegister(m.members, m.queue, m.lag, m.sent, m.received, m.dropped, m.promotions, m.forwarded, m.backupReads, m.readThrough, m.fenced, m.warm)
	}
	return m
}
