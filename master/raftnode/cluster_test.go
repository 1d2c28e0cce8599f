package raftnode_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/goleak"

	"github.com/agora-cluster/agora/master/raftnode"
	"github.com/agora-cluster/agora/master/registry"
	"github.com/agora-cluster/agora/sdk/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const wait = 10 * time.Second

func registerAgent(t *testing.T, id string) []byte {
	t.Helper()
	b, err := registry.Encode(registry.RegisterAgent, registry.RegisterAgentCmd{
		Info: wire.AgentInfo{ID: wire.AgentID(id), Hostname: id, Resources: wire.Resources{CPUs: 1, MemMB: 1}},
		At:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// registryCluster starts n nodes, each with a registry FSM.
func registryCluster(t *testing.T, n int) ([]*raftnode.Node, []raftnode.Config, []*registry.FSM) {
	var fsms []*registry.FSM
	nodes, cfgs := raftnode.TestCluster(t, n, func() raft.FSM {
		f := registry.NewFSM()
		fsms = append(fsms, f)
		return f
	})
	return nodes, cfgs, fsms
}

// waitForAgents polls until every FSM holds every agent in ids.
func waitForAgents(t *testing.T, fsms []*registry.FSM, ids ...string) {
	t.Helper()
	raftnode.WaitFor(t, wait, func() error {
		for i, f := range fsms {
			for _, id := range ids {
				if _, ok := f.Agent(wire.AgentID(id)); !ok {
					return fmt.Errorf("fsm %d lacks agent %s", i, id)
				}
			}
		}
		return nil
	})
}

func others(nodes []*raftnode.Node, n *raftnode.Node) []*raftnode.Node {
	return slices.DeleteFunc(slices.Clone(nodes), func(m *raftnode.Node) bool { return m == n })
}

func TestElectionAndReplication(t *testing.T) {
	nodes, _, fsms := registryCluster(t, 3)
	leader := raftnode.WaitForLeader(t, nodes, wait)
	ctx := context.Background()

	// Every node learns who leads.
	raftnode.WaitFor(t, wait, func() error {
		for _, n := range nodes {
			if n.LeaderName() != leader.Name() || n.LeaderAddr() != leader.Addr() {
				return fmt.Errorf("%s sees leader %q at %q", n.Name(), n.LeaderName(), n.LeaderAddr())
			}
		}
		return nil
	})
	if leader.State() != "Leader" || leader.Stats()["state"] != "Leader" {
		t.Fatalf("leader state %q, stats %v", leader.State(), leader.Stats())
	}

	var ids []string
	for i := range 20 {
		id := fmt.Sprintf("a%02d", i)
		ids = append(ids, id)
		resp, err := leader.Apply(ctx, registerAgent(t, id))
		if err != nil || resp != nil {
			t.Fatalf("apply %s: %v, %v", id, resp, err)
		}
	}
	// The leader's FSM has applied an entry once Apply returns.
	if got := len(fsms[slices.Index(nodes, leader)].Agents()); got != 20 {
		t.Fatalf("leader FSM has %d agents after Apply returned, want 20", got)
	}
	waitForAgents(t, fsms, ids...)

	ms, err := nodes[0].Members()
	if err != nil {
		t.Fatal(err)
	}
	leaders := 0
	for i, m := range ms {
		if want := fmt.Sprintf("n%d", i+1); m.Name != want || m.Addr != nodes[i].Addr() || m.Suffrage != "Voter" {
			t.Errorf("member %d = %+v, want %s at %s, Voter", i, m, want, nodes[i].Addr())
		}
		if m.Leader {
			leaders++
			if m.Name != leader.Name() {
				t.Errorf("member %s marked leader, but %s leads", m.Name, leader.Name())
			}
		}
	}
	if len(ms) != 3 || leaders != 1 {
		t.Fatalf("members = %+v", ms)
	}
}

func TestApplyErrors(t *testing.T) {
	nodes, _, _ := registryCluster(t, 3)
	leader := raftnode.WaitForLeader(t, nodes, wait)
	ctx := context.Background()

	// The FSM's refusal is the caller's error, with its sentinel.
	bad, _ := registry.Encode(registry.SetAgentState, registry.SetAgentStateCmd{ID: "nope", State: registry.AgentGone})
	if _, err := leader.Apply(ctx, bad); !errors.Is(err, registry.ErrUnknownAgent) {
		t.Fatalf("refused command: err = %v, want ErrUnknownAgent", err)
	}

	// A follower refuses to apply, and says so with a sentinel.
	follower := others(nodes, leader)[0]
	_, err := follower.Apply(ctx, registerAgent(t, "x"))
	if !errors.Is(err, raftnode.ErrNotLeader) || !errors.Is(err, raft.ErrNotLeader) {
		t.Fatalf("follower Apply: err = %v, want ErrNotLeader", err)
	}
	if err := follower.Barrier(ctx); !errors.Is(err, raftnode.ErrNotLeader) {
		t.Fatalf("follower Barrier: err = %v, want ErrNotLeader", err)
	}
	if err := leader.Barrier(ctx); err != nil {
		t.Fatalf("leader Barrier: %v", err)
	}

	// A context that is already done stops Apply before raft sees it.
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := leader.Apply(canceled, registerAgent(t, "y")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply with a canceled context: %v", err)
	}
	expired, cancel2 := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel2()
	if _, err := leader.Apply(expired, registerAgent(t, "y")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Apply with an expired context: %v", err)
	}
	if err := leader.Barrier(expired); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Barrier with an expired context: %v", err)
	}

	// After Shutdown, Apply says so.
	if err := follower.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if _, err := follower.Apply(ctx, registerAgent(t, "z")); !errors.Is(err, raftnode.ErrShutdown) {
		t.Fatalf("Apply after Shutdown: %v", err)
	}
}

// countFSM answers each command with the number of commands so far.
type countFSM struct {
	mu sync.Mutex
	n  int
}

func (f *countFSM) Apply(*raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	return f.n
}
func (f *countFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, errors.New("not supported") }
func (f *countFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

func TestApplyReturnsFSMResponse(t *testing.T) {
	nodes, _ := raftnode.TestCluster(t, 1, func() raft.FSM { return &countFSM{} })
	leader := raftnode.WaitForLeader(t, nodes, wait)
	for want := 1; want <= 3; want++ {
		resp, err := leader.Apply(context.Background(), []byte("x"))
		if err != nil || resp != want {
			t.Fatalf("Apply = %v, %v; want %d", resp, err, want)
		}
	}
}

func TestFailover(t *testing.T) {
	nodes, _, fsms := registryCluster(t, 3)
	leader := raftnode.WaitForLeader(t, nodes, wait)
	chans := make(map[*raftnode.Node]<-chan bool)
	for _, n := range nodes {
		chans[n] = n.LeaderCh()
		// A subscriber that never reads must not hold anything up.
		_ = n.LeaderCh()
	}
	expect := func(n *raftnode.Node, want bool) {
		t.Helper()
		select {
		case got := <-chans[n]:
			if got != want {
				t.Fatalf("%s LeaderCh: got %v, want %v", n.Name(), got, want)
			}
		case <-time.After(wait):
			t.Fatalf("%s LeaderCh: nothing within %s, want %v", n.Name(), wait, want)
		}
	}
	expect(leader, true)

	ctx := context.Background()
	if _, err := leader.Apply(ctx, registerAgent(t, "a1")); err != nil {
		t.Fatal(err)
	}
	oldTerm := leader.Term()
	if err := leader.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := leader.Shutdown(); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	expect(leader, false)
	if leader.State() != "Shutdown" {
		t.Fatalf("state after Shutdown = %s", leader.State())
	}

	rest := others(nodes, leader)
	newLeader := raftnode.WaitForLeader(t, rest, wait)
	expect(newLeader, true)
	if newLeader.Term() <= oldTerm {
		t.Fatalf("new term %d <= old %d", newLeader.Term(), oldTerm)
	}
	if _, err := newLeader.Apply(ctx, registerAgent(t, "a2")); err != nil {
		t.Fatal(err)
	}
	var restFSMs []*registry.FSM
	for i, n := range nodes {
		if n != leader {
			restFSMs = append(restFSMs, fsms[i])
		}
	}
	waitForAgents(t, restFSMs, "a1", "a2")
	// A late subscriber to the leader is told at once.
	select {
	case v := <-newLeader.LeaderCh():
		if !v {
			t.Fatal("late subscriber to the leader got false")
		}
	default:
		t.Fatal("late subscriber to the leader got nothing")
	}
}

func TestRestartKeepsStateAndDoesNotRebootstrap(t *testing.T) {
	nodes, cfgs, fsms := registryCluster(t, 3)
	leader := raftnode.WaitForLeader(t, nodes, wait)
	ctx := context.Background()
	if err := applyOnLeader(ctx, nodes, registerAgent(t, "a1")); err != nil {
		t.Fatal(err)
	}
	waitForAgents(t, fsms, "a1")
	// n1 snapshots a1; a2 is only in the logs.
	if err := nodes[0].Raft().Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if err := applyOnLeader(ctx, nodes, registerAgent(t, "a2")); err != nil {
		t.Fatal(err)
	}
	waitForAgents(t, fsms, "a2")
	for _, n := range nodes {
		if !n.Bootstrapped() {
			t.Fatalf("%s did not bootstrap on its first start", n.Name())
		}
		if err := n.Shutdown(); err != nil {
			t.Fatal(err)
		}
	}

	// Restart n1 alone, asking it to bootstrap a cluster of itself: it has
	// state, so it must not (that would be a second, one-node cluster).
	cfg := cfgs[0]
	cfg.Peers = map[string]string{cfg.Name: cfg.Peers[cfg.Name]}
	f1 := registry.NewFSM()
	n1, err := raftnode.New(cfg, f1)
	if err != nil {
		t.Fatalf("restart n1: %v", err)
	}
	t.Cleanup(func() { _ = n1.Shutdown() })
	if n1.Bootstrapped() {
		t.Fatal("n1 bootstrapped again over existing state")
	}
	if _, ok := f1.Agent("a1"); !ok {
		t.Fatal("n1 did not restore its snapshot on start")
	}
	if ms, err := n1.Members(); err != nil || len(ms) != 3 {
		t.Fatalf("restarted n1 sees members %+v (%v), want the 3 from its log", ms, err)
	}

	// The others come back too; the cluster elects a leader and every FSM
	// catches up with the entries after the snapshot.
	restarted := []*raftnode.Node{n1}
	restartedFSMs := []*registry.FSM{f1}
	for _, cfg := range cfgs[1:] {
		f := registry.NewFSM()
		n, err := raftnode.New(cfg, f)
		if err != nil {
			t.Fatalf("restart %s: %v", cfg.Name, err)
		}
		t.Cleanup(func() { _ = n.Shutdown() })
		if n.Bootstrapped() {
			t.Fatalf("%s bootstrapped again", cfg.Name)
		}
		restarted = append(restarted, n)
		restartedFSMs = append(restartedFSMs, f)
	}
	leader = raftnode.WaitForLeader(t, restarted, wait)
	waitForAgents(t, restartedFSMs, "a1", "a2")
	if _, err := leader.Apply(ctx, registerAgent(t, "a3")); err != nil {
		t.Fatal(err)
	}
	waitForAgents(t, restartedFSMs, "a3")
}

func TestSingleNodeOnFreePort(t *testing.T) {
	f := registry.NewFSM()
	n, err := raftnode.New(raftnode.Config{
		Name: "solo", DataDir: t.TempDir(), BindAddr: "127.0.0.1:0", Bootstrap: true,
		Logger:           raftnode.TestLogger(t, "solo"),
		HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond,
	}, f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Shutdown() })
	if n.Addr() == "127.0.0.1:0" || n.Addr() == "" {
		t.Fatalf("Addr = %q, want the picked port", n.Addr())
	}
	raftnode.WaitForLeader(t, []*raftnode.Node{n}, wait)
	if _, err := n.Apply(context.Background(), registerAgent(t, "a1")); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Agent("a1"); !ok {
		t.Fatal("not applied")
	}
	ms, err := n.Members()
	if err != nil || len(ms) != 1 || ms[0].Addr != n.Addr() || !ms[0].Leader {
		t.Fatalf("members = %+v, %v", ms, err)
	}
}

func TestNewRefusesDataDirInUseAndNilFSM(t *testing.T) {
	_, cfgs := raftnode.TestCluster(t, 1, func() raft.FSM { return &countFSM{} })
	cfg := cfgs[0]
	cfg.BindAddr, cfg.Peers = "127.0.0.1:0", nil
	n, err := raftnode.New(cfg, &countFSM{})
	if err == nil {
		_ = n.Shutdown()
		t.Fatal("a second node opened a DataDir in use")
	}
	if !strings.Contains(err.Error(), "open log store") {
		t.Fatalf("err = %v, want the log store's lock to be refused", err)
	}
	cfg.DataDir = t.TempDir()
	if n, err := raftnode.New(cfg, nil); err == nil {
		_ = n.Shutdown()
		t.Fatal("New accepted a nil FSM")
	}
}

// applyOnLeader applies cmd on whichever node leads, retrying while
// leadership moves (a loaded machine can cause an election at any time).
func applyOnLeader(ctx context.Context, nodes []*raftnode.Node, cmd []byte) error {
	deadline := time.Now().Add(wait)
	for {
		var err error = raftnode.ErrNotLeader
		for _, n := range nodes {
			if n.IsLeader() {
				_, err = n.Apply(ctx, cmd)
				break
			}
		}
		if err == nil || !errors.Is(err, raftnode.ErrNotLeader) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestShutdownAnswersEveryCommand shuts a leader down while appliers keep
// it busy, many times over. Every command raft accepted must be answered
// (committed, or refused for a lost leadership), so that no goroutine is
// left waiting on a future raft will never complete.
func TestShutdownAnswersEveryCommand(t *testing.T) {
	const rounds, appliers = 15, 8
	for round := range rounds {
		nodes, _ := raftnode.TestCluster(t, 1, func() raft.FSM { return &countFSM{} })
		n := raftnode.WaitForLeader(t, nodes, wait)
		var applied sync.WaitGroup
		var committed, refused [appliers]int
		started := make(chan struct{}, appliers)
		for i := range appliers {
			applied.Add(1)
			go func() {
				defer applied.Done()
				for {
					_, err := n.Apply(context.Background(), []byte("x"))
					switch {
					case err == nil:
						if committed[i]++; committed[i] == 5 {
							started <- struct{}{}
						}
					case errors.Is(err, raftnode.ErrShutdown), errors.Is(err, raftnode.ErrNotLeader):
						refused[i]++
						return
					default:
						t.Errorf("Apply: %v", err)
						return
					}
				}
			}()
		}
		for range appliers {
			<-started
		}
		if err := n.Shutdown(); err != nil {
			t.Fatal(err)
		}
		applied.Wait()
		for i := range appliers {
			if refused[i] != 1 {
				t.Fatalf("round %d: applier %d ended without a refusal", round, i)
			}
		}
		raftnode.WaitFor(t, wait, func() error {
			buf := make([]byte, 1<<20)
			if s := string(buf[:runtime.Stack(buf, true)]); strings.Contains(s, "raftnode.waitFuture") {
				return fmt.Errorf("round %d: a goroutine still waits on a raft future:\n%s", round, s)
			}
			return nil
		})
	}
}
