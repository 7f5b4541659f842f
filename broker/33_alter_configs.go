package broker

import (
	"context"
	"errors"
	"strings"

	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleAlterConfigs(ctx context.Context, r *kmsg.AlterConfigsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
	var keys []configResource
	for _, rr := range r.Resources {
		keys = append(keys, configResource{rr.ResourceType, rr.ResourceName})
	}
	dup := duplicates(keys)
	for _, rr := range r.Resources {
		res := kmsg.NewAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		// As Kafka (ConfigAdminManager.preprocess): a key named twice, then
		// any null value, makes the whole resource an invalid request,
		// rather than the last of a key's values winning.
		set := map[string]*string{}
		var err error
		var nulls []string
		for _, c := range rr.Configs {
			if _, ok := set[c.Name]; ok && err == nil {
				err = kafkaErrorf(kerr.InvalidRequest, "Error due to duplicate config keys")
			}
			set[c.Name] = c.Value
			if c.Value == nil {
				nulls = append(nulls, c.Name)
			}
		}
		if err == nil && len(nulls) > 0 {
			err = kafkaErrorf(kerr.InvalidRequest, "Null value not supported for : %s", strings.Join(nulls, ", "))
		}
		if dup[configResource{rr.ResourceType, rr.ResourceName}] {
			err = errDuplicateResource
		} else if err == nil {
			b.configMu.Lock()
			err = b.alterTopicConfigs(ctx, rr.ResourceType, rr.ResourceName, set, true, r.ValidateOnly)
			b.configMu.Unlock()
		}
		res.ErrorCode, res.ErrorMessage = errCodeMsg(err)
		resp.Resources = append(resp.Resources, res)
	}
	return resp
}

type configResource struct {
	typ  kmsg.ConfigResourceType
	name string
}

// errDuplicateResource answers, as Kafka does, every entry of a config
// resource that a request names more than once.
var errDuplicateResource = kafkaErrorf(kerr.InvalidRequest, "Each resource must appear at most once.")

// duplicates returns the keys that appear more than once in keys.
func duplicates[K comparable](keys []K) map[K]bool {
	seen := make(map[K]bool, len(keys))
	dup := map[K]bool{}
	for _, k := range keys {
		if seen[k] {
			dup[k] = true
		}
		seen[k] = true
	}
	return dup
}

// alterTopicConfigs validates and applies a topic's (or a broker's) new configuration: with
// replaceAll the given keys become the whole set (AlterConfigs), otherwise
// they are merged (nil deletes a key).
func (b *Broker) alterTopicConfigs(ctx context.Context, typ kmsg.ConfigResourceType, name string, cfgs map[string]*string, replaceAll, validateOnly bool) error {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
	case kmsg.ConfigResourceTypeBroker:
		return b.alterBrokerConfigs(ctx, name, cfgs, replaceAll, validateOnly)
	case kmsg.ConfigResourceTypeBrokerLogger:
		return kafkaErrorf(kerr.InvalidRequest, "AlterConfigs does not support broker loggers: use IncrementalAlterConfigs")
	default:
		return kafkaErrorf(kerr.InvalidRequest, "unsupported resource type %d", typ)
	}
	// In Kafka's order (its controller's ConfigurationValidator, then
	// the existence check): the resource's name, the values, and only
	// then whether the topic exists, so that a bad value is INVALID_CONFIG
	// whichever topic it is for.
	if name == "" {
		return kafkaErrorf(kerr.InvalidRequest, "Default topic resources are not allowed.")
	}
	if reason := invalidTopicReason(name); reason != "" {
		return kafkaErrorf(kerr.InvalidTopicException, "Topic name is invalid: %s", reason)
	}
	for k, v := range cfgs {
		if v == nil {
			continue // deleting a key, known or not, as Kafka: an unknown one is a no-op
		}
		if err := validateTopicConfig(k, v); err != nil {
			return kafkaErrorf(kerr.InvalidConfig, "%v", err)
		}
	}
	st := b.node.Controller().State()
	t := st.Topics[name]
	// The set the topic would have, checked as a whole.
	after := map[string]*string{}
	if !replaceAll && t != nil {
		for k, v := range t.Configs {
			after[k] = &v
		}
	}
	for k, v := range cfgs {
		after[k] = v
	}
	if err := b.checkTopicConfigSet(st, after); err != nil {
		return err
	}
	if t == nil {
		return kafkaErrorf(kerr.UnknownTopicOrPartition, "The topic '%s' does not exist.", name)
	}
	if validateOnly {
		return nil
	}
	wasCompactOnly := b.compactOnly(b.node.Controller().State(), name)
	_, err := b.node.Controller().Propose(ctx, replication.Command{Op: replication.OpAlterConfigs, Name: name, Configs: cfgs, ReplaceAll: replaceAll})
	if errors.Is(err, replication.ErrUnknownTopic) {
		return kafkaErrorf(kerr.UnknownTopicOrPartition, "The topic '%s' does not exist.", name)
	}
	if err != nil {
		return kafkaErrorf(kerr.RequestTimedOut, "%v", err)
	}
	if !wasCompactOnly && b.compactOnly(b.node.Controller().State(), name) {
		b.warnNoCompaction(name)
	}
	return nil
}
