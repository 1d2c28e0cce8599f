package raftnode

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// Test timeouts: short enough for fast elections on loopback, long enough
// not to flap on a loaded 2-core machine under -race.
const (
	testHeartbeatTimeout   = 100 * time.Millisecond
	testElectionTimeout    = 100 * time.Millisecond
	testLeaderLeaseTimeout = 50 * time.Millisecond
	testCommitTimeout      = 5 * time.Millisecond
)

// TestCluster starts n bootstrapped nodes named n1..nN on 127.0.0.1 with
// short timeouts, data in t.TempDir() and logs to t.Log (prefixed with
// the node's name, debug level), and shuts them down when the test ends.
// newFSM makes each node's FSM, in node order.
//
// Every port is bound before the cluster's addresses are chosen, so no
// other process can take them. The returned configs restart node i with
// New(cfgs[i], fsm): that re-binds the same port after Shutdown released
// it, which another process could take in between (unlikely on a test
// machine). A restarted node is not shut down by TestCluster's cleanup.
func TestCluster(t testing.TB, n int, newFSM func() raft.FSM) ([]*Node, []Config) {
	t.Helper()
	dir := t.TempDir()
	type pending struct {
		cfg   Config
		trans *raft.NetworkTransport
	}
	nodes := make([]pending, n)
	peers := make(map[string]string, n)
	for i := range nodes {
		name := fmt.Sprintf("n%d", i+1)
		logger := TestLogger(t, name)
		trans, err := raft.NewTCPTransportWithLogger("127.0.0.1:0", nil, transportPool, transportTimeout, newHCLogger(logger.With("component", "raft")))
		if err != nil {
			t.Fatalf("raftnode: test transport: %v", err)
		}
		t.Cleanup(func() { _ = trans.Close() }) // a no-op once the node closed it
		peers[name] = string(trans.LocalAddr())
		nodes[i] = pending{trans: trans, cfg: Config{
			Name: name, DataDir: filepath.Join(dir, name), BindAddr: string(trans.LocalAddr()),
			Peers: peers, Bootstrap: true, Logger: logger,
			HeartbeatTimeout: testHeartbeatTimeout, ElectionTimeout: testElectionTimeout,
			LeaderLeaseTimeout: testLeaderLeaseTimeout, CommitTimeout: testCommitTimeout,
		}}
	}
	out := make([]*Node, 0, n)
	cfgs := make([]Config, 0, n)
	for _, p := range nodes {
		p.cfg.Peers = maps.Clone(peers)
		if err := p.cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		cfg := p.cfg.withDefaults()
		node, err := newNode(cfg, newFSM(), p.trans, newHCLogger(cfg.Logger.With("component", "raft")))
		if err != nil {
			t.Fatalf("raftnode: start %s: %v", cfg.Name, err)
		}
		t.Cleanup(func() { _ = node.Shutdown() })
		out = append(out, node)
		cfgs = append(cfgs, p.cfg)
	}
	return out, cfgs
}

// WaitForLeader polls until exactly one of nodes (nil and shut-down ones
// are skipped) is leader, and returns it; it fails the test after timeout.
func WaitForLeader(t testing.TB, nodes []*Node, timeout time.Duration) *Node {
	t.Helper()
	var leader *Node
	WaitFor(t, timeout, func() error {
		var leaders []string
		leader = nil
		for _, n := range nodes {
			if n != nil && n.IsLeader() {
				leaders = append(leaders, n.Name())
				leader = n
			}
		}
		if len(leaders) != 1 {
			return fmt.Errorf("want one leader, have %d %v", len(leaders), leaders)
		}
		return nil
	})
	return leader
}

// WaitFor polls cond every 10ms until it returns nil, and fails the test
// with cond's last error if that does not happen within timeout.
func WaitFor(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not met within %s: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLogger returns a debug-level logger whose lines go to t.Log with
// prefix. Lines logged after the test (and its cleanups) finished are
// dropped rather than panicking.
func TestLogger(t testing.TB, prefix string) *slog.Logger {
	w := &testLogWriter{t: t, prefix: prefix + ": "}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testLogWriter struct {
	mu      sync.Mutex
	t       testing.TB
	prefix  string
	stopped bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log(w.prefix + string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

func (w *testLogWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}
