package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.properties")
	os.WriteFile(bad, []byte("log.dirs="+dir+"\nno.such.key=1\n"), 0o644)
	// Values that parse but that the broker refuses: usage errors too.
	invalid := filepath.Join(dir, "invalid.properties")
	os.WriteFile(invalid, []byte("log.dirs="+dir+"\nlog.segment.bytes=10\n"), 0o644)
	roles := filepath.Join(dir, "roles.properties")
	os.WriteFile(roles, []byte("log.dirs="+dir+"\nprocess.roles=broker\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--help"}, 0},
		{[]string{"--version"}, 0},
		{[]string{"--no-such-flag"}, 2},
		{[]string{"--num-partitions", "many"}, 2},
		{[]string{"--config", bad}, 2},
		{[]string{"--config", filepath.Join(dir, "missing.properties")}, 2},
		{[]string{"--log-level", "loud"}, 2},
		// The properties file as the one argument (kafka-server-start.sh
		// style) is read, with flags on either side of it; more
		// arguments are refused, not ignored.
		{[]string{bad}, 2},
		{[]string{"--log-level", "info", bad, "--node-id", "1"}, 2},
		{[]string{bad, "--log-level", "loud"}, 2},
		{[]string{"--config", bad, bad}, 2},
		{[]string{"server.properties", "extra"}, 2},
		// A boolean flag alone means true; it does not take the next
		// argument for its value.
		{[]string{"--auto-create-topics", "--version"}, 0},
		{[]string{"--delete-topic-enable=false", "--version"}, 0},
		{[]string{"--auto-create-topics=maybe"}, 2},
		{[]string{invalid}, 2},
		{[]string{roles}, 2},
		{[]string{"--data-dir", dir, "--num-partitions", "0"}, 2},
		{[]string{"--data-dir", dir, "--listen", "PLAINTEXT://127.0.0.1:0", "--advertise", "OTHER://h:1"}, 2},
	} {
		if got := run(tc.args); got != tc.want {
			t.Errorf("gokafkad %v: exit %d, want %d", tc.args, got, tc.want)
		}
	}
}

// A configuration error names the file it was read from.
func TestInvalidConfigMessage(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "server.properties")
	os.WriteFile(file, []byte("log.dirs="+dir+"\nlog.segment.bytes=10\n"), 0o644)
	var code int
	_, errOut := captureOutput(t, func() { code = run([]string{file}) })
	if code != 2 || !strings.Contains(errOut, file+": invalid configuration: log.segment.bytes must be >=") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// --override key=value, as kafka-server-start.sh takes it, replaces the
// file's value: here the file's invalid segment size, so that what is
// refused is the overriding num.partitions.
func TestOverride(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "server.properties")
	os.WriteFile(file, []byte("log.dirs="+dir+"\nlog.segment.bytes=10\n"), 0o644)
	var code int
	_, errOut := captureOutput(t, func() {
		code = run([]string{file, "--override", "log.segment.bytes=1048576", "--override", "num.partitions=0"})
	})
	if code != 2 || !strings.Contains(errOut, "invalid configuration: num.partitions must be >= 1") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	_, errOut = captureOutput(t, func() { code = run([]string{file, "--override", "no.such.key=1"}) })
	if code != 2 || !strings.Contains(errOut, `--override no.such.key: unknown configuration key "no.such.key"`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// --help prints to stdout, so that it pages and greps; a usage error
// prints the usage to stderr.
func TestHelpOutput(t *testing.T) {
	for _, tc := range []struct {
		arg            string
		stdout, stderr bool // holds the usage
	}{
		{"--help", true, false},
		{"--no-such-flag", false, true},
	} {
		out, errOut := captureOutput(t, func() { run([]string{tc.arg}) })
		if got := strings.Contains(out, "Usage: gokafkad"); got != tc.stdout {
			t.Errorf("gokafkad %s: usage on stdout %v, want %v", tc.arg, got, tc.stdout)
		}
		if got := strings.Contains(errOut, "Usage: gokafkad"); got != tc.stderr {
			t.Errorf("gokafkad %s: usage on stderr %v, want %v", tc.arg, got, tc.stderr)
		}
	}
}

func captureOutput(t *testing.T, f func()) (stdout, stderr string) {
	t.Helper()
	dir := t.TempDir()
	files := make([]*os.File, 2)
	for i := range files {
		var err error
		if files[i], err = os.Create(filepath.Join(dir, fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		defer files[i].Close()
	}
	savedOut, savedErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = files[0], files[1]
	f()
	os.Stdout, os.Stderr = savedOut, savedErr
	var out [2]string
	for i, file := range files {
		b, err := os.ReadFile(file.Name())
		if err != nil {
			t.Fatal(err)
		}
		out[i] = string(b)
	}
	return out[0], out[1]
}
