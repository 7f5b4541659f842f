package main

import (
	"bufio"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// recordFormat is a parsed --format: literal text and record fields, in
// order. Parsing once keeps per-record work to appends into the writer.
type recordFormat []formatPart

type formatPart struct {
	verb    byte // 0 for literal text
	literal string
}

// parseFormat reads the consumer's format: %t topic, %p partition, %o
// offset, %k key, %v value, %h headers (k=v joined by ','), %T timestamp in
// unix ms, %% a percent sign; and the escapes \n \t \r \\ so that a format
// written in single quotes on a shell line works.
func parseFormat(s string) (recordFormat, error) {
	var f recordFormat
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			f = append(f, formatPart{literal: string(lit)})
			lit = lit[:0]
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '%':
			if i+1 == len(s) {
				return nil, usagef("--format %q: lone %% at the end", s)
			}
			i++
			switch v := s[i]; v {
			case '%':
				lit = append(lit, '%')
			case 't', 'p', 'o', 'k', 'v', 'h', 'T':
				flush()
				f = append(f, formatPart{verb: v})
			default:
				return nil, usagef("--format %q: unknown verb %%%c", s, v)
			}
		case '\\':
			if i+1 == len(s) {
				lit = append(lit, '\\')
				continue
			}
			i++
			switch v := s[i]; v {
			case 'n':
				lit = append(lit, '\n')
			case 't':
				lit = append(lit, '\t')
			case 'r':
				lit = append(lit, '\r')
			case '\\':
				lit = append(lit, '\\')
			default:
				lit = append(lit, '\\', v)
			}
		default:
			lit = append(lit, c)
		}
	}
	flush()
	return f, nil
}

func (f recordFormat) write(w *bufio.Writer, r *kgo.Record) error {
	var num [20]byte
	for _, p := range f {
		switch p.verb {
		case 0:
			w.WriteString(p.literal)
		case 't':
			w.WriteString(r.Topic)
		case 'p':
			w.Write(strconv.AppendInt(num[:0], int64(r.Partition), 10))
		case 'o':
			w.Write(strconv.AppendInt(num[:0], r.Offset, 10))
		case 'k':
			w.Write(r.Key)
		case 'v':
			w.Write(r.Value)
		case 'T':
			w.Write(strconv.AppendInt(num[:0], r.Timestamp.UnixMilli(), 10))
		case 'h':
			for i, h := range r.Headers {
				if i > 0 {
					w.WriteByte(',')
				}
				w.WriteString(h.Key)
				w.WriteByte('=')
				w.Write(h.Value)
			}
		}
	}
	// bufio.Writer keeps the first error; report it here.
	_, err := w.Write(nil)
	return err
}
