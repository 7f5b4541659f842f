package protocol

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestMutedConnIdleTimeout: a connection muted for a long throttle whose
// client sends a request anyway (and then gives up) must still be closed
// by the idle timeout, as Kafka's idle expiry closes a muted channel.
func TestMutedConnIdleTimeout(t *testing.T) {
	var s *Server
	s, _ = startServer(t, Config{IdleTimeout: 150 * time.Millisecond}, HandlerFunc(func(ctx context.Context, req *Request) Reply {
		if topicOf(req) == "mute" {
			req.Conn.Mute(time.Hour)
		}
		return func() kmsg.Response { return metadataResponse(s, req) }
	}))
	c := dial(t, s)
	roundTrip(t, c, metadataRequest(1, "mute"), 1)
	// A client that ignores the throttle: this request is read, and waits.
	writeAll(t, c, appendRequest(nil, metadataRequest(1, "t"), 2))
	expectClosed(t, c)
}
