package launcher

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// SimExecutor runs no processes: each task follows its TaskInfo.Sim script
// (run for Duration, then exit with ExitCode; or Hang until killed). A
// task without Sim finishes at once with code 0. It is meant for
// benchmarks with thousands of agents and 100k tasks: a task costs one
// small struct and, while it runs for a Duration, one runtime timer; no
// goroutine, no directory.
type SimExecutor struct {
	now func() time.Time
}

var _ Executor = (*SimExecutor)(nil)

// NewSimExecutor returns a simulated executor.
func NewSimExecutor() *SimExecutor { return &SimExecutor{now: time.Now} }

// Name returns "sim".
func (s *SimExecutor) Name() string { return "sim" }

// Isolation returns "none: simulated tasks".
func (s *SimExecutor) Isolation() string { return "none: simulated tasks" }

// Launch starts a simulated task. Only the task ID is required.
func (s *SimExecutor) Launch(ctx context.Context, spec Spec) (Task, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if spec.Task.TaskID == "" {
		return nil, fmt.Errorf("%w: missing task id", ErrInvalidSpec)
	}
	if sim := spec.Task.Sim; sim != nil && sim.StartDelay > 0 {
		select {
		case <-time.After(sim.StartDelay.D()):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.start(spec, s.now(), 0), nil
}

// Attach re-creates a simulated task from its checkpoint, as if it had
// kept running while the agent was down: a task whose Duration has passed
// is returned already Done with its scripted exit.
func (s *SimExecutor) Attach(ctx context.Context, cp Checkpoint) (Task, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cp.Executor != s.Name() {
		return nil, fmt.Errorf("%w: %q, not %q", ErrWrongExecutor, cp.Executor, s.Name())
	}
	return s.start(cp.Spec, cp.Started, s.now().Sub(cp.Started)), nil
}

// start runs the script of spec as if elapsed time had passed already.
func (s *SimExecutor) start(spec Spec, started time.Time, elapsed time.Duration) *simTask {
	t := &simTask{spec: spec, started: started, done: make(chan struct{})}
	b := spec.Task.Sim
	switch {
	case b != nil && b.Hang:
	case b == nil || b.Duration.D()-elapsed <= 0:
		t.end(simExit(b))
	default:
		t.mu.Lock()
		t.timer = time.AfterFunc(b.Duration.D()-elapsed, func() { t.end(simExit(b)) })
		t.mu.Unlock()
	}
	return t
}

// simExit is the scripted exit.
func simExit(b *wire.SimBehavior) Exit {
	code := 0
	if b != nil {
		code = b.ExitCode
	}
	o := exited(code)
	return buildExit(o, killInfo{}, 0, 0)
}

// simTask is one simulated task.
type simTask struct {
	spec    Spec
	started time.Time
	done    chan struct{}

	mu    sync.Mutex
	timer *time.Timer
	ended bool
	exit  Exit
}

var _ Task = (*simTask)(nil)

// end settles the exit once; later calls do nothing.
func (t *simTask) end(e Exit) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return false
	}
	t.ended, t.exit = true, e
	if t.timer != nil {
		t.timer.Stop()
	}
	close(t.done)
	return true
}

func (t *simTask) Pid() int              { return 0 }
func (t *simTask) Sandbox() string       { return "" }
func (t *simTask) Done() <-chan struct{} { return t.done }

func (t *simTask) Exit() Exit {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.exit
}

func (t *simTask) Checkpoint() Checkpoint {
	return Checkpoint{Executor: "sim", Spec: t.spec, Started: t.started}
}

// Kill ends the task at once, as a task that obeys SIGTERM would.
func (t *simTask) Kill(grace time.Duration, reason wire.Reason) {
	if reason == "" {
		reason = wire.ReasonKilledByFramework
	}
	t.end(Exit{State: wire.TaskKilled, Reason: reason, Signal: "SIGTERM", Message: "killed by SIGTERM (simulated)"})
}

// Usage is zero while the task runs: a simulation consumes nothing.
func (t *simTask) Usage() (Usage, error) {
	select {
	case <-t.done:
		return Usage{}, ErrNotRunning
	default:
		return Usage{}, nil
	}
}
