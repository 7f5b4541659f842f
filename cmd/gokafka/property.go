package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Kafka's console tools are configured with --property key=value: the
// consumer's DefaultMessageFormatter (print.key, key.separator, ...) and
// the producer's LineMessageReader (parse.key, parse.headers, null.marker,
// ...). gokafka takes the same keys, so that a command line from Kafka's
// documentation works as it is.

// parseProperties reads repeated --property key=value flags; a later
// value of a key wins, as in Kafka's tools.
func parseProperties(cmd string, list listFlag) (map[string]string, error) {
	props := make(map[string]string, len(list))
	for _, p := range list {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, usagef("%s: --property %q: want key=value", cmd, p)
		}
		props[k] = v
	}
	return props, nil
}

// propBool is Kafka's reading of a boolean property: true when it says
// "true" in any case, false for anything else.
func propBool(props map[string]string, key string, def bool) bool {
	v, ok := props[key]
	if !ok {
		return def
	}
	return strings.EqualFold(strings.TrimSpace(v), "true")
}

func propString(props map[string]string, key, def string) string {
	if v, ok := props[key]; ok {
		return v
	}
	return def
}

// warnUnused names the properties none of known reads: Kafka's tools
// ignore them silently, which hides a typo (print.keys=true).
func warnUnused(w io.Writer, cmd string, props map[string]string, known []string) {
	var unused []string
	for k := range props {
		if !slices.Contains(known, k) {
			unused = append(unused, k)
		}
	}
	slices.Sort(unused)
	for _, k := range unused {
		fmt.Fprintf(w, "gokafka %s: property %s is not used\n", cmd, k)
	}
}

// messageFormatter prints records as kafka-console-consumer's default
// formatter does: the fields print.* asks for, in a fixed order, each
// followed by key.separator, the last by line.separator. A null key,
// value or header value prints null.literal.
type messageFormatter struct {
	timestamp, partition, offset, delivery, headers, key, value bool

	keySep, lineSep, headersSep, null  []byte
	keyDeser, valueDeser, headersDeser deserializer
}

var formatterProperties = []string{
	"print.timestamp", "print.key", "print.offset", "print.delivery", "print.partition", "print.headers", "print.value",
	"key.separator", "line.separator", "headers.separator", "null.literal",
	"key.deserializer", "value.deserializer", "headers.deserializer",
}

func newMessageFormatter(props map[string]string) (*messageFormatter, error) {
	f := &messageFormatter{
		timestamp:  propBool(props, "print.timestamp", false),
		partition:  propBool(props, "print.partition", false),
		offset:     propBool(props, "print.offset", false),
		delivery:   propBool(props, "print.delivery", false),
		headers:    propBool(props, "print.headers", false),
		key:        propBool(props, "print.key", false),
		value:      propBool(props, "print.value", true),
		keySep:     []byte(propString(props, "key.separator", "\t")),
		lineSep:    []byte(propString(props, "line.separator", "\n")),
		headersSep: []byte(propString(props, "headers.separator", ",")),
		null:       []byte(propString(props, "null.literal", "null")),
	}
	var err error
	for _, d := range []struct {
		key string
		to  *deserializer
	}{
		{"key.deserializer", &f.keyDeser},
		{"value.deserializer", &f.valueDeser},
		{"headers.deserializer", &f.headersDeser},
	} {
		if *d.to, err = parseDeserializer(d.key, props[d.key]); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (f *messageFormatter) write(w *bufio.Writer, r *kgo.Record) error {
	var num [24]byte
	// sep ends a field: key.separator when another field follows it,
	// line.separator after the last, as Kafka's formatter writes them.
	sep := func(more bool) {
		if more {
			w.Write(f.keySep)
		} else {
			w.Write(f.lineSep)
		}
	}
	if f.timestamp {
		switch r.Attrs.TimestampType() {
		case 0:
			w.WriteString("CreateTime:")
			w.Write(strconv.AppendInt(num[:0], r.Timestamp.UnixMilli(), 10))
		case 1:
			w.WriteString("LogAppendTime:")
			w.Write(strconv.AppendInt(num[:0], r.Timestamp.UnixMilli(), 10))
		default:
			w.WriteString("NO_TIMESTAMP")
		}
		sep(f.partition || f.offset || f.delivery || f.headers || f.key || f.value)
	}
	if f.partition {
		w.WriteString("Partition:")
		w.Write(strconv.AppendInt(num[:0], int64(r.Partition), 10))
		sep(f.offset || f.delivery || f.headers || f.key || f.value)
	}
	if f.offset {
		w.WriteString("Offset:")
		w.Write(strconv.AppendInt(num[:0], r.Offset, 10))
		sep(f.delivery || f.headers || f.key || f.value)
	}
	if f.delivery {
		// A delivery count comes only with share groups, which this
		// consumer is not a member of.
		w.WriteString("Delivery:NONE")
		sep(f.headers || f.key || f.value)
	}
	if f.headers {
		if len(r.Headers) == 0 {
			w.WriteString("NO_HEADERS")
		}
		for i, h := range r.Headers {
			if i > 0 {
				w.Write(f.headersSep)
			}
			w.WriteString(h.Key)
			w.WriteByte(':')
			if err := f.field(w, f.headersDeser, h.Value); err != nil {
				return err
			}
		}
		sep(f.key || f.value)
	}
	if f.key {
		if err := f.field(w, f.keyDeser, r.Key); err != nil {
			return err
		}
		sep(f.value)
	}
	if f.value {
		if err := f.field(w, f.valueDeser, r.Value); err != nil {
			return err
		}
		w.Write(f.lineSep)
	}
	_, err := w.Write(nil)
	return err
}

func (f *messageFormatter) field(w *bufio.Writer, d deserializer, b []byte) error {
	if b == nil {
		w.Write(f.null)
		return nil
	}
	if d == nil {
		w.Write(b)
		return nil
	}
	s, err := d(b)
	if err != nil {
		return err
	}
	w.WriteString(s)
	return nil
}

// A deserializer turns a record's bytes into the text Kafka's formatter
// prints for them with that Java deserializer; nil prints the bytes as
// they are (StringDeserializer and ByteArrayDeserializer).
type deserializer func([]byte) (string, error)

const serdePackage = "org.apache.kafka.common.serialization."

// parseDeserializer takes the Java class names Kafka's documentation
// uses with the console consumer (the Streams quickstart reads its counts
// with LongDeserializer). A number is big-endian and must have its type's
// exact size, as Kafka's deserializers check.
func parseDeserializer(key, class string) (deserializer, error) {
	name := strings.TrimPrefix(class, serdePackage)
	fixed := func(size int, format func([]byte) string) deserializer {
		return func(b []byte) (string, error) {
			if len(b) != size {
				return "", fmt.Errorf("size of data received by %s is not %d", name, size)
			}
			return format(b), nil
		}
	}
	switch name {
	case "", "StringDeserializer", "ByteArrayDeserializer":
		return nil, nil
	case "LongDeserializer":
		return fixed(8, func(b []byte) string { return strconv.FormatInt(int64(binary.BigEndian.Uint64(b)), 10) }), nil
	case "IntegerDeserializer":
		return fixed(4, func(b []byte) string { return strconv.FormatInt(int64(int32(binary.BigEndian.Uint32(b))), 10) }), nil
	case "ShortDeserializer":
		return fixed(2, func(b []byte) string { return strconv.FormatInt(int64(int16(binary.BigEndian.Uint16(b))), 10) }), nil
	}
	return nil, usagef("consume: %s %q: gokafka reads String, ByteArray, Long, Integer and Short (%s...)", key, class, serdePackage)
}

// lineReader splits stdin lines into records as kafka-console-producer's
// LineMessageReader does: with parse.headers, headers first, up to
// headers.delimiter (pairs split by the headers.separator pattern, key and
// value by headers.key.separator); then, with parse.key, the key up to
// key.separator; the rest is the value. A key, value or header value
// equal to null.marker is null.
type lineReader struct {
	parseKey, parseHeaders, ignoreError bool

	keySep, headersDelim, headersKeySep string
	headersSep                          *regexp.Regexp
	nullMarker                          *string
}

var readerProperties = []string{
	"parse.key", "key.separator", "parse.headers", "headers.delimiter", "headers.separator",
	"headers.key.separator", "ignore.error", "null.marker",
}

// newLineReader checks the separators as Kafka's reader does: no two of
// them, nor the null marker, may be the same.
func newLineReader(props map[string]string) (*lineReader, error) {
	r := &lineReader{
		parseKey:      propBool(props, "parse.key", false),
		parseHeaders:  propBool(props, "parse.headers", false),
		ignoreError:   propBool(props, "ignore.error", false),
		keySep:        propString(props, "key.separator", "\t"),
		headersDelim:  propString(props, "headers.delimiter", "\t"),
		headersKeySep: propString(props, "headers.key.separator", ":"),
	}
	sep := propString(props, "headers.separator", ",")
	re, err := regexp.Compile(sep)
	if err != nil {
		return nil, usagef("produce: headers.separator %q is not a regular expression: %v", sep, err)
	}
	r.headersSep = re
	if m, ok := props["null.marker"]; ok {
		r.nullMarker = &m
	}
	for _, c := range []struct {
		a, b   string
		va, vb string
	}{
		{"headers.delimiter", "headers.separator", r.headersDelim, sep},
		{"headers.delimiter", "headers.key.separator", r.headersDelim, r.headersKeySep},
		{"headers.separator", "headers.key.separator", sep, r.headersKeySep},
	} {
		if c.va == c.vb {
			return nil, usagef("produce: %s and %s may not be equal", c.a, c.b)
		}
	}
	if r.nullMarker != nil {
		for _, c := range []struct{ name, v string }{
			{"key.separator", r.keySep}, {"headers.separator", sep},
			{"headers.delimiter", r.headersDelim}, {"headers.key.separator", r.headersKeySep},
		} {
			if *r.nullMarker == c.v {
				return nil, usagef("produce: null.marker and %s may not be equal", c.name)
			}
		}
	}
	return r, nil
}

func (lr *lineReader) isNull(s string) bool { return lr.nullMarker != nil && s == *lr.nullMarker }

// bytesOrNull is s as a record field: nil where it is the null marker.
func (lr *lineReader) bytesOrNull(s string) []byte {
	if lr.isNull(s) {
		return nil
	}
	return []byte(s)
}

// record parses line number n (from 1) into r's key, value and headers
// (after any already in r.Headers).
func (lr *lineReader) record(r *kgo.Record, line string, n int64) error {
	rest := line
	if lr.parseHeaders {
		hdrs, after, ok := strings.Cut(rest, lr.headersDelim)
		switch {
		case ok:
			rest = after
			if lr.isNull(hdrs) {
				break
			}
			for _, pair := range javaSplit(lr.headersSep, hdrs) {
				k, v, ok := strings.Cut(pair, lr.headersKeySep)
				if !ok {
					if !lr.ignoreError {
						return fmt.Errorf("no header key separator found in pair '%s' on line number %d", pair, n)
					}
					r.Headers = append(r.Headers, kgo.RecordHeader{Key: pair})
					continue
				}
				if lr.isNull(k) {
					return fmt.Errorf("header keys should not be equal to the null marker '%s' as they can't be null", k)
				}
				r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: lr.bytesOrNull(v)})
			}
		case !lr.ignoreError:
			return fmt.Errorf("no headers delimiter found on line number %d: '%s'", n, line)
		}
	}
	if lr.parseKey {
		k, after, ok := strings.Cut(rest, lr.keySep)
		switch {
		case ok:
			r.Key, rest = lr.bytesOrNull(k), after
		case !lr.ignoreError:
			return fmt.Errorf("no key separator found on line number %d: '%s'", n, line)
		}
	}
	r.Value = lr.bytesOrNull(rest)
	return nil
}

// javaSplit splits s around re as Java's Pattern.split does, which
// Kafka's reader uses for headers: trailing empty strings are dropped,
// unless nothing matched.
func javaSplit(re *regexp.Regexp, s string) []string {
	parts := re.Split(s, -1)
	if len(parts) == 1 {
		return parts
	}
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}
