package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// cmdBroker stands in for kafka-configs --entity-type brokers.
func cmdBroker(e *env, args []string) error {
	return runSubcommand(e, "broker", "describe-config or alter-config", args,
		sub(brokerDescribeConfig, "describe-config", "describe-configs"), sub(brokerAlterConfig, "alter-config", "alter-configs"))
}

// checkBrokers fails with a plain message when an id names no broker of
// the cluster: the client library would say only that the request had
// "separate shard errors".
func checkBrokers(ctx context.Context, adm *kadm.Client, ids []int32) error {
	if len(ids) == 0 {
		return nil
	}
	bs, err := adm.ListBrokers(ctx)
	if err != nil {
		return fmt.Errorf("list brokers: %w", err)
	}
	for _, id := range ids {
		if !slices.ContainsFunc(bs, func(b kadm.BrokerDetail) bool { return b.NodeID == id }) {
			return fmt.Errorf("no broker %d in the cluster (brokers: %v)", id, bs.NodeIDs())
		}
	}
	return nil
}

// brokerIDs parses the optional broker id argument: none is the cluster-wide
// default resource, as kafka-configs --entity-default.
func brokerIDs(cmd string, pos []string) ([]int32, error) {
	switch len(pos) {
	case 0:
		return nil, nil
	case 1:
		id, err := strconv.ParseInt(pos[0], 10, 32)
		if err != nil || id < 0 {
			return nil, usagef("%s: %q is not a broker id", cmd, pos[0])
		}
		return []int32{int32(id)}, nil
	default:
		return nil, usagef("%s: want at most one broker id", cmd)
	}
}

func brokerDescribeConfig(e *env, args []string) error {
	fs := e.newFlagSet("broker describe-config", "broker describe-config [ID]")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	ids, err := brokerIDs("broker describe-config", pos)
	if err != nil {
		return err
	}
	return e.adminCall(func(ctx context.Context, adm *kadm.Client) error {
		if err := checkBrokers(ctx, adm, ids); err != nil {
			return err
		}
		rcs, err := adm.DescribeBrokerConfigs(ctx, ids...)
		if err != nil {
			return fmt.Errorf("describe broker configs: %w", err)
		}
		for _, rc := range rcs {
			if rc.Err != nil {
				return fmt.Errorf("describe configs of broker %s: %w", rc.Name, withMessage(rc.Err, rc.ErrMessage))
			}
			if rc.Name == "" {
				fmt.Fprintln(e.stdout, "Cluster-wide dynamic configs (every broker's default):")
			} else {
				fmt.Fprintf(e.stdout, "Configs of broker %s:\n", rc.Name)
			}
			cfgs := rc.Configs
			sort.Slice(cfgs, func(i, j int) bool { return cfgs[i].Key < cfgs[j].Key })
			for _, c := range cfgs {
				v := c.MaybeValue()
				if c.Sensitive {
					v = "(sensitive)"
				}
				src := strings.TrimSuffix(strings.TrimSuffix(c.Source.String(), "_CONFIG"), "_BROKER")
				fmt.Fprintf(e.stdout, "  %s=%s (%s)\n", c.Key, v, src)
			}
		}
		return nil
	})
}

func brokerAlterConfig(e *env, args []string) error {
	fs := e.newFlagSet("broker alter-config", "broker alter-config [ID] [--set k=v ...] [--delete k ...]")
	var sets, dels listFlag
	fs.Var(&sets, "set", "set config `key=value` (repeatable)")
	fs.Var(&dels, "delete", "remove the dynamic value of config `key` (repeatable)")
	kafkaConfigFlags(fs, &sets, &dels)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	ids, err := brokerIDs("broker alter-config", pos)
	if err != nil {
		return err
	}
	alters, err := configAlters("broker alter-config", sets, dels)
	if err != nil {
		return err
	}
	what := "the cluster-wide default"
	if len(ids) == 1 {
		what = fmt.Sprintf("broker %d", ids[0])
	}
	return e.adminCall(func(ctx context.Context, adm *kadm.Client) error {
		if err := checkBrokers(ctx, adm, ids); err != nil {
			return err
		}
		if len(dels) > 0 {
			rcs, err := adm.DescribeBrokerConfigs(ctx, ids...)
			if err != nil {
				return fmt.Errorf("describe configs of %s: %w", what, err)
			}
			own := kmsg.ConfigSourceDynamicDefaultBrokerConfig
			if len(ids) == 1 {
				own = kmsg.ConfigSourceDynamicBrokerConfig
			}
			for _, rc := range rcs {
				if rc.Err != nil {
					return fmt.Errorf("describe configs of %s: %w", what, withMessage(rc.Err, rc.ErrMessage))
				}
				if err := checkDeletable(rc, dels, own, what); err != nil {
					return err
				}
			}
		}
		resps, err := adm.AlterBrokerConfigs(ctx, alters, ids...)
		if err != nil {
			return fmt.Errorf("alter configs of %s: %w", what, err)
		}
		for _, r := range resps {
			if r.Err != nil {
				return fmt.Errorf("alter configs of %s: %w", what, withMessage(r.Err, r.ErrMessage))
			}
		}
		fmt.Fprintf(e.stdout, "Completed updating config for %s.\n", what)
		return nil
	})
}
