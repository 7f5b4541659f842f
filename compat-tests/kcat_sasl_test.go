package compattests

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// kcat (librdkafka) authenticates to a SASL_PLAINTEXT listener with PLAIN
// (a user of the listener's JAAS entry), SCRAM-SHA-256 and SCRAM-SHA-512
// (users made with AlterUserScramCredentials), produces and consumes, and
// is refused with Kafka's error for a wrong password. librdkafka's
// client-final message repeats its nonce before the server's, which Kafka
// accepts, so this also checks gokafkad does.
func TestKcatSASL(t *testing.T) {
	kcatPath(t)
	b := startSASLBroker(t, "--sasl-enabled-mechanisms", "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
		"--override", `listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";`)
	ctx := testCtx(t, 90*time.Second)
	adm := newAdm(t, b.Addr())
	for _, u := range []kadm.UpsertSCRAM{
		{User: "bob", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "bob-secret"},
		{User: "carol", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "carol-secret"},
	} {
		res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{u})
		if err == nil {
			err = res.Error()
		}
		if err != nil {
			t.Fatalf("making user %s: %v", u.User, err)
		}
	}
	createTopic(t, ctx, adm, "kcat-sasl", 1, nil)
	sasl := func(mech, user, pass string) []string {
		return []string{"-b", b.saslAddr, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism=" + mech,
			"-X", "sasl.username=" + user, "-X", "sasl.password=" + pass}
	}
	users := [][3]string{{"PLAIN", "alice", "alice-secret"}, {"SCRAM-SHA-256", "bob", "bob-secret"}, {"SCRAM-SHA-512", "carol", "carol-secret"}}
	for _, u := range users {
		kcat(t, ctx, u[1]+"\n", append(sasl(u[0], u[1], u[2]), "-P", "-t", "kcat-sasl")...)
	}
	out := kcat(t, ctx, "", append(sasl("SCRAM-SHA-512", "carol", "carol-secret"), "-C", "-t", "kcat-sasl", "-e", "-q")...)
	if got := strings.Fields(out); strings.Join(got, ",") != "alice,bob,carol" {
		t.Errorf("consumed %q, want alice, bob and carol", got)
	}

	for _, u := range users {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		cmd := exec.CommandContext(cctx, kcatPath(t), append(sasl(u[0], u[1], "wrong"), "-L", "-m", "5")...)
		outErr, err := cmd.CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(outErr), "Authentication failed") {
			t.Errorf("%s with a wrong password: %v\n%s", u[0], err, outErr)
		}
	}
}
