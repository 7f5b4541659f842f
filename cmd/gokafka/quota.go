package main

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// cmdQuota stands in for kafka-configs --entity-type users/clients/ips with
// quota keys (producer_byte_rate, consumer_byte_rate, ...).
func cmdQuota(e *env, args []string) error {
	return runSubcommand(e, "quota", "describe or alter", args, sub(quotaDescribe, "describe"), sub(quotaAlter, "alter"))
}

// quotaEntityFlags are the flags naming a quota entity, as kafka-configs'
// --entity-type/--entity-name/--entity-default pairs.
type quotaEntityFlags struct {
	user, client, ip                      string
	userDefault, clientDefault, ipDefault bool
}

func (q *quotaEntityFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&q.user, "user", "", "the user `NAME` (without SASL every client is ANONYMOUS)")
	fs.BoolVar(&q.userDefault, "user-default", false, "the default user")
	fs.StringVar(&q.client, "client-id", "", "the client `ID`")
	fs.BoolVar(&q.clientDefault, "client-default", false, "the default client id")
	fs.StringVar(&q.ip, "ip", "", "the client `ADDRESS`")
	fs.BoolVar(&q.ipDefault, "ip-default", false, "the default ip")
}

// parts returns the entity the flags name, nil for none.
func (q *quotaEntityFlags) parts(cmd string, fs *flag.FlagSet) ([]kadm.ClientQuotaEntityComponent, error) {
	var out []kadm.ClientQuotaEntityComponent
	for _, t := range []struct {
		typ, flag, name string
		dflt            bool
	}{
		{"user", "user", q.user, q.userDefault},
		{"client-id", "client-id", q.client, q.clientDefault},
		{"ip", "ip", q.ip, q.ipDefault},
	} {
		switch {
		case flagSet(fs, t.flag) && t.dflt:
			return nil, usagef("%s: --%s and --%s-default name two entities", cmd, t.flag, strings.TrimSuffix(t.flag, "-id"))
		case flagSet(fs, t.flag):
			out = append(out, kadm.ClientQuotaEntityComponent{Type: t.typ, Name: kadm.StringPtr(t.name)})
		case t.dflt:
			out = append(out, kadm.ClientQuotaEntityComponent{Type: t.typ})
		}
	}
	return out, nil
}

// entityText writes an entity as kafka-configs does: "client-id 'app'",
// "the default user".
func entityText(ent kadm.ClientQuotaEntity) string {
	order := map[string]int{"user": 0, "client-id": 1, "ip": 2}
	ent = append(kadm.ClientQuotaEntity(nil), ent...)
	sort.SliceStable(ent, func(i, j int) bool { return order[ent[i].Type] < order[ent[j].Type] })
	var parts []string
	for _, c := range ent {
		what := map[string]string{"user": "user-principal", "client-id": "client-id", "ip": "ip"}[c.Type]
		if what == "" {
			what = c.Type
		}
		if c.Name == nil {
			parts = append(parts, "the default "+what)
		} else {
			parts = append(parts, fmt.Sprintf("%s '%s'", what, *c.Name))
		}
	}
	return strings.Join(parts, ", ")
}

func quotaDescribe(e *env, args []string) error {
	fs := e.newFlagSet("quota describe", "quota describe [--user NAME|--user-default] [--client-id ID|--client-default] [--ip ADDR|--ip-default]")
	var ef quotaEntityFlags
	ef.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("quota describe: unexpected argument %q", pos[0])
	}
	parts, err := ef.parts("quota describe", fs)
	if err != nil {
		return err
	}
	// Named parts: exactly that entity, as kafka-configs --describe with
	// an entity name; none: every quota.
	var comps []kadm.DescribeClientQuotaComponent
	for _, p := range parts {
		c := kadm.DescribeClientQuotaComponent{Type: p.Type, MatchType: kmsg.QuotasMatchTypeDefault}
		if p.Name != nil {
			c.MatchType, c.MatchName = kmsg.QuotasMatchTypeExact, p.Name
		}
		comps = append(comps, c)
	}
	return e.adminCall(func(ctx context.Context, adm *kadm.Client) error {
		qs, err := adm.DescribeClientQuotas(ctx, len(comps) > 0, comps)
		if err != nil {
			return fmt.Errorf("describe client quotas: %w", err)
		}
		sort.Slice(qs, func(i, j int) bool { return entityText(qs[i].Entity) < entityText(qs[j].Entity) })
		for _, q := range qs {
			var vals []string
			for _, v := range q.Values {
				vals = append(vals, v.Key+"="+strconv.FormatFloat(v.Value, 'f', -1, 64))
			}
			sort.Strings(vals)
			fmt.Fprintf(e.stdout, "Quota configs for %s are %s\n", entityText(q.Entity), strings.Join(vals, ", "))
		}
		return nil
	})
}

func quotaAlter(e *env, args []string) error {
	fs := e.newFlagSet("quota alter", "quota alter (--user NAME|--user-default) (--client-id ID|--client-default) (--ip ADDR|--ip-default) [--set k=v ...] [--delete k ...]")
	var ef quotaEntityFlags
	ef.register(fs)
	var sets, dels listFlag
	fs.Var(&sets, "set", "set quota `key=value` (repeatable): producer_byte_rate, consumer_byte_rate, controller_mutation_rate")
	fs.Var(&dels, "delete", "remove quota `key` (repeatable)")
	kafkaConfigFlags(fs, &sets, &dels)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("quota alter: unexpected argument %q", pos[0])
	}
	parts, err := ef.parts("quota alter", fs)
	if err != nil {
		return err
	}
	if len(parts) == 0 {
		return usagef("quota alter: name the entity (--user, --client-id, --ip or their -default)")
	}
	if len(sets)+len(dels) == 0 {
		return usagef("quota alter: nothing to do (give --set or --delete)")
	}
	var ops []kadm.AlterClientQuotaOp
	for _, s := range sets {
		k, v, err := splitKV(s)
		if err != nil {
			return err
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return usagef("quota alter: %s=%s: the value is not a number", k, v)
		}
		ops = append(ops, kadm.AlterClientQuotaOp{Key: k, Value: f})
	}
	for _, k := range dels {
		ops = append(ops, kadm.AlterClientQuotaOp{Key: k, Remove: true})
	}
	ent := kadm.ClientQuotaEntity(parts)
	return e.adminCall(func(ctx context.Context, adm *kadm.Client) error {
		res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: ent, Ops: ops}})
		if err != nil {
			return fmt.Errorf("alter quotas of %s: %w", entityText(ent), err)
		}
		for _, r := range res {
			if r.Err != nil {
				return fmt.Errorf("alter quotas of %s: %w", entityText(ent), withMessage(r.Err, r.ErrMessage))
			}
		}
		fmt.Fprintf(e.stdout, "Completed updating quotas for %s.\n", entityText(ent))
		return nil
	})
}
