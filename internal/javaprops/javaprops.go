// Package javaprops reads files in the format of Java's
// Properties.load: Kafka's server.properties, and the client properties
// files its tools take (--command-config, --producer.config,
// --consumer.config).
package javaprops

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Property is one entry of a properties file.
type Property struct {
	Key, Value string
	Line       int // the line the entry starts on
}

// Read reads a file in the format of Java's Properties.load, which
// Kafka reads server.properties with: '#' and '!' comments, a key ending at
// the first unescaped '=', ':' or blank (so "key value" works too), a
// backslash at the end of a line continuing the entry on the next (whose
// leading blanks are dropped), and the escapes \t \n \r \f \uXXXX, any
// other escaped character standing for itself. Lines end, as in Java, at
// \n, \r or \r\n.
func Read(r io.Reader) ([]Property, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	sc.Split(scanJavaLines)
	var out []Property
	lineNo := 0
	for sc.Scan() {
		lineNo++
		start := lineNo
		s := strings.TrimLeft(sc.Text(), " \t\f")
		if s == "" || s[0] == '#' || s[0] == '!' {
			continue
		}
		// Join continued lines: an odd number of trailing backslashes.
		for endsContinued(s) && sc.Scan() {
			lineNo++
			s = s[:len(s)-1] + strings.TrimLeft(sc.Text(), " \t\f")
		}
		if endsContinued(s) {
			s = s[:len(s)-1] // a continuation at the end of the file
		}
		// The key ends at the first unescaped separator or blank.
		i := 0
		for i < len(s) {
			if s[i] == '\\' {
				i += 2
				continue
			}
			if strings.IndexByte("=: \t\f", s[i]) >= 0 {
				break
			}
			i++
		}
		rawKey, rest := s[:min(i, len(s))], ""
		if i < len(s) {
			rest = strings.TrimLeft(s[i:], " \t\f")
			if rest != "" && (rest[0] == '=' || rest[0] == ':') && (s[i] == ' ' || s[i] == '\t' || s[i] == '\f' || s[i] == rest[0]) {
				rest = strings.TrimLeft(rest[1:], " \t\f")
			}
		}
		key, err := unescapeProperty(rawKey)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", start, err)
		}
		value, err := unescapeProperty(rest)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", start, err)
		}
		out = append(out, Property{Key: key, Value: value, Line: start})
	}
	return out, sc.Err()
}

// scanJavaLines is bufio.ScanLines with the line terminators of Java's
// Properties.load: \n, \r or \r\n. (ScanLines ends lines only at \n, so
// a file with \r line ends was one line: a key's value ran on with the
// keys after it.)
func scanJavaLines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	i := bytes.IndexAny(data, "\r\n")
	switch {
	case i < 0 && atEOF && len(data) > 0:
		return len(data), data, nil
	case i < 0:
		return 0, nil, nil
	case data[i] == '\n':
		return i + 1, data[:i], nil
	case i+1 < len(data) && data[i+1] == '\n':
		return i + 2, data[:i], nil
	case i+1 < len(data) || atEOF:
		return i + 1, data[:i], nil
	}
	return 0, nil, nil // a \r last: a \n may follow
}

// endsContinued reports whether s ends in an odd number of backslashes.
func endsContinued(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// unescapeProperty undoes Java Properties' escapes.
func unescapeProperty(s string) (string, error) {
	if !strings.Contains(s, "\\") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf("malformed \\uxxxx escape")
			}
			v, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", fmt.Errorf("malformed \\uxxxx escape")
			}
			i += 4
			r := rune(v)
			// Java's strings are UTF-16: a character past U+FFFF is
			// escaped as its two surrogates, as Properties.store
			// writes it.
			if utf16.IsSurrogate(r) && i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
				if lo, err := strconv.ParseUint(s[i+3:i+7], 16, 16); err == nil {
					if p := utf16.DecodeRune(r, rune(lo)); p != utf8.RuneError {
						r = p
						i += 6
					}
				}
			}
			b.WriteRune(r)
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}
