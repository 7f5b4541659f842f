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
	if len(toks) < 3 || !toks[len(toks)-1].is(";") {
		return Entry{}, errors.New("JAAS config entry not terminated by semi-colon")
	}
	e := Entry{Module: toks[0].s, Flag: strings.ToLower(toks[1].s), Options: map[string]string{}}
	switch e.Flag {
	case "required", "requisite", "sufficient", "optional":
	default:
		return Entry{}, fmt.Errorf("invalid JAAS control flag %q", toks[1].s)
	}
	rest := toks[2 : len(toks)-1]
	if slices.ContainsFunc(rest, func(t token) bool { return t.is(";") }) {
		return Entry{}, errors.New("JAAS config property contains more than one login module, should be 1 module")
	}
	for len(rest) > 0 {
		if len(rest) < 3 || !rest[1].is("=") || rest[0].is("=") || rest[2].is("=") {
			return Entry{}, fmt.Errorf("invalid JAAS config option near %q", rest[0].s)
		}
		e.Options[rest[0].s] = rest[2].s
		rest = rest[3:]
	}
	return e, nil
}

// token is one word of a JAAS config: a quoted string is never "=" or ";",
// whatever it holds, as Kafka's JaasConfig (a StreamTokenizer) tells them
// apart.
type token struct {
	s      string
	quoted bool
}

// is reports whether t is the unquoted punctuation p.
func (t token) is(p string) bool { return !t.quoted && t.s == p }

// tokens splits a JAAS config into words, quoted strings (unquoted),
// "=" and ";".
func tokens(v string) ([]token, error) {
	var toks []token
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '=' || c == ';':
			toks = append(toks, token{s: string(c)})
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
			toks = append(toks, token{s: b.String(), quoted: true})
		default:
			j := i
			for j < len(v) && !strings.ContainsRune(" \t\n\r=;\"", rune(v[j])) {
				j++
			}
			toks = append(toks, token{s: v[i:j]})
			i = j
		}
	}
	return toks, nil
}
