package broker

import (
	"strconv"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// groupCollector exports consumer-group figures under the names of
// danielqsj/kafka_exporter, which dashboards already chart, computed from the
// groups this broker coordinates at scrape time.
type groupCollector struct {
	b *Broker

	currentOffset *prometheus.Desc
	lag           *prometheus.Desc
	lagSum        *prometheus.Desc
	members       *prometheus.Desc
	state         *prometheus.Desc
	rebalances    *prometheus.Desc
}

var groupStates = []string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

func newGroupCollector(b *Broker) *groupCollector {
	return &groupCollector{
		b: b,
		currentOffset: prometheus.NewDesc("kafka_consumergroup_current_offset",
			"Committed offset of a consumer group on a partition.", []string{"consumergroup", "topic", "partition"}, nil),
		lag: prometheus.NewDesc("kafka_consumergroup_lag",
			"High watermark minus committed offset, per partition.", []string{"consumergroup", "topic", "partition"}, nil),
		lagSum: prometheus.NewDesc("kafka_consumergroup_lag_sum",
			"Lag of a consumer group summed over a topic's partitions.", []string{"consumergroup", "topic"}, nil),
		members: prometheus.NewDesc("kafka_consumergroup_members",
			"Members of a consumer group.", []string{"consumergroup"}, nil),
		state: prometheus.NewDesc("kafka_consumergroup_state",
			"1 for the group's current state.", []string{"consumergroup", "state"}, nil),
		rebalances: prometheus.NewDesc("gokafka_consumergroup_rebalances_total",
			"Rebalances completed with members since this coordinator loaded the group.", []string{"consumergroup"}, nil),
	}
}

func (c *groupCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.currentOffset, c.lag, c.lagSum, c.members, c.state, c.rebalances} {
		ch <- d
	}
}

func (c *groupCollector) Collect(ch chan<- prometheus.Metric) {
	if c.b.coord == nil {
		return
	}
	for _, shard := range c.b.coord.localShards() {
		for _, g := range shard.Groups() {
			if !utf8.ValidString(g.Group) {
				// A Prometheus label value must be UTF-8, and a client
				// may name a group with any bytes: such a group made
				// every scrape fail. It is left out (mapping its bytes
				// to valid ones could collide with another group's id).
				continue
			}
			ch <- prometheus.MustNewConstMetric(c.members, prometheus.GaugeValue, float64(g.Members), g.Group)
			ch <- prometheus.MustNewConstMetric(c.rebalances, prometheus.CounterValue, float64(g.Rebalances), g.Group)
			for _, st := range groupStates {
				v := 0.0
				if st == g.State {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, g.Group, st)
			}
			if g.Offsets == 0 {
				continue
			}
			topics, code := shard.OffsetFetch(g.Group, nil, false)
			if code != 0 {
				continue
			}
			for _, t := range topics {
				var sum int64
				haveLag := false
				for _, p := range t.Partitions {
					if p.ErrorCode != 0 || p.Offset < 0 {
						continue
					}
					part := strconv.Itoa(int(p.Partition))
					ch <- prometheus.MustNewConstMetric(c.currentOffset, prometheus.GaugeValue, float64(p.Offset), g.Group, t.Topic, part)
					if lp := c.b.node.Partition(t.Topic, p.Partition); lp != nil && lp.Ready() {
						lag := max(lp.HighWatermark()-p.Offset, 0)
						sum += lag
						haveLag = true
						ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(lag), g.Group, t.Topic, part)
					}
				}
				if haveLag {
					ch <- prometheus.MustNewConstMetric(c.lagSum, prometheus.GaugeValue, float64(sum), g.Group, t.Topic)
				}
			}
		}
	}
}
