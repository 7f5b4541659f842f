package compattests

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// startSASLUsersBroker starts gokafkad with a SASL_PLAINTEXT listener
// offering PLAIN (user alice), SCRAM-SHA-256 (bob) and SCRAM-SHA-512
// (carol), whose passwords are NAME-secret.
func startSASLUsersBroker(t *testing.T, ctx context.Context) (*brokerProc, *kadm.Client) {
	t.Helper()
	b := startSASLBroker(t, "--sasl-enabled-mechanisms", "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
		"--override", `listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";`)
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
	return b, adm
}

// kafka-python 2.0 logs in with SaslHandshake v0, its exchange in bare
// tokens: PLAIN and both SCRAMs (testdata/kafkapython_sasl.py).
func TestKafkaPythonSASL(t *testing.T) {
	py := debianPython(t)
	if err := exec.Command(py, "-c", "import kafka").Run(); err != nil {
		t.Fatalf("%s cannot import kafka (python3-kafka): run `make test`", py)
	}
	ctx := testCtx(t, 90*time.Second)
	b, adm := startSASLUsersBroker(t, ctx)
	createTopic(t, ctx, adm, "py-sasl", 1, nil)
	out, err := exec.CommandContext(ctx, py, filepath.Join("testdata", "kafkapython_sasl.py"), b.saslAddr, "py-sasl").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK ") {
		t.Fatalf("kafkapython_sasl.py: %v\n%s", err, out)
	}
}

// kcat (librdkafka) authenticates to a SASL_PLAINTEXT listener with PLAIN
// (a user of the listener's JAAS entry), SCRAM-SHA-256 and SCRAM-SHA-512
// (users made with AlterUserScramCredentials), produces and consumes, and
// is refused with Kafka's error for a wrong password. librdkafka's
// client-final message repeats its nonce before the server's, which Kafka
// accepts, so this also checks gokafkad does.
func TestKcatSASL(t *testing.T) {
	kcatPath(t)
	ctx := testCtx(t, 90*time.Second)
	b, adm := startSASLUsersBroker(t, ctx)
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
