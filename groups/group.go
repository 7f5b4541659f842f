package groups

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// state is a classic-protocol group state. The names are Kafka's, as shown by
// DescribeGroups and ListGroups.
type state int8

const (
	stateEmpty state = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateDead
)

func (s state) String() string {
	switch s {
	case stateEmpty:
		return "Empty"
	case statePreparingRebalance:
		return "PreparingRebalance"
	case stateCompletingRebalance:
		return "CompletingRebalance"
	case stateStable:
		return "Stable"
	case stateDead:
		return "Dead"
	}
	return "Unknown"
}

type protocol struct {
	name     string
	metadata []byte
}

type member struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocols        []protocol
	assignment       []byte

	// joinCh is set while the member awaits the end of the join phase and
	// syncCh while it awaits its assignment. Both are buffered (cap 1) and
	// are cleared as soon as a response is sent, so at most one response is
	// ever sent on each.
	joinCh chan *kmsg.JoinGroupResponse
	syncCh chan *kmsg.SyncGroupResponse

	session    Timer
	sessionSeq uint64 // identifies the live session timer
}

func (m *member) awaitingJoin() bool { return m.joinCh != nil }

func (m *member) metadataFor(name string) []byte {
	for _, p := range m.protocols {
		if p.name == name {
			return p.metadata
		}
	}
	return nil
}

type tp struct {
	topic string
	part  int32
}

type offset struct {
	offset       int64
	leaderEpoch  int32
	metadata     string
	commitMillis int64
	expireMillis int64 // -1: expires by group retention rules
}

type group struct {
	id           string
	state        state
	stateTime    time.Time // when state last changed; zero if unknown (old records)
	protocolType string    // "" for a group used only to store offsets
	protocol     string    // selected protocol; "" until a generation selects one
	generation   int32
	leader       string

	members map[string]*member
	order   []string          // member ids in join order: leader succession and response order
	static  map[string]string // group.instance.id -> member id
	pending map[string]Timer  // member ids handed out with MEMBER_ID_REQUIRED

	// pendingSync holds the members of the current generation that have
	// not sent SyncGroup yet; they are removed when syncTimer fires.
	pendingSync map[string]bool
	syncTimer   Timer
	syncWriting bool // the leader's assignment is being persisted

	rebalanceTimer Timer
	rebalanceSeq   uint64 // identifies the live rebalance/sync timers
	initialDelay   bool   // the join phase is in its initial delay
	newMemberAdded bool
	delayRemaining time.Duration

	offsets  map[tp]offset
	inflight map[tp]int // commits appended to the store and not yet applied

	rebalances uint64 // join phases completed with members, since this shard loaded the group (metrics)
}

func newGroup(id string, now time.Time) *group {
	return &group{
		id:        id,
		state:     stateEmpty,
		stateTime: now,
		members:   make(map[string]*member),
		static:    make(map[string]string),
		pending:   make(map[string]Timer),
		offsets:   make(map[tp]offset),
		inflight:  make(map[tp]int),
	}
}

func (g *group) transition(to state, now time.Time) {
	g.state = to
	g.stateTime = now
}

// rebalanceTimeout is the longest rebalance timeout of the members, as Kafka
// uses for the join phase and for pending syncs.
func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

func (g *group) allJoined() bool {
	if len(g.pending) > 0 {
		return false
	}
	for _, m := range g.members {
		if !m.awaitingJoin() {
			return false
		}
	}
	return true
}

// candidates returns the protocols every member supports, in the preference
// order of the first member, ignoring member except (a rejoining member whose
// protocols are about to be replaced). As Kafka's count of members per
// protocol, it takes time in proportion to the protocols listed: a request
// may list tens of thousands, and a check of each against each held the
// shard's lock for seconds.
func (g *group) candidates(except string) []string {
	var first *member
	n := 0
	for _, id := range g.order {
		if id != except {
			if first == nil {
				first = g.members[id]
			}
			n++
		}
	}
	if first == nil {
		return nil
	}
	type count struct{ members, last int }
	counts := make(map[string]*count, len(first.protocols))
	for _, p := range first.protocols {
		counts[p.name] = &count{last: -1}
	}
	i := 0
	for id, m := range g.members {
		if id == except {
			continue
		}
		for _, p := range m.protocols {
			if c := counts[p.name]; c != nil && c.last != i { // a name listed twice counts once
				c.members++
				c.last = i
			}
		}
		i++
	}
	var out []string
	for _, p := range first.protocols {
		if counts[p.name].members == n {
			out = append(out, p.name)
		}
	}
	return out
}

// supports reports whether a joining member with these protocols may be in
// the group: an empty group takes any non-empty protocol type and list;
// otherwise the type must match and one protocol must be common to all.
func (g *group) supports(memberID, protocolType string, protos []kmsg.JoinGroupRequestProtocol) bool {
	others := len(g.members)
	if _, ok := g.members[memberID]; ok {
		others--
	}
	if others == 0 {
		// A sole member may change its protocols, but not the type of
		// a group that is not Empty (as Kafka checks it).
		if g.state != stateEmpty && protocolType != g.protocolType {
			return false
		}
		return protocolType != "" && len(protos) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	cands := make(map[string]bool)
	for _, c := range g.candidates(memberID) {
		cands[c] = true
	}
	for _, p := range protos {
		if cands[p.Name] {
			return true
		}
	}
	return false
}

// selectProtocol runs Kafka's vote: each member votes for the first protocol
// of its own preference list that all members support; most votes wins, ties
// going to the earlier protocol in the first member's preference.
func (g *group) selectProtocol() string {
	cands := g.candidates("")
	votes := make(map[string]int, len(cands))
	for _, c := range cands {
		votes[c] = 0
	}
	for _, m := range g.members {
		for _, p := range m.protocols {
			if _, ok := votes[p.name]; ok {
				votes[p.name]++
				break
			}
		}
	}
	best := ""
	for _, c := range cands {
		if best == "" || votes[c] > votes[best] {
			best = c
		}
	}
	return best
}

func sameProtocols(m *member, protos []kmsg.JoinGroupRequestProtocol) bool {
	if len(m.protocols) != len(protos) {
		return false
	}
	for i, p := range protos {
		if m.protocols[i].name != p.Name || !bytes.Equal(m.protocols[i].metadata, p.Metadata) {
			return false
		}
	}
	return true
}

func toProtocols(protos []kmsg.JoinGroupRequestProtocol) []protocol {
	out := make([]protocol, len(protos))
	for i, p := range protos {
		out[i] = protocol{name: p.Name, metadata: bytes.Clone(p.Metadata)}
	}
	return out
}

func (g *group) addMember(m *member) {
	g.members[m.id] = m
	g.order = append(g.order, m.id)
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	if g.leader == "" {
		g.leader = m.id
	}
}

// renameMember moves a static member to a new member id (KIP-345 replace).
func (g *group) renameMember(m *member, newID string) {
	oldID := m.id
	delete(g.members, oldID)
	m.id = newID
	g.members[newID] = m
	if i := slices.Index(g.order, oldID); i >= 0 {
		g.order[i] = newID
	}
	if m.instanceID != nil {
		g.static[*m.instanceID] = newID
	}
	if g.leader == oldID {
		g.leader = newID
	}
	if g.pendingSync[oldID] {
		delete(g.pendingSync, oldID)
		g.pendingSync[newID] = true
	}
}

// validateMember is Kafka's check of a member id and optional instance id
// in Heartbeat, SyncGroup, LeaveGroup and OffsetCommit.
func (g *group) validateMember(memberID string, instanceID *string) int16 {
	if instanceID != nil {
		cur, ok := g.static[*instanceID]
		switch {
		case ok && cur != memberID:
			return kerr.FencedInstanceID.Code
		case !ok:
			return kerr.UnknownMemberID.Code
		}
		return 0
	}
	if _, ok := g.members[memberID]; !ok {
		return kerr.UnknownMemberID.Code
	}
	return 0
}

// subscribedTopics decodes the consumer subscriptions of the members. ok is
// false when the group is not a "consumer" group or a subscription cannot be
// decoded; callers then treat every topic as subscribed.
func (g *group) subscribedTopics() (topics map[string]bool, ok bool) {
	if g.protocolType != "consumer" {
		return nil, false
	}
	topics = make(map[string]bool)
	for _, m := range g.members {
		for _, p := range m.protocols {
			if g.protocol != "" && p.name != g.protocol {
				continue
			}
			var meta kmsg.ConsumerMemberMetadata
			if err := meta.ReadFrom(p.metadata); err != nil {
				return nil, false
			}
			for _, t := range meta.Topics {
				topics[t] = true
			}
		}
	}
	return topics, true
}

// metadataValue is the group's GroupMetadataValue record. assignments, when
// not nil, replaces the members' current assignments (the leader's SyncGroup
// is persisted before it is applied).
func (g *group) metadataValue(assignments map[string][]byte) []byte {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupMetadataValueV
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocol != "" {
		v.Protocol = kmsg.StringPtr(g.protocol)
	}
	if g.leader != "" && len(g.members) > 0 {
		v.Leader = kmsg.StringPtr(g.leader)
	}
	v.CurrentStateTimestamp = -1
	if !g.stateTime.IsZero() {
		v.CurrentStateTimestamp = g.stateTime.UnixMilli()
	}
	for _, id := range g.order {
		m := g.members[id]
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID = m.id
		vm.InstanceID = m.instanceID
		vm.ClientID = m.clientID
		vm.ClientHost = m.clientHost
		vm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout / time.Millisecond)
		vm.SessionTimeoutMillis = int32(m.sessionTimeout / time.Millisecond)
		vm.Subscription = m.metadataFor(g.protocol)
		vm.Assignment = m.assignment
		if assignments != nil {
			vm.Assignment = assignments[m.id]
		}
		v.Members = append(v.Members, vm)
	}
	return v.AppendTo(nil)
}

// newMemberID is Kafka's member id: the client id (or, for a static member,
// its instance id), a dash and a random UUID.
func newMemberID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", prefix, b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
