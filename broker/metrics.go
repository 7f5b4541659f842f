package broker

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metrics are the broker's Prometheus figures, on a registry of its own so
// that several brokers in one process (tests) do not collide.
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	bytesIn      *prometheus.CounterVec
	bytesOut     *prometheus.CounterVec
	recordsIn    *prometheus.CounterVec
	recordsOut   *prometheus.CounterVec
	connections  prometheus.Gauge
	connsTotal   prometheus.Counter
	commitLat    prometheus.Histogram
	fsyncLat     prometheus.Histogram
	produceError *prometheus.CounterVec
	// respErrors is Kafka's ErrorsPerSec: the error codes responses
	// carried, by API and error.
	respErrors *prometheus.CounterVec
	// quotaThrottle is Kafka's throttle-time sensor, summed: the time
	// clients over a byte-rate quota were told to wait, by quota.
	quotaThrottle *prometheus.CounterVec
}

// forgetTopic drops a deleted topic's series, as Kafka removes its
// per-topic metrics.
func (m *metrics) forgetTopic(name string) {
	for _, v := range []*prometheus.CounterVec{m.bytesIn, m.bytesOut, m.recordsIn, m.recordsOut} {
		v.DeleteLabelValues(name)
	}
}

func newMetrics(b *Broker) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gokafka_requests_total", Help: "Requests handled, by API.",
	}, []string{"api"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "gokafka_request_duration_seconds", Help: "Time from request read to response written, by API.",
		// 100 µs to 7 minutes: a JoinGroup waits out a rebalance, whose
		// timeout is commonly 5 minutes (max.poll.interval.ms).
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 23),
	}, []string{"api"})
	m.bytesIn = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gokafka_topic_bytes_in_total", Help: "Record bytes produced and appended, as the clients sent them (before a topic's compression.type recompresses them), by topic.",
	}, []string{"topic"})
	m.bytesOut = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gokafka_topic_bytes_out_total", Help: "Record batch bytes fetched, by topic.",
	}, []string{"topic"})
	m.recordsIn = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gokafka_topic_records_in_total", Help: "Records appended, by topic.",
	}, []string{"topic"})
	m.recordsOut = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gokafka_topic_records_out_total", Help: "Records fetched (counted per batch header), by topic.",
	}, []string{"topic"})
	m.connections = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "gokafka_connections", Help: "Open client connections.",
	})
	m.connsTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gokafka_connections_opened_total", Help: "Client connections accepted.",
	})
	m.commitLat = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "gokafka_raft_commit_duration_seconds", Help: "Time from handing a batch to raft to its commit and apply (includes the fsync).",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
	})
	m.fsyncLat = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "gokafka_log_fsync_duration_seconds", Help: "Time of each segment fsync of a raft batch (group commit).",
		Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18),
	})
	m.produceError = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gokafka_produce_errors_total", Help: "Partition produce errors, by Kafka error.",
	}, []string{"error"})
	m.respErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gokafka_response_errors_total", Help: "Error codes in responses, by API and Kafka error: the response's own and each failed topic, partition, group or resource it lists (NONE is not counted; see gokafka_requests_total).",
	}, []string{"api", "error"})
	m.quotaThrottle = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gokafka_quota_throttle_seconds_total", Help: "Time clients over a client quota were throttled for, by quota (producer_byte_rate, consumer_byte_rate, controller_mutation_rate, connection_creation_rate).",
	}, []string{"quota"})
	partitionsLed := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gokafka_partitions_led", Help: "Partitions this broker leads.",
	}, func() float64 {
		n := 0
		for _, p := range b.node.Partitions() {
			if p.Ready() {
				n++
			}
		}
		return float64(n)
	})
	replicas := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gokafka_partition_replicas", Help: "Partition replicas (raft groups) on this broker.",
	}, func() float64 { return float64(len(b.node.Partitions())) })
	offline := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gokafka_offline_partitions", Help: "Partitions with no leader that serves them (Kafka's OfflinePartitionsCount): one whose files are gone or cannot be opened, or one still electing. Alert when it stays above 0.",
	}, func() float64 {
		n := 0
		for name, t := range b.node.Controller().State().Topics {
			for i := range t.Replicas {
				if leader, _ := b.leaderOf(name, int32(i)); leader < 0 {
					n++
				}
			}
		}
		return float64(n)
	})
	diskFree := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gokafka_log_dir_free_bytes", Help: "Free space of the filesystem holding log.dirs at the last measurement (-1: not measured; see log.dir.min.free.bytes).",
	}, func() float64 {
		if b.disk == nil {
			return -1
		}
		return float64(b.disk.freeBytes())
	})
	m.reg.MustRegister(m.requests, m.latency, m.bytesIn, m.bytesOut, m.recordsIn, m.recordsOut,
		m.connections, m.connsTotal, m.commitLat, m.fsyncLat, m.produceError, m.respErrors, m.quotaThrottle, partitionsLed, replicas, offline, diskFree)
	m.reg.MustRegister(newGroupCollector(b))
	m.reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// The protocol.Observer hooks.
func (m *metrics) ConnOpened() { m.connections.Inc(); m.connsTotal.Inc() }
func (m *metrics) ConnClosed() { m.connections.Dec() }
func (m *metrics) RequestDone(key, version int16, elapsed time.Duration) {
	name := apiName(key)
	m.requests.WithLabelValues(name).Inc()
	m.latency.WithLabelValues(name).Observe(elapsed.Seconds())
}

// countErrors adds resp's error codes to respErrors.
func (m *metrics) countErrors(resp kmsg.Response) {
	if resp == nil {
		return
	}
	var name string
	responseErrors(resp, func(code int16) {
		if name == "" {
			name = apiName(resp.Key())
		}
		m.respErrors.WithLabelValues(name, errorName(code)).Inc()
	})
}

func apiName(key int16) string {
	if name := kmsg.NameForKey(key); name != "" {
		return name
	}
	return strconv.Itoa(int(key))
}
