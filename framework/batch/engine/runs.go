package engine

import (
	"fmt"
	"time"

	"github.com/agora-cluster/agora/framework/batch/record"
)

// startRun creates a run of js. e.mu is held.
func (e *Engine) startRun(js *jobState, trig record.Trigger, cause string, scheduledFor, now time.Time) *run {
	e.lastRunID++
	spec := js.rec.Spec
	r := &run{
		rec: record.Run{
			ID: e.lastRunID, Job: spec.Name, JobVersion: js.rec.Version, Spec: spec,
			Trigger: trig, Cause: cause, ScheduledFor: scheduledFor,
			State: record.RunRunning, Created: now,
		},
		inst:    make([]instance, spec.Instances),
		pending: make([]int, spec.Instances),
	}
	for i := range r.pending {
		r.pending[i] = i
	}
	e.runs[r.rec.ID] = r
	js.active[r.rec.ID] = r
	js.rec.LastRun = &record.RunRef{ID: r.rec.ID, State: record.RunRunning}
	e.addHistory(js, r.rec.ID)
	e.markRun(r)
	e.markJob(js)
	e.wantRevive = true
	e.kickTick()
	e.log.Info("run started", "job", spec.Name, "run", r.rec.ID, "trigger", trig, "instances", spec.Instances)
	return r
}

// recordEvent stores a run record without tasks (MISSED or SKIPPED).
func (e *Engine) recordEvent(js *jobState, state record.RunState, scheduledFor time.Time, msg string, now time.Time) {
	e.lastRunID++
	rec := record.Run{
		ID: e.lastRunID, Job: js.rec.Spec.Name, JobVersion: js.rec.Version, Spec: js.rec.Spec,
		Trigger: record.TriggerSchedule, ScheduledFor: scheduledFor,
		State: state, Message: msg, Created: now, Finished: now, Summary: &record.Progress{},
	}
	e.addHistory(js, rec.ID)
	e.count.runs[state]++
	e.dirty.runs[rec.ID] = rec
	e.dirty.lastRunID = e.lastRunID
	e.log.Info("scheduled start recorded", "job", rec.Job, "state", state, "scheduled_for", scheduledFor, "msg", msg)
}

// addHistory appends a run to the job's history and drops the oldest
// finished runs beyond the limit.
func (e *Engine) addHistory(js *jobState, id uint64) {
	js.history = append(js.history, id)
	for len(js.history) > e.cfg.HistoryLimit {
		old := js.history[0]
		if _, active := e.runs[old]; active {
			break // never drop a run that is still going
		}
		js.history = js.history[1:]
		delete(e.dirty.runs, old)
		e.dirty.deleteRuns = append(e.dirty.deleteRuns, old)
	}
}

// stopRun decides a run's outcome and kills what still runs. e.mu is held.
func (e *Engine) stopRun(r *run, outcome record.RunState, msg string, now time.Time) {
	if r.rec.State != record.RunRunning {
		return
	}
	r.rec.State = record.RunStopping
	r.rec.Outcome = outcome
	r.rec.Message = msg
	for i := range r.inst {
		in := &r.inst[i]
		switch in.state {
		case instWaiting:
			in.state = instCancelled
			r.counts.Cancelled++
		case instActive:
			a := in.last()
			if a.KillReason == "" || a.KillReason == record.KillTimeout {
				a.KillReason = record.KillRunStopped
			}
			e.sendKill(a, now)
		}
	}
	r.pending = nil
	e.markRun(r)
	e.log.Info("run stopping", "job", r.rec.Job, "run", r.rec.ID, "outcome", outcome, "msg", msg)
	e.checkRunDone(r, now)
}

// checkRunDone ends the run if nothing is left to do. e.mu is held.
func (e *Engine) checkRunDone(r *run, now time.Time) {
	switch r.rec.State {
	case record.RunRunning:
		if r.counts.Succeeded == len(r.inst) {
			e.finishRun(r, record.RunSucceeded, now)
		}
	case record.RunStopping:
		if r.active == 0 {
			e.finishRun(r, r.rec.Outcome, now)
		}
	}
}

func (e *Engine) finishRun(r *run, state record.RunState, now time.Time) {
	r.rec.State = state
	r.rec.Finished = now
	p := r.progress()
	r.rec.Summary = &p
	e.markRun(r)
	e.count.runs[state]++
	delete(e.runs, r.rec.ID)
	for i := range r.inst {
		if a := r.inst[i].last(); a != nil {
			delete(e.attempts, a.TaskID)
		}
	}
	js := e.jobs[r.rec.Job]
	if js == nil {
		return
	}
	delete(js.active, r.rec.ID)
	if js.rec.LastRun != nil && js.rec.LastRun.ID == r.rec.ID {
		js.rec.LastRun.State = state
		e.markJob(js)
	}
	e.log.Info("run finished", "job", r.rec.Job, "run", r.rec.ID, "state", state,
		"succeeded", p.Succeeded, "failed", p.Failed, "attempts", p.Attempts)
	if state == record.RunSucceeded {
		e.triggerChildren(js, r, now)
	}
}

// triggerChildren starts each child job whose parents' latest runs all
// succeeded.
func (e *Engine) triggerChildren(parent *jobState, r *run, now time.Time) {
	for _, name := range e.children(parent.rec.Spec.Name) {
		child := e.jobs[name]
		ready := true
		for _, p := range child.rec.Spec.DependsOn {
			pj := e.jobs[p]
			if pj == nil || pj.rec.LastRun == nil || pj.rec.LastRun.State != record.RunSucceeded {
				ready = false
				break
			}
		}
		if ready {
			e.startRun(child, record.TriggerDependency, fmt.Sprintf("%s run %d succeeded", parent.rec.Spec.Name, r.rec.ID), time.Time{}, now)
		}
	}
}

// children lists the jobs that depend on name, in name order.
func (e *Engine) children(name string) []string {
	var out []string
	for n, js := range e.jobs {
		for _, p := range js.rec.Spec.DependsOn {
			if p == name {
				out = append(out, n)
				break
			}
		}
	}
	sortStrings(out)
	return out
}
