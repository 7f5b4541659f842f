package replication

import (
	"fmt"
	"log/slog"

	"github.com/hashicorp/raft"
)

// hashicorp/raft's keys in a group's stable store.
var (
	keyCurrentTerm  = []byte("CurrentTerm")
	keyLastVoteTerm = []byte("LastVoteTerm")
)

// bootstrapGroup makes a raft group's first configuration unless the group
// has state: its first start, or a start after a crash interrupted that
// first start.
//
// Why the second: hashicorp/raft's BootstrapCluster saves term 1 before it
// stores the configuration entry, and a crash between the two leaves term 1
// with no log and no snapshot. raft counts that as existing state, so it
// would never bootstrap again, and a group without a configuration never
// elects a leader: the node could not start (it waits for every partition)
// until the group's state was removed by hand. Term 1 with nothing else is
// only ever that interrupted bootstrap (an election takes term 2 or later,
// and a replica that joins learns its term from a leader), so the term is
// cleared and the bootstrap runs again.
//
// configuration is called only when the group is bootstrapped.
//
// A group whose term and vote are saved but which has neither log nor
// snapshot (its files were removed) cannot elect a leader; that is logged
// and reported as lost, so that the caller can serve the rest.
func bootstrapGroup(logger *slog.Logger, conf *raft.Config, logs raft.LogStore, stable raft.StableStore, snaps raft.SnapshotStore, trans raft.Transport, configuration func() (raft.Configuration, error)) (lost bool, err error) {
	has, err := raft.HasExistingState(logs, stable, snaps)
	if err != nil {
		return false, err
	}
	if has && !interruptedBootstrap(logs, stable, snaps) {
		if last, err := logs.LastIndex(); err == nil && last == 0 {
			if list, err := snaps.List(); err == nil && len(list) == 0 {
				logger.Error("raft group has saved state but no log and no snapshot (were its files removed?); it cannot elect a leader")
				return true, nil
			}
		}
		return false, nil
	}
	cfg, err := configuration()
	if err != nil {
		return false, err
	}
	if has {
		logger.Warn("raft group's first start was interrupted (a crash or an error between saving its first term and its configuration); starting it again")
		if err := stable.SetUint64(keyCurrentTerm, 0); err != nil {
			return false, fmt.Errorf("clear the term of an interrupted bootstrap: %w", err)
		}
	}
	return false, raft.BootstrapCluster(conf, logs, stable, snaps, trans, cfg)
}

// interruptedBootstrap reports whether a group holds only the term 1 that
// BootstrapCluster saves before the configuration entry.
func interruptedBootstrap(logs raft.LogStore, stable raft.StableStore, snaps raft.SnapshotStore) bool {
	term, err := stable.GetUint64(keyCurrentTerm)
	if err != nil || term != 1 {
		return false
	}
	if vote, err := stable.GetUint64(keyLastVoteTerm); err == nil && vote != 0 {
		return false
	}
	if last, err := logs.LastIndex(); err != nil || last != 0 {
		return false
	}
	list, err := snaps.List()
	return err == nil && len(list) == 0
}
