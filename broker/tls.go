package broker

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// sslKeyOpt is one of Kafka's ssl.* broker keys: the TLS of the SSL and
// SASL_SSL listeners (Config.serverTLS). Each may also be given for one
// listener as listener.name.LISTENER.ssl.*, which wins for it, as Kafka
// takes a listener's prefixed keys over the unprefixed ones. A sensitive
// one (Kafka's PASSWORD type: keys, passwords, inline certificates) is
// described without its value, as Kafka describes it.
func sslKeyOpt(key, def, help string, typ kmsg.ConfigType, sensitive bool) Option {
	return Option{Key: key, Flag: strings.ReplaceAll(key, ".", "-"), Help: help, typ: typ, sensitive: sensitive,
		set: func(c *Config, v string) error {
			if c.ssl == nil {
				c.ssl = map[string]string{}
			}
			c.ssl[key] = strings.TrimSpace(v)
			return nil
		},
		get: func(c *Config) string {
			if v, ok := c.ssl[key]; ok {
				return v
			}
			return def
		},
	}
}

// sslDefaults are Kafka's defaults of the ssl.* keys that have one
// (SslConfigs, BrokerSecurityConfigs).
var sslDefaults = map[string]string{
	"ssl.keystore.type":     "JKS",
	"ssl.truststore.type":   "JKS",
	"ssl.client.auth":       "none",
	"ssl.enabled.protocols": "TLSv1.2,TLSv1.3",
}

var sslOptions = []Option{
	sslKeyOpt("ssl.keystore.type", sslDefaults["ssl.keystore.type"], "format of the SSL and SASL_SSL listeners' key store: PEM (Kafka's default JKS, and PKCS12, are refused: convert the store to PEM)", kmsg.ConfigTypeString, false),
	sslKeyOpt("ssl.keystore.location", "", "PEM file holding the listeners' private key (PKCS#8, unencrypted) and certificate chain", kmsg.ConfigTypeString, false),
	sslKeyOpt("ssl.keystore.key", "", "the private key itself, PEM, instead of ssl.keystore.location", kmsg.ConfigTypePassword, true),
	sslKeyOpt("ssl.keystore.certificate.chain", "", "the certificate chain itself, PEM, with ssl.keystore.key", kmsg.ConfigTypePassword, true),
	sslKeyOpt("ssl.keystore.password", "", "a JKS or PKCS12 store's password: refused, as Kafka refuses it for PEM", kmsg.ConfigTypePassword, true),
	sslKeyOpt("ssl.key.password", "", "password of an encrypted private key: not supported (give the key unencrypted)", kmsg.ConfigTypePassword, true),
	sslKeyOpt("ssl.truststore.type", sslDefaults["ssl.truststore.type"], "format of the trust store that checks client certificates: PEM (JKS and PKCS12 are refused)", kmsg.ConfigTypeString, false),
	sslKeyOpt("ssl.truststore.location", "", "PEM file of the CA certificates client certificates are checked against (default: the system's)", kmsg.ConfigTypeString, false),
	sslKeyOpt("ssl.truststore.certificates", "", "the trusted CA certificates themselves, PEM, instead of ssl.truststore.location", kmsg.ConfigTypePassword, true),
	sslKeyOpt("ssl.truststore.password", "", "a JKS or PKCS12 trust store's password: refused with PEM, as in Kafka", kmsg.ConfigTypePassword, true),
	sslKeyOpt("ssl.client.auth", sslDefaults["ssl.client.auth"], "client certificates on SSL and SASL_SSL listeners: none, requested (checked if given) or required", kmsg.ConfigTypeString, false),
	sslKeyOpt("ssl.enabled.protocols", sslDefaults["ssl.enabled.protocols"], "TLS versions served: TLSv1.2, TLSv1.3 (TLSv1.1, TLSv1 too; the range from the lowest to the highest listed)", kmsg.ConfigTypeList, false),
	sslKeyOpt("ssl.cipher.suites", "", "TLS 1.2 cipher suites served, by their IANA names as Kafka takes them (empty: Go's defaults; TLS 1.3's are always on)", kmsg.ConfigTypeList, false),
}

// sslListenerKey takes Kafka's listener.name.LISTENER.ssl.* keys: the
// listener (upper case) and the ssl.* key it overrides for it.
func sslListenerKey(key string) (listener, sslKey string, ok bool) {
	rest, ok := strings.CutPrefix(key, "listener.name.")
	if !ok {
		return "", "", false
	}
	listener, sslKey, ok = strings.Cut(rest, ".")
	if !ok || listener == "" || !slices.ContainsFunc(sslOptions, func(o Option) bool { return o.Key == sslKey }) {
		return "", "", false
	}
	return strings.ToUpper(listener), sslKey, true
}

// sslValue is key's value on listener: its listener.name.LISTENER. one,
// else the broker-wide one, else Kafka's default.
func (c *Config) sslValue(listener, key string) string {
	if v, ok := c.sslListenerValue(listener, key); ok {
		return v
	}
	if v, ok := c.ssl[key]; ok {
		return v
	}
	return sslDefaults[key]
}

// sslListenerValue is key's listener.name.LISTENER. value on listener, if
// it has one.
func (c *Config) sslListenerValue(listener, key string) (string, bool) {
	v, ok := c.ssl["listener.name."+strings.ToLower(listener)+"."+key]
	return v, ok
}

// sslClientAuth is ssl.client.auth on listener l. As in Kafka (KIP-684,
// ChannelBuilders), a SASL_SSL listener takes only its own
// listener.name.LISTENER.ssl.client.auth, the broker-wide one applying to
// SSL listeners alone; ignored says it was set and passed over.
func (c *Config) sslClientAuth(l Listener) (auth string, ignored bool) {
	if _, ok := c.sslListenerValue(l.Name, "ssl.client.auth"); ok || l.Protocol != "SASL_SSL" {
		return c.sslValue(l.Name, "ssl.client.auth"), false
	}
	return "none", !strings.EqualFold(c.sslValue("", "ssl.client.auth"), "none")
}

// isTLSProtocol says whether a listener's security protocol runs over TLS.
func isTLSProtocol(p string) bool { return p == "SSL" || p == "SASL_SSL" }

// checkTLS builds the TLS of every SSL and SASL_SSL listener, so that a
// missing or bad key store fails the start with its reason.
func (c *Config) checkTLS(ls []Listener) error {
	for _, l := range ls {
		if isTLSProtocol(l.Protocol) {
			if _, err := c.serverTLS(l); err != nil {
				return err
			}
		}
	}
	return nil
}

// serverTLS is the TLS configuration of an SSL or SASL_SSL listener, from
// its ssl.* keys, checked as Kafka's DefaultSslEngineFactory checks them
// (its words where it has them), for PEM stores only.
func (c *Config) serverTLS(l Listener) (*tls.Config, error) {
	listener := l.Name
	get := func(key string) string { return c.sslValue(listener, key) }
	wrap := func(err error) error {
		return fmt.Errorf("listener %s (%s): %w", listener, l.Protocol, err)
	}
	ksType, ksPath, ksPass := get("ssl.keystore.type"), get("ssl.keystore.location"), get("ssl.keystore.password")
	key, chain, keyPass := get("ssl.keystore.key"), get("ssl.keystore.certificate.chain"), get("ssl.key.password")
	isPEM := strings.EqualFold(ksType, "PEM")
	var keyPEM, chainPEM string
	switch {
	case key != "" && !isPEM:
		return nil, wrap(fmt.Errorf("ssl.keystore.key: SSL private key can be specified only for PEM, but key store type is %s (set ssl.keystore.type=PEM)", ksType))
	case key != "" && chain == "":
		return nil, wrap(errors.New("SSL private key is specified, but certificate chain is not specified (ssl.keystore.certificate.chain)"))
	case key != "" && ksPath != "":
		return nil, wrap(errors.New("both SSL key store location and separate private key are specified (ssl.keystore.location, ssl.keystore.key)"))
	case key == "" && chain != "":
		return nil, wrap(errors.New("SSL certificate chain is specified, but private key is not specified (ssl.keystore.key)"))
	case (key != "" || ksPath != "") && isPEM && ksPass != "":
		return nil, wrap(errors.New("SSL key store password cannot be specified with PEM format, only key password may be specified (remove ssl.keystore.password)"))
	case key != "":
		keyPEM, chainPEM = key, chain
	case ksPath == "":
		return nil, wrap(errors.New("no key store: set ssl.keystore.type=PEM and ssl.keystore.location to a PEM file holding the private key and the certificate chain (or ssl.keystore.key and ssl.keystore.certificate.chain)"))
	case !isPEM:
		return nil, wrap(fmt.Errorf("ssl.keystore.type %s is not supported by gokafkad, only PEM: set ssl.keystore.type=PEM and ssl.keystore.location to a PEM file holding the private key and the certificate chain (from a PKCS12 store: openssl pkcs12 -in store.p12 -nodes; from JKS, keytool -importkeystore -deststoretype PKCS12 first)", ksType))
	default:
		b, err := os.ReadFile(ksPath)
		if err != nil {
			return nil, wrap(fmt.Errorf("failed to load PEM SSL keystore %s: %w", ksPath, err))
		}
		keyPEM, chainPEM = string(b), string(b)
	}
	if keyPass != "" {
		return nil, wrap(errors.New("ssl.key.password is set: encrypted private keys are not supported by gokafkad; give the key unencrypted (openssl pkcs8 -topk8 -nocrypt) and remove ssl.key.password"))
	}
	cert, err := pemKeyPair(keyPEM, chainPEM)
	if err != nil {
		if ksPath != "" {
			return nil, wrap(fmt.Errorf("invalid PEM SSL keystore %s: %w", ksPath, err))
		}
		return nil, wrap(fmt.Errorf("invalid PEM keystore configs (ssl.keystore.key, ssl.keystore.certificate.chain): %w", err))
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}

	tsType, tsPath, tsPass, tsCerts := get("ssl.truststore.type"), get("ssl.truststore.location"), get("ssl.truststore.password"), get("ssl.truststore.certificates")
	tsPEM := strings.EqualFold(tsType, "PEM")
	var trusted string
	switch {
	case tsCerts != "" && !tsPEM:
		return nil, wrap(fmt.Errorf("SSL trust store certs can be specified only for PEM, but trust store type is %s (set ssl.truststore.type=PEM)", tsType))
	case tsCerts != "" && tsPath != "":
		return nil, wrap(errors.New("both SSL trust store location and separate trust certificates are specified (ssl.truststore.location, ssl.truststore.certificates)"))
	case (tsCerts != "" || tsPath != "") && tsPEM && tsPass != "":
		return nil, wrap(errors.New("SSL trust store password cannot be specified for PEM format (remove ssl.truststore.password)"))
	case tsCerts != "":
		trusted = tsCerts
	case tsPath == "" && tsPass != "":
		return nil, wrap(errors.New("SSL trust store is not specified, but trust store password is specified"))
	case tsPath == "":
	case !tsPEM:
		return nil, wrap(fmt.Errorf("ssl.truststore.type %s is not supported by gokafkad, only PEM: set ssl.truststore.type=PEM and ssl.truststore.location to a PEM file of the CA certificates", tsType))
	default:
		b, err := os.ReadFile(tsPath)
		if err != nil {
			return nil, wrap(fmt.Errorf("failed to load PEM SSL truststore %s: %w", tsPath, err))
		}
		trusted = string(b)
	}
	if trusted != "" {
		certs, err := pemCertificates(trusted)
		if err == nil && len(certs) == 0 {
			err = errors.New("no CERTIFICATE in it")
		}
		if err != nil {
			return nil, wrap(fmt.Errorf("invalid PEM SSL truststore: %w", err))
		}
		cfg.ClientCAs = x509.NewCertPool()
		for _, crt := range certs {
			cfg.ClientCAs.AddCert(crt)
		}
	}

	auth, _ := c.sslClientAuth(l)
	switch strings.ToLower(auth) {
	case "none":
		cfg.ClientAuth = tls.NoClientCert
	case "requested":
		// As Java's wantClientAuth: a certificate given must be trusted.
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case "required":
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return nil, wrap(fmt.Errorf("Invalid value %s for configuration ssl.client.auth: String must be one of: required, requested, none", auth))
	}

	versions := map[string]uint16{"TLSV1": tls.VersionTLS10, "TLSV1.1": tls.VersionTLS11, "TLSV1.2": tls.VersionTLS12, "TLSV1.3": tls.VersionTLS13}
	for _, p := range strings.Split(get("ssl.enabled.protocols"), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		v, ok := versions[strings.ToUpper(p)]
		if !ok {
			return nil, wrap(fmt.Errorf("ssl.enabled.protocols: %s is not supported (TLSv1.2, TLSv1.3, TLSv1.1, TLSv1)", p))
		}
		if cfg.MinVersion == 0 || v < cfg.MinVersion {
			cfg.MinVersion = v
		}
		cfg.MaxVersion = max(cfg.MaxVersion, v)
	}
	if cfg.MinVersion == 0 {
		return nil, wrap(errors.New("ssl.enabled.protocols names no protocol"))
	}

	if list := get("ssl.cipher.suites"); strings.TrimSpace(list) != "" {
		byName := map[string]uint16{}
		for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
			byName[s.Name] = s.ID
		}
		cfg.CipherSuites = []uint16{}
		for _, name := range strings.Split(list, ",") {
			if name = strings.TrimSpace(name); name == "" {
				continue
			}
			switch id, ok := byName[name]; {
			case ok:
				cfg.CipherSuites = append(cfg.CipherSuites, id)
			case slices.Contains([]string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}, name):
				// TLS 1.3's: always on in Go.
			default:
				return nil, wrap(fmt.Errorf("ssl.cipher.suites: %s is not a cipher suite gokafkad knows", name))
			}
		}
	}
	return cfg, nil
}

// pemBlock matches one PEM block as Kafka's PemParser does: its lines may
// have been joined (a properties value continued with backslashes loses
// its line breaks), so the base64 between the markers is taken whatever
// its white space.
var pemBlock = regexp.MustCompile(`(?s)-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END ([A-Z0-9 ]+)-----`)

// pemBlocks decodes the PEM blocks of s.
func pemBlocks(s string) ([]*pem.Block, error) {
	var out []*pem.Block
	for _, m := range pemBlock.FindAllStringSubmatch(s, -1) {
		if m[1] != m[3] {
			return nil, fmt.Errorf("PEM block BEGIN %s ends with END %s", m[1], m[3])
		}
		body := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
				return -1
			}
			return r
		}, m[2])
		if strings.Contains(body, ":") {
			// RFC 1421 headers: an OpenSSL-encrypted legacy key.
			return nil, fmt.Errorf("PEM block %s has headers (an encrypted key?): not supported", m[1])
		}
		der, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return nil, fmt.Errorf("PEM block %s: %w", m[1], err)
		}
		out = append(out, &pem.Block{Type: m[1], Bytes: der})
	}
	return out, nil
}

// pemCertificates are the CERTIFICATE blocks of s.
func pemCertificates(s string) ([]*x509.Certificate, error) {
	blocks, err := pemBlocks(s)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for _, b := range blocks {
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// pemKeyPair is the private key in keyPEM (PKCS#8's PRIVATE KEY, as Kafka
// takes it, or OpenSSL's RSA and EC ones) with the certificate chain in
// chainPEM, the first certificate the key's.
func pemKeyPair(keyPEM, chainPEM string) (tls.Certificate, error) {
	certs, err := pemCertificates(chainPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	if len(certs) == 0 {
		return tls.Certificate{}, errors.New("no CERTIFICATE in the certificate chain")
	}
	blocks, err := pemBlocks(keyPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	var key crypto.PrivateKey
	for _, b := range blocks {
		if key != nil {
			break
		}
		switch b.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			err = errors.New("the private key is encrypted: not supported by gokafkad; give it unencrypted (openssl pkcs8 -topk8 -nocrypt)")
		default:
			continue
		}
		if err != nil {
			return tls.Certificate{}, err
		}
	}
	if key == nil {
		return tls.Certificate{}, errors.New("no PRIVATE KEY in it")
	}
	type publicKeyer interface{ Public() crypto.PublicKey }
	pk, ok := key.(publicKeyer)
	if !ok {
		return tls.Certificate{}, fmt.Errorf("unsupported private key type %T", key)
	}
	switch pub := pk.Public().(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		if cp, ok := certs[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !cp.Equal(pub) {
			return tls.Certificate{}, errors.New("the private key does not match the first certificate of the chain")
		}
	default:
		return tls.Certificate{}, fmt.Errorf("unsupported private key type %T", key)
	}
	out := tls.Certificate{PrivateKey: key, Leaf: certs[0]}
	for _, c := range certs {
		out.Certificate = append(out.Certificate, c.Raw)
	}
	return out, nil
}
