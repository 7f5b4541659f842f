package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// scramDefaultIterations is kafka-configs' iterations for a SCRAM
// credential given without them (ConfigCommand's DefaultScramIterations).
const scramDefaultIterations = 4096

// cmdUser stands in for kafka-configs --entity-type users with SCRAM
// credentials (--add-config 'SCRAM-SHA-256=[iterations=8192,password=...]',
// --delete-config SCRAM-SHA-512).
func cmdUser(e *env, args []string) error {
	if len(args) > 0 && args[0] == "scram" {
		args = args[1:]
	} else if len(args) > 0 && !isHelp(args[0]) {
		return usagef("user: unknown subcommand %q: want scram", args[0])
	}
	return runSubcommand(e, "user", "scram set, delete or describe", args,
		sub(userScramSet, "set"), sub(userScramDelete, "delete"), sub(userScramDescribe, "describe"))
}

// scramMechanism reads a mechanism name as kafka-configs takes it.
func scramMechanism(cmd, s string) (kadm.ScramMechanism, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "SCRAM-SHA-256":
		return kadm.ScramSha256, nil
	case "SCRAM-SHA-512":
		return kadm.ScramSha512, nil
	}
	return 0, usagef("%s: unknown SCRAM mechanism %q: want SCRAM-SHA-256 or SCRAM-SHA-512", cmd, s)
}

// parseScramConfig reads one of kafka-configs' SCRAM configs,
// MECHANISM=[iterations=N,password=P] (or MECHANISM=[password=P], at
// scramDefaultIterations), into the upsertion for user.
func parseScramConfig(user, kv string) (kadm.UpsertSCRAM, error) {
	const cmd = "user scram set"
	mech, val, ok := strings.Cut(kv, "=")
	if !ok {
		return kadm.UpsertSCRAM{}, usagef("%s: %q: want MECHANISM=[iterations=N,password=P]", cmd, kv)
	}
	m, err := scramMechanism(cmd, mech)
	if err != nil {
		return kadm.UpsertSCRAM{}, err
	}
	up := kadm.UpsertSCRAM{User: user, Mechanism: m, Iterations: scramDefaultIterations}
	val = strings.TrimSpace(val)
	if !strings.HasPrefix(val, "[") || !strings.HasSuffix(val, "]") {
		return kadm.UpsertSCRAM{}, usagef("%s: %q: want MECHANISM=[iterations=N,password=P]", cmd, kv)
	}
	havePassword := false
	for _, part := range strings.Split(val[1:len(val)-1], ",") {
		k, v, ok := strings.Cut(part, "=")
		switch k = strings.TrimSpace(k); {
		case !ok:
			return kadm.UpsertSCRAM{}, usagef("%s: %q: want key=value", cmd, part)
		case k == "iterations":
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
			if err != nil {
				return kadm.UpsertSCRAM{}, usagef("%s: iterations=%s: not a number", cmd, v)
			}
			up.Iterations = int32(n)
		case k == "password":
			up.Password, havePassword = v, true
		default:
			return kadm.UpsertSCRAM{}, usagef("%s: unknown SCRAM setting %q: want iterations and password", cmd, k)
		}
	}
	if !havePassword || up.Password == "" {
		return kadm.UpsertSCRAM{}, usagef("%s: %s: no password", cmd, mech)
	}
	return up, nil
}

func userScramSet(e *env, args []string) error {
	fs := e.newFlagSet("user scram set", "user scram set NAME (--mechanism M --password P [--iterations N] | --add-config 'M=[iterations=N,password=P],...')")
	var mech, password string
	var iterations int
	var configs listFlag
	fs.StringVar(&mech, "mechanism", "", "SCRAM-SHA-256 or SCRAM-SHA-512")
	fs.StringVar(&password, "password", "", "the user's `PASSWORD` (salted here, as kafka-configs does; the broker keeps only keys derived from it)")
	fs.IntVar(&iterations, "iterations", scramDefaultIterations, "SCRAM iterations, 4096 to 16384")
	fs.Func("add-config", "as kafka-configs --add-config: `M=[iterations=N,password=P],...`", func(v string) error {
		configs = append(configs, splitAddConfig(v)...)
		return nil
	})
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("user scram set: want one user NAME")
	}
	user := pos[0]
	var ups []kadm.UpsertSCRAM
	if flagSet(fs, "mechanism") || flagSet(fs, "password") {
		if password == "" {
			return usagef("user scram set: --password is required with --mechanism")
		}
		m, err := scramMechanism("user scram set", mech)
		if err != nil {
			return err
		}
		ups = append(ups, kadm.UpsertSCRAM{User: user, Mechanism: m, Iterations: int32(iterations), Password: password})
	}
	for _, kv := range configs {
		up, err := parseScramConfig(user, kv)
		if err != nil {
			return err
		}
		ups = append(ups, up)
	}
	if len(ups) == 0 {
		return usagef("user scram set: nothing to do (give --mechanism and --password, or --add-config)")
	}
	return e.adminCall(func(ctx context.Context, adm *kadm.Client) error {
		// One request per mechanism: a request naming a user twice is
		// refused whole (DUPLICATE_RESOURCE), as Kafka refuses it.
		for _, up := range ups {
			if err := alterScram(ctx, adm, user, nil, []kadm.UpsertSCRAM{up}); err != nil {
				return err
			}
		}
		fmt.Fprintf(e.stdout, "Completed updating config for user %s.\n", user)
		return nil
	})
}

func userScramDelete(e *env, args []string) error {
	fs := e.newFlagSet("user scram delete", "user scram delete NAME (--mechanism M ... | --delete-config M,...)")
	var mechs listFlag
	fs.Var(&mechs, "mechanism", "the `MECHANISM` whose credential to delete, SCRAM-SHA-256 or SCRAM-SHA-512 (repeatable)")
	fs.Func("delete-config", "as kafka-configs --delete-config: `M,M2`", func(v string) error {
		for _, m := range strings.Split(v, ",") {
			if m = strings.TrimSpace(m); m != "" {
				mechs = append(mechs, m)
			}
		}
		return nil
	})
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("user scram delete: want one user NAME")
	}
	user := pos[0]
	if len(mechs) == 0 {
		return usagef("user scram delete: nothing to do (give --mechanism or --delete-config)")
	}
	var dels []kadm.DeleteSCRAM
	for _, s := range mechs {
		m, err := scramMechanism("user scram delete", s)
		if err != nil {
			return err
		}
		dels = append(dels, kadm.DeleteSCRAM{User: user, Mechanism: m})
	}
	return e.adminCall(func(ctx context.Context, adm *kadm.Client) error {
		for _, d := range dels {
			if err := alterScram(ctx, adm, user, []kadm.DeleteSCRAM{d}, nil); err != nil {
				return err
			}
		}
		fmt.Fprintf(e.stdout, "Completed updating config for user %s.\n", user)
		return nil
	})
}

// alterScram sends one AlterUserScramCredentials and returns its error for
// user, if any.
func alterScram(ctx context.Context, adm *kadm.Client, user string, dels []kadm.DeleteSCRAM, ups []kadm.UpsertSCRAM) error {
	res, err := adm.AlterUserSCRAMs(ctx, dels, ups)
	if err != nil {
		return fmt.Errorf("alter SCRAM credentials of user %s: %w", user, err)
	}
	if r, ok := res[user]; ok && r.Err != nil {
		return fmt.Errorf("alter SCRAM credentials of user %s: %w", user, withMessage(r.Err, r.ErrMessage))
	}
	return nil
}

func userScramDescribe(e *env, args []string) error {
	fs := e.newFlagSet("user scram describe", "user scram describe [NAME...]")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	return e.adminCall(func(ctx context.Context, adm *kadm.Client) error {
		described, err := adm.DescribeUserSCRAMs(ctx, pos...)
		if err != nil {
			return fmt.Errorf("describe SCRAM credentials: %w", err)
		}
		// As kafka-configs --describe --entity-type users: a user with no
		// credential is left out, any other error is said.
		for _, d := range described.Sorted() {
			if errors.Is(d.Err, kerr.ResourceNotFound) {
				continue
			}
			if d.Err != nil {
				return fmt.Errorf("describe SCRAM credentials of user %s: %w", d.User, withMessage(d.Err, d.ErrMessage))
			}
			var infos []string
			for _, c := range d.CredInfos {
				infos = append(infos, c.String())
			}
			fmt.Fprintf(e.stdout, "SCRAM credential configs for user-principal '%s' are %s\n", d.User, strings.Join(infos, ", "))
		}
		return nil
	})
}
