package engine

import (
	"time"

	"github.com/agora-cluster/agora/framework/batch/cron"
	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/sdk/constraint"
	"github.com/agora-cluster/agora/sdk/wire"
)

// jobState is a job in memory.
type jobState struct {
	rec    record.Job
	sched  *cron.Schedule // nil without a schedule
	active map[uint64]*run
	// history holds the IDs of the job's stored runs, oldest first.
	history []uint64
}

func newJobState(j record.Job) (*jobState, error) {
	js := &jobState{rec: j, active: map[uint64]*run{}}
	if s := j.Spec.Schedule; s != nil {
		sc, err := cron.Parse(s.Cron, s.Timezone)
		if err != nil {
			return nil, err
		}
		js.sched = sc
	}
	return js, nil
}

// instState is where one instance of a run is.
type instState int

const (
	instWaiting instState = iota
	instActive
	instSucceeded
	instFailed
	instCancelled
)

// instance is one of a run's Instances tasks, across its attempts.
type instance struct {
	state    instState
	attempts []*record.Attempt
	failures int // attempts that failed by the task's fault
	lost     int // attempts lost through no fault of the task
	// notBefore delays the next attempt (retry backoff).
	notBefore time.Time
}

func (in *instance) last() *record.Attempt {
	if len(in.attempts) == 0 {
		return nil
	}
	return in.attempts[len(in.attempts)-1]
}

// run is an active run in memory.
type run struct {
	rec  record.Run
	inst []instance
	// pending holds waiting instances in launch order (retries go to the
	// back); entries whose instance is no longer waiting are skipped.
	pending []int
	active  int
	counts  record.Progress
	// shared holds the run's compiled sdk/constraint constraints (nil
	// until first needed).
	shared []constraint.Constraint
}

// attemptRef finds an active run's attempt by task ID.
type attemptRef struct {
	run  *run
	inst int
	a    *record.Attempt
	// inflight: the launch is being sent; kills wait until it returns.
	inflight bool
	// lastNews is when the engine last heard of or asked about it.
	lastNews time.Time
}

func (r *run) progress() record.Progress {
	p := r.counts
	p.Instances = len(r.inst)
	p.Running = r.active
	p.Waiting = 0
	for i := range r.inst {
		if r.inst[i].state == instWaiting {
			p.Waiting++
		}
	}
	return p
}

// restoreRun rebuilds an active run from its stored attempts.
func (e *Engine) restoreRun(rec record.Run, atts []record.Attempt, now time.Time) *run {
	r := &run{rec: rec, inst: make([]instance, rec.Spec.Instances)}
	for i := range atts {
		a := atts[i]
		if a.Instance < 0 || a.Instance >= len(r.inst) {
			e.log.Warn("stored attempt out of range; ignored", "task", a.TaskID)
			continue
		}
		in := &r.inst[a.Instance]
		in.attempts = append(in.attempts, &a)
		r.counts.Attempts++
		if len(in.attempts) > 1 {
			r.counts.Retried++
		}
		switch a.State {
		case record.AttemptFailed:
			in.failures++
		case record.AttemptKilled:
			if a.KillReason != record.KillRunStopped {
				in.failures++
			}
		case record.AttemptLost:
			in.lost++
		}
	}
	spec := rec.Spec
	for i := range r.inst {
		in := &r.inst[i]
		last := in.last()
		switch {
		case last != nil && last.Active():
			in.state = instActive
			r.active++
			e.attempts[last.TaskID] = &attemptRef{run: r, inst: i, a: last, lastNews: time.Time{}}
		case last != nil && last.State == record.AttemptSucceeded:
			in.state = instSucceeded
			r.counts.Succeeded++
		case rec.State == record.RunStopping:
			in.state = instCancelled
			r.counts.Cancelled++
		case in.failures > spec.Retries.Limit || in.lost > e.cfg.LostLimit:
			in.state = instFailed
			r.counts.Failed++
		default:
			in.state = instWaiting
			if last != nil {
				in.notBefore = last.Finished.Add(e.retryDelay(r, in))
			}
			r.pending = append(r.pending, i)
		}
	}
	if rec.State == record.RunRunning && r.counts.Failed > 0 {
		// The run failed before the restart but was not yet stopping.
		e.stopRun(r, record.RunFailed, "an instance failed", now)
	}
	return r
}

// retryDelay is the wait before an instance's next attempt.
func (e *Engine) retryDelay(r *run, in *instance) time.Duration {
	last := in.last()
	if last == nil {
		return 0
	}
	if last.State == record.AttemptLost {
		return r.rec.Spec.Retries.BackoffFor(1)
	}
	return r.rec.Spec.Retries.BackoffFor(max(in.failures, 1))
}

// attemptOutcome classifies a terminal task state for an attempt.
func attemptOutcome(a *record.Attempt, s wire.TaskState, reason wire.Reason) record.AttemptState {
	switch s {
	case wire.TaskFinished:
		return record.AttemptSucceeded
	case wire.TaskFailed, wire.TaskError:
		if a.KillReason == record.KillRunStopped {
			return record.AttemptKilled
		}
		if s == wire.TaskFailed && isInfraReason(reason) {
			return record.AttemptLost
		}
		return record.AttemptFailed
	case wire.TaskKilled:
		if a.KillReason != "" {
			return record.AttemptKilled
		}
		if isInfraReason(reason) {
			return record.AttemptLost
		}
		return record.AttemptKilled
	}
	// LOST, DROPPED, GONE, UNKNOWN.
	return record.AttemptLost
}

// isInfraReason tells reasons that are not the task's fault.
func isInfraReason(r wire.Reason) bool {
	switch r {
	case wire.ReasonAgentRemoved, wire.ReasonAgentUnreachable, wire.ReasonAgentRestarted,
		wire.ReasonAgentDraining, wire.ReasonAgentUnknown, wire.ReasonInvalidOffers,
		wire.ReasonMasterDisconnected, wire.ReasonFrameworkRemoved:
		return true
	}
	return false
}

// countsAsFailure reports whether an ended attempt counts against
// retries.limit.
func countsAsFailure(a *record.Attempt) bool {
	switch a.State {
	case record.AttemptFailed:
		return true
	case record.AttemptKilled:
		return a.KillReason != record.KillRunStopped
	}
	return false
}
