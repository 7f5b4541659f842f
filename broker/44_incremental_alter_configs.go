package broker

import (
	"context"
	"strings"

	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleIncrementalAlterConfigs(ctx context.Context, r *kmsg.IncrementalAlterConfigsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	var keys []configResource
	for _, rr := range r.Resources {
		keys = append(keys, configResource{rr.ResourceType, rr.ResourceName})
	}
	dup := duplicates(keys)
	for _, rr := range r.Resources {
		res := kmsg.NewIncrementalAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		changes := map[string]*string{}
		var err error
		if dup[configResource{rr.ResourceType, rr.ResourceName}] {
			err = errDuplicateResource
		} else {
			err = checkIncrementalConfigs(rr.Configs)
		}
		if err == nil && rr.ResourceType == kmsg.ConfigResourceTypeBrokerLogger {
			err = b.alterLoggers(rr, r.ValidateOnly)
		}
		if err != nil || rr.ResourceType == kmsg.ConfigResourceTypeBrokerLogger {
			res.ErrorCode, res.ErrorMessage = errCodeMsg(err)
			resp.Resources = append(resp.Resources, res)
			continue
		}
		b.configMu.Lock()
		st := b.node.Controller().State()
		t := st.Topics[rr.ResourceName]
		for _, c := range rr.Configs {
			if err != nil {
				break
			}
			switch c.Op {
			case kmsg.IncrementalAlterConfigOpSet:
				changes[c.Name] = c.Value
			case kmsg.IncrementalAlterConfigOpDelete:
				changes[c.Name] = nil
			case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
				var d *topicConfigDef
				if rr.ResourceType == kmsg.ConfigResourceTypeBroker {
					d, _ = dynamicBrokerKey(c.Name)
				} else {
					d = topicConfigDefFor(c.Name)
				}
				if d == nil || d.typ != kmsg.ConfigTypeList {
					// Kafka's words: its broker-side check for a broker
					// resource, its controller's for a topic.
					if rr.ResourceType == kmsg.ConfigResourceTypeBroker {
						err = kafkaErrorf(kerr.InvalidConfig, "Config value %s is not allowed for config key: %s", strings.ToLower(c.Op.String()), c.Name)
					} else {
						err = kafkaErrorf(kerr.InvalidConfig, "Can't %s to key %s because its type is not LIST.", c.Op, c.Name)
					}
					break
				}
				cur := ""
				switch {
				case rr.ResourceType == kmsg.ConfigResourceTypeBroker:
					cur = brokerListBase(st, rr.ResourceName, c.Name)
				case t != nil:
					cur = topicListBase(t, d)
				}
				v := editList(cur, c.Value, c.Op == kmsg.IncrementalAlterConfigOpAppend)
				changes[c.Name] = &v
			default:
				err = kafkaErrorf(kerr.InvalidRequest, "unknown op %d", c.Op)
			}
		}
		if err == nil {
			err = b.alterTopicConfigs(ctx, rr.ResourceType, rr.ResourceName, changes, false, r.ValidateOnly)
		}
		b.configMu.Unlock()
		res.ErrorCode, res.ErrorMessage = errCodeMsg(err)
		resp.Resources = append(resp.Resources, res)
	}
	return resp
}

// checkIncrementalConfigs makes the checks Kafka's ConfigAdminManager makes
// of every resource of an IncrementalAlterConfigs request before any other
// (broker loggers' included): a key named twice, then a null value for any
// op but DELETE (every such key named), make the whole resource an invalid
// request.
func checkIncrementalConfigs(cfgs []kmsg.IncrementalAlterConfigsRequestResourceConfig) error {
	keys := make(map[string]bool, len(cfgs))
	for _, c := range cfgs {
		if keys[c.Name] {
			return kafkaErrorf(kerr.InvalidRequest, "Error due to duplicate config keys")
		}
		keys[c.Name] = true
	}
	var nulls []string
	for _, c := range cfgs {
		if c.Value == nil && c.Op != kmsg.IncrementalAlterConfigOpDelete {
			nulls = append(nulls, c.Name)
		}
	}
	if len(nulls) > 0 {
		return kafkaErrorf(kerr.InvalidRequest, "Null value not supported for : %s", strings.Join(nulls, ", "))
	}
	return nil
}

// topicListBase is what APPEND and SUBTRACT edit for topic t's list key d,
// as in Kafka: the topic's own value, else the key's built-in default. A
// broker-wide default (log.cleanup.policy=compact, say) is not where the
// edit starts: SUBTRACT compact from a topic that sets nothing gives
// delete, the built-in default without it.
func topicListBase(t *replication.Topic, d *topicConfigDef) string {
	if v, ok := t.Configs[d.name]; ok {
		return v
	}
	def := DefaultConfig()
	if d.brokerKey != "" {
		v, _ := def.Get(d.brokerKey)
		return v
	}
	return d.def(&def)
}

// brokerListBase is what APPEND and SUBTRACT edit for broker resource
// name's list key: the resource's own dynamic value, else the key's
// built-in default, as Kafka's controller does. Neither the cluster-wide
// default (for a broker id) nor the properties file is where the edit
// starts: APPEND delete to broker 1's log.cleanup.policy while the
// cluster default is compact gives delete.
func brokerListBase(st *replication.State, name, key string) string {
	if v, ok := st.BrokerConfigs[name][key]; ok {
		return v
	}
	def := DefaultConfig()
	v, _ := def.Get(key)
	return v
}

// editList appends or removes the comma-separated items of v in cur.
func editList(cur string, v *string, add bool) string {
	var items []string
	for _, s := range strings.Split(cur, ",") {
		if s = strings.TrimSpace(s); s != "" {
			items = append(items, s)
		}
	}
	if v == nil {
		return strings.Join(items, ",")
	}
	for _, x := range strings.Split(*v, ",") {
		x = strings.TrimSpace(x)
		idx := -1
		for i, s := range items {
			if s == x {
				idx = i
			}
		}
		if add && idx < 0 && x != "" {
			items = append(items, x)
		} else if !add && idx >= 0 {
			items = append(items[:idx], items[idx+1:]...)
		}
	}
	return strings.Join(items, ",")
}
