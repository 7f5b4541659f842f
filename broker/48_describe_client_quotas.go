package broker

import (
	"maps"
	"slices"

	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDescribeClientQuotas checks the filter as Kafka does and answers
// the quotas of the entities it matches: every component must match (a
// name, the default entity, or any entity of the type), and a strict
// filter matches only entities with no other parts.
func (b *Broker) handleDescribeClientQuotas(r *kmsg.DescribeClientQuotasRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	if err := checkQuotaFilter(r.Components); err != nil {
		resp.ErrorCode, resp.ErrorMessage = errCodeMsg(err)
		return resp
	}
	resp.Entries = []kmsg.DescribeClientQuotasResponseEntry{}
	st := b.node.Controller().State()
	for _, key := range slices.Sorted(maps.Keys(st.ClientQuotas)) {
		q := st.ClientQuotas[key]
		if !quotaFilterMatches(r.Components, r.Strict, q.Entity) {
			continue
		}
		e := kmsg.NewDescribeClientQuotasResponseEntry()
		for _, p := range q.Entity {
			ep := kmsg.NewDescribeClientQuotasResponseEntryEntity()
			ep.Type, ep.Name = p.Type, p.Name
			e.Entity = append(e.Entity, ep)
		}
		for _, k := range slices.Sorted(maps.Keys(q.Values)) {
			v := kmsg.NewDescribeClientQuotasResponseEntryValue()
			v.Key, v.Value = k, q.Values[k]
			e.Values = append(e.Values, v)
		}
		resp.Entries = append(resp.Entries, e)
	}
	return resp
}

// quotaFilterMatches reports whether an entity matches a checked filter.
func quotaFilterMatches(components []kmsg.DescribeClientQuotasRequestComponent, strict bool, entity []replication.QuotaEntityPart) bool {
	if strict && len(entity) != len(components) {
		return false
	}
	for _, c := range components {
		i := slices.IndexFunc(entity, func(p replication.QuotaEntityPart) bool { return p.Type == c.EntityType })
		if i < 0 {
			return false
		}
		name := entity[i].Name
		switch c.MatchType {
		case kmsg.QuotasMatchTypeExact:
			if name == nil || *name != *c.Match {
				return false
			}
		case kmsg.QuotasMatchTypeDefault:
			if name != nil {
				return false
			}
		}
	}
	return true
}

// checkQuotaFilter makes Kafka's checks of a DescribeClientQuotas filter.
func checkQuotaFilter(components []kmsg.DescribeClientQuotasRequestComponent) error {
	seen := map[string]bool{}
	for _, c := range components {
		switch {
		case c.EntityType == "":
			return kafkaErrorf(kerr.InvalidRequest, "Invalid empty entity type.")
		case seen[c.EntityType]:
			return kafkaErrorf(kerr.InvalidRequest, "Entity type %s cannot appear more than once in the filter.", c.EntityType)
		case c.EntityType != "user" && c.EntityType != "client-id" && c.EntityType != "ip":
			return kafkaErrorf(kerr.UnsupportedVersion, "Unsupported entity type %s", c.EntityType)
		}
		seen[c.EntityType] = true
		switch c.MatchType {
		case kmsg.QuotasMatchTypeExact:
			if c.Match == nil {
				return kafkaErrorf(kerr.InvalidRequest, "Request specified MATCH_TYPE_EXACT, but set match string to null.")
			}
		case kmsg.QuotasMatchTypeDefault:
			if c.Match != nil {
				return kafkaErrorf(kerr.InvalidRequest, "Request specified MATCH_TYPE_DEFAULT, but also specified a match string.")
			}
		case kmsg.QuotasMatchTypeAny:
			if c.Match != nil {
				return kafkaErrorf(kerr.InvalidRequest, "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.")
			}
		default:
			return kafkaErrorf(kerr.InvalidRequest, "Unknown match type %d", c.MatchType)
		}
	}
	if seen["ip"] && (seen["user"] || seen["client-id"]) {
		return kafkaErrorf(kerr.InvalidRequest, "Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.")
	}
	return nil
}
