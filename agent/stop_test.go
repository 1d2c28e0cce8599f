package agent

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/agora-cluster/agora/agent/launcher"
	"github.com/agora-cluster/agora/sdk/wire"
)

// gatedExecutor holds each Launch until release is closed.
type gatedExecutor struct {
	launcher.Executor
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (g *gatedExecutor) Launch(ctx context.Context, s launcher.Spec) (launcher.Task, error) {
	g.once.Do(func() { close(g.entered) })
	<-g.release
	return g.Executor.Launch(ctx, s)
}

// TestStopWaitsForLaunchUnderWay: Stop(true) while a LAUNCH is starting
// its process must not leave that process running: Stop waits for the
// launch, then kills what it started, and refuses launches after it.
func TestStopWaitsForLaunchUnderWay(t *testing.T) {
	a := offlineAgent(t, t.TempDir())
	g := &gatedExecutor{Executor: a.exec, entered: make(chan struct{}), release: make(chan struct{})}
	a.exec = g
	info := wire.TaskInfo{TaskID: "t", Command: wire.CommandInfo{Value: "sleep 60", Shell: true}}
	launched := make(chan struct{})
	go func() {
		defer close(launched)
		a.launch("fw", []wire.TaskInfo{info}, 0, 0)
	}()
	<-g.entered
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		a.Stop(true)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a.mu.Lock()
		begun := a.killingAll
		a.mu.Unlock()
		if begun {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Stop did not begin")
		}
		time.Sleep(time.Millisecond)
	}
	close(g.release)
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("Stop did not return")
	}
	<-launched
	a.mu.Lock()
	tk := a.tasks[taskKey{"fw", "t"}]
	a.mu.Unlock()
	if tk == nil || tk.proc == nil {
		t.Fatalf("the launch under way did not start its task: %+v", tk)
	}
	select {
	case <-tk.proc.Done():
	default:
		t.Fatal("Stop(true) returned with the task it let start still running")
	}

	a.launch("fw", []wire.TaskInfo{{TaskID: "late", Command: wire.CommandInfo{Value: "sleep 60", Shell: true}}}, 0, 0)
	a.mu.Lock()
	late := a.tasks[taskKey{"fw", "late"}]
	a.mu.Unlock()
	if late != nil {
		t.Fatal("a launch after Stop(true) was accepted")
	}
}
