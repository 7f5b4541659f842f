package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleListGroups(r *kmsg.ListGroupsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ListGroupsResponse)
	if b.coord.loading() {
		resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
	}
	for _, s := range b.coord.localShards() {
		resp.Groups = append(resp.Groups, s.ListGroups(r.StatesFilter, r.TypesFilter)...)
	}
	return resp
}
