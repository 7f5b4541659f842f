// Command gokafkad runs one gokafka broker. With no flags it is a single-node
// cluster on 127.0.0.1:9092 with its data in ./data.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/gokafka/gokafka/broker"
	"github.com/gokafka/gokafka/internal/version"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	cfg := broker.DefaultConfig()
	fs := flag.NewFlagSet("gokafkad", flag.ContinueOnError)
	configFile := fs.String("config", "", "Kafka-style properties file; flags given on the command line override it")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	showVersion := fs.Bool("version", false, "print the version and exit")
	// kafka-server-start.sh's way to set a key over the file's, which
	// scripts and container entrypoints written for Kafka pass.
	var overrides []string
	fs.Func("override", "a Kafka `key=value` that overrides the properties file's setting, as kafka-server-start.sh --override does (repeatable)", func(v string) error {
		overrides = append(overrides, v)
		return nil
	})
	type setting struct{ key, value string }
	var flagged []setting
	for _, o := range broker.Options() {
		o := o
		def, _ := cfg.Get(o.Key)
		usage, set := fmt.Sprintf("%s (%s, default %q)", o.Help, o.Key, def), func(v string) error {
			flagged = append(flagged, setting{o.Key, v})
			return nil
		}
		if o.IsBool() {
			// Given alone it means true, as Go's boolean flags (so it does
			// not take the next argument for its value).
			fs.BoolFunc(o.Flag, usage, set)
		} else {
			fs.Func(o.Flag, usage, set)
		}
	}
	// What the flag package prints goes to stdout when help was asked
	// for (so that it pages and greps), to stderr with a usage error.
	var parseOut bytes.Buffer
	fs.SetOutput(&parseOut)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: gokafkad [--config FILE | FILE] [flags] [--override key=value]...\n\nEvery flag is also a Kafka key for the properties file, which may also\nbe given as the one argument, as to kafka-server-start.sh.\n\n")
		fs.PrintDefaults()
	}
	// Flags may come before and after the one argument (a properties
	// file); the flag package stops at the first argument, so parse on.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				os.Stdout.Write(parseOut.Bytes())
				return 0
			}
			os.Stderr.Write(parseOut.Bytes())
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if *showVersion {
		fmt.Printf("gokafkad %s %s %s/%s\n", version.String(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	}
	switch {
	case len(positional) > 1:
		fmt.Fprintf(os.Stderr, "gokafkad: unexpected arguments %q: give one properties file (or --config FILE) and flags\n", positional[1:])
		return 2
	case len(positional) == 1 && *configFile != "":
		fmt.Fprintf(os.Stderr, "gokafkad: both --config %s and the argument %s: give one properties file\n", *configFile, positional[0])
		return 2
	case len(positional) == 1:
		*configFile = positional[0]
	}
	if *configFile != "" {
		if err := cfg.LoadPropertiesFile(*configFile); err != nil {
			fmt.Fprintf(os.Stderr, "gokafkad: %s: %v\n", *configFile, err)
			return 2
		}
	}
	if err := cfg.LoadOverrides(overrides); err != nil {
		fmt.Fprintf(os.Stderr, "gokafkad: %v\n", err)
		return 2
	}
	var flagKeys []string
	for _, s := range flagged {
		flagKeys = append(flagKeys, s.key)
	}
	cfg.OverrideFile(flagKeys)
	for _, s := range flagged {
		if err := cfg.Set(s.key, s.value); err != nil {
			fmt.Fprintf(os.Stderr, "gokafkad: %v\n", err)
			return 2
		}
	}
	// A value the broker would refuse is a configuration error as much as
	// one that does not parse: reported the same way, with exit status 2,
	// not as a failed start after the logger is up.
	if err := cfg.Validate(); err != nil {
		if *configFile != "" {
			fmt.Fprintf(os.Stderr, "gokafkad: %s: invalid configuration: %v\n", *configFile, err)
		} else {
			fmt.Fprintf(os.Stderr, "gokafkad: invalid configuration: %v\n", err)
		}
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(*logLevel))); err != nil {
		fmt.Fprintf(os.Stderr, "gokafkad: --log-level: %v\n", err)
		return 2
	}
	levelVar := new(slog.LevelVar)
	levelVar.Set(level)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: levelVar}))
	cfg.Logger, cfg.LogLevel = logger, levelVar
	if len(cfg.Ignored) > 0 {
		logger.Warn("ignoring Kafka settings that mean nothing to gokafkad", "file", *configFile, "keys", strings.Join(cfg.Ignored, ","))
	}

	// SIGHUP too, as Kafka's JVM takes it: a closed terminal stops the
	// broker cleanly, not at once.
	ctx, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		if sig, ok := <-sigs; ok {
			stop(fmt.Errorf("signal %v", sig))
		}
	}()
	stopDumps := dumpStacksOnQuit(logger)
	defer stopDumps()
	b, err := broker.Start(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil { // SIGINT or SIGTERM before the node was up
			logger.Info("stopped while starting", "cause", context.Cause(ctx), "err", err)
			return 0
		}
		logger.Error("start failed", "err", err)
		return 1
	}
	<-ctx.Done()
	logger.Info("shutting down", "cause", context.Cause(ctx))
	if err := b.Close(); err != nil {
		logger.Error("shutdown", "err", err)
		return 1
	}
	logger.Info("stopped cleanly")
	return 0
}

// dumpStacksOnQuit makes SIGQUIT (kill -3, Ctrl-\) print the stack of every
// goroutine to stderr while the broker goes on, as Kafka's JVM prints a
// thread dump: Go's default would end the process, which an operator
// asking where it is stuck does not want.
func dumpStacksOnQuit(logger *slog.Logger) (stop func()) {
	quit := make(chan os.Signal, 1)
	signal.Notify(quit, syscall.SIGQUIT)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-quit:
			}
			buf := make([]byte, 1<<20)
			for {
				n := runtime.Stack(buf, true)
				if n < len(buf) {
					buf = buf[:n]
					break
				}
				buf = make([]byte, 2*len(buf))
			}
			logger.Info("SIGQUIT: the stack of every goroutine follows; the broker goes on (SIGTERM stops it)")
			os.Stderr.Write(buf)
		}
	}()
	return func() {
		signal.Stop(quit)
		close(done)
	}
}
