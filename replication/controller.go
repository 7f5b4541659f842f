package replication

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// Errors a controller command can end with; the broker maps them to Kafka codes.
var (
	ErrTopicExists     = errors.New("topic already exists")
	ErrTopicCollision  = errors.New("topic name collides with an existing topic")
	ErrUnknownTopic    = errors.New("unknown topic")
	ErrNotController   = errors.New("not the controller leader")
	ErrInvalidCommand  = errors.New("invalid controller command")
	ErrPartitionsLower = errors.New("partition count can only grow")
)

// controllerGroup is the raft group id of the metadata controller.
const controllerGroup = "__meta"

// Command is one change to the cluster metadata, replicated through the
// controller's raft group and applied by every broker.
type Command struct {
	Op         string             `json:"op"`
	Broker     *BrokerInfo        `json:"broker,omitempty"`
	Topic      *Topic             `json:"topic,omitempty"`
	Name       string             `json:"name,omitempty"`
	Replicas   [][]int32          `json:"replicas,omitempty"`
	Configs    map[string]*string `json:"configs,omitempty"` // nil value deletes the key
	ReplaceAll bool               `json:"replace_all,omitempty"`
	Count      int64              `json:"count,omitempty"`
	ClusterID  string             `json:"cluster_id,omitempty"`
	// NoCollision makes create_topic refuse a name that collides with an
	// existing topic's (State.CollidingTopic). It is a field, not a rule of
	// create_topic, so that log entries written before the rule existed
	// replay as they were applied.
	NoCollision bool `json:"no_collision,omitempty"`
	// Quotas are the client quota changes of alter_client_quotas.
	Quotas []QuotaAlteration `json:"quotas,omitempty"`
	// Scram are the SCRAM credential changes of alter_scram_credentials.
	Scram []ScramAlteration `json:"scram,omitempty"`
	// TopicID, when set, makes delete_topic delete topic Name only while
	// it has this id: one deleted and made again under the name since it
	// was looked up is another topic (ErrUnknownTopic).
	TopicID *TopicID `json:"topic_id,omitempty"`
}

// Controller command ops.
const (
	OpRegisterBroker   = "register_broker"
	OpCreateTopic      = "create_topic"
	OpDeleteTopic      = "delete_topic"
	OpCreatePartitions = "create_partitions"
	OpAlterConfigs     = "alter_configs"
	// OpAlterBrokerConfigs changes the dynamic configs of broker Name
	// ("" for the cluster-wide defaults), as OpAlterConfigs a topic's.
	OpAlterBrokerConfigs = "alter_broker_configs"
	OpAllocProducerIDs   = "alloc_producer_ids"
	OpInitCluster        = "init_cluster"
	// OpAlterClientQuotas applies Quotas, checked beforehand.
	OpAlterClientQuotas = "alter_client_quotas"
	// OpAlterScramCredentials applies Scram, checked beforehand, all or
	// nothing (ErrInvalidCommand when one names no user or an unknown
	// mechanism).
	OpAlterScramCredentials = "alter_scram_credentials"
)

// Controller is the metadata state machine. Its state lives in bbolt (bucket
// "meta") and, for readers, in an immutable *State swapped on every apply.
type Controller struct {
	db      *bolt.DB
	reserve *diskReserve
	logger  *slog.Logger
	raft    *raft.Raft

	mu      sync.Mutex
	state   *State
	changed chan struct{} // closed and replaced on every applied change

	enc encoder // of the state, for persist and Snapshot
}

var metaBucket = []byte("meta")

func newController(db *bolt.DB, reserve *diskReserve, logger *slog.Logger) (*Controller, error) {
	c := &Controller{db: db, reserve: reserve, logger: logger, changed: make(chan struct{})}
	st := emptyState()
	err := reserve.write(func() error {
		return db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(metaBucket)
			if err != nil {
				return err
			}
			if v := b.Get([]byte("state")); v != nil {
				return decodeState(v, st)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("controller state: %w", err)
	}
	c.state = st
	return c, nil
}

type stateFile struct {
	ClusterID      string       `json:"cluster_id"`
	Index          uint64       `json:"index"`
	Brokers        []BrokerInfo `json:"brokers"`
	Topics         []*Topic     `json:"topics"`
	NextProducerID int64        `json:"next_producer_id"`
	// BrokerConfigs are the dynamic broker configs (State.BrokerConfigs).
	BrokerConfigs map[string]map[string]string `json:"broker_configs,omitempty"`
	// ClientQuotas are the client quotas, in QuotaKey order.
	ClientQuotas []ClientQuota `json:"client_quotas,omitempty"`
	// ScramCredentials are the SCRAM credentials (State.ScramCredentials).
	ScramCredentials map[string]map[string]ScramCredential `json:"scram_credentials,omitempty"`
}

// encoder encodes whole states, each topic once: a state's topics are
// immutable (a change replaces the *Topic), so a topic's encoding is kept
// for as long as the state holds it. Encoding every topic at every change
// of the metadata cost a sixth of each topic creation on a node of 3,000
// topics.
type encoder struct {
	mu     sync.Mutex
	topics map[*Topic][]byte
}

func (e *encoder) encode(s *State) []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	// The rest of stateFile is encoded as usual; the topics are spliced
	// in as they are (a json.RawMessage would be scanned again).
	f := stateFile{ClusterID: s.ClusterID, Index: s.Index, NextProducerID: s.NextProducerID, Brokers: s.SortedBrokers()}
	if len(s.BrokerConfigs) > 0 {
		f.BrokerConfigs = s.BrokerConfigs
	}
	for _, k := range slices.Sorted(maps.Keys(s.ClientQuotas)) {
		f.ClientQuotas = append(f.ClientQuotas, s.ClientQuotas[k])
	}
	f.ScramCredentials = s.ScramCredentials
	rest, _ := json.Marshal(f) // {"cluster_id":...,"topics":null,...}
	if len(s.Topics) == 0 {
		e.topics = nil
		return rest
	}
	rest = bytes.Replace(rest, []byte(`"topics":null,`), nil, 1)
	kept := make(map[*Topic][]byte, len(s.Topics))
	out := append(make([]byte, 0, len(rest)+len(s.Topics)*256), `{"topics":[`...)
	for i, n := range s.SortedTopics() {
		t := s.Topics[n]
		b, ok := e.topics[t]
		if !ok {
			b, _ = json.Marshal(t)
		}
		kept[t] = b
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, b...)
	}
	e.topics = kept
	out = append(out, "],"...)
	return append(out, rest[1:]...)
}

func decodeState(b []byte, s *State) error {
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*s = *emptyState()
	s.ClusterID, s.Index, s.NextProducerID = f.ClusterID, f.Index, f.NextProducerID
	s.brokerConfigsAt = f.Index
	for _, br := range f.Brokers {
		s.Brokers[br.ID] = br
	}
	for _, t := range f.Topics {
		s.Topics[t.Name] = t
		s.ByID[t.ID] = t
	}
	for res, cfgs := range f.BrokerConfigs {
		s.BrokerConfigs[res] = cfgs
	}
	if len(f.ClientQuotas) > 0 {
		s.ClientQuotas = make(map[string]ClientQuota, len(f.ClientQuotas))
		for _, q := range f.ClientQuotas {
			s.ClientQuotas[QuotaKey(q.Entity)] = q
		}
		s.quotaKeys = quotaKeysOf(s.ClientQuotas)
	}
	if len(f.ScramCredentials) > 0 {
		s.ScramCredentials = f.ScramCredentials
	}
	return nil
}

// State returns the current metadata view. It must not be modified.
func (c *Controller) State() *State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Changed returns a channel closed at the next applied change.
func (c *Controller) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// Propose replicates cmd and waits for it to be applied. The result is the
// apply's outcome (an error from the list above, or nil).
func (c *Controller) Propose(ctx context.Context, cmd Command) (any, error) {
	data, err := json.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	for {
		if c.raft.State() == raft.Leader {
			break
		}
		// One node: the controller elects itself within its election timeout.
		// Several nodes: forwarding to the leader comes with the cluster work.
		select {
		case <-ctx.Done():
			return nil, ErrNotController
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err // asked for by a client since gone: not begun
	}
	timeout := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	f := c.raft.Apply(data, timeout)
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("controller apply: %w", err)
	}
	resp := f.Response()
	if err, ok := resp.(error); ok {
		return nil, err
	}
	return resp, nil
}

// Apply implements raft.FSM.
func (c *Controller) Apply(l *raft.Log) any {
	return c.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch implements raft.BatchingFSM: one bbolt transaction per batch.
func (c *Controller) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	c.mu.Lock()
	cur := c.state
	c.mu.Unlock()
	next := cur.clone()
	changed := false
	for i, l := range logs {
		if l.Index <= cur.Index {
			// Already in bbolt: replayed after a restart.
			continue
		}
		next.Index = l.Index
		changed = true
		if l.Type != raft.LogCommand {
			continue
		}
		var cmd Command
		if err := json.Unmarshal(l.Data, &cmd); err != nil {
			out[i] = fmt.Errorf("%w: %v", ErrInvalidCommand, err)
			continue
		}
		out[i] = c.apply(next, &cmd)
	}
	if !changed {
		return out
	}
	if err := c.persist(next); err != nil {
		// The state could not be made durable; raft will replay these entries
		// after a restart because the stored index did not move.
		c.logger.Error("controller: persisting state failed", "err", err)
	}
	c.mu.Lock()
	c.state = next
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	return out
}

func (c *Controller) persist(s *State) error {
	b := c.enc.encode(s)
	return c.reserve.wait(func() error {
		return c.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(metaBucket).Put([]byte("state"), b)
		})
	})
}

func (c *Controller) apply(s *State, cmd *Command) any {
	switch cmd.Op {
	case OpInitCluster:
		if s.ClusterID == "" {
			s.ClusterID = cmd.ClusterID
		}
		return nil
	case OpRegisterBroker:
		if cmd.Broker == nil {
			return ErrInvalidCommand
		}
		s.Brokers[cmd.Broker.ID] = *cmd.Broker
		return nil
	case OpCreateTopic:
		t := cmd.Topic
		if t == nil || t.Name == "" {
			return ErrInvalidCommand
		}
		if _, ok := s.Topics[t.Name]; ok {
			return ErrTopicExists
		}
		if _, ok := s.ByID[t.ID]; ok {
			return ErrTopicExists
		}
		if cmd.NoCollision {
			if other := s.CollidingTopic(t.Name); other != "" {
				return fmt.Errorf("%w: %s", ErrTopicCollision, other)
			}
		}
		s.Topics[t.Name] = t
		s.ByID[t.ID] = t
		c.logger.Info("topic created", "topic", t.Name, "partitions", len(t.Replicas), "id", t.ID.String())
		return nil
	case OpDeleteTopic:
		t, ok := s.Topics[cmd.Name]
		if !ok || cmd.TopicID != nil && t.ID != *cmd.TopicID {
			return ErrUnknownTopic
		}
		delete(s.Topics, t.Name)
		delete(s.ByID, t.ID)
		c.logger.Info("topic deleted", "topic", t.Name, "id", t.ID.String())
		return nil
	case OpCreatePartitions:
		t, ok := s.Topics[cmd.Name]
		if !ok {
			return ErrUnknownTopic
		}
		if len(cmd.Replicas) <= len(t.Replicas) {
			return ErrPartitionsLower
		}
		nt := *t
		nt.Replicas = cmd.Replicas
		s.Topics[t.Name] = &nt
		s.ByID[t.ID] = &nt
		c.logger.Info("topic partitions added", "topic", t.Name, "partitions", len(nt.Replicas), "were", len(t.Replicas))
		return nil
	case OpAlterConfigs:
		t, ok := s.Topics[cmd.Name]
		if !ok {
			return ErrUnknownTopic
		}
		nt := *t
		nt.Configs = map[string]string{}
		if !cmd.ReplaceAll {
			for k, v := range t.Configs {
				nt.Configs[k] = v
			}
		}
		for k, v := range cmd.Configs {
			if v == nil {
				delete(nt.Configs, k)
			} else {
				nt.Configs[k] = *v
			}
		}
		s.Topics[t.Name] = &nt
		s.ByID[t.ID] = &nt
		c.logger.Info("topic configs changed", "topic", t.Name, "changes", configChanges(cmd.Configs, cmd.ReplaceAll, true))
		return nil
	case OpAlterBrokerConfigs:
		next := map[string]string{}
		if !cmd.ReplaceAll {
			for k, v := range s.BrokerConfigs[cmd.Name] {
				next[k] = v
			}
		}
		for k, v := range cmd.Configs {
			if v == nil {
				delete(next, k)
			} else {
				next[k] = *v
			}
		}
		if len(next) == 0 {
			delete(s.BrokerConfigs, cmd.Name)
		} else {
			s.BrokerConfigs[cmd.Name] = next
		}
		s.brokerConfigsAt = s.Index
		// Keys only: a custom key's value may be a secret.
		c.logger.Info("dynamic broker configs changed", "broker", cmp.Or(cmd.Name, "<default>"), "changes", configChanges(cmd.Configs, cmd.ReplaceAll, false))
		return nil
	case OpAlterClientQuotas:
		applyQuotaAlterations(s, cmd.Quotas)
		for _, a := range cmd.Quotas {
			if len(a.Entity) > 0 {
				c.logger.Info("client quotas changed", "entity", QuotaKey(a.Entity), "changes", quotaChanges(a))
			}
		}
		return nil
	case OpAlterScramCredentials:
		if !checkScramAlterations(cmd.Scram) {
			return ErrInvalidCommand
		}
		applyScramAlterations(s, cmd.Scram)
		for _, a := range cmd.Scram {
			// The user and mechanism only, as Kafka logs them.
			if a.Credential == nil {
				c.logger.Info("SCRAM credential deleted", "user", a.User, "mechanism", a.Mechanism)
			} else {
				c.logger.Info("SCRAM credential set", "user", a.User, "mechanism", a.Mechanism)
			}
		}
		return nil
	case OpAllocProducerIDs:
		if cmd.Count <= 0 {
			return ErrInvalidCommand
		}
		first := s.NextProducerID
		s.NextProducerID += cmd.Count
		return first
	}
	return fmt.Errorf("%w: op %q", ErrInvalidCommand, cmd.Op)
}

// configChanges writes a config change for the log: key=value (or, without
// values, key) for each key set, -key for each removed, sorted; "replace:"
// first when the change replaces the whole set.
func configChanges(cfgs map[string]*string, replaceAll, values bool) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(cfgs)) {
		switch v := cfgs[k]; {
		case v == nil:
			parts = append(parts, "-"+k)
		case values:
			parts = append(parts, k+"="+*v)
		default:
			parts = append(parts, k)
		}
	}
	out := strings.Join(parts, " ")
	if replaceAll {
		out = "replace: " + out
	}
	return out
}

// Snapshot implements raft.FSM.
func (c *Controller) Snapshot() (raft.FSMSnapshot, error) {
	return controllerSnapshot(c.enc.encode(c.State())), nil
}

// Restore implements raft.FSM.
func (c *Controller) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	st := emptyState()
	if err := decodeState(b, st); err != nil {
		return fmt.Errorf("controller snapshot: %w", err)
	}
	// bbolt may be ahead of the snapshot (it is written on every apply);
	// never move the durable state backwards.
	if cur := c.State(); cur.Index > st.Index {
		return nil
	}
	if err := c.persist(st); err != nil {
		return err
	}
	c.mu.Lock()
	c.state = st
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	return nil
}

type controllerSnapshot []byte

func (s controllerSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s controllerSnapshot) Release() {}

// brokerIDString formats a broker id as a raft server id.
func brokerIDString(id int32) raft.ServerID { return raft.ServerID(strconv.Itoa(int(id))) }
