package broker

import (
	"context"

	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SCRAM iteration bounds, as Kafka's controller checks them
// (ScramMechanism.minIterations, ScramControlManager.MAX_ITERATIONS).
const (
	scramMinIterations = 4096
	scramMaxIterations = 16384
)

// scramMechanismName is the mechanism of a Kafka SCRAM mechanism type (1
// SCRAM-SHA-256, 2 SCRAM-SHA-512), or "" for any other.
func scramMechanismName(t int8) string {
	if t >= 1 && int(t) <= len(replication.ScramMechanisms) {
		return replication.ScramMechanisms[t-1]
	}
	return ""
}

// handleAlterUserSCRAMCredentials sets and deletes users' SCRAM
// credentials as Kafka's controller does (ScramControlManager): each user
// on its own, a user named a second time in the request (by a deletion or
// an upsertion, whatever the mechanism) is DUPLICATE_RESOURCE and none of
// its changes is made, and the changes of every good user are made in one
// metadata change. The credential kept is the salt, iterations and the keys
// derived from the salted password, never the salted password. Every
// client may, as in Kafka without an authorizer.
func (b *Broker) handleAlterUserSCRAMCredentials(ctx context.Context, r *kmsg.AlterUserSCRAMCredentialsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	// Checked against the credentials they find and committed one request
	// at a time, as Kafka's controller handles them: two requests deleting
	// the same credential would both succeed otherwise.
	b.configMu.Lock()
	defer b.configMu.Unlock()
	st := b.node.Controller().State()

	failed := map[string]error{}
	var failedOrder []string
	fail := func(user string, err error) {
		failed[user] = err
		failedOrder = append(failedOrder, user)
	}
	// The good changes by user, in the order they came; a user dropped
	// from one of the maps (a duplicate) stays in its order but is skipped.
	dels, ups := map[string]replication.ScramAlteration{}, map[string]replication.ScramAlteration{}
	var delOrder, upOrder []string
	duplicate := kafkaErrorf(kerr.DuplicateResource, "A user credential cannot be altered twice in the same request")
	for _, d := range r.Deletions {
		if _, ok := failed[d.Name]; ok {
			continue
		}
		if _, ok := dels[d.Name]; ok {
			delete(dels, d.Name)
			fail(d.Name, duplicate)
			continue
		}
		mech, err := checkScramUser(d.Name, d.Mechanism)
		if err == nil {
			if _, ok := st.ScramCredential(d.Name, mech); !ok {
				err = kafkaErrorf(kerr.ResourceNotFound, "Attempt to delete a user credential that does not exist")
			}
		}
		if err != nil {
			fail(d.Name, err)
			continue
		}
		dels[d.Name] = replication.ScramAlteration{User: d.Name, Mechanism: mech}
		delOrder = append(delOrder, d.Name)
	}
	for _, u := range r.Upsertions {
		if _, ok := failed[u.Name]; ok {
			continue
		}
		_, del := dels[u.Name]
		_, up := ups[u.Name]
		if del || up {
			delete(dels, u.Name)
			delete(ups, u.Name)
			fail(u.Name, duplicate)
			continue
		}
		alt, err := scramUpsertion(u)
		if err != nil {
			fail(u.Name, err)
			continue
		}
		ups[u.Name] = alt
		upOrder = append(upOrder, u.Name)
	}

	// As Kafka lists them: deletions, upsertions, then the users refused.
	var alts []replication.ScramAlteration
	for _, good := range []struct {
		order []string
		alts  map[string]replication.ScramAlteration
	}{{delOrder, dels}, {upOrder, ups}} {
		for _, user := range good.order {
			alt, ok := good.alts[user]
			if !ok {
				continue // a duplicate
			}
			alts = append(alts, alt)
			res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
			res.User = user
			resp.Results = append(resp.Results, res)
		}
	}
	if len(alts) > 0 {
		if _, err := b.node.Controller().Propose(ctx, replication.Command{Op: replication.OpAlterScramCredentials, Scram: alts}); err != nil {
			for i := range resp.Results {
				resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = errCodeMsg(kafkaErrorf(kerr.RequestTimedOut, "%v", err))
			}
		}
	}
	for _, user := range failedOrder {
		res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		res.User = user
		res.ErrorCode, res.ErrorMessage = errCodeMsg(failed[user])
		resp.Results = append(resp.Results, res)
	}
	return resp
}

// checkScramUser checks the user and mechanism of a change, as Kafka's
// validateScramUsernameAndMechanism does, and returns the mechanism's name.
func checkScramUser(user string, mechanism int8) (string, error) {
	if user == "" {
		return "", kafkaErrorf(kerr.UnacceptableCredential, "Username must not be empty")
	}
	mech := scramMechanismName(mechanism)
	if mech == "" {
		return "", kafkaErrorf(kerr.UnsupportedSaslMechanism, "Unknown SCRAM mechanism")
	}
	return mech, nil
}

// scramUpsertion checks an upsertion as Kafka's validateUpsertion does and
// derives the credential kept from its salted password. An empty salted
// password is UNKNOWN_SERVER_ERROR without a message, as in Kafka, whose
// HMAC refuses an empty key; an empty salt is kept, as Kafka keeps it.
func scramUpsertion(u kmsg.AlterUserSCRAMCredentialsRequestUpsertion) (replication.ScramAlteration, error) {
	mech, err := checkScramUser(u.Name, u.Mechanism)
	if err != nil {
		return replication.ScramAlteration{}, err
	}
	switch {
	case u.Iterations < scramMinIterations:
		return replication.ScramAlteration{}, kafkaErrorf(kerr.UnacceptableCredential, "Too few iterations")
	case u.Iterations > scramMaxIterations:
		return replication.ScramAlteration{}, kafkaErrorf(kerr.UnacceptableCredential, "Too many iterations")
	case len(u.SaltedPassword) == 0:
		return replication.ScramAlteration{}, kerr.UnknownServerError
	}
	cred, err := replication.NewScramCredential(mech, u.Salt, u.SaltedPassword, u.Iterations)
	if err != nil {
		return replication.ScramAlteration{}, kerr.UnknownServerError
	}
	return replication.ScramAlteration{User: u.Name, Mechanism: mech, Credential: &cred}, nil
}
