package broker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/testlog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"
)

// consumeAll reads every record of topic from the start until n are seen.
func consumeAll(t testing.TB, b *Broker, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := newClient(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(out), n, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

func TestLibraryStartProduceConsumeRestart(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	cl := newClient(t, b, kgo.DefaultProduceTopic("lib"))
	createTopic(t, cl, "lib", 3, map[string]string{"retention.ms": "3600000"})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	want := map[string]int64{}
	for i := 0; i < 100; i++ {
		r := &kgo.Record{Key: []byte(fmt.Sprint(i % 7)), Value: []byte(fmt.Sprintf("v%03d", i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		want[string(r.Value)] = int64(r.Partition)<<32 | r.Offset
	}
	cl.Close()
	if err := b.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	// A new broker on the same directory has every record at its offset,
	// and the topic's configuration.
	b = startBroker(t, dir, nil)
	defer b.Close()
	got := consumeAll(t, b, "lib", 100)
	if len(got) != 100 {
		t.Fatalf("got %d records after restart, want 100", len(got))
	}
	for _, r := range got {
		if pos, ok := want[string(r.Value)]; !ok || pos != int64(r.Partition)<<32|r.Offset {
			t.Fatalf("record %s at %d/%d, produced at %d/%d", r.Value, r.Partition, r.Offset, pos>>32, pos&0xffffffff)
		}
		delete(want, string(r.Value))
	}
	if tp := b.node.Controller().State().Topics["lib"]; tp == nil || tp.Configs["retention.ms"] != "3600000" {
		t.Fatalf("topic config lost across restart: %+v", tp)
	}
}

// A broker bound to every address advertises this machine's host name
// (a wildcard is nothing a client can dial); an advertised wildcard is
// refused at start, as Kafka refuses 0.0.0.0 in advertised.listeners.
// The serving line says whether this start made a new cluster, names
// the data directory in full (a start in the wrong directory is seen) and
// the build's version, as Kafka's start logs its version.
func TestServingLineSaysNewCluster(t *testing.T) {
	dir := t.TempDir()
	for _, want := range []string{"new_cluster=true", "new_cluster=false"} {
		var logs *testlog.Buffer
		b := startBroker(t, dir, func(c *Config) { logs = logTo(c) })
		b.Close()
		line := ""
		for l := range strings.Lines(logs.String()) {
			if strings.Contains(l, "gokafkad serving") {
				line = l
			}
		}
		if !strings.Contains(line, want) || !strings.Contains(line, "data="+dir) || !strings.Contains(line, "version=") {
			t.Fatalf("serving line %q, want %s, data=%s and the version", line, want, dir)
		}
	}
}

func TestAdvertiseWildcardListen(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip("no host name")
	}
	cfg := DefaultConfig()
	cfg.Listen, cfg.RaftListen, cfg.AdminListen = "0.0.0.0:0", "127.0.0.1:0", ""
	cfg.DataDir, cfg.Logger = t.TempDir(), testLogger(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start on 0.0.0.0: %v", err)
	}
	defer b.Close()
	if adv, _, _ := net.SplitHostPort(b.listeners[0].advertised); adv != host {
		t.Errorf("advertised host %q, want the host name %q", adv, host)
	}
	_, port, _ := net.SplitHostPort(b.Addr().String())
	cl := newClient(t, b)
	md := request[*kmsg.MetadataResponse](t, cl, kmsg.NewPtrMetadataRequest())
	if len(md.Brokers) != 1 || md.Brokers[0].Host != host || strconv.Itoa(int(md.Brokers[0].Port)) != port {
		t.Errorf("metadata brokers %+v, want %s:%s", md.Brokers, host, port)
	}

	cfg.DataDir, cfg.Listen, cfg.Advertise = t.TempDir(), "127.0.0.1:0", "0.0.0.0:9092"
	if b2, err := Start(ctx, cfg); err == nil {
		b2.Close()
		t.Fatal("advertised 0.0.0.0 accepted")
	} else if !strings.Contains(err.Error(), "advertised.listeners") {
		t.Errorf("error %q does not name advertised.listeners", err)
	}
}

// A panic on a handler's own goroutine reaches its Reply, where protocol
// recovers it and closes that connection only, instead of ending the
// process.
func TestGoReplyCarriesPanic(t *testing.T) {
	reply := goReply(func() kmsg.Response { panic("boom") })
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.Contains(s, "boom") || !strings.Contains(s, "TestGoReplyCarriesPanic") {
			t.Fatalf("Reply panicked with %v; want the handler's panic and its stack", r)
		}
	}()
	reply()
	t.Fatal("Reply returned")
}

// The admin HTTP server's complaints go to the broker's log, in its format,
// not to the standard logger's.
func TestAdminHTTPLogsToBrokerLog(t *testing.T) {
	var logs *testlog.Buffer
	b := startBroker(t, t.TempDir(), func(c *Config) {
		c.AdminListen = "127.0.0.1:0"
		logs = logTo(c)
	})
	defer b.Close()
	b.admin.ErrorLog.Print("http: Accept error: too many open files; retrying in 1s")
	if s := logs.String(); !strings.Contains(s, "level=WARN") || !strings.Contains(s, "component=admin-http") || !strings.Contains(s, "Accept error") {
		t.Fatalf("admin HTTP error not in the broker's log:\n%s", s)
	}
}

// badCollector yields a metric that cannot be gathered.
type badCollector struct{ d *prometheus.Desc }

func (c badCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.d }
func (c badCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(c.d, errors.New("cannot be gathered"))
}

// A metric that fails to gather is logged and left out; the rest of the
// scrape is served, not a 500 for all of it.
func TestMetricsScrapeSurvivesABadMetric(t *testing.T) {
	var logs *testlog.Buffer
	b := startBroker(t, t.TempDir(), func(c *Config) {
		c.AdminListen = "127.0.0.1:0"
		logs = logTo(c)
	})
	defer b.Close()
	b.metrics.reg.MustRegister(badCollector{prometheus.NewDesc("gokafka_test_bad", "a metric that fails", nil, nil)})
	resp, err := http.Get("http://" + b.AdminAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "gokafka_connections") {
		t.Fatalf("scrape: status %d, body:\n%.500s", resp.StatusCode, body)
	}
	if !strings.Contains(logs.String(), "cannot be gathered") {
		t.Errorf("the failed metric is not in the broker's log:\n%s", logs)
	}
}

// The admin HTTP port keeps a bounded number of connections, and closes
// kept-alive ones that go idle: 200 connections each holding a kept-alive
// request took 200 file descriptors for as long as they stayed open.
func TestAdminHTTPConnectionsBounded(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) { c.AdminListen = "127.0.0.1:0" })
	defer b.Close()
	if b.admin.IdleTimeout <= 0 {
		t.Errorf("admin HTTP IdleTimeout %v: idle kept-alive connections are kept for good", b.admin.IdleTimeout)
	}
	const n = 200
	served := 0
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.DialTimeout("tcp", b.AdminAddr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			continue
		}
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
			resp.Body.Close()
			served++
		}
	}
	if served > 64 {
		t.Errorf("%d of %d connections held open and served at once, want at most 64", served, n)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	// Once they are gone the port serves again.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	waitFor(t, func() bool {
		resp, err := hc.Get("http://" + b.AdminAddr().String() + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, "the admin port to serve again")
}

// TestLostPartitionDoesNotStopTheNode: a partition whose files were removed
// while node.db still holds its raft state cannot elect a leader. The node
// starts all the same and serves every other partition; the lost one
// answers LEADER_NOT_AVAILABLE, and its topic can be deleted.
func TestLostPartitionDoesNotStopTheNode(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	cl := newClient(t, b)
	createTopic(t, cl, "lost", 3, nil)
	for p := int32(0); p < 3; p++ {
		if rp := produceRaw(t, cl, "lost", p, -1, encodeBatch(1000, -1, -1, -1, values(2, "l"))); rp.ErrorCode != 0 {
			t.Fatalf("produce to %d: %v", p, kerr.ErrorForCode(rp.ErrorCode))
		}
	}
	cl.Close()
	b.Close()
	if err := os.RemoveAll(filepath.Join(dir, "lost-1")); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	b = startBroker(t, dir, nil)
	defer b.Close()
	if el := time.Since(start); el > 20*time.Second {
		t.Fatalf("start took %v", el)
	}
	if p := b.node.Partition("lost", 1); p == nil || !p.Lost() {
		t.Fatalf("partition 1 not reported lost")
	}
	cl = newClient(t, b)
	for _, p := range []int32{0, 2} {
		if rp := produceRaw(t, cl, "lost", p, -1, encodeBatch(2000, -1, -1, -1, values(1, "m"))); rp.ErrorCode != 0 || rp.BaseOffset != 2 {
			t.Fatalf("produce to %d after the restart: %v at %d", p, kerr.ErrorForCode(rp.ErrorCode), rp.BaseOffset)
		}
	}
	// /metrics counts it offline, as Kafka's OfflinePartitionsCount.
	if n := gauge(t, b, "gokafka_offline_partitions"); n != 1 {
		t.Errorf("gokafka_offline_partitions = %v, want 1", n)
	}
	md := rawRequest(t, b, metadataReq(false, "lost")).(*kmsg.MetadataResponse)
	for _, mp := range md.Topics[0].Partitions {
		want := int16(0)
		if mp.Partition == 1 {
			want = kerr.LeaderNotAvailable.Code
		}
		if mp.ErrorCode != want {
			t.Errorf("metadata of partition %d: %v, want %v", mp.Partition, kerr.ErrorForCode(mp.ErrorCode), kerr.ErrorForCode(want))
		}
	}
	del := kmsg.NewPtrDeleteTopicsRequest()
	del.TimeoutMillis = 5000
	dt := kmsg.NewDeleteTopicsRequestTopic()
	dt.Topic = kmsg.StringPtr("lost")
	del.Topics = append(del.Topics, dt)
	if code := request[*kmsg.DeleteTopicsResponse](t, cl, del).Topics[0].ErrorCode; code != 0 {
		t.Fatalf("delete the topic: %v", kerr.ErrorForCode(code))
	}
	createTopic(t, cl, "lost", 3, nil)
	if rp := produceRaw(t, cl, "lost", 1, -1, encodeBatch(3000, -1, -1, -1, values(1, "n"))); rp.ErrorCode != 0 || rp.BaseOffset != 0 {
		t.Fatalf("produce to the topic made again: %v at %d", kerr.ErrorForCode(rp.ErrorCode), rp.BaseOffset)
	}
}

// A partition whose files the process may not change fails the start at
// once, saying which and why, as Kafka stops on a log directory it cannot
// use; it retried for a minute, serving nobody. (Root passes permission
// checks, so the directory is made immutable, which stops root too.)
func TestUnwritablePartitionFailsStart(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	createTopic(t, newClient(t, b), "imm", 1, nil)
	b.Close()
	pdir := filepath.Join(dir, "imm-0")
	if out, err := exec.Command("chattr", "+i", pdir).CombinedOutput(); err != nil {
		t.Skipf("chattr +i: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", pdir).Run() })
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Listen, cfg.RaftListen, cfg.AdminListen = dir, "127.0.0.1:0", "127.0.0.1:0", ""
	cfg.Logger = testLogger(t)
	start := time.Now()
	b, err := Start(context.Background(), cfg)
	if err == nil {
		b.Close()
		t.Fatal("started with a partition it cannot write")
	}
	if el := time.Since(start); el > 20*time.Second || !strings.Contains(err.Error(), "imm-0 cannot open its files") {
		t.Fatalf("start failed after %v with %v; want at once, naming imm-0", el, err)
	}
}

// A Start that fails late (here on the admin port, which is taken) leaves
// no goroutine behind: the caller has nothing to Close.
func TestFailedStartLeavesNothing(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	opts := []goleak.Option{goleak.IgnoreCurrent(), goleak.IgnoreTopFunction("internal/poll.runtime_pollWait")}
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Listen, cfg.RaftListen = t.TempDir(), "127.0.0.1:0", "127.0.0.1:0"
	cfg.AdminListen = taken.Addr().String()
	cfg.Logger = testLogger(t)
	b, err := Start(context.Background(), cfg)
	if err == nil {
		b.Close()
		t.Fatal("started with its admin port taken")
	}
	goleak.VerifyNone(t, opts...)
}

// TestBigAnswersBuiltInTurn: requests other than produce are handled once
// the earlier responses of their connection are written, as Kafka reads a
// connection's next request only then. A client that pipelines requests
// with big answers and reads none has one answer built, not MaxInFlight.
func TestBigAnswersBuiltInTurn(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "big-answer", 1, nil)
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.Version = 4
	for range 20_000 { // about 30 configs each: a 25 MB answer
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, "big-answer"
		req.Resources = append(req.Resources, r)
	}
	conn := rawConn(t, b)
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	var wire []byte
	for i := range 8 {
		wire = append(wire, rawFormatter.AppendRequest(nil, req, int32(i))...)
	}
	if _, err := conn.Write(wire); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the first answer is built and stuck in the socket
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if ms.HeapInuse > 400<<20 {
		t.Fatalf("heap in use %d MiB with 8 big answers asked for and none read: more than one built", ms.HeapInuse>>20)
	}
}

// gauge returns the value of an unlabelled gauge of b's /metrics.
func gauge(t *testing.T, b *Broker, name string) float64 {
	t.Helper()
	v, ok := metricValues(t, b, name)[""]
	if !ok {
		t.Fatalf("no gauge %s", name)
	}
	return v
}

// metricValues returns the series of the counter or gauge name in b's
// /metrics, by the value of their first label ("" when unlabelled).
func metricValues(t testing.TB, b *Broker, name string) map[string]float64 {
	t.Helper()
	mfs, err := b.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			key := ""
			if ls := m.GetLabel(); len(ls) > 0 {
				key = ls[0].GetValue()
			}
			out[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return out
}

// TestFilesShort: a node whose partitions need more open files than its
// limit says so, for a start that cannot open them all (RLIMIT_NOFILE
// lowered since they were made: each partition failed with "too many open
// files" for a minute and the start ended with "context deadline exceeded").
func TestFilesShort(t *testing.T) {
	if s := filesShortFor(3500, 8000, 0); !strings.Contains(s, "3500 partitions") || !strings.Contains(s, "17500") || !strings.Contains(s, "8000") {
		t.Fatalf("3500 partitions under a limit of 8000: %q", s)
	}
	if s := filesShortFor(3500, 20000, 0); s != "" {
		t.Fatalf("3500 partitions under a limit of 20000: %q", s)
	}
	// With the reserve kept when partitions are made (2000 of 20000).
	if s := filesShortFor(3700, 20000, -1); s == "" {
		t.Fatal("3700 partitions past 20000 less its reserve: nothing said")
	}
	if s := filesShortFor(3500, 20000, -1); s != "" {
		t.Fatalf("3500 partitions within 20000 less its reserve: %q", s)
	}
}
