package broker

import (
	"context"
	"net"

	"github.com/gokafka/gokafka/protocol"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleJoinGroup(ctx context.Context, req *protocol.Request, r *kmsg.JoinGroupRequest) kmsg.Response {
	shard, kerrCode := b.coord.shardFor(r.Group)
	if kerrCode != nil {
		resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = kerrCode.Code
		resp.Generation = -1
		resp.MemberID = r.MemberID
		return resp
	}
	host := ""
	if req.Conn != nil && req.Conn.Remote != nil {
		host, _, _ = net.SplitHostPort(req.Conn.Remote.String())
		host = "/" + host
	}
	return shard.JoinGroup(ctx, r, req.ClientID, host)
}
