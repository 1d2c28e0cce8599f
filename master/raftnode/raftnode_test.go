package raftnode_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/agora-cluster/agora/master/raftnode"
	"github.com/agora-cluster/agora/master/registry"
	"github.com/agora-cluster/agora/sdk/wire"
)

func cmd(t *testing.T, id string) []byte {
	b, err := registry.Encode(registry.RegisterAgent, registry.RegisterAgentCmd{Info: wire.AgentInfo{
		ID: wire.AgentID(id), Hostname: id, Resources: wire.Resources{CPUs: 1, MemMB: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReplicationFailoverAndRestart(t *testing.T) {
	fsms := []*registry.FSM{}
	newFSM := func() raft.FSM { f := registry.NewFSM(); fsms = append(fsms, f); return f }
	nodes, cfgs := raftnode.TestCluster(t, 3, newFSM)
	leader := raftnode.WaitForLeader(t, nodes, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if _, err := leader.Apply(ctx, cmd(t, "a1")); err != nil {
		t.Fatal(err)
	}
	// Replicated to every FSM.
	waitFor(t, func() bool {
		for _, f := range fsms {
			if _, ok := f.Agent("a1"); !ok {
				return false
			}
		}
		return true
	})
	// The FSM's refusal is the caller's error; nothing is replicated.
	bad, _ := registry.Encode(registry.SetAgentState, registry.SetAgentStateCmd{ID: "nope", State: registry.AgentGone})
	if _, err := leader.Apply(ctx, bad); !errors.Is(err, registry.ErrUnknownAgent) {
		t.Fatalf("refused command: err = %v", err)
	}
	// A follower refuses to apply.
	var follower *raftnode.Node
	for _, n := range nodes {
		if n != leader {
			follower = n
		}
	}
	if _, err := follower.Apply(ctx, cmd(t, "x")); !errors.Is(err, raftnode.ErrNotLeader) {
		t.Fatalf("follower apply: err = %v", err)
	}
	if ms, err := follower.Members(); err != nil || len(ms) != 3 {
		t.Fatalf("members = %v, %v", ms, err)
	}

	// Kill the leader: another takes over in a higher term.
	oldTerm := leader.Term()
	idx := -1
	for i, n := range nodes {
		if n == leader {
			idx = i
		}
	}
	if err := leader.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := leader.Shutdown(); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	rest := append(append([]*raftnode.Node{}, nodes[:idx]...), nodes[idx+1:]...)
	newLeader := raftnode.WaitForLeader(t, rest, 5*time.Second)
	if newLeader.Term() <= oldTerm {
		t.Fatalf("new term %d <= old %d", newLeader.Term(), oldTerm)
	}
	if _, err := newLeader.Apply(ctx, cmd(t, "a2")); err != nil {
		t.Fatal(err)
	}

	// Restart the old leader from its data dir with a fresh FSM: it must
	// not bootstrap again, and it catches up (a1 from its own log, a2
	// from the new leader).
	f := registry.NewFSM()
	restarted, err := raftnode.New(cfgs[idx], f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = restarted.Shutdown() })
	waitFor(t, func() bool {
		_, ok1 := f.Agent("a1")
		_, ok2 := f.Agent("a2")
		return ok1 && ok2
	})
	if ms, _ := restarted.Members(); len(ms) != 3 {
		t.Fatalf("restarted member sees %d members", len(ms))
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []raftnode.Config{
		{},
		{Name: "a", DataDir: "d", BindAddr: "nope"},
		{Name: "a", DataDir: "d", BindAddr: "127.0.0.1:1", Peers: map[string]string{"b": "127.0.0.1:2"}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
