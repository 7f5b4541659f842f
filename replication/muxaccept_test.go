package replication

import (
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// failOnce is a listener whose first Accept fails as one does when the
// process is out of file descriptors.
type failOnce struct {
	net.Listener
	once sync.Once
}

func (l *failOnce) Accept() (net.Conn, error) {
	var err error
	l.once.Do(func() {
		err = &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	})
	if err != nil {
		return nil, err
	}
	return l.Listener.Accept()
}

// A failed Accept (EMFILE while a flood of connections holds every file
// descriptor) does not stop the mux accepting: the raft port must serve
// again once the flood is gone.
func TestMuxAcceptsAfterAcceptError(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := serveMux(&failOnce{Listener: ln}, log)
	defer b.Close()
	a, err := ListenMux("127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	lb, err := b.Layer("g")
	if err != nil {
		t.Fatal(err)
	}
	la, err := a.Layer("g")
	if err != nil {
		t.Fatal(err)
	}
	c, err := la.Dial(raft.ServerAddress(b.Addr().String()), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := lb.Accept(); err == nil {
			accepted <- c
		}
	}()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("no stream accepted after one failed Accept")
	}
}
