package broker

import (
	"strings"
	"testing"
)

// --node-id wins over the file's broker.id, as --broker-id over its
// node.id: the start was refused for the two differing.
func TestNodeIDFlagOverFileBrokerID(t *testing.T) {
	for _, file := range []string{"broker.id=5\n", "broker.id=5\nnode.id=5\n"} {
		c := DefaultConfig()
		if err := c.LoadProperties(strings.NewReader(file)); err != nil {
			t.Fatal(err)
		}
		c.OverrideFile([]string{"node.id"})
		if err := c.Set("node.id", "3"); err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil || c.NodeID != 3 {
			t.Errorf("file %q, --node-id 3: node %d, %v; want node 3", file, c.NodeID, err)
		}
	}
	// Both flags must still agree.
	c := DefaultConfig()
	c.OverrideFile([]string{"node.id", "broker.id"})
	c.Set("node.id", "3")
	c.Set("broker.id", "4")
	if err := c.Validate(); err == nil {
		t.Error("--node-id 3 --broker-id 4 accepted")
	}
}
