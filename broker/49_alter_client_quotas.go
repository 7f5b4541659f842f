package broker

import (
	"context"

	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleAlterClientQuotas sets and removes client quotas, checked as
// Kafka's controller checks them, each entity on its own: a bad entity or
// value fails that entity only. The changes of every good entity are made
// in one metadata change (none with validate_only).
func (b *Broker) handleAlterClientQuotas(ctx context.Context, r *kmsg.AlterClientQuotasRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	var alts []replication.QuotaAlteration
	var applied []int // the response entries of alts
	seen := map[string]bool{}
	for _, e := range r.Entries {
		re := kmsg.NewAlterClientQuotasResponseEntry()
		for _, p := range e.Entity {
			rp := kmsg.NewAlterClientQuotasResponseEntryEntity()
			rp.Type, rp.Name = p.Type, p.Name
			re.Entity = append(re.Entity, rp)
		}
		alt, err := checkQuotaAlteration(e)
		if err == nil {
			key := replication.QuotaKey(alt.Entity)
			if seen[key] {
				err = kafkaErrorf(kerr.InvalidRequest, "Ignoring duplicate entity %s", quotaEntityString(alt.Entity))
			}
			seen[key] = true
		}
		if err != nil {
			re.ErrorCode, re.ErrorMessage = errCodeMsg(err)
		} else {
			alts = append(alts, alt)
			applied = append(applied, len(resp.Entries))
		}
		resp.Entries = append(resp.Entries, re)
	}
	if len(alts) == 0 || r.ValidateOnly {
		return resp
	}
	if _, err := b.node.Controller().Propose(ctx, replication.Command{Op: replication.OpAlterClientQuotas, Quotas: alts}); err != nil {
		for _, i := range applied {
			resp.Entries[i].ErrorCode, resp.Entries[i].ErrorMessage = errCodeMsg(kafkaErrorf(kerr.RequestTimedOut, "%v", err))
		}
	}
	return resp
}

// checkQuotaAlteration checks one entry of an AlterClientQuotas request.
func checkQuotaAlteration(e kmsg.AlterClientQuotasRequestEntry) (replication.QuotaAlteration, error) {
	entity, keys, err := checkQuotaEntity(e.Entity)
	if err != nil {
		return replication.QuotaAlteration{}, err
	}
	alt := replication.QuotaAlteration{Entity: entity.parts()}
	seen := map[string]bool{}
	for _, op := range e.Ops {
		if seen[op.Key] {
			return alt, kafkaErrorf(kerr.InvalidRequest, "Duplicate quota key %s not updating quota for this entity %s", op.Key, entity)
		}
		seen[op.Key] = true
		if op.Remove {
			alt.Remove = append(alt.Remove, op.Key)
			continue
		}
		if err := checkQuotaValue(keys, op.Key, op.Value); err != nil {
			return alt, err
		}
		if alt.Set == nil {
			alt.Set = map[string]float64{}
		}
		alt.Set[op.Key] = op.Value
	}
	return alt, nil
}

// quotaEntityString writes an entity as its errors name it.
func quotaEntityString(parts []replication.QuotaEntityPart) string {
	e := quotaEntity{}
	for _, p := range parts {
		e[p.Type] = p.Name
	}
	return e.String()
}
