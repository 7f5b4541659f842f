package broker

import (
	"context"
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Dynamic broker configs, as Kafka's `kafka-configs --entity-type brokers`
// sets them: the broker keys that supply topics' defaults (log.retention.ms,
// log.segment.bytes, message.max.bytes, ...) can be changed at run time,
// for the whole cluster (resource name "") or for one broker (its id). They
// live in the controller's state, so every broker sees them and they
// survive restarts; a broker's own setting wins over the cluster's, which
// wins over the static configuration. Every other key is static.

// dynamicBrokerKey returns the topic key whose default the broker key
// supplies, if the broker key is dynamic.
func dynamicBrokerKey(key string) (*topicConfigDef, bool) {
	for i := range topicConfigs {
		if topicConfigs[i].brokerKey == key {
			return &topicConfigs[i], true
		}
	}
	return nil, false
}

// brokerOnlyDynamic are the dynamic broker keys that are no topic's
// default, each with its check: as in Kafka (DynamicProducerStateManagerConfig),
// producer.id.expiration.ms, an INT of at least 1.
var brokerOnlyDynamic = map[string]func(v string) error{
	"producer.id.expiration.ms": func(v string) error {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32); err != nil || n < 1 {
			return fmt.Errorf("must be an integer from 1 to %d", math.MaxInt32)
		}
		return nil
	},
	// As Kafka's DynamicConnectionQuota: the per-address limits change at
	// run time, for new connections (connLimitFor); the overrides' host
	// names must resolve.
	"max.connections.per.ip": func(v string) error {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32); err != nil || n < 0 {
			return fmt.Errorf("must be an integer from 0 to %d", math.MaxInt32)
		}
		return nil
	},
	"max.connections.per.ip.overrides": func(v string) error {
		_, err := parseConnOverrides(v, net.LookupIP)
		return err
	},
}

// isDynamicBrokerKey says whether a broker key can be changed at run time.
func isDynamicBrokerKey(key string) bool {
	_, ok := dynamicBrokerKey(key)
	return ok || brokerOnlyDynamic[key] != nil
}

// producerIDExpiration is producer.id.expiration.ms in force in the cluster
// state st (replication.Config.ProducerIDExpiration).
func (b *Broker) producerIDExpiration(st *replication.State) time.Duration {
	ms, err := strconv.ParseInt(strings.TrimSpace(b.brokerValue(st, "producer.id.expiration.ms")), 10, 64)
	if err != nil || ms < 1 { // checked when set; the static one then
		ms = b.cfg.ProducerIDExpirationMs
	}
	return time.Duration(ms) * time.Millisecond
}

// brokerSetting is one layer of a broker key's value.
type brokerSetting struct {
	value  string
	source kmsg.ConfigSource
}

// brokerSettings returns the layers of a broker key that hold a value in
// the cluster state st, the one in force first: this broker's dynamic
// config, the cluster-wide one, then the static configuration or the
// default. It must not use b.node: partitions open, and ask for their log
// settings, inside replication.StartNode, before b.node is set.
func (b *Broker) brokerSettings(st *replication.State, key string) []brokerSetting {
	out := b.dynamicSettings(st, key)
	v, _ := b.cfg.Get(key)
	return append(out, brokerSetting{v, b.brokerSource(key)})
}

// brokerValue is the value of the first of brokerSettings, found without
// working out where the static one comes from: it sits on the produce path.
func (b *Broker) brokerValue(st *replication.State, key string) string {
	if d := b.dynamicSettings(st, key); len(d) > 0 {
		return d[0].value
	}
	v, _ := b.cfg.Get(key)
	return v
}

// dynamicSettings returns the dynamic layers of brokerSettings.
func (b *Broker) dynamicSettings(st *replication.State, key string) []brokerSetting {
	if len(st.BrokerConfigs) == 0 {
		return nil
	}
	var out []brokerSetting
	if v, ok := st.BrokerConfigs[strconv.Itoa(int(b.cfg.NodeID))][key]; ok {
		out = append(out, brokerSetting{v, kmsg.ConfigSourceDynamicBrokerConfig})
	}
	if v, ok := st.BrokerConfigs[""][key]; ok {
		out = append(out, brokerSetting{v, kmsg.ConfigSourceDynamicDefaultBrokerConfig})
	}
	return out
}

// checkConnLimits refuses, as Kafka does, a change after which
// max.connections.per.ip would be 0 with no overrides: no client could
// connect again, the operator included. The values after it are taken from
// cfgs, else as in force (a deleted or replaced one as the static setting).
func (b *Broker) checkConnLimits(cfgs map[string]*string, replaceAll bool) error {
	st := b.node.Controller().State()
	after := func(k string) string {
		v, ok := cfgs[k]
		switch {
		case ok && v != nil:
			return *v
		case ok || replaceAll:
			s, _ := b.cfg.Get(k)
			return s
		}
		return b.brokerValue(st, k)
	}
	_, setsPerIP := cfgs["max.connections.per.ip"]
	_, setsOverrides := cfgs["max.connections.per.ip.overrides"]
	if !setsPerIP && !setsOverrides {
		return nil
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(after("max.connections.per.ip")), 10, 64); err == nil && n == 0 &&
		strings.TrimSpace(after("max.connections.per.ip.overrides")) == "" {
		return kafkaErrorf(kerr.InvalidRequest, "max.connections.per.ip can be 0 only with max.connections.per.ip.overrides set")
	}
	return nil
}

// alterBrokerConfigs validates and applies a broker resource's dynamic
// configs: name is "" (the cluster-wide defaults) or a broker's id.
func (b *Broker) alterBrokerConfigs(ctx context.Context, name string, cfgs map[string]*string, replaceAll, validateOnly bool) error {
	if name != "" {
		id, err := strconv.ParseInt(name, 10, 32)
		if err != nil || strconv.Itoa(int(id)) != name {
			return kafkaErrorf(kerr.InvalidRequest, "broker resource %q is neither a broker id nor empty (the cluster-wide defaults)", name)
		}
		if _, ok := b.node.Controller().State().Brokers[int32(id)]; !ok {
			return kafkaErrorf(kerr.InvalidRequest, "no broker %d in the cluster", id)
		}
	}
	var static, unused []string
	for k, v := range cfgs {
		if v == nil {
			continue // deleting a key not set is a no-op, as in Kafka
		}
		if check := brokerOnlyDynamic[k]; check != nil {
			if err := check(*v); err != nil {
				return kafkaErrorf(kerr.InvalidRequest, "invalid value %q for %s: %v", *v, k, err)
			}
			*v = strings.TrimSpace(*v)
			continue
		}
		d, ok := dynamicBrokerKey(k)
		if !ok {
			// A broker setting of ours that is not dynamic is refused, and
			// so is a Kafka broker setting that means nothing here
			// (process.roles, num.io.threads): Kafka refuses its read-only
			// keys, and storing one would tell the operator it was
			// applied. A key that is no setting at all is stored as it
			// is, as Kafka keeps custom keys (a plugin's, say) in its
			// dynamic config.
			if _, known := option(k); known {
				static = append(static, k)
			} else if _, unless := kafkaOnlyUnless[k]; unless {
				unused = append(unused, k)
			} else if ignored, _ := kafkaOnly(k, *v); ignored {
				unused = append(unused, k)
			}
			continue
		}
		*v = normalizeValue(d.typ, *v)
		if err := d.check(*v); err != nil {
			// INVALID_REQUEST, not INVALID_CONFIG, as Kafka answers for
			// broker resources.
			return kafkaErrorf(kerr.InvalidRequest, "invalid value %q for %s: %v", *v, k, err)
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(*v), 10, 64); k == "log.retention.ms" && err == nil && n == 0 {
			// As the static setting (Config.Validate) and Kafka.
			return kafkaErrorf(kerr.InvalidRequest, "log.retention.ms must be unlimited (-1) or >= 1")
		}
	}
	if err := b.checkConnLimits(cfgs, replaceAll); err != nil {
		return err
	}
	if len(static) > 0 {
		sort.Strings(static)
		return kafkaErrorf(kerr.InvalidRequest, "Cannot update these configs dynamically: %s (set them in the properties file or flags)", strings.Join(static, ", "))
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		return kafkaErrorf(kerr.InvalidRequest, "Cannot update these configs dynamically: %s (Kafka settings that gokafkad does not use)", strings.Join(unused, ", "))
	}
	if validateOnly {
		return nil
	}
	if _, err := b.node.Controller().Propose(ctx, replication.Command{Op: replication.OpAlterBrokerConfigs, Name: name, Configs: cfgs, ReplaceAll: replaceAll}); err != nil {
		return kafkaErrorf(kerr.RequestTimedOut, "%v", err)
	}
	if v := cfgs["log.cleanup.policy"]; v != nil && !listHas(*v, "delete") {
		b.logger.Warn("compaction is not performed yet: topics that set no cleanup.policy now keep every record (log.cleanup.policy without delete turns time and size retention off, as in Kafka)", "broker", name, "log.cleanup.policy", *v)
	}
	return nil
}
