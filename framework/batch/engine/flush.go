package engine

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/framework/batch/store"
	"github.com/agora-cluster/agora/sdk/wire"
)

// dirtySet is what changed since the last commit.
type dirtySet struct {
	jobs       map[string]bool
	deleteJobs []string
	runs       map[uint64]record.Run // snapshots
	liveRuns   map[uint64]*run       // snapshot taken at commit
	deleteRuns []uint64
	attempts   map[*record.Attempt]bool
	lastRunID  uint64
}

func newDirtySet() dirtySet {
	return dirtySet{
		jobs:     map[string]bool{},
		runs:     map[uint64]record.Run{},
		liveRuns: map[uint64]*run{},
		attempts: map[*record.Attempt]bool{},
	}
}

func (d *dirtySet) empty() bool {
	return len(d.jobs)+len(d.deleteJobs)+len(d.runs)+len(d.liveRuns)+len(d.deleteRuns)+len(d.attempts) == 0 && d.lastRunID == 0
}

func (e *Engine) markJob(js *jobState) {
	e.dirty.jobs[js.rec.Spec.Name] = true
	e.requestFlush()
}

func (e *Engine) markRun(r *run) {
	e.dirty.liveRuns[r.rec.ID] = r
	e.dirty.lastRunID = e.lastRunID
	e.requestFlush()
}

func (e *Engine) markAttempt(a *record.Attempt) {
	e.dirty.attempts[a] = true
	e.requestFlush()
}

// forgetJob drops everything dirty about a deleted job.
func (e *Engine) forgetJob(name string) {
	delete(e.dirty.jobs, name)
	for id, r := range e.dirty.runs {
		if r.Job == name {
			delete(e.dirty.runs, id)
		}
	}
	for id, r := range e.dirty.liveRuns {
		if r.rec.Job == name {
			delete(e.dirty.liveRuns, id)
		}
	}
	for a := range e.dirty.attempts {
		if job, _, _, _, err := record.ParseTaskID(a.TaskID); err == nil && job == name {
			delete(e.dirty.attempts, a)
		}
	}
	e.dirty.deleteJobs = append(e.dirty.deleteJobs, name)
	e.requestFlush()
}

func (e *Engine) requestFlush() {
	select {
	case e.flushCh <- struct{}{}:
	default:
	}
}

// flush commits everything dirty in one transaction, then queues the
// acknowledgements of the updates it covered.
func (e *Engine) flush(ctx context.Context) error {
	e.flushMu.Lock()
	defer e.flushMu.Unlock()
	e.mu.Lock()
	if e.dirty.empty() && len(e.ackq) == 0 {
		e.mu.Unlock()
		return nil
	}
	b := &store.Batch{DeleteJobs: e.dirty.deleteJobs, DeleteRuns: e.dirty.deleteRuns, LastRunID: e.dirty.lastRunID}
	for name := range e.dirty.jobs {
		if js := e.jobs[name]; js != nil {
			b.PutJobs = append(b.PutJobs, js.rec)
		}
	}
	for _, r := range e.dirty.runs {
		b.PutRuns = append(b.PutRuns, r)
	}
	for _, r := range e.dirty.liveRuns {
		b.PutRuns = append(b.PutRuns, r.rec)
	}
	for a := range e.dirty.attempts {
		b.PutAttempts = append(b.PutAttempts, *a)
	}
	sort.Slice(b.PutAttempts, func(i, j int) bool { return b.PutAttempts[i].Run < b.PutAttempts[j].Run })
	acks := e.ackq
	e.ackq = nil
	old := e.dirty
	e.dirty = newDirtySet()
	e.mu.Unlock()

	if err := e.st.Apply(b); err != nil {
		e.mu.Lock()
		e.restoreDirty(old)
		e.ackq = append(acks, e.ackq...)
		e.mu.Unlock()
		return err
	}
	e.mu.Lock()
	e.pendingAcks = append(e.pendingAcks, acks...)
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
	return nil
}

// restoreDirty merges a failed commit's changes back. e.mu is held.
func (e *Engine) restoreDirty(old dirtySet) {
	for k := range old.jobs {
		e.dirty.jobs[k] = true
	}
	e.dirty.deleteJobs = append(old.deleteJobs, e.dirty.deleteJobs...)
	for k, v := range old.runs {
		if _, newer := e.dirty.runs[k]; !newer {
			e.dirty.runs[k] = v
		}
	}
	for k, v := range old.liveRuns {
		e.dirty.liveRuns[k] = v
	}
	e.dirty.deleteRuns = append(old.deleteRuns, e.dirty.deleteRuns...)
	for a := range old.attempts {
		e.dirty.attempts[a] = true
	}
	e.dirty.lastRunID = max(e.dirty.lastRunID, old.lastRunID)
}

// sendAcks acknowledges committed updates, several at a time.
func (e *Engine) sendAcks(ctx context.Context) {
	e.mu.Lock()
	acks := e.pendingAcks
	e.pendingAcks = nil
	d := e.drv
	e.mu.Unlock()
	if d == nil || len(acks) == 0 {
		return // the agents resend; the duplicates are acknowledged then
	}
	const parallel = 16
	var wg sync.WaitGroup
	for w := range min(parallel, len(acks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(acks); i += parallel {
				if err := d.Acknowledge(ctx, acks[i]); err != nil {
					e.log.Debug("acknowledge failed; the agent will resend", "task", acks[i].TaskID, "err", err)
				}
			}
		}()
	}
	wg.Wait()
}

// outMsg is a call to the master queued under e.mu and sent without it.
type outMsg struct {
	kill      *wire.Kill
	reconcile []wire.ReconcileTask
}

// sendKill queues a kill of an attempt. e.mu is held.
func (e *Engine) sendKill(a *record.Attempt, now time.Time) {
	a.KillSent = now
	e.markAttempt(a)
	if ref := e.attempts[a.TaskID]; ref != nil {
		ref.lastNews = now
		if ref.inflight {
			return // sent when the launch returns
		}
	}
	e.outbox = append(e.outbox, outMsg{kill: &wire.Kill{TaskID: a.TaskID, AgentID: a.AgentID}})
}

// killOrphan queues a kill of a task the engine does not want. e.mu is held.
func (e *Engine) killOrphan(s wire.TaskStatus) {
	e.outbox = append(e.outbox, outMsg{kill: &wire.Kill{TaskID: s.TaskID, AgentID: s.AgentID}})
}

// drain sends the queued calls to the master.
func (e *Engine) drain(ctx context.Context) {
	e.mu.Lock()
	out := e.outbox
	e.outbox = nil
	d := e.drv
	e.mu.Unlock()
	if d == nil || len(out) == 0 {
		return
	}
	var recon []wire.ReconcileTask
	for _, m := range out {
		if m.kill != nil {
			if err := d.Kill(ctx, m.kill.TaskID, m.kill.AgentID); err != nil {
				e.log.Debug("kill failed; will retry", "task", m.kill.TaskID, "err", err)
			}
		}
		recon = append(recon, m.reconcile...)
	}
	e.reconcile(ctx, d, recon)
}

// reconcile asks the master about tasks, in chunks.
func (e *Engine) reconcile(ctx context.Context, d Driver, tasks []wire.ReconcileTask) {
	const chunk = 2000
	for len(tasks) > 0 {
		n := min(chunk, len(tasks))
		if _, err := d.Reconcile(ctx, tasks[:n]...); err != nil {
			e.log.Debug("reconcile failed; will retry", "tasks", n, "err", err)
		}
		tasks = tasks[n:]
	}
}
