package broker

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDescribeUserSCRAMCredentials: no user holds a SCRAM credential, so
// describing all gives none and each user named is RESOURCE_NOT_FOUND, or
// DUPLICATE_RESOURCE when named twice, as Kafka answers.
func TestDescribeUserSCRAMCredentials(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	adm := kadm.NewClient(cl)
	all, err := adm.DescribeUserSCRAMs(context.Background())
	if err != nil || len(all) != 0 {
		t.Fatalf("describe all users: %v, %v", all, err)
	}
	one, err := adm.DescribeUserSCRAMs(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := one["alice"]; !ok || !errors.Is(r.Err, kerr.ResourceNotFound) {
		t.Fatalf("describe alice: %+v", one)
	}

	req := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	for _, n := range []string{"bob", "carol", "bob"} {
		u := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
		u.Name = n
		req.Users = append(req.Users, u)
	}
	resp := request[*kmsg.DescribeUserSCRAMCredentialsResponse](t, cl, req)
	if resp.ErrorCode != 0 || len(resp.Results) != 2 {
		t.Fatalf("top-level error %d, %d results, want 0 and 2", resp.ErrorCode, len(resp.Results))
	}
	want := map[string]int16{"bob": kerr.DuplicateResource.Code, "carol": kerr.ResourceNotFound.Code}
	for _, r := range resp.Results {
		if r.ErrorCode != want[r.User] || r.ErrorMessage == nil {
			t.Errorf("%s: error %d (%v), want %d", r.User, r.ErrorCode, r.ErrorMessage, want[r.User])
		}
	}
}

// TestListTransactions: no transaction exists, so the list is empty at
// every version; state names Kafka does not know come back as unknown.
func TestListTransactions(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	listed, err := kadm.NewClient(cl).ListTransactions(context.Background(), nil, nil)
	if err != nil || len(listed) != 0 {
		t.Fatalf("kadm ListTransactions: %v, %v", listed, err)
	}
	for v := int16(0); v <= 1; v++ {
		req := kmsg.NewPtrListTransactionsRequest()
		req.Version = v
		req.StateFilters = []string{"Ongoing", "ongoing", "Bogus", "PrepareEpochFence"}
		req.DurationFilterMillis = -1
		resp := request[*kmsg.ListTransactionsResponse](t, cl, req)
		if resp.ErrorCode != 0 || len(resp.TransactionStates) != 0 {
			t.Fatalf("v%d: error %d, %d transactions", v, resp.ErrorCode, len(resp.TransactionStates))
		}
		if got := resp.UnknownStateFilters; len(got) != 2 || got[0] != "ongoing" || got[1] != "Bogus" {
			t.Fatalf("v%d: unknown state filters %q, want [ongoing Bogus]", v, got)
		}
	}
}
