package broker

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gokafka/gokafka/protocol"
	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Client quotas, as Kafka keeps them (KIP-13, KIP-55, KIP-219): quotas are
// set on users, client ids, or a user and a client id (or on their
// <default> entities) with AlterClientQuotas, kept in the cluster metadata,
// and enforced per broker on the byte rates of produce and fetch: a client
// over its rate is told how long to wait (throttle_time_ms) and its
// connection is muted that long.

const (
	// quotaPrincipal is the user of a client that did not authenticate
	// with SASL: Kafka's principal is User:ANONYMOUS then, and user quotas
	// name it so.
	quotaPrincipal = "ANONYMOUS"
	// quotaSensorIdle is how long a client's rate is kept unused, as
	// Kafka expires its quota sensors after an hour.
	quotaSensorIdle = time.Hour
)

// The quota keys Kafka accepts, by the entities they go on, with whether a
// value must be whole. Those enforced here are in quotaEnforced.
var (
	quotaUserClientKeys = map[string]quotaKeyType{
		"producer_byte_rate":       quotaLong,
		"consumer_byte_rate":       quotaLong,
		"request_percentage":       quotaDouble,
		"controller_mutation_rate": quotaDouble,
	}
	quotaIPKeys = map[string]quotaKeyType{
		"connection_creation_rate": quotaInt,
	}
	quotaEnforced = map[string]bool{
		"producer_byte_rate":       true,
		"consumer_byte_rate":       true,
		"controller_mutation_rate": true,
		"connection_creation_rate": true,
	}
)

type quotaKeyType int

const (
	quotaDouble quotaKeyType = iota
	quotaLong
	quotaInt
)

// quotaKind is a quota enforced on a byte rate.
type quotaKind int

const (
	quotaProduce quotaKind = iota
	quotaFetch
	quotaMutation   // controller_mutation_rate, a bucket, not a rate
	quotaConnection // connection_creation_rate, by address
)

var quotaKindKey = [...]string{quotaProduce: "producer_byte_rate", quotaFetch: "consumer_byte_rate"}

// quotaSensorKey names the rate a client's bytes count in: Kafka's quota
// metric tags. Clients under one user's quota share its rate; under a
// default entity's quota, each client (or user) has its own.
type quotaSensorKey struct {
	kind         quotaKind
	user, client string
}

// quotaRate is Kafka's sampled rate (as of Kafka 3.8): values summed into
// samples of a window each, the oldest replaced once all are used, the rate
// taken over the time the samples span but never less than all but one
// window, so a client's first burst is not judged over a few milliseconds.
// A sample goes once its last value is quota.window.num windows old, not
// its start: one that began before the windows measured but overlaps them
// still counts, and one more sample than quota.window.num is kept for it.
// (Dropped by its start, as before Kafka 3.8, what a client sent in the
// sample overlapping the oldest window was forgotten up to a window early.)
type quotaRate struct {
	samples  []quotaSample // quota.window.num of them, and one overlapping
	windowMs int64         // quota.window.size.seconds
	n        int           // samples in use
	cur      int
	last     time.Time // last recorded, for expiry
}

// newRate is a rate of the broker's quota.window.num samples of
// quota.window.size.seconds each.
func (b *Broker) newRate() *quotaRate {
	return newQuotaRate(int(b.cfg.QuotaWindowNum), b.quotaWindowMs())
}

func newQuotaRate(num int, windowMs int64) *quotaRate {
	return &quotaRate{samples: make([]quotaSample, num+1), windowMs: windowMs}
}

// num is quota.window.num.
func (r *quotaRate) num() int64 { return int64(len(r.samples) - 1) }

// quotaWindowMs is quota.window.size.seconds in ms.
func (b *Broker) quotaWindowMs() int64 { return int64(b.cfg.QuotaWindowSizeSeconds) * 1000 }

type quotaSample struct {
	start int64 // unix ms
	last  int64 // of its last value, unix ms
	value float64
}

func (r *quotaRate) record(v float64, nowMs int64) {
	switch {
	case r.n == 0:
		r.n, r.cur = 1, 0
		r.samples[0] = quotaSample{start: nowMs}
	case nowMs-r.samples[r.cur].start >= r.windowMs:
		r.cur = (r.cur + 1) % len(r.samples)
		r.n = max(r.n, r.cur+1)
		r.samples[r.cur] = quotaSample{start: nowMs}
	}
	r.samples[r.cur].value += v
	r.samples[r.cur].last = nowMs
}

// measure returns the rate per second and the window, in ms, it is over.
func (r *quotaRate) measure(nowMs int64) (rate float64, windowMs int64) {
	oldest, total := nowMs, 0.0
	for i := range r.n {
		s := &r.samples[i]
		if nowMs-s.last >= r.num()*r.windowMs {
			*s = quotaSample{start: nowMs, last: nowMs} // obsolete
		}
		total += s.value
		oldest = min(oldest, s.start)
	}
	windowMs = nowMs - oldest
	if full, least := windowMs/r.windowMs, r.num()-1; full < least {
		windowMs += (least - full) * r.windowMs
	}
	// At least a millisecond, as Kafka's: with quota.window.num 1 a
	// sample's first bytes are over no time at all, an infinite rate.
	windowMs = max(windowMs, 1)
	return total / (float64(windowMs) / 1000), windowMs
}

// quotas holds the rates of the clients under a byte-rate quota.
type quotas struct {
	mu        sync.Mutex
	rates     map[quotaSensorKey]*quotaRate
	buckets   map[quotaSensorKey]*mutationBucket
	lastPurge time.Time
	// The addresses of the ip entities of ipState, for ipQuotaLocked,
	// and those of the entities named by a host name, resolved once.
	ipState *replication.State
	ipIndex map[netip.Addr]float64
	ipHosts map[string][]netip.Addr
	// now is the byte-rate sensors' clock; nil is time.Now (tests set it).
	now func() time.Time
}

func (q *quotas) clock() time.Time {
	if q.now != nil {
		return q.now()
	}
	return time.Now()
}

// purgeLocked drops, every quarter of quotaSensorIdle, the rates and
// buckets unused for quotaSensorIdle, as Kafka expires its quota sensors:
// client ids and addresses are the clients' to choose, and under a default
// entity's quota each has its own. (A bucket unused that long is full, as
// a new one is.) q.mu is held.
func (q *quotas) purgeLocked(now time.Time) {
	if now.Sub(q.lastPurge) <= quotaSensorIdle/4 {
		return
	}
	q.lastPurge = now
	for k, r := range q.rates {
		if now.Sub(r.last) > quotaSensorIdle {
			delete(q.rates, k)
		}
	}
	for k, bk := range q.buckets {
		if now.Sub(bk.at) > quotaSensorIdle {
			delete(q.buckets, k)
		}
	}
}

// quotaPurgeEvery is how often purgeLoop looks for idle quota state.
var quotaPurgeEvery = quotaSensorIdle / 4

// purgeLoop purges the idle rates and buckets every quotaPurgeEvery until
// ctx ends, as Kafka's sensor expiry runs whether clients come or not:
// purgeLocked runs otherwise only when a client under a quota is counted,
// so the state of every client seen before a quota was removed, or before
// the clients under it went away, was kept for good.
func (b *Broker) purgeLoop(ctx context.Context) {
	t := time.NewTicker(quotaPurgeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			q := &b.quotas
			q.mu.Lock()
			q.purgeLocked(q.clock())
			q.mu.Unlock()
		}
	}
}

// rateLocked is the rate of key, made when new, marked used at now, after
// idle ones are purged. b.quotas.mu is held.
func (b *Broker) rateLocked(key quotaSensorKey, now time.Time) *quotaRate {
	q := &b.quotas
	if q.rates == nil {
		q.rates = map[quotaSensorKey]*quotaRate{}
	}
	q.purgeLocked(now)
	r := q.rates[key]
	if r == nil {
		r = b.newRate()
		q.rates[key] = r
	}
	r.last = now
	return r
}

// resolveQuota finds the quota of key that applies to a client, as Kafka's
// default quota callback looks, most specific first: the user and client
// id, the user and default client, the user, the default user and the
// client id, the default user and default client, the default user, the
// client id, the default client. ok is false when none does.
func resolveQuota(st *replication.State, key, user, client string) (limit float64, tagUser, tagClient string, ok bool) {
	if !st.HasQuotaKey(key) {
		return 0, "", "", false
	}
	return findQuota(st, key, user, client)
}

// findQuota is resolveQuota's search, apart so that only it pays for
// its arguments escaping.
func findQuota(st *replication.State, key, user, client string) (limit float64, tagUser, tagClient string, ok bool) {
	u, c := &user, &client
	part := func(typ string, name *string) replication.QuotaEntityPart {
		return replication.QuotaEntityPart{Type: typ, Name: name}
	}
	levels := []struct {
		parts       []replication.QuotaEntityPart
		user, given bool // tag the user; tag the client id
	}{
		{[]replication.QuotaEntityPart{part(replication.QuotaUser, u), part(replication.QuotaClientID, c)}, true, true},
		{[]replication.QuotaEntityPart{part(replication.QuotaUser, u), part(replication.QuotaClientID, nil)}, true, true},
		{[]replication.QuotaEntityPart{part(replication.QuotaUser, u)}, true, false},
		{[]replication.QuotaEntityPart{part(replication.QuotaUser, nil), part(replication.QuotaClientID, c)}, true, true},
		{[]replication.QuotaEntityPart{part(replication.QuotaUser, nil), part(replication.QuotaClientID, nil)}, true, true},
		{[]replication.QuotaEntityPart{part(replication.QuotaUser, nil)}, true, false},
		{[]replication.QuotaEntityPart{part(replication.QuotaClientID, c)}, false, true},
		{[]replication.QuotaEntityPart{part(replication.QuotaClientID, nil)}, false, true},
	}
	for _, l := range levels {
		if v, found := st.QuotaValue(key, l.parts...); found {
			if l.user {
				tagUser = user
			}
			if l.given {
				tagClient = client
			}
			return v, tagUser, tagClient, true
		}
	}
	return 0, "", "", false
}

// quotaClient names a client as quotas find it: its user (Kafka's
// principal name) and its client id.
type quotaClient struct{ user, clientID string }

// quotaClientOf is the client of req: the user its connection
// authenticated as with SASL, or ANONYMOUS.
func quotaClientOf(req *protocol.Request) quotaClient {
	qc := quotaClient{user: quotaPrincipal, clientID: req.ClientID}
	if req.Conn != nil && req.Conn.User != "" {
		qc.user = req.Conn.User
	}
	return qc
}

// throttle counts n bytes of kind for the client of req and returns how
// long, in ms, the client must wait for its rate to come back within its
// quota (0: it is within). As in Kafka, the bytes count whether or not the
// client is throttled, unless undo is set: a fetch that is throttled is
// answered without its records, which then did not go out, and Kafka
// takes them back from the same sensor at the same time it recorded them
// (unrecordQuotaSensor), so that they never land in a later sample.
func (b *Broker) throttle(kind quotaKind, qc quotaClient, n float64, undo bool) int32 {
	st := b.node.Controller().State()
	limit, user, client, ok := resolveQuota(st, quotaKindKey[kind], qc.user, qc.clientID)
	if !ok {
		return 0
	}
	q := &b.quotas
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock()
	nowMs := now.UnixMilli()
	r := b.rateLocked(quotaSensorKey{kind: kind, user: user, client: client}, now)
	r.record(n, nowMs)
	rate, windowMs := r.measure(nowMs)
	if rate <= limit {
		return 0
	}
	if undo {
		r.record(-n, nowMs)
	}
	ms := min(math.Round((rate-limit)/limit*float64(windowMs)), math.MaxInt32)
	b.metrics.quotaThrottle.WithLabelValues(quotaKindKey[kind]).Add(ms / 1000)
	return int32(ms)
}

// fetchQuotaBytes is the most a client under a consumer_byte_rate quota
// may be sent in one fetch: what the quota allows over all but one of its
// samples, as Kafka bounds a fetch's max bytes by it. 0: no quota.
func (b *Broker) fetchQuotaBytes(qc quotaClient) int64 {
	limit, _, _, ok := resolveQuota(b.node.Controller().State(), quotaKindKey[quotaFetch], qc.user, qc.clientID)
	if !ok {
		return 0
	}
	return int64(min(limit*float64(max(b.cfg.QuotaWindowNum-1, 1))*float64(b.cfg.QuotaWindowSizeSeconds), math.MaxInt32))
}

// throttleReply applies a throttle of ms to the reply of req as Kafka does
// (KIP-219) for every version of every request since 2.0: the response
// goes at once, carrying ms as its throttle_time_ms, and the connection is
// muted that long, from now. Holding back the response instead, as Kafka
// did before 2.0, would throttle twice the clients that wait out
// throttle_time_ms themselves at every version (sarama). ms 0 leaves the
// reply as it is.
func throttleReply(req *protocol.Request, ms int32, reply protocol.Reply) protocol.Reply {
	if ms <= 0 || reply == nil {
		return reply
	}
	req.Conn.Mute(time.Duration(ms) * time.Millisecond)
	return func() kmsg.Response {
		resp := reply()
		if s, ok := resp.(kmsg.SetThrottleResponse); ok {
			s.SetThrottle(ms)
		}
		return resp
	}
}

// quotaEntity is an entity of a request, checked: by type, its name (nil
// for the default entity).
type quotaEntity map[string]*string

func (e quotaEntity) parts() []replication.QuotaEntityPart {
	var out []replication.QuotaEntityPart
	for t, n := range e {
		out = append(out, replication.QuotaEntityPart{Type: t, Name: n})
	}
	slices.SortFunc(out, func(a, b replication.QuotaEntityPart) int { return strings.Compare(a.Type, b.Type) })
	return out
}

func (e quotaEntity) String() string {
	var sb strings.Builder
	for i, p := range e.parts() {
		if i > 0 {
			sb.WriteString(", ")
		}
		name := "<default>"
		if p.Name != nil {
			name = *p.Name
		}
		fmt.Fprintf(&sb, "%s=%s", p.Type, name)
	}
	return "{" + sb.String() + "}"
}

// checkQuotaEntity makes Kafka's checks of an AlterClientQuotas entity and
// returns it with the keys that may be set on it.
func checkQuotaEntity(parts []kmsg.AlterClientQuotasRequestEntryEntity) (quotaEntity, map[string]quotaKeyType, error) {
	if len(parts) == 0 {
		return nil, nil, kafkaErrorf(kerr.InvalidRequest, "Invalid empty client quota entity")
	}
	e := quotaEntity{}
	for _, p := range parts {
		if _, dup := e[p.Type]; dup {
			return nil, nil, kafkaErrorf(kerr.InvalidRequest, "Invalid client quota entity, duplicate entity entry %s", p.Type)
		}
		switch p.Type {
		case replication.QuotaUser, replication.QuotaClientID, replication.QuotaIP:
		default:
			return nil, nil, kafkaErrorf(kerr.InvalidRequest, "Unhandled client quota entity type: %s", p.Type)
		}
		if p.Name != nil && *p.Name == "" {
			return nil, nil, kafkaErrorf(kerr.InvalidRequest, "Empty %s not supported", p.Type)
		}
		e[p.Type] = p.Name
	}
	if ip, ok := e[replication.QuotaIP]; ok {
		if len(e) > 1 {
			return nil, nil, kafkaErrorf(kerr.InvalidRequest, "Invalid quota entity combination, IP entity should not be combined with User or ClientId")
		}
		if ip != nil && !validQuotaIP(*ip) {
			return nil, nil, kafkaErrorf(kerr.InvalidRequest, "%s is not a valid IP or resolvable host.", *ip)
		}
		return e, quotaIPKeys, nil
	}
	return e, quotaUserClientKeys, nil
}

// validQuotaIP reports whether s is an IP address or a host name that
// resolves, as Kafka takes either for an ip entity.
func validQuotaIP(s string) bool {
	if net.ParseIP(s) != nil {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, s)
	return err == nil && len(addrs) > 0
}

// checkQuotaValue makes Kafka's checks of a quota set on an entity whose
// keys are keys; keys Kafka knows that are not enforced here are refused,
// so that no one relies on a limit that does not hold.
func checkQuotaValue(keys map[string]quotaKeyType, key string, v float64) error {
	typ, ok := keys[key]
	if !ok {
		return kafkaErrorf(kerr.InvalidRequest, "Invalid configuration key %s", key)
	}
	if !(v > 0) {
		return kafkaErrorf(kerr.InvalidRequest, "Quota %s must be greater than 0", key)
	}
	if math.IsInf(v, 0) {
		// The metadata is JSON, which has no infinity.
		return kafkaErrorf(kerr.InvalidRequest, "Quota %s must be finite", key)
	}
	switch typ {
	case quotaInt:
		if v > math.MaxInt32 {
			return kafkaErrorf(kerr.InvalidRequest, "Proposed value for %s is too large for an INT.", key)
		}
	case quotaLong:
		if v > math.MaxInt64 {
			return kafkaErrorf(kerr.InvalidRequest, "Proposed value for %s is too large for a LONG.", key)
		}
	}
	if typ != quotaDouble && math.Abs(math.Mod(v, 1)) > 1e-6 {
		return kafkaErrorf(kerr.InvalidRequest, "%s cannot be a fractional value.", key)
	}
	if !quotaEnforced[key] {
		return kafkaErrorf(kerr.InvalidRequest, "%s quotas are not enforced by this broker (producer_byte_rate, consumer_byte_rate, controller_mutation_rate and connection_creation_rate are)", key)
	}
	return nil
}

// ipQuotaLocked finds the connection_creation_rate quota of an ip entity
// that names the address ip in another spelling ("::ffff:10.0.0.1" for
// 10.0.0.1, an IPv6 address in capitals or written out in full) or by a
// host name: Kafka keys these quotas by the address (InetAddress) it
// resolves the entity's name to when the quota is applied, not by the
// text given. The addresses are indexed once per metadata State, and a
// host name is resolved once, when its quota is first indexed. q.mu is
// held.
func (q *quotas) ipQuotaLocked(st *replication.State, ip string) (float64, bool) {
	if q.ipState != st {
		q.ipState, q.ipIndex = st, nil
		named := map[string]bool{}
		literal := map[netip.Addr]float64{}
		index := func(a netip.Addr, v float64) {
			if q.ipIndex == nil {
				q.ipIndex = map[netip.Addr]float64{}
			}
			q.ipIndex[a.Unmap().WithZone("")] = v
		}
		for _, cq := range st.ClientQuotas {
			if len(cq.Entity) != 1 || cq.Entity[0].Type != replication.QuotaIP || cq.Entity[0].Name == nil {
				continue
			}
			v, ok := cq.Values["connection_creation_rate"]
			if !ok {
				continue
			}
			name := *cq.Entity[0].Name
			if a, err := netip.ParseAddr(name); err == nil {
				literal[a] = v
				continue
			}
			named[name] = true
			for _, a := range q.hostAddrsLocked(name) {
				index(a, v)
			}
		}
		for a, v := range literal { // an address given as such wins over a name's
			index(a, v)
		}
		for name := range q.ipHosts {
			if !named[name] {
				delete(q.ipHosts, name) // its quota is gone
			}
		}
	}
	if q.ipIndex == nil {
		return 0, false
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return 0, false
	}
	v, ok := q.ipIndex[a.Unmap().WithZone("")]
	return v, ok
}

// hostAddrsLocked returns the addresses of the host name, resolved the
// first time it is asked for (none for a name that no longer resolves:
// AlterClientQuotas took it when it did). q.mu is held.
func (q *quotas) hostAddrsLocked(name string) []netip.Addr {
	if addrs, ok := q.ipHosts[name]; ok {
		return addrs
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addrs, _ := net.DefaultResolver.LookupNetIP(ctx, "ip", name)
	if q.ipHosts == nil {
		q.ipHosts = map[string][]netip.Addr{}
	}
	q.ipHosts[name] = addrs
	return addrs
}

// mutationQuota is one request's use of its client's
// controller_mutation_rate quota (KIP-599): the partitions it creates or
// deletes are taken from a bucket that holds the quota's worth of all the
// quota samples' time (eleven seconds by default) and refills at the
// quota's rate. From the versions that know THROTTLING_QUOTA_EXCEEDED
// (strict), a topic that finds the bucket in deficit is refused with it;
// before them it goes ahead and the client is throttled for the deficit.
// nil takes nothing.
type mutationQuota struct {
	b          *Broker
	qc         quotaClient
	strict     bool
	throttleMs int32
}

// mutationBucket is a client's bucket of partition mutations.
type mutationBucket struct {
	tokens float64
	at     time.Time
}

// newMutationQuota is the quota of req's client; strictFrom is the first
// version of the request that knows THROTTLING_QUOTA_EXCEEDED.
func (b *Broker) newMutationQuota(req *protocol.Request, strictFrom int16) *mutationQuota {
	return &mutationQuota{b: b, qc: quotaClientOf(req), strict: req.Version >= strictFrom}
}

// take takes n partition mutations, or refuses them.
func (m *mutationQuota) take(n int) error {
	if m == nil || n <= 0 {
		return nil
	}
	st := m.b.node.Controller().State()
	limit, user, client, ok := resolveQuota(st, "controller_mutation_rate", m.qc.user, m.qc.clientID)
	if !ok {
		return nil
	}
	now := time.Now()
	q := &m.b.quotas
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.buckets == nil {
		q.buckets = map[quotaSensorKey]*mutationBucket{}
	}
	q.purgeLocked(now)
	burst := limit * float64(m.b.cfg.QuotaWindowNum) * float64(m.b.cfg.QuotaWindowSizeSeconds)
	key := quotaSensorKey{kind: quotaMutation, user: user, client: client}
	bk := q.buckets[key]
	if bk == nil {
		bk = &mutationBucket{tokens: burst, at: now}
		q.buckets[key] = bk
	}
	bk.tokens = min(burst, bk.tokens+now.Sub(bk.at).Seconds()*limit)
	bk.at = now
	if m.strict && bk.tokens < 0 {
		m.throttleMs = max(m.throttleMs, int32(min(math.Ceil(-bk.tokens/limit*1000), math.MaxInt32)))
		return kafkaErrorf(kerr.ThrottlingQuotaExceeded, "The throttling quota has been exceeded.")
	}
	bk.tokens -= float64(n)
	if !m.strict && bk.tokens < 0 {
		m.throttleMs = max(m.throttleMs, int32(min(math.Ceil(-bk.tokens/limit*1000), math.MaxInt32)))
	}
	return nil
}

// finish applies the throttle the request earned, if any, to its
// response (throttleReply), and counts it once: the request's topics each
// raise the one throttle, they do not add to it.
func (m *mutationQuota) finish(req *protocol.Request, resp kmsg.Response) kmsg.Response {
	if m.throttleMs > 0 {
		m.b.metrics.quotaThrottle.WithLabelValues("controller_mutation_rate").Add(float64(m.throttleMs) / 1000)
	}
	return throttleReply(req, m.throttleMs, now(resp))()
}

// connThrottle is protocol's ConnThrottle: the connection_creation_rate
// quota of the address ip (an entity naming the address, else the default
// ip entity), as Kafka's acceptor checks it (KIP-612): each connection
// counts in the address's rate, and one that takes the rate past the quota
// does not count and is closed after the time the rate needs to come back
// under it, at most a window.
func (b *Broker) connThrottle(ip string) time.Duration {
	const key = "connection_creation_rate"
	st := b.node.Controller().State()
	if !st.HasQuotaKey(key) {
		return 0
	}
	q := &b.quotas
	q.mu.Lock()
	defer q.mu.Unlock()
	limit, ok := st.QuotaValue(key, replication.QuotaEntityPart{Type: replication.QuotaIP, Name: &ip})
	if !ok {
		limit, ok = q.ipQuotaLocked(st, ip)
	}
	if !ok {
		if limit, ok = st.QuotaValue(key, replication.QuotaEntityPart{Type: replication.QuotaIP}); !ok {
			return 0
		}
	}
	now := time.Now()
	nowMs := now.UnixMilli()
	r := b.rateLocked(quotaSensorKey{kind: quotaConnection, client: ip}, now)
	r.record(1, nowMs)
	rate, windowMs := r.measure(nowMs)
	if rate <= limit {
		return 0
	}
	r.record(-1, nowMs)
	ms := min(math.Round((rate-limit)/limit*float64(windowMs)), float64(b.quotaWindowMs()))
	b.metrics.quotaThrottle.WithLabelValues(key).Add(ms / 1000)
	return time.Duration(ms) * time.Millisecond
}
