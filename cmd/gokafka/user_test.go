package main

import (
	"strings"
	"testing"
)

// user scram set, delete and describe stand in for kafka-configs
// --entity-type users with SCRAM configs, in its words and output.
func TestUserScram(t *testing.T) {
	addr := startBroker(t)
	r := mustRun(t, addr, "", "user", "scram", "set", "alice", "--mechanism", "SCRAM-SHA-256", "--iterations", "8192", "--password", "alice-secret")
	if r.stdout != "Completed updating config for user alice.\n" {
		t.Errorf("set printed %q", r.stdout)
	}
	// kafka-configs' form: two mechanisms at once (one request each, as a
	// request naming a user twice is refused), iterations 4096 by default.
	mustRun(t, addr, "", "user", "scram", "set", "bob", "--add-config", "SCRAM-SHA-256=[iterations=16384,password=b1],SCRAM-SHA-512=[password=b2]")
	r = mustRun(t, addr, "", "user", "scram", "describe")
	want := "SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=8192\n" +
		"SCRAM credential configs for user-principal 'bob' are SCRAM-SHA-256=iterations=16384, SCRAM-SHA-512=iterations=4096\n"
	if r.stdout != want {
		t.Errorf("describe:\n%s\nwant:\n%s", r.stdout, want)
	}
	// A user without a credential is left out, as kafka-configs leaves it.
	r = mustRun(t, addr, "", "user", "scram", "describe", "bob", "nobody")
	if r.stdout != "SCRAM credential configs for user-principal 'bob' are SCRAM-SHA-256=iterations=16384, SCRAM-SHA-512=iterations=4096\n" {
		t.Errorf("describe bob nobody:\n%s", r.stdout)
	}
	mustRun(t, addr, "", "user", "scram", "delete", "bob", "--delete-config", "SCRAM-SHA-512")
	if r := mustRun(t, addr, "", "user", "scram", "describe", "bob"); strings.Contains(r.stdout, "SHA-512") || !strings.Contains(r.stdout, "SCRAM-SHA-256=iterations=16384") {
		t.Errorf("after the deletion:\n%s", r.stdout)
	}
	if r := gokafka(t, addr, "", "user", "scram", "delete", "bob", "--mechanism", "SCRAM-SHA-512"); r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("deleting it again: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := gokafka(t, addr, "", "user", "scram", "set", "carol", "--mechanism", "SCRAM-SHA-512", "--password", "c", "--iterations", "100"); r.code != 1 || !strings.Contains(r.stderr, "4096 to 16384") {
		t.Errorf("100 iterations: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, args := range [][]string{
		{"user", "scram", "set", "carol"},                                                            // nothing to do
		{"user", "scram", "set", "--mechanism", "SCRAM-SHA-256", "--password", "x"},                  // no user
		{"user", "scram", "set", "carol", "--mechanism", "SCRAM-SHA-1", "--password", "x"},           // unknown mechanism
		{"user", "scram", "set", "carol", "--mechanism", "SCRAM-SHA-256"},                            // no password
		{"user", "scram", "set", "carol", "--add-config", "SCRAM-SHA-256=[iterations=8192]"},         // no password
		{"user", "scram", "set", "carol", "--add-config", "SCRAM-SHA-256=[iterations=x,password=p]"}, // not a number
		{"user", "scram", "delete", "carol"},                                                         // nothing to do
		{"user", "bogus"},
	} {
		wantUsage(t, addr, args...)
	}
}
