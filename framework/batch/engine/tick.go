package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/agora-cluster/agora/framework/batch/cron"
	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/framework/batch/spec"
	"github.com/agora-cluster/agora/sdk/wire"
)

// maxMissedListed bounds the MISSED records written for one catch-up.
const maxMissedListed = 10

// tick does the periodic work: timeouts, kill retries, reconciliation,
// cron, and offer flow control (revive and suppress).
func (e *Engine) tick(ctx context.Context) {
	now := e.clock.Now()
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.checkTimeouts(now)
	e.checkSchedules(now)
	revive, suppress := e.flowControl(now)
	d := e.drv
	e.mu.Unlock()
	if d != nil {
		if revive {
			if err := d.Revive(ctx, e.cfg.Roles...); err != nil {
				e.log.Debug("revive failed", "err", err)
				e.mu.Lock()
				e.wantRevive = true
				e.mu.Unlock()
			}
		}
		if suppress {
			if err := d.Suppress(ctx, e.cfg.Roles...); err != nil {
				e.log.Debug("suppress failed", "err", err)
				e.mu.Lock()
				e.suppressed = false
				e.mu.Unlock()
			}
		}
	}
	e.drain(ctx)
}

// checkTimeouts kills attempts and runs that ran out of time, resends
// kills that got no answer and reconciles attempts without news. e.mu is
// held.
func (e *Engine) checkTimeouts(now time.Time) {
	fullRecon := now.Sub(e.lastFullRecon) >= e.cfg.ReconcileEvery
	if fullRecon {
		e.lastFullRecon = now
	}
	for _, id := range e.activeRunIDs() {
		r := e.runs[id]
		if t := r.rec.Spec.Timeout.Run.D(); t > 0 && r.rec.State == record.RunRunning && now.Sub(r.rec.Created) >= t {
			e.stopRun(r, record.RunFailed, fmt.Sprintf("run timed out after %s", t), now)
		}
	}
	var recon []wire.ReconcileTask
	for _, ref := range e.attempts {
		a := ref.a
		if ref.inflight || !a.Active() {
			continue
		}
		if t := ref.run.rec.Spec.Timeout.Task.D(); t > 0 && a.KillReason == "" && now.Sub(a.Launched) >= t {
			a.KillReason = record.KillTimeout
			e.sendKill(a, now)
			continue
		}
		stale := now.Sub(ref.lastNews) >= e.cfg.ReconcileAfter
		switch {
		case a.KillReason != "" && stale:
			// A kill without an answer: send it again, and ask.
			e.sendKill(a, now)
			recon = append(recon, wire.ReconcileTask{TaskID: a.TaskID, AgentID: a.AgentID})
		case a.State == record.AttemptLaunching && stale, fullRecon:
			ref.lastNews = now
			recon = append(recon, wire.ReconcileTask{TaskID: a.TaskID, AgentID: a.AgentID})
		}
	}
	if len(recon) > 0 {
		e.outbox = append(e.outbox, outMsg{reconcile: recon})
	}
}

// checkSchedules starts (or records as missed or skipped) the cron runs
// that are due. e.mu is held.
func (e *Engine) checkSchedules(now time.Time) {
	for _, name := range e.jobNames() {
		js := e.jobs[name]
		if js.sched == nil {
			continue
		}
		sch := js.rec.Spec.Schedule
		d := cron.Due(js.sched, js.rec.ScheduleCursor, now, sch.StartingDeadline.D(), maxMissedListed)
		if d.Cursor.Equal(js.rec.ScheduleCursor) {
			continue
		}
		js.rec.ScheduleCursor = d.Cursor
		e.markJob(js)
		earlier := d.MissedTotal - len(d.Missed)
		for i, t := range d.Missed {
			msg := fmt.Sprintf("not started within the starting deadline (%s)", sch.StartingDeadline)
			if i == 0 && earlier > 0 {
				msg += fmt.Sprintf("; %d earlier starts were missed too", earlier)
			}
			e.recordEvent(js, record.RunMissed, t, msg, now)
		}
		if d.Start.IsZero() {
			continue
		}
		cause := "scheduled for " + d.Start.In(time.UTC).Format(time.RFC3339)
		if len(js.active) > 0 {
			switch sch.ConcurrencyPolicy {
			case spec.Forbid:
				e.recordEvent(js, record.RunSkipped, d.Start,
					fmt.Sprintf("concurrency policy FORBID: run %d is still active", firstActive(js)), now)
				continue
			case spec.Replace:
				for _, id := range sortedRunIDs(js.active) {
					e.stopRun(js.active[id], record.RunKilled, "replaced by the run "+cause, now)
				}
			}
		}
		e.startRun(js, record.TriggerSchedule, cause, d.Start, now)
	}
}

func firstActive(js *jobState) uint64 {
	ids := sortedRunIDs(js.active)
	if len(ids) == 0 {
		return 0
	}
	return ids[0]
}

// flowControl decides whether to revive or suppress offers. e.mu is held.
func (e *Engine) flowControl(now time.Time) (revive, suppress bool) {
	ready, fresh, waiting := e.demand(now)
	switch {
	case ready:
		if (e.suppressed || e.wantRevive || fresh) && now.Sub(e.lastRevive) >= e.cfg.ReviveInterval {
			e.suppressed, e.wantRevive = false, false
			e.lastRevive = now
			return true, false
		}
	case !e.suppressed && !waiting:
		e.suppressed = true
		return false, true
	}
	return false, false
}

// demand reports whether some instance could be launched now (ready),
// whether one became ready by its retry delay passing since the last
// revive (fresh), and whether any waits at all (waiting).
func (e *Engine) demand(now time.Time) (ready, fresh, waiting bool) {
	for _, r := range e.runs {
		if r.rec.State != record.RunRunning {
			continue
		}
		room := r.active < r.rec.Spec.Parallelism
		for _, i := range r.pending {
			in := &r.inst[i]
			if in.state != instWaiting {
				continue
			}
			waiting = true
			if room && !in.notBefore.After(now) {
				ready = true
				if in.notBefore.After(e.lastRevive) {
					return true, true, true
				}
			}
		}
	}
	return ready, false, waiting
}
