package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
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
		fs.StringVar(&e.clientConfig, name, e.clientConfig, "a Kafka client properties file: security.protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), sasl.mechanism and sasl.jaas.config (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), ssl.truststore.* and ssl.keystore.* (PEM)")
	}
}

// securityOpts are the client options of the --command-config file, as a
// Kafka client takes its security settings: security.protocol, the ssl.*
// of a TLS one (clientTLS), and sasl.mechanism and sasl.jaas.config
// (PlainLoginModule or ScramLoginModule, with username and password) of a
// SASL one. Other keys are named on stderr, unused.
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
		case "security.protocol", "sasl.mechanism", "sasl.jaas.config", "bootstrap.servers",
			"ssl.truststore.type", "ssl.truststore.location", "ssl.truststore.certificates",
			"ssl.keystore.type", "ssl.keystore.location", "ssl.keystore.key", "ssl.keystore.certificate.chain",
			"ssl.endpoint.identification.algorithm":
		default:
			fmt.Fprintf(e.stderr, "%s: %s is not used by gokafka\n", e.clientConfig, k)
		}
	}
	var opts []kgo.Opt
	proto := strings.ToUpper(props["security.protocol"])
	switch proto {
	case "", "PLAINTEXT":
		return nil, nil
	case "SASL_PLAINTEXT":
	case "SSL", "SASL_SSL":
		tc, err := clientTLS(props)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.clientConfig, err)
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
		if proto == "SSL" {
			return opts, nil
		}
	default:
		return nil, fmt.Errorf("%s: security.protocol %s is not supported by gokafka (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)", e.clientConfig, props["security.protocol"])
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
		return append(opts, kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism())), nil
	case "SCRAM-SHA-256":
		return append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism())), nil
	case "SCRAM-SHA-512":
		return append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism())), nil
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

// clientTLS is the TLS of a Kafka client's ssl.* settings, PEM stores only:
// the CAs to trust (ssl.truststore.location or .certificates; the system's
// without either), a certificate of its own for ssl.client.auth
// (ssl.keystore.location holding key and chain, or .key and
// .certificate.chain), and the broker's host name checked unless
// ssl.endpoint.identification.algorithm is empty, as in Kafka.
func clientTLS(props map[string]string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	for _, k := range []string{"ssl.truststore.type", "ssl.keystore.type"} {
		if t := props[k]; t != "" && !strings.EqualFold(t, "PEM") {
			return nil, fmt.Errorf("%s %s is not supported by gokafka, only PEM", k, t)
		}
	}
	trusted := props["ssl.truststore.certificates"]
	if path := props["ssl.truststore.location"]; path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("ssl.truststore.location: %w", err)
		}
		trusted = string(b)
	}
	if trusted != "" {
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM([]byte(trusted)) {
			return nil, errors.New("the SSL trust store holds no PEM certificate")
		}
	}
	key, chain := props["ssl.keystore.key"], props["ssl.keystore.certificate.chain"]
	if path := props["ssl.keystore.location"]; path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("ssl.keystore.location: %w", err)
		}
		key, chain = string(b), string(b)
	}
	if key != "" || chain != "" {
		cert, err := tls.X509KeyPair([]byte(chain), []byte(key))
		if err != nil {
			return nil, fmt.Errorf("SSL key store: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if alg, set := props["ssl.endpoint.identification.algorithm"]; set && alg == "" {
		// The chain is still checked, not the name in it.
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			opts := x509.VerifyOptions{Roots: tc.RootCAs, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	return tc, nil
}
