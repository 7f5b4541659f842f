package broker

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

// FuzzReadProperties: any properties file is read, loaded and validated
// without panicking, and a key and value written with Java's escapes (as
// Properties.store writes them) read back as they were.
func FuzzReadProperties(f *testing.F) {
	f.Add("node.id=3\nlisteners : PLAINTEXT://127.0.0.1:24092\n# c\n! c\nlog.dirs /tmp/x\n", "a b", " v\\")
	f.Add("key\\\n   continued\\\\\nnext=\\u0041\\tz\n", "k=:#!", "\u00e9\t\r\n")
	f.Add("bad=\\u00", "", "")
	f.Add("log.retention.hours=24\nmax.connections.per.ip.overrides=[::1]:3\n", "\\", "x\\")
	f.Add("node.id=3\rlog.dirs=/tmp/y\r\nnum.partitions=2\r", "\U0001F600", "a\U0001F600\u2028")
	f.Fuzz(func(t *testing.T, file, key, value string) {
		if props, err := readProperties(strings.NewReader(file)); err == nil {
			for _, p := range props {
				if p.line < 1 || p.line > strings.Count(file, "\n")+strings.Count(file, "\r")+1 {
					t.Fatalf("property %q on line %d", p.key, p.line)
				}
			}
		}
		c := DefaultConfig()
		if c.LoadProperties(strings.NewReader(file)) == nil {
			c.Validate()
		}
		if !utf8.ValidString(key) || !utf8.ValidString(value) {
			return
		}
		line := escapeProperty(key, true) + "=" + escapeProperty(value, false) + "\n"
		props, err := readProperties(strings.NewReader(line))
		if err != nil || len(props) != 1 || props[0].key != key || props[0].value != value {
			t.Fatalf("%q read as %+v, %v; want %q=%q", line, props, err, key, value)
		}
	})
}

// escapeProperty escapes s as Java's Properties.store(OutputStream) does:
// every blank of a key, a value's leading one, separators, comment
// characters, backslashes, and what is not printable ASCII as \uXXXX (a
// character past U+FFFF as its two UTF-16 surrogates).
func escapeProperty(s string, isKey bool) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == ' ' && (isKey || i == 0):
			b.WriteString(`\ `)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\f':
			b.WriteString(`\f`)
		case strings.ContainsRune(`\=:#!`, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r > 0xffff:
			hi, lo := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04X\u%04x`, hi, lo)
		case r < 0x20 || r > 0x7e:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
