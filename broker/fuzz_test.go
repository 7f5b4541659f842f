package broker

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/gokafka/gokafka/protocol"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzHandle gives a real broker's handlers what a client can get past the
// protocol layer: any key and version the broker advertises, with any body
// kmsg decodes. No answer may panic or run the broker out of memory (a
// partition count of two billion once did), and every answer must encode.
// Handlers that wait (a long poll, a rebalance) are cut short by the
// request's context, as a closing connection would.
func FuzzHandle(f *testing.F) {
	var keys []int16
	for k := range supportedVersions {
		if k != 18 { // ApiVersions never reaches the handler
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for i, k := range keys {
		vr := supportedVersions[k]
		for v := vr.Min; v <= vr.Max; v++ {
			req := kmsg.RequestForKey(k)
			req.SetVersion(v)
			f.Add(uint8(i), uint8(v-vr.Min), req.AppendTo(nil))
		}
	}
	for _, req := range fuzzSeeds() {
		i := slices.Index(keys, req.Key())
		f.Add(uint8(i), uint8(req.GetVersion()-supportedVersions[req.Key()].Min), req.AppendTo(nil))
	}

	b := startBroker(f, f.TempDir(), func(c *Config) { c.GroupMinSessionTimeoutMs = 1 })
	f.Cleanup(func() { b.Close() })
	conn := &protocol.ConnInfo{
		Remote: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000},
		Local:  b.Addr(),
		ID:     1,
	}

	f.Fuzz(func(t *testing.T, ki, vi uint8, body []byte) {
		k := keys[int(ki)%len(keys)]
		vr := supportedVersions[k]
		v := vr.Min + int16(int(vi)%int(vr.Max-vr.Min+1))
		req := kmsg.RequestForKey(k)
		req.SetVersion(v)
		// The body is the request's own buffer, as the protocol layer's
		// frame is: raft may hold produced batches after the answer.
		if !decodes(req, slices.Clone(body)) {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		pr := &protocol.Request{Key: k, Version: v, Body: req, Conn: conn, Received: time.Now()}
		resp := b.Handle(ctx, pr)()
		if resp == nil {
			if p, ok := req.(*kmsg.ProduceRequest); !ok || p.Acks != 0 {
				t.Fatalf("no answer to key %d v%d", k, v)
			}
			return // acks=0: no answer is sent
		}
		if resp.Key() != k || resp.GetVersion() != v {
			t.Fatalf("answer key %d v%d to key %d v%d", resp.Key(), resp.GetVersion(), k, v)
		}
		resp.AppendTo(nil)
		if pr.AfterEncode != nil {
			pr.AfterEncode()
		}
	})
}

// decodes reports whether kmsg reads body as req; kmsg may panic on input it
// does not expect, which the protocol layer turns into a closed connection.
func decodes(req kmsg.Request, body []byte) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return req.ReadFrom(body) == nil
}

// fuzzSeeds are requests that reach deep into their handlers (a topic that
// exists, records to store, a group to join) and counts that once ran the
// broker out of memory.
func fuzzSeeds() []kmsg.Request {
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Version = 7
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = "fz", 2, 1
	ct.Topics = append(ct.Topics, t)

	pr := kmsg.NewPtrProduceRequest()
	pr.Version, pr.Acks, pr.TimeoutMillis = 9, -1, 1000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "fz"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(3, "v"))
	pt.Partitions = append(pt.Partitions, pp)
	pr.Topics = append(pr.Topics, pt)

	fe := kmsg.NewPtrFetchRequest()
	fe.Version, fe.MaxWaitMillis, fe.MaxBytes = 12, 100, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "fz"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fe.Topics = append(fe.Topics, ft)

	jg := kmsg.NewPtrJoinGroupRequest()
	jg.Version, jg.Group, jg.SessionTimeoutMillis, jg.RebalanceTimeoutMillis = 5, "g", 10, 10
	jg.ProtocolType = "consumer"
	jp := kmsg.NewJoinGroupRequestProtocol()
	jp.Name = "range"
	jg.Protocols = append(jg.Protocols, jp)

	cp := kmsg.NewPtrCreatePartitionsRequest()
	cp.Version = 3
	c := kmsg.NewCreatePartitionsRequestTopic()
	c.Topic, c.Count = "fz", 3
	cp.Topics = append(cp.Topics, c)

	huge := kmsg.NewPtrCreateTopicsRequest()
	huge.Version = 7
	t = kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = "huge", 2_000_000_000, 1
	huge.Topics = append(huge.Topics, t)
	t = kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = "far", -1, -1
	a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	a.Partition, a.Replicas = 2_000_000_000, []int32{1}
	t.ReplicaAssignment = append(t.ReplicaAssignment, a)
	huge.Topics = append(huge.Topics, t)

	lcr := kmsg.NewPtrListConfigResourcesRequest()
	lcr.Version = 1
	lcr.ResourceTypes = []int8{2, 4, 8, 16, 32, 2}
	lcrBad := kmsg.NewPtrListConfigResourcesRequest()
	lcrBad.Version = 1
	lcrBad.ResourceTypes = []int8{2, -1}

	// SCRAM credentials: one set, one deleted, a user named twice, bad
	// mechanisms and iterations; then described, all and by name.
	scram := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	for i, u := range []struct {
		name       string
		mech       int8
		iterations int32
	}{{"fz", 1, 4096}, {"fz2", 2, 16384}, {"fz2", 1, 8192}, {"", 0, 4096}, {"fz3", 2, 1 << 30}} {
		up := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
		up.Name, up.Mechanism, up.Iterations = u.name, u.mech, u.iterations
		up.Salt, up.SaltedPassword = []byte{byte(i)}, []byte("salted")
		scram.Upsertions = append(scram.Upsertions, up)
	}
	sd := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
	sd.Name, sd.Mechanism = "fz", 2
	scram.Deletions = append(scram.Deletions, sd)
	scramAll := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	scramNamed := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	for _, n := range []string{"fz", "fz2", "fz", ""} {
		u := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
		u.Name = n
		scramNamed.Users = append(scramNamed.Users, u)
	}

	return []kmsg.Request{ct, pr, fe, jg, cp, huge, lcr, lcrBad, scram, scramAll, scramNamed}
}
