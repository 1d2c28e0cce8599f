package raftnode

import (
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestCluster starts n nodes with short timeouts, free ports and data in
// t.TempDir(), and shuts them down when the test ends. newFSM makes each
// node's FSM. The returned configs restart a node with New(cfgs[i], fsm).
func TestCluster(t testing.TB, n int, newFSM func() raft.FSM) ([]*Node, []Config) {
	t.Helper()
	peers := map[string]string{}
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		// The port is free again once closed; another process could take
		// it before raft binds it, which is unlikely on a test machine.
		peers[fmt.Sprintf("n%d", i+1)] = l.Addr().String()
		l.Close()
	}
	dir := t.TempDir()
	var nodes []*Node
	var cfgs []Config
	for i := range n {
		name := fmt.Sprintf("n%d", i+1)
		cfg := Config{
			Name: name, DataDir: filepath.Join(dir, name), BindAddr: peers[name], Peers: peers, Bootstrap: true,
			HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond,
			LeaderLeaseTimeout: 50 * time.Millisecond,
		}
		node, err := New(cfg, newFSM())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = node.Shutdown() })
		nodes = append(nodes, node)
		cfgs = append(cfgs, cfg)
	}
	return nodes, cfgs
}

// WaitForLeader polls until exactly one of the running nodes leads, and
// returns it.
func WaitForLeader(t testing.TB, nodes []*Node, timeout time.Duration) *Node {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var leaders []*Node
		for _, n := range nodes {
			if n != nil && n.IsLeader() {
				leaders = append(leaders, n)
			}
		}
		if len(leaders) == 1 {
			return leaders[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no single leader within %s", timeout)
	return nil
}
