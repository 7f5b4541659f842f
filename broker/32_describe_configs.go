package broker

import (
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
			if rr.ConfigNames == nil {
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
				break
			}
			for _, d := range topicConfigs {
				if !d.internal && wanted(d.name) {
					res.Configs = append(res.Configs, b.describeTopicConfig(r, t, &d))
				}
			}
		case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger:
			if rr.ResourceName != "" && rr.ResourceName != strconv.Itoa(int(b.node.ID())) {
				res.ErrorCode = kerr.InvalidRequest.Code
				m := "this broker describes only its own configuration"
				res.ErrorMessage = &m
				break
			}
			if rr.ResourceType == kmsg.ConfigResourceTypeBrokerLogger {
				break // no per-logger levels to report
			}
			if rr.ResourceName == "" {
				// The cluster-wide dynamic defaults, as in Kafka: this
				// broker's configuration is all static, so there are none.
				break
			}
			for _, key := range sortedKeys() {
				if !wanted(key) {
					continue
				}
				v, _ := b.cfg.Get(key)
				c := kmsg.NewDescribeConfigsResponseResourceConfig()
				c.Name = key
				c.Value = &v
				c.ReadOnly = true
				c.Source = b.brokerSource(key)
				c.IsDefault = c.Source == kmsg.ConfigSourceDefaultConfig
				o, _ := option(key)
				c.ConfigType = o.typ
				if r.IncludeDocumentation && o.Help != "" {
					doc := o.Help
					c.Documentation = &doc
				}
				if r.IncludeSynonyms {
					s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					s.Name, s.Value, s.Source = key, &v, c.Source
					c.ConfigSynonyms = append(c.ConfigSynonyms, s)
				}
				res.Configs = append(res.Configs, c)
			}
		default:
			res.ErrorCode = kerr.InvalidRequest.Code
			m := "unsupported resource type"
			res.ErrorMessage = &m
		}
		resp.Resources = append(resp.Resources, res)
	}
	return resp
}

func (b *Broker) describeTopicConfig(r *kmsg.DescribeConfigsRequest, t *replication.Topic, d *topicConfigDef) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name = d.name
	c.ConfigType = d.typ
	v, set := t.Configs[d.name]
	def := d.defaultValue(&b.cfg)
	defSource := kmsg.ConfigSourceDefaultConfig // where def comes from
	if d.brokerKey != "" {
		defSource = b.brokerSource(d.brokerKey)
	}
	switch {
	case set:
		c.Source = kmsg.ConfigSourceDynamicTopicConfig
	case defSource == kmsg.ConfigSourceStaticBrokerConfig:
		v = def
		c.Source = kmsg.ConfigSourceStaticBrokerConfig
	default:
		v = def
		c.Source = kmsg.ConfigSourceDefaultConfig
		c.IsDefault = true
	}
	c.Value = &v
	if r.Version == 0 {
		c.IsDefault = !set
	}
	if r.IncludeDocumentation && d.doc != "" {
		doc := d.doc
		c.Documentation = &doc
	}
	if r.IncludeSynonyms {
		add := func(name, val string, src kmsg.ConfigSource) {
			s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			s.Name, s.Source = name, src
			s.Value = &val
			c.ConfigSynonyms = append(c.ConfigSynonyms, s)
		}
		if set {
			add(d.name, t.Configs[d.name], kmsg.ConfigSourceDynamicTopicConfig)
		}
		switch {
		case d.brokerKey != "":
			add(d.brokerKey, def, defSource)
		case d.kafkaKey != "":
			add(d.kafkaKey, def, kmsg.ConfigSourceDefaultConfig)
		default:
			add(d.name, def, kmsg.ConfigSourceDefaultConfig)
		}
	}
	return c
}

// brokerSource is where a broker key's value comes from, as Kafka reports
// it: the operator's static configuration, or the built-in default.
func (b *Broker) brokerSource(key string) kmsg.ConfigSource {
	if b.cfg.IsDefault(key) {
		return kmsg.ConfigSourceDefaultConfig
	}
	return kmsg.ConfigSourceStaticBrokerConfig
}
