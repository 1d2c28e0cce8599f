package agent

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/agora-cluster/agora/agent/isolation"
	"github.com/agora-cluster/agora/agent/launcher"
	"github.com/agora-cluster/agora/sdk/wire"
)

// offlineAgent starts an agent on workDir as Start does, up to and
// including recovery from its checkpoints, without connecting to NATS
// (updates are kept, not sent). Stop(false) stops it.
func offlineAgent(t *testing.T, workDir string) *Agent {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	exec, err := launcher.NewProcessExecutor(launcher.ProcessConfig{WorkDir: workDir, Logger: log,
		Isolation: isolation.Config{Disable: true}, AttachPollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.WorkDir = workDir
	ctx, cancel := context.WithCancel(context.Background())
	a := &Agent{cfg: cfg, id: "agent-crash", log: log, exec: exec, tasks: map[taskKey]*task{}, ctx: ctx, cancel: cancel}
	rec, err := a.openStore()
	if err != nil {
		t.Fatal(err)
	}
	a.recover(rec)
	return a
}

// pendingOf returns the task's queued updates.
func pendingOf(a *Agent, id wire.TaskID) []wire.StatusUpdate {
	var out []wire.StatusUpdate
	for _, up := range a.upd.snapshot() {
		if up.Status.TaskID == id {
			out = append(out, up)
		}
	}
	return out
}

// TestCrashBetweenAckAndForget: the framework acknowledges a task's
// terminal update, and the agent dies after checkpointing the first of the
// two records this takes (the acknowledgement, the forgetting of the task)
// but before the second. The restarted agent must not report the task's
// end again under a new UUID: at most it resends the same update.
func TestCrashBetweenAckAndForget(t *testing.T) {
	workDir := t.TempDir()
	a := offlineAgent(t, workDir)
	info := wire.TaskInfo{TaskID: "t", Command: wire.CommandInfo{Value: "true", Shell: true}}
	a.launch("fw", []wire.TaskInfo{info}, 0, 0)
	k := taskKey{"fw", "t"}
	deadline := time.Now().Add(10 * time.Second)
	var finished wire.StatusUpdate
	for {
		ups := pendingOf(a, "t")
		if len(ups) == 1 && ups[0].Status.State == wire.TaskFinished {
			finished = ups[0]
			break
		}
		if len(ups) > 0 && !ups[0].Status.State.Terminal() {
			a.upd.ack(k, ups[0].Status.UUID) // RUNNING
		}
		if time.Now().After(deadline) {
			t.Fatalf("no FINISHED queued; pending %v", ups)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The crash: of the acknowledgement's two checkpoint records, only the
	// first reaches the disk.
	var mu sync.Mutex
	written := 0
	crashAfterFirst := func(write func()) {
		mu.Lock()
		defer mu.Unlock()
		if written++; written == 1 {
			write()
		}
	}
	persistAck, forget := a.upd.persistAck, a.upd.onDone
	a.upd.persistAck = func(acks []wire.StatusAck) { crashAfterFirst(func() { persistAck(acks) }) }
	a.upd.onDone = func(ks []taskKey) { crashAfterFirst(func() { forget(ks) }) }
	if !a.upd.ack(k, finished.Status.UUID) {
		t.Fatal("the FINISHED update's acknowledgement did not match")
	}
	a.Stop(false)

	b := offlineAgent(t, workDir)
	defer b.Stop(false)
	pending := pendingOf(b, "t")
	for _, up := range pending {
		if up.Status.State.Terminal() && up.Status.UUID != finished.Status.UUID {
			t.Fatalf("the restarted agent reports the task's end again under a new UUID: %+v (acknowledged: %s)", up.Status, finished.Status.UUID)
		}
	}
	// The task was forgotten first: its acknowledged update is resent,
	// which the framework drops by UUID.
	if len(pending) != 1 || b.tasks[k] != nil {
		t.Fatalf("after the restart: pending %v, task %+v", pending, b.tasks[k])
	}
}
