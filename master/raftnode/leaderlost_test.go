package raftnode_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/agora-cluster/agora/master/raftnode"
)

func TestLeaderLost(t *testing.T) {
	nodes, _, _ := registryCluster(t, 3)
	leader := raftnode.WaitForLeader(t, nodes, wait)
	term := leader.Term()
	// Every node has seen the first leader (a follower sees it with its
	// first AppendEntries: a barrier is one).
	if err := leader.Barrier(t.Context()); err != nil {
		t.Fatal(err)
	}
	raftnode.WaitFor(t, wait, func() error {
		for _, n := range nodes {
			if n.LeaderName() != leader.Name() {
				return fmt.Errorf("%s knows leader %q, want %s", n.Name(), n.LeaderName(), leader.Name())
			}
		}
		return nil
	})
	// A first sight of a leader is no loss; unless an election happened
	// meanwhile (a stalled test machine), nobody has a signal.
	for _, n := range nodes {
		select {
		case <-n.LeaderLost():
			if n.Term() == term {
				t.Fatalf("%s signalled a lost leader while %s led term %d throughout", n.Name(), leader.Name(), term)
			}
		default:
		}
	}

	if err := leader.Shutdown(); err != nil {
		t.Fatal(err)
	}
	for _, n := range others(nodes, leader) {
		select {
		case <-n.LeaderLost():
		case <-time.After(wait):
			t.Fatalf("%s: no signal within %s of its leader %s shutting down", n.Name(), wait, leader.Name())
		}
	}
	if n := others(nodes, leader)[0]; n.LeaderLost() != n.LeaderLost() {
		t.Fatal("LeaderLost returned two channels")
	}
}
