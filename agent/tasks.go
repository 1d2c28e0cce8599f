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
		a.launch(l.FrameworkID, l.Tasks, env.Term, l.Seq)
	case wire.TypeKillTask:
		var k wire.KillTask
		if err := wire.DecodeBody(env, &k); err == nil {
			a.kill(k.FrameworkID, k.TaskID, k.Reason)
		}
	case wire.TypeStatusAck:
		var ack wire.StatusAck
		if err := wire.DecodeBody(env, &ack); err == nil {
			a.upd.ackAll([]wire.StatusAck{ack})
		}
	case wire.TypeStatusAcks:
		var acks wire.StatusAcks
		if err := wire.DecodeBody(env, &acks); err == nil {
			a.upd.ackAll(acks.Acks)
		}
	case wire.TypeShutdownFramework:
		var s wire.ShutdownFramework
		if err := wire.DecodeBody(env, &s); err == nil {
			a.shutdownFramework(s.FrameworkID)
		}
	case wire.TypeReregister:
		var r wire.Reregister
		if err := wire.DecodeBody(env, &r); err == nil {
			a.mu.Lock()
			a.noteSeq(env.Term, r.Seq)
			a.mu.Unlock()
		}
		a.kickRegister()
	case wire.TypeSandboxRead:
		go a.serveSandbox(msg, env)
	case wire.TypeFrameworkMessage:
		var m wire.FrameworkMessage
		if err := wire.DecodeBody(env, &m); err != nil {
			a.log.Warn("bad framework message", "err", err)
			return
		}
		a.deliver(m)
	default:
		a.log.Warn("unknown message type from master", "type", env.Type)
	}
}

// deliver appends a framework's message to its task's messages file
// (launcher.MessagesFile, named by AGORA_MESSAGES): to the task the message
// names, or, if it names none, to each of the framework's running tasks on
// this agent. A message no running task can take is dropped and logged.
func (a *Agent) deliver(m wire.FrameworkMessage) {
	var sandboxes []string
	a.mu.Lock()
	for k, t := range a.tasks {
		if k.fw != m.FrameworkID || (m.Message.TaskID != "" && k.task != m.Message.TaskID) {
			continue
		}
		if t.proc != nil && !t.done && t.proc.Sandbox() != "" {
			sandboxes = append(sandboxes, t.proc.Sandbox())
		}
	}
	a.mu.Unlock()
	if len(sandboxes) == 0 {
		a.log.Warn("framework message for no running task dropped", "framework", m.FrameworkID, "task", m.Message.TaskID, "size", len(m.Message.Data))
		return
	}
	for _, sb := range sandboxes {
		if err := launcher.AppendMessage(sb, m.Message.Data); err != nil {
			a.log.Warn("cannot deliver framework message", "framework", m.FrameworkID, "sandbox", sb, "err", err)
		}
	}
}

// noteSeq records a handled numbered message of a leader. a.mu is held.
func (a *Agent) noteSeq(term, seq uint64) {
	switch {
	case seq == 0:
	case term > a.seenTerm:
		a.seenTerm, a.seenSeq = term, seq
	case term == a.seenTerm && seq > a.seenSeq:
		a.seenSeq = seq
	}
}

// status builds a status update of a task.
func (a *Agent) status(fw wire.FrameworkID, id wire.TaskID, state wire.TaskState, reason wire.Reason, msg string, exit *launcher.Exit) wire.StatusUpdate {
	st := wire.TaskStatus{
		TaskID: id, AgentID: a.id, State: state, Reason: reason, Message: msg,
		Source: wire.SourceAgent, UUID: wire.NewUUID(), Timestamp: time.Now(),
	}
	if exit != nil {
		st.ExitCode, st.Signal = exit.ExitCode, exit.Signal
	}
	return wire.StatusUpdate{FrameworkID: fw, Status: st}
}

// update queues a status update for a task.
func (a *Agent) update(fw wire.FrameworkID, id wire.TaskID, state wire.TaskState, reason wire.Reason, msg string, exit *launcher.Exit) {
	a.report(a.status(fw, id, state, reason, msg, exit))
}

// report checkpoints and queues updates (in one write, sent in one batch).
func (a *Agent) report(ups ...wire.StatusUpdate) {
	if len(ups) == 0 {
		return
	}
	if err := a.upd.add(ups...); err != nil {
		// Without its checkpoint an update could be lost on a restart;
		// send it anyway and say so.
		a.log.Error("cannot checkpoint status updates; sending them unprotected", "updates", len(ups), "err", err)
		a.upd.enqueue(ups...)
	}
}

// launchFlushEvery bounds how long the updates of a large launch wait to
// go out together while the rest of its tasks start.
const launchFlushEvery = 20 * time.Millisecond

// launch starts tasks and reports RUNNING or a failure for each, batched,
// so that a launch of many tasks costs a few checkpoint writes and
// messages rather than a few per task. A task that starts at once goes
// straight to RUNNING; when a launch takes longer than launchFlushEvery
// (slow process starts, a large batch), the tasks not yet started are
// reported TASK_STARTING first, so the framework sees them being worked on.
//
// term and seq number the LAUNCH (wire.Launch.Seq): the tasks are listed
// in registrations from the moment the number is.
func (a *Agent) launch(fw wire.FrameworkID, infos []wire.TaskInfo, term, seq uint64) {
	var fresh []*task
	a.mu.Lock()
	if a.killingAll {
		a.mu.Unlock()
		a.log.Warn("launch refused: the agent is stopping and killing its tasks", "framework", fw, "tasks", len(infos))
		return
	}
	a.launching.Add(1)
	defer a.launching.Done()
	for _, info := range infos {
		k := taskKey{fw, info.TaskID}
		if _, dup := a.tasks[k]; dup {
			a.log.Warn("launch of a task that already exists ignored", "framework", fw, "task", info.TaskID)
			continue
		}
		t := &task{fw: fw, info: info, state: wire.TaskStarting}
		a.tasks[k] = t
		fresh = append(fresh, t)
	}
	a.noteSeq(term, seq)
	a.mu.Unlock()

	var cps []launcher.Checkpoint
	var ups []wire.StatusUpdate
	var started []*task
	flushed := time.Now()
	flush := func() {
		if err := a.store.saveTasks(cps); err != nil {
			a.log.Error("cannot checkpoint tasks; a restarted agent will not recover them", "tasks", len(cps), "err", err)
		}
		a.report(ups...)
		for _, t := range started {
			k := taskKey{fw, t.info.TaskID}
			a.goFunc(func() { a.watch(k, t) })
			a.startHealthCheck(k, t)
		}
		cps, ups, started, flushed = nil, nil, nil, time.Now()
	}
	// The launch runs in a goroutine of its own only to notice that it is
	// slow; the tasks start one after another, in order.
	announced := false
	announce := func(rest []*task) {
		if announced {
			return
		}
		announced = true
		starting := make([]wire.StatusUpdate, len(rest))
		for i, t := range rest {
			starting[i] = a.status(fw, t.info.TaskID, wire.TaskStarting, "", "", nil)
		}
		// Updates of tasks already started go first: per task, order holds.
		flush()
		a.report(starting...)
	}
	for i, t := range fresh {
		spec := launcher.Spec{FrameworkID: fw, Task: t.info, Run: 0, Ports: t.info.Resources.Ports.List()}
		done := make(chan struct{})
		var proc launcher.Task
		var err error
		go func() {
			defer close(done)
			proc, err = a.exec.Launch(a.ctx, spec)
		}()
		select {
		case <-done:
		case <-time.After(launchFlushEvery):
			announce(fresh[i:])
			<-done
		}
		a.mu.Lock()
		if err != nil {
			t.state, t.done = wire.TaskFailed, true
			a.mu.Unlock()
			a.count.launchFailures.Add(1)
			ups = append(ups, a.status(fw, t.info.TaskID, wire.TaskFailed, wire.ReasonLaunchFailed, fmt.Sprintf("launch failed: %v", err), nil))
		} else {
			t.proc = proc
			t.state = wire.TaskRunning
			a.mu.Unlock()
			cps = append(cps, proc.Checkpoint())
			ups = append(ups, a.status(fw, t.info.TaskID, wire.TaskRunning, "", "", nil))
			started = append(started, t)
		}
		if time.Since(flushed) > launchFlushEvery && i+1 < len(fresh) {
			announce(fresh[i+1:])
			flush()
		}
	}
	flush()
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

// forgetTasks drops tasks once their terminal updates were acknowledged.
func (a *Agent) forgetTasks(keys []taskKey) {
	a.mu.Lock()
	var gone []taskKey
	for _, k := range keys {
		if t := a.tasks[k]; t != nil && t.done {
			delete(a.tasks, k)
			gone = append(gone, k)
		}
	}
	a.mu.Unlock()
	for _, k := range gone {
		a.store.removeTask(k.fw, k.task)
	}
}

// kill kills a task; an unknown task is reported TASK_LOST so the
// framework is not left waiting.
func (a *Agent) kill(fw wire.FrameworkID, id wire.TaskID, reason wire.Reason) {
	a.mu.Lock()
	t := a.tasks[taskKey{fw, id}]
	var proc launcher.Task
	if t != nil && !t.done {
		proc = t.proc // set and ended under a.mu
	}
	a.mu.Unlock()
	if t == nil {
		a.update(fw, id, wire.TaskLost, wire.ReasonTaskUnknown, "task is not known to agent "+string(a.id), nil)
		return
	}
	if proc != nil {
		proc.Kill(a.killGrace(t.info), reason)
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
