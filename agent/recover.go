package agent

import (
	"errors"
	"fmt"
	"time"

	"github.com/agora-cluster/agora/agent/launcher"
	"github.com/agora-cluster/agora/sdk/wire"
)

// recover rebuilds the agent's tasks and pending updates from its
// checkpoints after a restart: still-running processes are re-attached
// (pid and start time must match), tasks that ended meanwhile are reported
// with how they ended, and unacknowledged updates are queued again.
func (a *Agent) recover(rec recovered) {
	for _, p := range rec.problems {
		a.log.Warn("checkpoint could not be fully recovered", "problem", p)
	}
	a.upd.enqueue(rec.updates...)
	for _, cp := range rec.tasks {
		k := taskKey{cp.Spec.FrameworkID, cp.Spec.Task.TaskID}
		t := &task{fw: k.fw, info: cp.Spec.Task, state: wire.TaskRunning}
		a.tasks[k] = t
		proc, err := a.exec.Attach(a.ctx, cp)
		if err != nil {
			t.state, t.done = wire.TaskFailed, true
			if a.upd.hasTerminal(k) {
				continue
			}
			reason, msg := wire.ReasonAgentRestarted, fmt.Sprintf("task process was gone when the agent restarted: %v", err)
			state := wire.TaskLost
			if !errors.Is(err, launcher.ErrGone) {
				state = wire.TaskFailed
			}
			t.state = state
			a.update(k.fw, k.task, state, reason, msg, nil)
			continue
		}
		t.proc = proc
		select {
		case <-proc.Done():
			ex := proc.Exit()
			t.state, t.done = ex.State, true
			if !a.upd.hasTerminal(k) {
				a.update(k.fw, k.task, ex.State, ex.Reason, ex.Message+" (while the agent was down)", &ex)
			}
		default:
			a.log.Info("re-attached to running task", "framework", k.fw, "task", k.task, "pid", proc.Pid())
			a.goFunc(func() { a.watch(k, t) })
			a.startHealthCheck(k, t)
		}
	}
	if len(rec.tasks) > 0 || len(rec.updates) > 0 {
		a.log.Info("recovered from checkpoint", "tasks", len(rec.tasks), "pending_updates", len(rec.updates))
	}
}

// gcLoop removes the sandboxes of ended tasks after SandboxGCDelay and
// compacts the update checkpoint.
func (a *Agent) gcLoop() {
	t := time.NewTicker(gcEvery(a.cfg.SandboxGCDelay))
	defer t.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		}
		if a.upd != nil && a.store.needsCompaction(len(a.upd.snapshot())) {
			if err := a.store.rewrite(a.upd.snapshot()); err != nil {
				a.log.Warn("compacting update checkpoint", "err", err)
			}
		}
		if a.cfg.SandboxGCDelay <= 0 {
			continue
		}
		active := map[string]bool{}
		a.mu.Lock()
		for _, tk := range a.tasks {
			if tk.proc != nil && !tk.done {
				active[tk.proc.Sandbox()] = true
			}
		}
		a.mu.Unlock()
		removed, err := launcher.GCSandboxes(a.cfg.WorkDir, a.cfg.SandboxGCDelay, func(s string) bool { return active[s] })
		if err != nil {
			a.log.Warn("sandbox gc", "err", err)
		}
		if len(removed) > 0 {
			a.log.Debug("removed old sandboxes", "count", len(removed))
		}
	}
}

// gcEvery is how often gcLoop looks: every minute, or as often as the
// sandbox GC delay if that is shorter (at most once a second), so that a
// sandbox outlives its delay by at most about the delay again.
func gcEvery(delay time.Duration) time.Duration {
	if delay > 0 && delay < time.Minute {
		return max(delay, time.Second)
	}
	return time.Minute
}
