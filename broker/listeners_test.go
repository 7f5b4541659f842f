package broker

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/testlog"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Every PLAINTEXT listener is served, and a client is given the addresses
// advertised on the listener it connected to, as Kafka answers: the
// docker images' pattern of one listener for the containers' network and
// one for the host.
func TestSeveralListeners(t *testing.T) {
	dir := t.TempDir()
	props := "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT\n" +
		"listeners=PLAINTEXT://127.0.0.1:0,PLAINTEXT_HOST://127.0.0.1:0\n" +
		"advertised.listeners=PLAINTEXT://kafka.internal:29092\n"
	start := func() *Broker {
		return startBroker(t, dir, func(c *Config) {
			if err := c.LoadProperties(strings.NewReader(props)); err != nil {
				t.Fatal(err)
			}
		})
	}
	b := start()
	defer func() { b.Close() }()
	internal, host := b.ListenerAddr("PLAINTEXT"), b.ListenerAddr("plaintext_host")
	if internal == nil || host == nil || internal.String() != b.Addr().String() || internal.String() == host.String() {
		t.Fatalf("listener addresses %v and %v, Addr %v", internal, host, b.Addr())
	}
	hostHost, hostPortS, _ := net.SplitHostPort(host.String())
	hostPort, _ := strconv.Atoi(hostPortS)

	check := func(addr net.Addr, wantHost string, wantPort int32) {
		t.Helper()
		md := kmsg.NewPtrMetadataRequest()
		md.Version = 12
		mresp := rawRequestTo(t, addr, md).(*kmsg.MetadataResponse)
		if len(mresp.Brokers) != 1 || mresp.Brokers[0].Host != wantHost || mresp.Brokers[0].Port != wantPort {
			t.Errorf("metadata on %v: brokers %+v, want %s:%d", addr, mresp.Brokers, wantHost, wantPort)
		}
		dc := kmsg.NewPtrDescribeClusterRequest()
		dresp := rawRequestTo(t, addr, dc).(*kmsg.DescribeClusterResponse)
		if len(dresp.Brokers) != 1 || dresp.Brokers[0].Host != wantHost || dresp.Brokers[0].Port != wantPort {
			t.Errorf("describe cluster on %v: brokers %+v, want %s:%d", addr, dresp.Brokers, wantHost, wantPort)
		}
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.Version = 4
		fc.CoordinatorKeys = []string{"g"}
		fresp := rawRequestTo(t, addr, fc).(*kmsg.FindCoordinatorResponse)
		if len(fresp.Coordinators) != 1 || fresp.Coordinators[0].Host != wantHost || fresp.Coordinators[0].Port != wantPort {
			t.Errorf("find coordinator on %v: %+v, want %s:%d", addr, fresp.Coordinators, wantHost, wantPort)
		}
	}
	check(internal, "kafka.internal", 29092)
	check(host, hostHost, int32(hostPort))

	// A client of the host's listener produces and consumes through it.
	cl := newClient(t, b, kgo.SeedBrokers(host.String()), kgo.DefaultProduceTopic("l"), kgo.ConsumeTopics("l"), kgo.AllowAutoTopicCreation())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, kgo.StringRecord("v")).FirstErr(); err != nil {
		t.Fatalf("produce on the second listener: %v", err)
	}
	fs := cl.PollFetches(ctx)
	if err := fs.Err0(); err != nil || fs.NumRecords() != 1 {
		t.Fatalf("consume on the second listener: %d records, %v", fs.NumRecords(), err)
	}

	// A restart with other addresses registers them.
	b.Close()
	props = strings.Replace(props, "kafka.internal:29092", "kafka.other:29093", 1)
	b = start()
	check(b.ListenerAddr("PLAINTEXT"), "kafka.other", 29093)
}

// A listener on a host name advertises the name, as Kafka advertises
// PLAINTEXT://localhost:9092, not the address it resolved to.
func TestListenerHostNameAdvertised(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) { c.Listen = "localhost:0" })
	defer b.Close()
	_, port, _ := net.SplitHostPort(b.Addr().String())
	md := kmsg.NewPtrMetadataRequest()
	resp := rawRequest(t, b, md).(*kmsg.MetadataResponse)
	if len(resp.Brokers) != 1 || resp.Brokers[0].Host != "localhost" || strconv.Itoa(int(resp.Brokers[0].Port)) != port {
		t.Errorf("brokers %+v, want localhost:%s", resp.Brokers, port)
	}
}

// An advertised listener with no host (PLAINTEXT://:9092) advertises this
// machine's name, as Kafka resolves it, instead of refusing to start.
func TestAdvertisedEmptyHost(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip("no host name")
	}
	b := startBroker(t, t.TempDir(), func(c *Config) {
		c.Listen, c.Advertise = "PLAINTEXT://127.0.0.1:0", "PLAINTEXT://:29092"
	})
	defer b.Close()
	resp := rawRequest(t, b, kmsg.NewPtrMetadataRequest()).(*kmsg.MetadataResponse)
	if len(resp.Brokers) != 1 || resp.Brokers[0].Host != host || resp.Brokers[0].Port != 29092 {
		t.Errorf("brokers %+v, want %s:29092", resp.Brokers, host)
	}
}

// An embedder names its listeners with Config's fields, as a properties
// file does with the keys.
func TestListenersFromConfigFields(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) {
		c.ListenerSecurityProtocolMap = "INSIDE:PLAINTEXT,OUTSIDE:PLAINTEXT"
		c.Listen = "INSIDE://127.0.0.1:0,OUTSIDE://127.0.0.1:0"
	})
	defer b.Close()
	if b.ListenerAddr("INSIDE") == nil || b.ListenerAddr("outside") == nil {
		t.Fatalf("listeners INSIDE %v and OUTSIDE %v", b.ListenerAddr("INSIDE"), b.ListenerAddr("outside"))
	}
}

// A Kafka file's controller listener is not bound, and the log says which
// address the raft groups use instead.
func TestControllerListenerLogged(t *testing.T) {
	var logs *testlog.Buffer
	b := startBroker(t, t.TempDir(), func(c *Config) {
		logs = logTo(c)
		c.ListenerSecurityProtocolMap = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
		c.ControllerListenerNames = "CONTROLLER"
		c.Listen = "PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0"
	})
	defer b.Close()
	if out := logs.String(); !strings.Contains(out, "controller listeners are not bound") || !strings.Contains(out, "CONTROLLER://127.0.0.1:0") {
		t.Errorf("no word of the controller listener in the log:\n%s", out)
	}
}

// Start with a context already done fails at once, saying so.
func TestStartCancelled(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Listen, cfg.RaftListen, cfg.AdminListen = "127.0.0.1:0", "127.0.0.1:0", ""
	cfg.DataDir = t.TempDir()
	cfg.Logger = testLogger(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if b, err := Start(ctx, cfg); err == nil || !strings.Contains(err.Error(), "context canceled") {
		if b != nil {
			b.Close()
		}
		t.Fatalf("Start with a cancelled context: %v", err)
	}
}
