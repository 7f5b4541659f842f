// Command kfake runs franz-go's in-memory fake Kafka (pkg/kfake) as a
// single broker on a fixed port until it is interrupted. bench/run.sh uses
// it as the baseline gokafkad is compared with: same protocol, no disk, no
// replication.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 9092, "port to listen on (127.0.0.1)")
	flag.Parse()
	c, err := kfake.NewCluster(kfake.Ports(*port), kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		fmt.Fprintf(os.Stderr, "kfake: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "kfake listening on %v\n", c.ListenAddrs())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	c.Close()
}
