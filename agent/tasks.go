package agent

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/agent/launcher"
	"github.com/agora-cluster/agora/sdk/wire"
)

// onMessage handles what the master sends. Anything from an older term
// than the highest seen is dropped: a deposed leader cannot launch or kill.
func (a *Agent) onMessage(msg *nats.Msg) {
	env, err := wire.Decode(msg.Data)
	if err != nil {
		a.log.Warn("undecodable message from master", "err", err)
		return
	}
	if !a.fence.Admit(env.Term) {
		a.log.Warn("dropped message from an old term", "type", env.Type, "term", env.Term, "fence", a.fence.Term())
		return
	}
	switch env.Type {
	case wire.TypeLaunch:
		var l wire.Launch
		if err := wire.DecodeBody(env, &l); err != nil {
			a.log.Warn("bad launch", "err", err)
			return
		}
		for _, t := range l.Tasks {
			a.launch(l.FrameworkID, t)
		}
	case wire.TypeKillTask:
		var k wire.KillTask
		if err := wire.DecodeBody(env, &k); err == nil {
			a.kill(k.FrameworkID, k.TaskID, k.Reason)
		}
	case wire.TypeStatusAck:
		var ack wire.StatusAck
		if err := wire.DecodeBody(env, &ack); err == nil {
			a.upd.ack(taskKey{ack.FrameworkID, ack.TaskID}, ack.UUID)
		}
	case wire.TypeShutdownFramework:
		var s wire.ShutdownFramework
		if err := wire.DecodeBody(env, &s); err == nil {
			a.shutdownFramework(s.FrameworkID)
		}
	case wire.TypeReregister:
		a.kickRegister()
	case wire.TypeSandboxRead:
		go a.serveSandbox(msg, env)
	case wire.TypeFrameworkMessage:
		a.log.Debug("framework message has no executor to go to", "size", len(msg.Data))
	default:
		a.log.Warn("unknown message type from master", "type", env.Type)
	}
}

// update queues a status update for a task.
func (a *Agent) update(fw wire.FrameworkID, id wire.TaskID, state wire.TaskState, reason wire.Reason, msg string, exit *launcher.Exit) {
	st := wire.TaskStatus{
		TaskID: id, AgentID: a.id, State: state, Reason: reason, Message: msg,
		Source: wire.SourceAgent, UUID: wire.NewUUID(), Timestamp: time.Now(),
	}
	if exit != nil {
		st.ExitCode, st.Signal = exit.ExitCode, exit.Signal
	}
	if err := a.upd.add(wire.StatusUpdate{FrameworkID: fw, Status: st}); err != nil {
		// Without its checkpoint the update could be lost on a restart;
		// send it anyway and say so.
		a.log.Error("cannot checkpoint status update; sending it unprotected", "task", id, "state", state, "err", err)
		a.upd.enqueue(wire.StatusUpdate{FrameworkID: fw, Status: st})
	}
}

// launch starts one task, reporting STARTING, then RUNNING or a failure.
func (a *Agent) launch(fw wire.FrameworkID, info wire.TaskInfo) {
	k := taskKey{fw, info.TaskID}
	a.mu.Lock()
	if _, dup := a.tasks[k]; dup {
		a.mu.Unlock()
		a.log.Warn("launch of a task that already exists ignored", "framework", fw, "task", info.TaskID)
		return
	}
	t := &task{fw: fw, info: info, state: wire.TaskStarting}
	a.tasks[k] = t
	a.mu.Unlock()
	a.update(fw, info.TaskID, wire.TaskStarting, "", "", nil)

	spec := launcher.Spec{FrameworkID: fw, Task: info, Run: 0, Ports: info.Resources.Ports.List()}
	proc, err := a.exec.Launch(a.ctx, spec)
	a.mu.Lock()
	if err != nil {
		t.state, t.done = wire.TaskFailed, true
		a.mu.Unlock()
		a.count.launchFailures.Add(1)
		a.update(fw, info.TaskID, wire.TaskFailed, wire.ReasonLaunchFailed, fmt.Sprintf("launch failed: %v", err), nil)
		return
	}
	t.proc = proc
	t.state = wire.TaskRunning
	a.mu.Unlock()
	if err := a.store.saveTask(proc.Checkpoint()); err != nil {
		a.log.Error("cannot checkpoint task; a restarted agent will not recover it", "task", info.TaskID, "err", err)
	}
	a.update(fw, info.TaskID, wire.TaskRunning, "", "", nil)
	a.goFunc(func() { a.watch(k, t) })
	a.startHealthCheck(k, t)
}

// watch waits for a task's process to end and reports how it ended.
func (a *Agent) watch(k taskKey, t *task) {
	select {
	case <-t.proc.Done():
	case <-a.ctx.Done():
		return
	}
	ex := t.proc.Exit()
	a.mu.Lock()
	t.state, t.done = ex.State, true
	a.mu.Unlock()
	a.update(k.fw, k.task, ex.State, ex.Reason, ex.Message, &ex)
}

// forgetTask drops a task once its terminal update was acknowledged.
func (a *Agent) forgetTask(k taskKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t := a.tasks[k]; t != nil && t.done {
		delete(a.tasks, k)
		a.store.removeTask(k.fw, k.task)
	}
}

// kill kills a task; an unknown task is reported TASK_LOST so the
// framework is not left waiting.
func (a *Agent) kill(fw wire.FrameworkID, id wire.TaskID, reason wire.Reason) {
	a.mu.Lock()
	t := a.tasks[taskKey{fw, id}]
	a.mu.Unlock()
	if t == nil {
		a.update(fw, id, wire.TaskLost, wire.ReasonTaskUnknown, "task is not known to agent "+string(a.id), nil)
		return
	}
	if t.proc != nil && !t.done {
		t.proc.Kill(a.killGrace(t.info), reason)
	}
}

func (a *Agent) shutdownFramework(fw wire.FrameworkID) {
	a.mu.Lock()
	var ids []wire.TaskID
	for k, t := range a.tasks {
		if k.fw == fw && !t.done {
			ids = append(ids, k.task)
		}
	}
	a.mu.Unlock()
	for _, id := range ids {
		a.kill(fw, id, wire.ReasonFrameworkRemoved)
	}
}

func nowUTC() time.Time { return time.Now().UTC() }
