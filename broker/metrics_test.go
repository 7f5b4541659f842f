package broker

import (
	"bytes"
	"maps"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Request latency buckets reach past the 5 minutes a JoinGroup may wait
// out a rebalance (max.poll.interval.ms' default), so that its quantiles
// can be read: they stopped at 13 s.
func TestRequestLatencyBucketsReachRebalances(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	rawRequest(t, b, kmsg.NewPtrApiVersionsRequest())
	// Observed once the answer is written, which the client may read first.
	var top float64 // the top finite bucket's bound
	waitFor(t, func() bool {
		mfs, err := b.metrics.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "gokafka_request_duration_seconds" {
				bs := mf.GetMetric()[0].GetHistogram().GetBucket()
				top = bs[len(bs)-1].GetUpperBound()
				return true
			}
		}
		return false
	}, "a request latency observed")
	if top < 300 {
		t.Fatalf("the top finite bucket is %v s, want 300 s or more", top)
	}
}

// responseErrors finds every error code a response carries, at any depth,
// and nothing in its record bytes.
func TestResponseErrorsWalk(t *testing.T) {
	commit := kmsg.NewPtrOffsetCommitResponse()
	for _, codes := range [][]int16{{0, 3, 3}, {25}} {
		rt := kmsg.NewOffsetCommitResponseTopic()
		for _, c := range codes {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.ErrorCode = c
			rt.Partitions = append(rt.Partitions, rp)
		}
		commit.Topics = append(commit.Topics, rt)
	}
	join := kmsg.NewPtrJoinGroupResponse()
	join.ErrorCode = 27
	fetch := kmsg.NewPtrFetchResponse()
	fetch.ErrorCode = 0
	ft := kmsg.NewFetchResponseTopic()
	fp := kmsg.NewFetchResponseTopicPartition()
	fp.ErrorCode = 1
	fp.RecordBatches = bytes.Repeat([]byte{0, 3}, 100)
	ft.Partitions = append(ft.Partitions, fp, kmsg.NewFetchResponseTopicPartition())
	fetch.Topics = append(fetch.Topics, ft)
	describe := kmsg.NewPtrDescribeConfigsResponse()
	dr := kmsg.NewDescribeConfigsResponseResource()
	dr.ErrorCode = 3
	describe.Resources = append(describe.Resources, dr, kmsg.NewDescribeConfigsResponseResource())

	for _, tc := range []struct {
		resp kmsg.Response
		want map[int16]int
	}{
		{commit, map[int16]int{3: 2, 25: 1}},
		{join, map[int16]int{27: 1}},
		{fetch, map[int16]int{1: 1}},
		{describe, map[int16]int{3: 1}},
		{kmsg.NewPtrApiVersionsResponse(), map[int16]int{}},
	} {
		got := map[int16]int{}
		responseErrors(tc.resp, func(c int16) { got[c]++ })
		if !maps.Equal(got, tc.want) {
			t.Errorf("%s: codes %v, want %v", kmsg.NameForKey(tc.resp.Key()), got, tc.want)
		}
	}
}

// gokafka_response_errors_total counts the codes of real answers, by API
// and error, as Kafka's ErrorsPerSec.
func TestResponseErrorsCounted(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) { c.AutoCreateTopics = false })
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "t", 1, nil)

	lo := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "missing"
	for i := range 2 {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition = int32(i)
		lt.Partitions = append(lt.Partitions, lp)
	}
	lo.Topics = append(lo.Topics, lt)
	rawRequest(t, b, lo)

	ct := kmsg.NewPtrCreateTopicsRequest()
	ctt := kmsg.NewCreateTopicsRequestTopic()
	ctt.Topic, ctt.NumPartitions, ctt.ReplicationFactor = "t", 1, 1
	ct.Topics = append(ct.Topics, ctt)
	rawRequest(t, b, ct)

	want := map[[2]string]float64{
		{"ListOffsets", "UNKNOWN_TOPIC_OR_PARTITION"}: 2,
		{"CreateTopics", "TOPIC_ALREADY_EXISTS"}:      1,
	}
	var got map[[2]string]float64
	waitFor(t, func() bool {
		mfs, err := b.metrics.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got = map[[2]string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "gokafka_response_errors_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				var k [2]string
				for _, l := range m.GetLabel() {
					switch l.GetName() {
					case "api":
						k[0] = l.GetValue()
					case "error":
						k[1] = l.GetValue()
					}
				}
				got[k] = m.GetCounter().GetValue()
			}
		}
		return maps.Equal(got, want)
	}, "the errors counted")
}

// The error walk over a produce answer of six partitions, as every
// produce request pays it.
func BenchmarkResponseErrorsProduce(b *testing.B) {
	resp := kmsg.NewPtrProduceResponse()
	rt := kmsg.NewProduceResponseTopic()
	for i := range 6 {
		rp := kmsg.NewProduceResponseTopicPartition()
		rp.Partition = int32(i)
		rt.Partitions = append(rt.Partitions, rp)
	}
	resp.Topics = append(resp.Topics, rt)
	n := 0
	for b.Loop() {
		responseErrors(resp, func(int16) { n++ })
	}
}

// A group id that is not valid UTF-8 (the protocol's strings are bytes to
// a Go client) cannot be a Prometheus label value: it is left out of the
// group figures, where it made every /metrics scrape fail with status 500
// for as long as the group was kept.
func TestGroupMetricsWithInvalidUTF8GroupID(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	offsetsTopicUp(t, b)
	cl := newClient(t, b)
	createTopic(t, cl, "t", 1, nil)
	for _, group := range []string{"bad\xffgroup", "good"} {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Version, req.Group, req.Generation = 8, group, -1
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Offset = 0
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := rawRequest(t, b, req).(*kmsg.OffsetCommitResponse)
		if c := resp.Topics[0].Partitions[0].ErrorCode; c != 0 {
			t.Fatalf("commit for %q: %v", group, kerr.ErrorForCode(c))
		}
	}
	mfs, err := b.metrics.reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	good := false
	for _, mf := range mfs {
		if mf.GetName() != "kafka_consumergroup_current_offset" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "consumergroup" && l.GetValue() == "good" {
					good = true
				}
			}
		}
	}
	if !good {
		t.Error("the group with a valid id is not in kafka_consumergroup_current_offset")
	}
}
