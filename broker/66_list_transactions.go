package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnStates are the transaction states Kafka's ListTransactions filters
// by; any other name comes back in UnknownStateFilters.
var txnStates = map[string]bool{
	"Empty": true, "Ongoing": true, "PrepareCommit": true, "PrepareAbort": true,
	"CompleteCommit": true, "CompleteAbort": true, "Dead": true, "PrepareEpochFence": true,
}

// handleListTransactions lists the transactions this broker coordinates:
// none, since InitProducerID refuses transactional ids until transactions
// arrive, so kafka-transactions list and admin UIs see an empty list, as
// from a Kafka cluster where no producer uses transactions. State filters
// are checked as Kafka checks them. (v2's transactional id pattern, a Java
// regular expression, is not offered.)
func (b *Broker) handleListTransactions(r *kmsg.ListTransactionsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ListTransactionsResponse)
	resp.UnknownStateFilters = []string{}
	// Kafka takes the filters as a set (KafkaApis'
	// handleListTransactionsRequest: stateFilters.asScala.toSet), so a
	// name given twice comes back once.
	seen := map[string]bool{}
	for _, s := range r.StateFilters {
		if !txnStates[s] && !seen[s] {
			seen[s] = true
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, s)
		}
	}
	resp.TransactionStates = []kmsg.ListTransactionsResponseTransactionState{}
	return resp
}
