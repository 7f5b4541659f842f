// Package jaas parses the JAAS configuration Kafka takes in its
// sasl.jaas.config settings (brokers' listener.name.L.M.sasl.jaas.config,
// clients' sasl.jaas.config): one login module, its control flag and its
// options.
package jaas

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Entry is one parsed sasl.jaas.config: a login module, its control
// flag and its options.
type Entry struct {
	Module, Flag string
	Options      map[string]string
}

// Parse parses a sasl.jaas.config value as Kafka's JaasConfig does:
// exactly one "module flag key=value ... ;" entry, values quoted or bare
// words, backslash escapes inside quotes.
func Parse(v string) (Entry, error) {
	toks, err := tokens(v)
	if err != nil {
		return Entry{}, err
	}
	if len(toks) < 3 || toks[len(toks)-1] != ";" {
		return Entry{}, errors.New("JAAS config entry not terminated by semi-colon")
	}
	e := Entry{Module: toks[0], Flag: strings.ToLower(toks[1]), Options: map[string]string{}}
	switch e.Flag {
	case "required", "requisite", "sufficient", "optional":
	default:
		return Entry{}, fmt.Errorf("invalid JAAS control flag %q", toks[1])
	}
	rest := toks[2 : len(toks)-1]
	if slices.Contains(rest, ";") {
		return Entry{}, errors.New("JAAS config property contains more than one login module, should be 1 module")
	}
	for len(rest) > 0 {
		if len(rest) < 3 || rest[1] != "=" || rest[0] == "=" || rest[2] == "=" {
			return Entry{}, fmt.Errorf("invalid JAAS config option near %q", rest[0])
		}
		e.Options[rest[0]] = rest[2]
		rest = rest[3:]
	}
	return e, nil
}

// jaasTokens splits a JAAS config into words, quoted strings (unquoted),
// "=" and ";".
func tokens(v string) ([]string, error) {
	var toks []string
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '=' || c == ';':
			toks = append(toks, string(c))
			i++
		case c == '"':
			var b strings.Builder
			i++
			for {
				if i >= len(v) {
					return nil, errors.New("unterminated quoted string in JAAS config")
				}
				if v[i] == '\\' && i+1 < len(v) {
					b.WriteByte(v[i+1])
					i += 2
					continue
				}
				if v[i] == '"' {
					i++
					break
				}
				b.WriteByte(v[i])
				i++
			}
			toks = append(toks, b.String())
		default:
			j := i
			for j < len(v) && !strings.ContainsRune(" \t\n\r=;\"", rune(v[j])) {
				j++
			}
			toks = append(toks, v[i:j])
			i = j
		}
	}
	return toks, nil
}
