package launcher

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

func simSpec(id string, b *wire.SimBehavior) Spec {
	return Spec{FrameworkID: "fw", Task: wire.TaskInfo{TaskID: wire.TaskID(id), Sim: b}}
}

func TestSimWithoutScriptFinishesAtOnce(t *testing.T) {
	task, err := NewSimExecutor().Launch(context.Background(), simSpec("t", nil))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-task.Done():
	default:
		t.Fatal("a task without Sim must be done when Launch returns")
	}
	ex := task.Exit()
	if ex.State != wire.TaskFinished || ex.ExitCode == nil || *ex.ExitCode != 0 {
		t.Errorf("exit = %+v", ex)
	}
	if task.Pid() != 0 || task.Sandbox() != "" {
		t.Errorf("sim task has pid %d, sandbox %q", task.Pid(), task.Sandbox())
	}
}

func TestSimDurationThenExitCode(t *testing.T) {
	task, err := NewSimExecutor().Launch(context.Background(), simSpec("t", &wire.SimBehavior{
		Duration: wire.Duration(20 * time.Millisecond), ExitCode: 2,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := task.Usage(); err != nil {
		t.Errorf("Usage while running: %v", err)
	}
	ex := waitDone(t, task, 5*time.Second)
	if ex.State != wire.TaskFailed || ex.Reason != wire.ReasonCommandExited || ex.ExitCode == nil || *ex.ExitCode != 2 {
		t.Errorf("exit = %+v, want TASK_FAILED code 2", ex)
	}
	task.Kill(0, "") // after the end: no effect
	if got := task.Exit(); got.State != wire.TaskFailed {
		t.Errorf("Kill after the end changed the exit to %+v", got)
	}
	if _, err := task.Usage(); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Usage after the end: %v", err)
	}
}

func TestSimHangUntilKilled(t *testing.T) {
	task, err := NewSimExecutor().Launch(context.Background(), simSpec("t", &wire.SimBehavior{Hang: true}))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-task.Done():
		t.Fatal("a hanging task ended on its own")
	default:
	}
	task.Kill(time.Second, wire.ReasonFrameworkRemoved)
	ex := waitDone(t, task, time.Second)
	if ex.State != wire.TaskKilled || ex.Reason != wire.ReasonFrameworkRemoved {
		t.Errorf("exit = %+v", ex)
	}
}

func TestSimAttach(t *testing.T) {
	e := NewSimExecutor()
	now := time.Now()
	e.now = func() time.Time { return now }
	past := Checkpoint{Executor: "sim", Spec: simSpec("done", &wire.SimBehavior{Duration: wire.Duration(time.Minute), ExitCode: 4}), Started: now.Add(-time.Hour)}
	task, err := e.Attach(context.Background(), past)
	if err != nil {
		t.Fatal(err)
	}
	if ex := waitDone(t, task, time.Second); ex.ExitCode == nil || *ex.ExitCode != 4 {
		t.Errorf("exit of an elapsed task = %+v, want code 4", ex)
	}
	hang := Checkpoint{Executor: "sim", Spec: simSpec("hang", &wire.SimBehavior{Hang: true}), Started: now.Add(-time.Hour)}
	task, err = e.Attach(context.Background(), hang)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-task.Done():
		t.Fatal("re-attached hanging task ended")
	default:
	}
	task.Kill(0, "")
	if _, err := e.Attach(context.Background(), Checkpoint{Executor: "process"}); !errors.Is(err, ErrWrongExecutor) {
		t.Errorf("attach of a process checkpoint: %v", err)
	}
	if _, err := e.Launch(context.Background(), Spec{}); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("launch without a task id: %v", err)
	}
}

func TestSimTasksNeedNoGoroutines(t *testing.T) {
	e := NewSimExecutor()
	before := runtime.NumGoroutine()
	const n = 10000
	tasks := make([]Task, 0, n)
	for i := range n {
		b := &wire.SimBehavior{Duration: wire.Duration(time.Hour)}
		if i%2 == 0 {
			b = &wire.SimBehavior{Hang: true}
		}
		task, err := e.Launch(context.Background(), simSpec("t"+strconv.Itoa(i), b))
		if err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, task)
	}
	if after := runtime.NumGoroutine(); after-before > 10 {
		t.Errorf("%d running sim tasks use %d goroutines", n, after-before)
	}
	for _, task := range tasks {
		task.Kill(0, "")
	}
	for _, task := range tasks {
		if ex := waitDone(t, task, time.Second); ex.State != wire.TaskKilled {
			t.Fatalf("exit = %+v", ex)
		}
	}
}

// BenchmarkSimLaunch measures the executor's own cost per task, for each
// kind of script: finish at once, run on a timer (killed before it fires),
// hang until killed.
func BenchmarkSimLaunch(b *testing.B) {
	for name, sim := range map[string]*wire.SimBehavior{
		"finish": nil,
		"timer":  {Duration: wire.Duration(time.Hour)},
		"hang":   {Hang: true},
	} {
		b.Run(name, func(b *testing.B) {
			e := NewSimExecutor()
			ctx := context.Background()
			spec := simSpec("t", sim)
			b.ReportAllocs()
			for b.Loop() {
				task, err := e.Launch(ctx, spec)
				if err != nil {
					b.Fatal(err)
				}
				task.Kill(0, "")
				<-task.Done()
			}
		})
	}
}
