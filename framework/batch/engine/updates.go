package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/sdk/wire"
)

// handleUpdate applies a status update; its acknowledgement is sent once
// the effect is committed.
func (e *Engine) handleUpdate(ctx context.Context, s wire.TaskStatus) {
	now := e.clock.Now()
	e.mu.Lock()
	e.count.updates[s.State]++
	e.applyStatus(s, now)
	if s.UUID != "" {
		e.ackq = append(e.ackq, s)
		e.requestFlush()
	}
	e.mu.Unlock()
	e.drain(ctx)
}

// applyStatus applies one status to its attempt. e.mu is held.
func (e *Engine) applyStatus(s wire.TaskStatus, now time.Time) {
	ref := e.attempts[s.TaskID]
	if ref == nil || !ref.a.Active() {
		// Not an attempt the engine waits for: its run is over, its job
		// removed, or the attempt was given up (e.g. reported unknown and
		// retried). If it runs, it must not.
		if !s.State.Terminal() && s.State != wire.TaskUnknown && s.State != wire.TaskUnreachable {
			e.log.Warn("killing a task the framework does not want", "task", s.TaskID, "state", s.State)
			e.killOrphan(s)
		}
		return
	}
	a := ref.a
	ref.lastNews = now
	if s.AgentID != "" {
		a.AgentID = s.AgentID
	}
	a.TaskState = s.State
	if s.Reason != "" || s.Message != "" {
		a.Reason, a.Message = s.Reason, s.Message
	}
	switch s.State {
	case wire.TaskStaging, wire.TaskStarting:
		if a.State == record.AttemptLaunching {
			a.State = record.AttemptStaging
		}
	case wire.TaskRunning, wire.TaskKilling:
		a.State = record.AttemptRunning
		if a.Started.IsZero() {
			a.Started = now
		}
	case wire.TaskUnreachable:
		a.State = record.AttemptUnreachable
	default:
		if !s.State.Terminal() && s.State != wire.TaskUnknown {
			return
		}
		if s.State == wire.TaskUnknown && ref.inflight {
			// Asked before the launch reached the master; wait for it.
			return
		}
		a.ExitCode = s.ExitCode
		e.endAttempt(ref, attemptOutcome(a, s.State, s.Reason), now)
		return
	}
	e.markAttempt(a)
}

// endAttempt records the end of an attempt and decides its instance's
// fate. e.mu is held.
func (e *Engine) endAttempt(ref *attemptRef, state record.AttemptState, now time.Time) {
	r, a := ref.run, ref.a
	in := &r.inst[ref.inst]
	a.State = state
	a.Finished = now
	if a.KillReason == record.KillTimeout && state == record.AttemptKilled {
		a.Message = fmt.Sprintf("timed out after %s", r.rec.Spec.Timeout.Task)
	}
	e.markAttempt(a)
	e.count.ended[a.TaskState]++
	delete(e.attempts, a.TaskID)
	r.active--
	e.wantRevive = true
	e.kickTick()
	spec := r.rec.Spec
	switch {
	case state == record.AttemptSucceeded:
		in.state = instSucceeded
		r.counts.Succeeded++
	case r.rec.State != record.RunRunning:
		in.state = instCancelled
		r.counts.Cancelled++
	default:
		if state == record.AttemptLost {
			in.lost++
		} else if countsAsFailure(a) {
			in.failures++
		}
		if in.failures > spec.Retries.Limit || in.lost > e.cfg.LostLimit {
			in.state = instFailed
			r.counts.Failed++
			why := a.Message
			if why == "" {
				why = string(a.TaskState)
				if a.ExitCode != nil {
					why = fmt.Sprintf("exit code %d", *a.ExitCode)
				}
			}
			e.stopRun(r, record.RunFailed, fmt.Sprintf("instance %d failed after %d attempts: %s", ref.inst, len(in.attempts), why), now)
			return
		}
		in.state = instWaiting
		in.notBefore = now.Add(e.retryDelay(r, in))
		r.pending = append(r.pending, ref.inst)
	}
	e.markRun(r)
	e.checkRunDone(r, now)
}
