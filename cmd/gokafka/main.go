// Command gokafka is the companion CLI of gokafkad and stands in for Kafka's
// console tools: topic administration (kafka-topics, kafka-configs), a line
// producer and a formatting consumer (kafka-console-producer/-consumer) and
// the two perf tests (kafka-producer-perf-test, kafka-consumer-perf-test),
// and consumer group administration (kafka-consumer-groups). It is a plain
// Kafka client (franz-go kgo and kadm) and works against any
// Kafka-compatible cluster. It never joins a consumer group itself:
// consumers read partitions directly.
//
// main is a thin wrapper around run so that tests drive the same code path
// with their own stdin, stdout and stderr. Exit codes: 0 ok, 1 runtime error
// (message on stderr), 2 usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gokafka/gokafka/internal/version"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const defaultBootstrap = "127.0.0.1:9092"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runContext(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole CLI: args without the program name; the return value is
// the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdin, stdout, stderr)
}

// env is what every subcommand gets: its streams, the cancellation of the
// whole command and the global flags.
type env struct {
	ctx       context.Context
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
	bootstrap string
	// clientConfig is --command-config (--producer.config,
	// --consumer.config): a Kafka client properties file.
	clientConfig string
}

// errUsage marks an error as a usage error (exit 2); the message has already
// been printed (flag parsing) or is printed by runContext.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// errReported means the subcommand already printed what went wrong.
var errReported = errors.New("reported")

func runContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("gokafka", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bootstrapFlags(fs, &e.bootstrap)
	showVersion := fs.Bool("version", false, "print the version, as Kafka's tools' --version")
	fs.Usage = func() {} // printed below: asked for, to stdout, as `gokafka help` does
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return 0
		}
		printUsage(stderr)
		return 2
	}
	args = fs.Args()
	if *showVersion {
		args = []string{"version"}
	}
	if len(args) == 0 {
		printUsage(stderr)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "topic", "topics":
		err = cmdTopic(e, rest)
	case "produce":
		err = cmdProduce(e, rest)
	case "consume":
		err = cmdConsume(e, rest)
	case "perf":
		err = cmdPerf(e, rest)
	case "group", "groups", "consumer-groups":
		err = cmdGroup(e, rest)
	case "broker", "brokers":
		err = cmdBroker(e, rest)
	case "quota", "quotas":
		err = cmdQuota(e, rest)
	case "user", "users":
		err = cmdUser(e, rest)
	case "version":
		fmt.Fprintf(stdout, "gokafka %s %s %s/%s\n", version.String(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	case "help", "-h", "--help":
		printUsage(stdout)
	default:
		err = usagef("unknown command %q (see gokafka help)", cmd)
	}
	return exitCode(stderr, err)
}

func exitCode(stderr io.Writer, err error) int {
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		if ue.msg != "" {
			fmt.Fprintf(stderr, "gokafka: %s\n", ue.msg)
		}
		return 2
	case errors.Is(err, errReported):
		return 1
	default:
		fmt.Fprintf(stderr, "gokafka: %v\n", err)
		return 1
	}
}

const usageText = `gokafka is the command-line client of gokafkad (works with any Kafka cluster).

Usage: gokafka [-b HOST:PORT[,HOST:PORT...]] COMMAND [flags] [args]

Commands:
  topic create NAME [--partitions N] [--replication-factor N] [--config k=v ...] [--if-not-exists]
  topic list [--topic REGEX] [--exclude-internal]
  topic describe [--topic REGEX] [--exclude-internal] [--if-exists] [NAME...]
          [--under-replicated-partitions | --unavailable-partitions | --under-min-isr-partitions |
           --at-min-isr-partitions | --topics-with-overrides]
  topic delete NAME... | --topic REGEX [--if-exists]
  topic alter-config NAME [--set k=v ...] [--delete k ...]
  topic alter NAME | --topic REGEX --partitions N [--if-exists]   (the topic grows to N partitions)
          every topic command takes the name as --topic NAME too, as kafka-topics does; for list,
          describe, alter and delete, as there, it is a regular expression the whole name matches
  broker describe-config [ID]          (no ID: the cluster-wide dynamic defaults)
  broker alter-config [ID] [--set k=v ...] [--delete k ...]
          as kafka-configs --entity-type brokers; no ID alters every broker's default
          alter-config (topic, broker) and quota alter also take kafka-configs' --add-config k=v,k2=[a,b]
          and --delete-config k,k2
  quota describe [ENTITY]              (no ENTITY: every client quota)
  quota alter ENTITY [--set k=v ...] [--delete k ...]
          ENTITY: --user NAME|--user-default, --client-id ID|--client-default, --ip ADDR|--ip-default;
          keys producer_byte_rate, consumer_byte_rate (bytes/s), controller_mutation_rate (partitions/s),
          connection_creation_rate (connections/s, on --ip),
          as kafka-configs --entity-type users/clients
  user scram set NAME --mechanism SCRAM-SHA-256|SCRAM-SHA-512 --password P [--iterations N]
  user scram delete NAME --mechanism SCRAM-SHA-256|SCRAM-SHA-512
  user scram describe [NAME...]       (no NAME: every user with a SCRAM credential)
          as kafka-configs --entity-type users: set also takes --add-config
          'SCRAM-SHA-256=[iterations=8192,password=P]' (iterations 4096 by default, at most 16384),
          delete --delete-config SCRAM-SHA-512
  produce --topic T [--key-separator SEP] [--header k=v ...] [--property k=v ...] [--partition N] [--acks all|1|0]
          one record per stdin line; --property as kafka-console-producer's (parse.key, key.separator,
          parse.headers, headers.delimiter, headers.separator, headers.key.separator, ignore.error, null.marker)
  consume --topic T | --include REGEX [--group G | --partition N] [--from-beginning | --offset N|earliest|latest | --from-time RFC3339|unix-ms]
          [--max-messages N] [--timeout DUR|MS (or --timeout-ms MS)] [--format FMT | --property k=v ...]
          FMT: %t topic, %p partition, %o offset, %k key, %v value, %h headers,
               %T timestamp (ms), %% percent; escapes \n \t \r \\ (default "%v\n")
          --property as kafka-console-consumer's (print.key, print.timestamp, key.separator, null.literal, ...)
  perf produce --topic T --num-records N --record-size B [--partitions P] [--acks all|1|0]
          [--max-in-flight N] [--linger DUR] [--batch-bytes N] [--throughput R] [--json]
  perf consume --topic T --messages N [--timeout DUR|MS] [--json]
  group list [--state S[,S...]]
  group describe GROUP...
  group reset-offsets GROUP (--topic T[:P,P...] ... | --all-topics)
          (--to-earliest | --to-latest | --to-datetime RFC3339|unix-ms | --shift-by N | --to-offset N)
          [--execute]   (a dry run unless --execute; the group must be inactive)
  group delete GROUP...
  group delete-offsets GROUP --topic T[:P,P...] ...
          every group command takes the group as --group GROUP too, as kafka-consumer-groups does
  version                              (or --version)
  help

--bootstrap-server (-b) is accepted before the command or among its flags
(default 127.0.0.1:9092). "gokafka COMMAND -h" lists a command's flags.
Every command takes a Kafka client properties file as Kafka's tools do,
--command-config (or --producer.config, --consumer.config): its
security.protocol (SSL, SASL_PLAINTEXT, SASL_SSL), ssl.truststore.* and
ssl.keystore.* (PEM), sasl.mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)
and sasl.jaas.config reach a TLS or SASL listener.
The action may also be given as Kafka's tools take it, as a flag: "gokafka topic
--describe --topic T", "gokafka group --list", "gokafka group --describe --group G".
Exit status: 0 ok, 1 runtime error, 2 usage error.
`

func printUsage(w io.Writer) { io.WriteString(w, usageText) }

// isHelp reports whether arg asks for help instead of naming a subcommand.
func isHelp(arg string) bool { return arg == "-h" || arg == "--help" || arg == "help" }

// subcommand is one of a command's verbs: the names it answers to, and
// what runs it.
type subcommand struct {
	names []string
	run   func(e *env, args []string) error
}

func sub(run func(e *env, args []string) error, names ...string) subcommand {
	return subcommand{names: names, run: run}
}

// runSubcommand runs the verb of cmd that args[0] names, or prints cmd's
// usage for -h; want lists the verbs for a missing or unknown one.
func runSubcommand(e *env, cmd, want string, args []string, subs ...subcommand) error {
	if len(args) == 0 {
		return usagef("%s: want %s", cmd, want)
	}
	if isHelp(args[0]) {
		printCommandUsage(e.stdout, cmd)
		return nil
	}
	for _, s := range subs {
		if slices.Contains(s.names, args[0]) {
			return s.run(e, args[1:])
		}
	}
	return usagef("%s: unknown subcommand %q: want %s", cmd, args[0], want)
}

// printCommandUsage prints the entries of the usage text for one command
// (topic, perf, group): "gokafka perf -h" as "gokafka perf produce -h" is
// for its flags.
func printCommandUsage(w io.Writer, cmd string) {
	fmt.Fprintf(w, "Usage: gokafka [-b HOST:PORT] %s SUBCOMMAND [flags] [args]\n\nSubcommands:\n", cmd)
	in := false
	for line := range strings.Lines(usageText) {
		switch {
		case strings.HasPrefix(line, "  "+cmd+" "):
			in = true
		case !strings.HasPrefix(line, "          "):
			in = false
		}
		if in {
			io.WriteString(w, line)
		}
	}
	fmt.Fprintf(w, "\n\"gokafka %s SUBCOMMAND -h\" lists a subcommand's flags.\n", cmd)
}

// actionFlagSubcommand lets a command be typed as Kafka's tools take it,
// with the action as a flag anywhere among the arguments (kafka-topics
// --bootstrap-server B --describe --topic T, kafka-consumer-groups --list):
// when args do not start with a subcommand but hold one "--SUB" (or
// "-SUB") naming one, it returns args with that flag moved to the front
// as the subcommand.
func actionFlagSubcommand(args []string, subs ...string) []string {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args // a subcommand first (alter-config --delete K is no action)
	}
	at := -1
	for i, a := range args {
		if a == "--" {
			break
		}
		if name := strings.TrimLeft(a, "-"); strings.HasPrefix(a, "-") && slices.Contains(subs, name) {
			if at >= 0 {
				return args // two actions: left for the usage error
			}
			at = i
		}
	}
	if at < 0 {
		return args
	}
	out := []string{strings.TrimLeft(args[at], "-")}
	out = append(out, args[:at]...)
	return append(out, args[at+1:]...)
}

// bootstrapFlags registers --bootstrap-server and its short form -b. Each
// subcommand registers them too, defaulting to the global value, so either
// position works.
func bootstrapFlags(fs *flag.FlagSet, p *string) {
	def := *p
	if def == "" {
		def = defaultBootstrap
	}
	fs.StringVar(p, "bootstrap-server", def, "comma-separated broker addresses")
	fs.StringVar(p, "b", def, "short for --bootstrap-server")
}

// newFlagSet is a subcommand's flag set: errors go to stderr, and it carries
// the bootstrap flags.
func (e *env) newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	bootstrapFlags(fs, &e.bootstrap)
	e.clientConfigFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: gokafka %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses flags and positional arguments in any order (the
// standard flag package stops at the first positional argument; Kafka's
// tools do not). Everything after "--" is positional.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{} // flag already printed the message
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// flagSet reports whether the command line gave flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// listFlag is a repeatable string flag (--config k=v --config k2=v2).
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// msDuration is a timeout flag that takes a Go duration (10s, 1m30s) or,
// as Kafka's tools take their timeouts (kafka-console-consumer
// --timeout-ms 5000, kafka-consumer-perf-test --timeout 10000), a bare
// number of milliseconds.
type msDuration time.Duration

// durationVar registers an msDuration flag name on p with default def.
func durationVar(fs *flag.FlagSet, p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	fs.Var((*msDuration)(p), name, usage)
}

func (d *msDuration) String() string {
	if d == nil {
		return "0s"
	}
	return time.Duration(*d).String()
}

func (d *msDuration) Set(s string) error {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms > int64(time.Duration(1<<63-1)/time.Millisecond) || ms < -int64(time.Duration(1<<63-1)/time.Millisecond) {
			return errors.New("out of range")
		}
		*d = msDuration(time.Duration(ms) * time.Millisecond)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration (10s, 1m) or a number of milliseconds")
	}
	*d = msDuration(v)
	return nil
}

// splitKV splits "k=v"; a value may contain '='.
func splitKV(s string) (string, string, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return "", "", usagef("%q: want key=value", s)
	}
	return k, v, nil
}

func (e *env) seeds() []string {
	var out []string
	for _, s := range strings.Split(e.bootstrap, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// client builds a kgo client for the bootstrap servers plus opts.
func (e *env) client(opts ...kgo.Opt) (*kgo.Client, error) {
	seeds := e.seeds()
	if len(seeds) == 0 {
		return nil, usagef("--bootstrap-server is empty")
	}
	sec, err := e.securityOpts()
	if err != nil {
		return nil, err
	}
	all := append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("gokafka"),
		kgo.DialTimeout(10 * time.Second),
	}, sec...)
	all = append(all, opts...)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return cl, nil
}

// admin returns an admin client; closing the kgo client closes both.
func (e *env) admin() (*kadm.Client, *kgo.Client, error) {
	cl, err := e.client()
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl, nil
}

// parseAcks maps Kafka's acks values to kgo. Anything but all needs
// idempotence off, as in Kafka.
func parseAcks(s string) ([]kgo.Opt, error) {
	switch s {
	case "all", "-1":
		return []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())}, nil
	case "1":
		return []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}, nil
	case "0":
		return []kgo.Opt{kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite()}, nil
	}
	return nil, usagef("--acks %q: want all, 1 or 0", s)
}

// compressionCodecs are kafka-console-producer's --compression-codec values.
var compressionCodecs = map[string]kgo.CompressionCodec{
	"none":   kgo.NoCompression(),
	"gzip":   kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(),
	"lz4":    kgo.Lz4Compression(),
	"zstd":   kgo.ZstdCompression(),
}

// parseCompression is the producer option for a --compression-codec value.
func parseCompression(s string) (kgo.Opt, error) {
	c, ok := compressionCodecs[s]
	if !ok {
		return nil, usagef("--compression-codec %q: want none, gzip, snappy, lz4 or zstd", s)
	}
	return kgo.ProducerBatchCompression(c), nil
}

// adminCall runs fn with an admin client and a context bounded by
// adminTimeout, and closes the client after.
func (e *env) adminCall(fn func(ctx context.Context, adm *kadm.Client) error) error {
	adm, cl, err := e.admin()
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(e.ctx, adminTimeout)
	defer cancel()
	return fn(ctx, adm)
}
