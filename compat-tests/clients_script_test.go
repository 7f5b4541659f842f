package compattests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// debianPython is the interpreter Debian's python3-kafka and
// python3-confluent-kafka are installed for (make test installs them); a
// python3 earlier on PATH (pyenv) does not see them.
func debianPython(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatal("python3 not found: run `make test`, which installs python3-kafka and python3-confluent-kafka")
	return ""
}

// runScript runs one client script against a fresh broker and requires its
// "OK" line.
func runScript(t *testing.T, name string, args ...string) {
	t.Helper()
	b := startBroker(t, "--group-initial-rebalance-delay-ms", "0")
	topic := strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-")
	cmdArgs := append(args, b.Addr(), topic, topic+"-group")
	cmd := exec.Command(name, cmdArgs...)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() {
		out, err = cmd.CombinedOutput()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s timed out:\n%s", name, out)
	}
	if err != nil || !strings.Contains(string(out), "OK ") {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
}

func TestKafkaPython(t *testing.T) {
	py := debianPython(t)
	if err := exec.Command(py, "-c", "import kafka").Run(); err != nil {
		t.Fatalf("%s cannot import kafka (python3-kafka): run `make test`", py)
	}
	runScript(t, py, filepath.Join("testdata", "kafkapython_client.py"))
}

func TestConfluentKafkaPython(t *testing.T) {
	py := debianPython(t)
	if err := exec.Command(py, "-c", "import confluent_kafka").Run(); err != nil {
		t.Fatalf("%s cannot import confluent_kafka (python3-confluent-kafka): run `make test`", py)
	}
	runScript(t, py, filepath.Join("testdata", "librdkafka_python.py"))
}

func TestKafkaJS(t *testing.T) {
	if _, err := os.Stat(filepath.Join("node", "node_modules", "kafkajs")); err != nil {
		t.Fatal("kafkajs is not installed in compat-tests/node: run `make test` (npm install there)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found")
	}
	runScript(t, node, filepath.Join("node", "kafkajs.js"))
}
