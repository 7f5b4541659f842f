package broker

import (
	"slices"
	"strconv"

	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleDescribeConfigs(r *kmsg.DescribeConfigsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
	st := b.node.Controller().State()
	for _, rr := range r.Resources {
		res := kmsg.NewDescribeConfigsResponseResource()
		res.ResourceType = rr.ResourceType
		res.ResourceName = rr.ResourceName
		wanted := func(name string) bool {
			if len(rr.ConfigNames) == 0 { // null or empty: all, as in Kafka
				return true
			}
			for _, n := range rr.ConfigNames {
				if n == name {
					return true
				}
			}
			return false
		}
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			t := st.Topics[rr.ResourceName]
			if t == nil {
				res.ErrorCode = kerr.UnknownTopicOrPartition.Code
				if !validTopicName(rr.ResourceName) {
					res.ErrorCode = kerr.InvalidTopicException.Code // as Kafka
				}
				break
			}
			for _, d := range topicConfigs {
				if !d.internal && wanted(d.name) {
					res.Configs = append(res.Configs, b.describeTopicConfig(r, st, t, &d))
				}
			}
		case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger:
			name, err := b.describedBroker(rr.ResourceType, rr.ResourceName)
			if err != nil {
				res.ErrorCode, res.ErrorMessage = errCodeMsg(err)
				break
			}
			if rr.ResourceType == kmsg.ConfigResourceTypeBrokerLogger {
				res.Configs = b.describeLoggers(wanted)
				break
			}
			res.Configs = b.describeBrokerConfigs(r, st, name, wanted)
		default:
			res.ErrorCode = kerr.InvalidRequest.Code
			m := "unsupported resource type"
			res.ErrorMessage = &m
		}
		resp.Resources = append(resp.Resources, res)
	}
	return resp
}

// describedBroker checks the name of a BROKER or BROKER_LOGGER resource to
// describe, as Kafka's ConfigHelper does: a broker's are this broker's
// own (its id, read as an integer: "01" is broker 1) or "" (the
// cluster-wide dynamic defaults); a broker logger resource has no cluster
// default, so "" is refused. It returns the name to describe by: "" or
// this broker's id as it is written.
func (b *Broker) describedBroker(typ kmsg.ConfigResourceType, name string) (string, error) {
	own := int64(b.node.ID())
	if name == "" {
		if typ == kmsg.ConfigResourceTypeBrokerLogger {
			return "", kafkaErrorf(kerr.InvalidRequest, "Broker id must not be empty")
		}
		return "", nil
	}
	id, err := strconv.ParseInt(name, 10, 32)
	switch {
	case err != nil:
		return "", kafkaErrorf(kerr.InvalidRequest, "Broker id must be an integer, but it is: %s", name)
	case id != own && typ == kmsg.ConfigResourceTypeBrokerLogger:
		return "", kafkaErrorf(kerr.InvalidRequest, "Unexpected broker id, expected %d but received %s", own, name)
	case id != own:
		return "", kafkaErrorf(kerr.InvalidRequest, "Unexpected broker id, expected %d or empty string, but received %s", own, name)
	}
	return strconv.FormatInt(own, 10), nil
}

func (b *Broker) describeTopicConfig(r *kmsg.DescribeConfigsRequest, st *replication.State, t *replication.Topic, d *topicConfigDef) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name = d.name
	c.ConfigType = d.typ
	v, set := t.Configs[d.name]
	// The layers under the topic's own setting, the one in force first.
	var layers []brokerSetting
	var layerKey string
	switch {
	case d.brokerKey != "":
		layers, layerKey = b.brokerSettings(st, d.brokerKey), d.brokerKey
	case d.kafkaKey != "":
		layers, layerKey = []brokerSetting{{d.def(&b.cfg), kmsg.ConfigSourceDefaultConfig}}, d.kafkaKey
	default:
		// No broker key of Kafka's gives its default (none exists, or,
		// for flush.ms, log.flush.interval.ms has none and means raft
		// fsyncs here): Kafka lists no synonym for it either.
		layers = []brokerSetting{{d.def(&b.cfg), kmsg.ConfigSourceDefaultConfig}}
	}
	// The broker layers as Kafka lists them (ConfigHelper.configSynonyms):
	// each source's settings of the key's spellings, finest first, then
	// whatever comes before the key's own spelling dropped. So a key whose
	// own spelling is set nowhere has none: retention.ms, with
	// log.retention.ms unset (Kafka's default for it is null), lists
	// neither log.retention.hours nor its default, and is a
	// DEFAULT_CONFIG whatever value the hours give it.
	var syns []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym
	add := func(name, val string, src kmsg.ConfigSource) {
		s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
		s.Name, s.Source = name, src
		s.Value = &val
		syns = append(syns, s)
	}
	for i, l := range layers {
		if layerKey == "" {
			break
		}
		if coarser, ok := unitSynonyms[layerKey]; ok && i == len(layers)-1 {
			// The static and default layers of a millisecond key
			// that has coarser spellings: each spelling given in the
			// broker's settings, then the default, which only the
			// coarsest has (Kafka's log.retention.ms and minutes
			// default to null).
			for _, k := range append([]string{layerKey}, coarser...) {
				if b.unitGiven(k) {
					v, _ := b.cfg.Get(k)
					add(k, v, kmsg.ConfigSourceStaticBrokerConfig)
				}
			}
			k := coarser[len(coarser)-1]
			add(k, defaultConfigValue(k), kmsg.ConfigSourceDefaultConfig)
			continue
		}
		add(layerKey, l.value, l.source)
	}
	syns = trimSynonyms(syns, layerKey, func(s kmsg.DescribeConfigsResponseResourceConfigConfigSynonym) string { return s.Name })
	if set {
		add(d.name, t.Configs[d.name], kmsg.ConfigSourceDynamicTopicConfig)
		syns = append(syns[len(syns)-1:], syns[:len(syns)-1]...)
	}
	switch {
	case set:
		c.Source = kmsg.ConfigSourceDynamicTopicConfig
	default:
		// The value in force, from the source of the first synonym.
		v, c.Source = layers[0].value, kmsg.ConfigSourceDefaultConfig
		if len(syns) > 0 {
			c.Source = syns[0].Source
		}
		c.IsDefault = c.Source == kmsg.ConfigSourceDefaultConfig
	}
	c.Value = &v
	if r.Version == 0 {
		c.IsDefault = !set
	}
	if r.IncludeDocumentation {
		doc := d.doc
		if o, ok := option(d.brokerKey); doc == "" && ok {
			doc = o.Help // the topic key stands in for the broker's
		}
		if doc != "" {
			c.Documentation = &doc
		}
	}
	if r.IncludeSynonyms {
		c.ConfigSynonyms = syns
	}
	return c
}

// trimSynonyms drops the synonyms before the first one named key, as
// Kafka's ConfigHelper.configSynonyms does with the broker layers of a key
// (dropWhile(s => s.name != name)): none are left when key itself is set
// in no layer, as for log.retention.ms when only log.retention.hours is
// given or defaulted.
func trimSynonyms[S any](syns []S, key string, name func(S) string) []S {
	for i, s := range syns {
		if name(s) == key {
			return syns[i:]
		}
	}
	return nil
}

// unitSynonyms are the coarser spellings of Kafka's millisecond broker
// keys, finest first; only the last has a default in Kafka.
var unitSynonyms = map[string][]string{
	"log.retention.ms":   {"log.retention.minutes", "log.retention.hours"},
	"log.roll.ms":        {"log.roll.hours"},
	"log.roll.jitter.ms": {"log.roll.jitter.hours"},
}

// unitGiven reports whether the broker's settings gave key, a member of a
// unitFamily: by name (a flag or the properties file), or, for the
// millisecond key, which holds the setting, by a value of its own that no
// coarser spelling gave (an embedder sets the Config field).
func (b *Broker) unitGiven(key string) bool {
	if b.cfg.explicit[key] {
		return true
	}
	coarser, ok := unitSynonyms[key]
	if !ok || b.cfg.IsDefault(key) {
		return false
	}
	for _, k := range coarser {
		if b.cfg.explicit[k] {
			return false
		}
	}
	return true
}

// unitFamily is key with its coarser spellings, finest first, when key is
// one of Kafka's millisecond broker keys or their coarser spellings
// (log.retention.minutes: minutes, hours); nil for any other key.
func unitFamily(key string) []string {
	for ms, coarser := range unitSynonyms {
		fam := append([]string{ms}, coarser...)
		if i := slices.Index(fam, key); i >= 0 {
			return fam[i:]
		}
	}
	return nil
}

// defaultConfigValue is key's built-in default.
func defaultConfigValue(key string) string {
	def := DefaultConfig()
	v, _ := def.Get(key)
	return v
}

// brokerSource is where a broker key's value comes from, as Kafka reports
// it: the operator's static configuration, or the built-in default.
func (b *Broker) brokerSource(key string) kmsg.ConfigSource {
	if b.cfg.IsDefault(key) {
		return kmsg.ConfigSourceDefaultConfig
	}
	return kmsg.ConfigSourceStaticBrokerConfig
}

// describeBrokerConfigs describes broker resource name ("" is the
// cluster-wide dynamic defaults): our settings, then the custom keys its
// dynamic config holds, which Kafka lists as sensitive (no value), having
// no type for them.
func (b *Broker) describeBrokerConfigs(r *kmsg.DescribeConfigsRequest, st *replication.State, name string, wanted func(string) bool) []kmsg.DescribeConfigsResponseResourceConfig {
	var out []kmsg.DescribeConfigsResponseResourceConfig
	keys := sortedKeys()
	var custom []string
	for _, id := range []string{"", name} {
		for k := range st.BrokerConfigs[id] {
			if _, ok := option(k); !ok && !slices.Contains(custom, k) {
				custom = append(custom, k)
			}
		}
	}
	slices.Sort(custom)
	for _, key := range append(keys, custom...) {
		if !wanted(key) {
			continue
		}
		o, known := option(key)
		layers := b.dynamicSettings(st, key)
		if known {
			layers = b.brokerSettings(st, key)
		}
		if name == "" {
			// As in Kafka: the cluster-wide dynamic defaults only.
			i := slices.IndexFunc(layers, func(l brokerSetting) bool {
				return l.source == kmsg.ConfigSourceDynamicDefaultBrokerConfig
			})
			if i < 0 {
				continue
			}
			layers = layers[i:] // the static ones too, for the unit family below
		}
		if len(layers) == 0 {
			continue
		}
		value := func(l brokerSetting) *string {
			if !known || o.sensitive {
				return nil
			}
			return kmsg.StringPtr(l.value)
		}
		type synonym struct {
			name   string
			value  *string
			source kmsg.ConfigSource
		}
		syns := make([]synonym, 0, len(layers)+2)
		for _, l := range layers {
			syns = append(syns, synonym{key, value(l), l.source})
		}
		own := syns[0].value
		if fam := unitFamily(key); known && fam != nil {
			// A key with coarser spellings (log.retention.ms, minutes,
			// hours), as Kafka describes it: its static and default
			// layers are those of the spellings given in the settings,
			// then the coarsest's default (the finer ones default to
			// null); its own value is null unless it was set, itself,
			// or it is the coarsest.
			dynamic := syns[:len(syns)-1]
			syns = append([]synonym(nil), dynamic...)
			for _, k := range fam {
				if b.unitGiven(k) {
					v, _ := b.cfg.Get(k)
					syns = append(syns, synonym{k, &v, kmsg.ConfigSourceStaticBrokerConfig})
				}
			}
			coarsest := fam[len(fam)-1]
			d := defaultConfigValue(coarsest)
			syns = append(syns, synonym{coarsest, &d, kmsg.ConfigSourceDefaultConfig})
			if len(dynamic) == 0 && !b.unitGiven(key) && key != coarsest {
				own = nil
			}
		}
		// As Kafka: the layers before the first of key's own are dropped
		// (log.retention.ms, set nowhere, has none: DEFAULT_CONFIG).
		syns = trimSynonyms(syns, key, func(s synonym) string { return s.name })
		if name == "" {
			// As Kafka (ConfigHelper.createBrokerConfigEntry, perBrokerConfig
			// false): the cluster-wide defaults list only the synonyms that
			// are cluster-wide defaults, not the static and built-in ones.
			syns = slices.DeleteFunc(syns, func(s synonym) bool {
				return s.source != kmsg.ConfigSourceDynamicDefaultBrokerConfig
			})
		}
		c := kmsg.NewDescribeConfigsResponseResourceConfig()
		c.Name = key
		c.Value = own
		c.IsSensitive = !known || o.sensitive
		c.ReadOnly = known && !isDynamicBrokerKey(key)
		c.Source = kmsg.ConfigSourceDefaultConfig
		if len(syns) > 0 {
			c.Source = syns[0].source
		}
		c.IsDefault = c.Source == kmsg.ConfigSourceDefaultConfig
		c.ConfigType = o.typ
		if r.IncludeDocumentation && o.Help != "" {
			doc := o.Help
			c.Documentation = &doc
		}
		if r.IncludeSynonyms {
			for _, sy := range syns {
				s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
				s.Name, s.Value, s.Source = sy.name, sy.value, sy.source
				c.ConfigSynonyms = append(c.ConfigSynonyms, s)
			}
		}
		out = append(out, c)
	}
	return out
}
