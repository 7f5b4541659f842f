package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.properties")
	os.WriteFile(bad, []byte("log.dirs="+dir+"\nno.such.key=1\n"), 0o644)
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
	} {
		if got := run(tc.args); got != tc.want {
			t.Errorf("gokafkad %v: exit %d, want %d", tc.args, got, tc.want)
		}
	}
}
