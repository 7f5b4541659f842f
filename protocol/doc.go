// Package protocol is the server side of the Kafka wire protocol: it accepts
// TCP connections, reads size-prefixed frames, parses request headers (v0, v1
// and the flexible v2), decodes request bodies with kmsg, answers ApiVersions
// itself, and writes each connection's responses back in request order.
//
// It owns:
//   - the listener and one reader goroutine plus one writer goroutine per
//     connection; Server.Close stops and waits for all of them;
//   - frame limits (socket.request.max.bytes), the idle timeout
//     (connections.max.idle.ms), write deadlines (on progress: a client that
//     reads nothing for WriteTimeout is dropped, a slow one is served) and
//     the per-connection bounds on pipelined requests (MaxInFlight, and
//     MaxPendingBytes of their frames), and the bound on the frames of
//     all connections together (queued.max.request.bytes, MaxQueuedBytes);
//   - the ApiVersions table advertised to clients, which is exactly
//     Config.Versions: the broker declares what it really implements; and
//     ApiVersions v5's check of the cluster and node a client expects
//     (KIP-1242, Config.Identity).
//
// It must never know about topics, partitions, groups or raft: everything
// past a decoded kmsg.Request belongs to the Handler (package broker). It must
// never panic on input, never hand-encode a message body (kmsg does that), and
// never let one connection's bad input or handler bug affect another
// connection: a malformed frame, unknown API key, unsupported version,
// undecodable body or handler panic closes that connection only, and is
// logged with the remote address and the reason.
//
// Ordering contract: Handler.Handle runs on the connection's reader goroutine,
// one request at a time in arrival order, so the order-sensitive part of a
// request (for produce: handing batches to their partitions) happens in the
// order the client sent them. The Reply it returns runs on its own goroutine,
// concurrently with later requests, and the writer sends the replies strictly
// in request order. At most MaxInFlight requests of one connection are read
// ahead of their responses; past that the reader stops reading the socket, so
// TCP flow control pushes back on a pipelining client. Produce is the one
// request decoded and handled ahead of the responses before it; any other is
// decoded only once they are written, as Kafka reads a connection's next
// request only then, so a connection holds one such request, and one such
// response, at a time.
package protocol
