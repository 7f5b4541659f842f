package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/gokafka/gokafka/internal/jaas"
	"github.com/gokafka/gokafka/internal/javaprops"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// clientConfigFlags registers Kafka's tools' client properties file flags:
// --command-config (the admin tools), --producer.config and
// --consumer.config (the console tools), all one setting here.
func (e *env) clientConfigFlags(fs *flag.FlagSet) {
	for _, name := range []string{"command-config", "producer.config", "consumer.config"} {
		fs.StringVar(&e.clientConfig, name, e.clientConfig, "a Kafka client properties file: security.protocol, sasl.mechanism and sasl.jaas.config (SASL_PLAINTEXT with PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
	}
}

// securityOpts are the client options of the --command-config file, as a
// Kafka client takes its security settings: security.protocol (PLAINTEXT,
// or SASL_PLAINTEXT), sasl.mechanism and sasl.jaas.config (PlainLoginModule
// or ScramLoginModule, with username and password). Other keys are named on
// stderr, unused.
func (e *env) securityOpts() ([]kgo.Opt, error) {
	if e.clientConfig == "" {
		return nil, nil
	}
	props, err := readClientConfig(e.clientConfig)
	if err != nil {
		return nil, err
	}
	for k := range props {
		switch k {
		case "security.protocol", "sasl.mechanism", "sasl.jaas.config", "bootstrap.servers":
		default:
			fmt.Fprintf(e.stderr, "%s: %s is not used by gokafka\n", e.clientConfig, k)
		}
	}
	proto := strings.ToUpper(props["security.protocol"])
	switch proto {
	case "", "PLAINTEXT":
		return nil, nil
	case "SASL_PLAINTEXT":
	default:
		return nil, fmt.Errorf("%s: security.protocol %s is not supported by gokafka (PLAINTEXT or SASL_PLAINTEXT)", e.clientConfig, props["security.protocol"])
	}
	mech := props["sasl.mechanism"]
	if mech == "" {
		mech = "GSSAPI" // Kafka's default
	}
	entry, err := jaas.Parse(props["sasl.jaas.config"])
	if err != nil {
		return nil, fmt.Errorf("%s: sasl.jaas.config: %w", e.clientConfig, err)
	}
	user, pass := entry.Options["username"], entry.Options["password"]
	switch mech {
	case "PLAIN":
		return []kgo.Opt{kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism())}, nil
	case "SCRAM-SHA-256":
		return []kgo.Opt{kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism())}, nil
	case "SCRAM-SHA-512":
		return []kgo.Opt{kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism())}, nil
	}
	return nil, fmt.Errorf("%s: sasl.mechanism %s is not supported by gokafka (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", e.clientConfig, mech)
}

// readClientConfig reads a properties file as a Kafka client does
// (Java's Properties.load): a value may run on over lines ending in a
// backslash, as sasl.jaas.config often does, and a later key wins.
func readClientConfig(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ps, err := javaprops.Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	props := map[string]string{}
	for _, p := range ps {
		props[p.Key] = p.Value
	}
	return props, nil
}
