package replication

import (
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"sort"
	"strings"
)

// TopicID is a topic's KIP-516 id.
type TopicID [16]byte

// NewTopicID returns a random, non-zero topic id.
func NewTopicID() TopicID {
	var id TopicID
	for id == (TopicID{}) {
		rand.Read(id[:])
	}
	return id
}

// String is the id as Kafka writes it (Uuid.toString: URL-safe base64
// without padding), in logs and in partition.metadata, and as the gokafka
// CLI prints it.
func (id TopicID) String() string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// Is reports whether s is the id as String writes it or, as partition
// directories made before that wrote it, in hex.
func (id TopicID) Is(s string) bool { return s == id.String() || s == hex.EncodeToString(id[:]) }

// BrokerInfo is one broker as the cluster knows it.
type BrokerInfo struct {
	ID   int32  `json:"id"`
	Host string `json:"host"` // advertised on its first client listener
	Port int32  `json:"port"`
	// Listener names the first client listener; "" (as registered
	// before listeners had names here) stands for PLAINTEXT.
	Listener string `json:"listener,omitempty"`
	// Endpoints are its other client listeners, in the order of its
	// listeners, each with the address advertised on it.
	Endpoints []Endpoint `json:"endpoints,omitempty"`
	RaftAddr  string     `json:"raft_addr"`
	Rack      string     `json:"rack,omitempty"`
}

// Endpoint is a named client listener's advertised address.
type Endpoint struct {
	Listener string `json:"listener"`
	Host     string `json:"host"`
	Port     int32  `json:"port"`
}

// Endpoint returns the address b advertises on the listener named
// listener, as Kafka answers a client with the addresses of the listener
// it connected to; ok is false when b has no such listener.
func (b BrokerInfo) Endpoint(listener string) (host string, port int32, ok bool) {
	if listener == cmp.Or(b.Listener, "PLAINTEXT") || listener == "" {
		return b.Host, b.Port, true
	}
	for _, e := range b.Endpoints {
		if e.Listener == listener {
			return e.Host, e.Port, true
		}
	}
	return "", 0, false
}

// Equal reports whether b and o are the same registration.
func (b BrokerInfo) Equal(o BrokerInfo) bool {
	return b.ID == o.ID && b.Host == o.Host && b.Port == o.Port && b.Listener == o.Listener &&
		slices.Equal(b.Endpoints, o.Endpoints) && b.RaftAddr == o.RaftAddr && b.Rack == o.Rack
}

// Topic is one topic's metadata. Values handed out by State are shared and
// must not be modified.
type Topic struct {
	Name     string            `json:"name"`
	ID       TopicID           `json:"id"`
	Internal bool              `json:"internal,omitempty"`
	Replicas [][]int32         `json:"replicas"` // per partition, the replica broker ids; the first is preferred leader
	Configs  map[string]string `json:"configs,omitempty"`
	// EpochBase is the raft term that is its partitions' leader epoch 0
	// (logstore.Config.EpochBase): FirstLeaderTerm for a topic created
	// since Kafka's epochs are kept (a new partition's first epoch is 0,
	// as in Kafka), 0 for one created before, whose logs hold raft's
	// terms as epochs. Fixed at creation: every replica of every
	// partition, later ones too, stamps the same epochs.
	EpochBase uint64 `json:"epoch_base,omitempty"`
}

// FirstLeaderTerm is the term of a raft group's first leader: the group's
// bootstrap entry takes term 1, and an election the next term.
const FirstLeaderTerm = 2

// State is an immutable view of the cluster metadata at one applied index.
type State struct {
	ClusterID      string
	Index          uint64
	Brokers        map[int32]BrokerInfo
	Topics         map[string]*Topic
	ByID           map[TopicID]*Topic
	NextProducerID int64
	// BrokerConfigs holds the dynamic broker configs, by resource name:
	// "" for the cluster-wide defaults, a broker id for one broker. The
	// inner maps are never modified once in a State.
	BrokerConfigs map[string]map[string]string
	// ClientQuotas holds the client quotas, by QuotaKey of their entity.
	// Never modified once in a State (an alteration replaces the map).
	ClientQuotas map[string]ClientQuota
	// ScramCredentials holds the users' SCRAM credentials, by user and
	// mechanism (ScramSHA256, ScramSHA512); a user has at least one. Never
	// modified once in a State (an alteration replaces the map, and the
	// inner map of each user it changes). Read with ScramCredential.
	ScramCredentials map[string]map[string]ScramCredential
	// quotaKeys are the quota keys set on some entity of ClientQuotas,
	// kept with it (see HasQuotaKey).
	quotaKeys map[string]bool
	// brokerConfigsAt changes whenever BrokerConfigs may have: the index
	// of their last change, or that the state was loaded at.
	brokerConfigsAt uint64
}

// HasPartition reports whether topic exists with partition p.
func (s *State) HasPartition(topic string, p int32) bool {
	t := s.Topics[topic]
	return t != nil && p >= 0 && int(p) < len(t.Replicas)
}

// SortedTopics returns the topic names in order.
func (s *State) SortedTopics() []string {
	names := make([]string, 0, len(s.Topics))
	for n := range s.Topics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SortedBrokers returns the brokers ordered by id.
func (s *State) SortedBrokers() []BrokerInfo {
	out := make([]BrokerInfo, 0, len(s.Brokers))
	for _, b := range s.Brokers {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *State) clone() *State {
	c := &State{
		ClusterID:      s.ClusterID,
		Index:          s.Index,
		Brokers:        make(map[int32]BrokerInfo, len(s.Brokers)),
		Topics:         make(map[string]*Topic, len(s.Topics)),
		ByID:           make(map[TopicID]*Topic, len(s.ByID)),
		NextProducerID: s.NextProducerID,
		BrokerConfigs:  make(map[string]map[string]string, len(s.BrokerConfigs)),
		ClientQuotas:   s.ClientQuotas,
		quotaKeys:      s.quotaKeys,

		ScramCredentials: s.ScramCredentials,

		brokerConfigsAt: s.brokerConfigsAt,
	}
	for k, v := range s.BrokerConfigs {
		c.BrokerConfigs[k] = v
	}
	for k, v := range s.Brokers {
		c.Brokers[k] = v
	}
	for k, v := range s.Topics {
		c.Topics[k] = v
		c.ByID[v.ID] = v
	}
	return c
}

func emptyState() *State {
	return &State{
		Brokers:       map[int32]BrokerInfo{},
		Topics:        map[string]*Topic{},
		ByID:          map[TopicID]*Topic{},
		BrokerConfigs: map[string]map[string]string{},
	}
}

// CollidingTopic returns an existing topic other than name whose name
// equals name once '.' and '_' are taken as one character, or "". Kafka
// refuses such a pair because both map to the same metric names.
func (s *State) CollidingTopic(name string) string {
	if !strings.ContainsAny(name, "._") {
		return ""
	}
	key := strings.ReplaceAll(name, ".", "_")
	var found []string
	for other := range s.Topics {
		if other != name && strings.ReplaceAll(other, ".", "_") == key {
			found = append(found, other)
		}
	}
	if len(found) == 0 {
		return ""
	}
	sort.Strings(found)
	return found[0]
}
