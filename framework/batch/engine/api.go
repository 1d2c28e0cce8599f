package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/agora-cluster/agora/framework/batch/dag"
	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/framework/batch/spec"
	"github.com/agora-cluster/agora/framework/batch/store"
)

// SubmitOptions tune Submit.
type SubmitOptions struct {
	// NoRun only stores the jobs: no run is started.
	NoRun bool
}

// Submit stores jobs (creating or replacing them) and starts a run of
// each job that has neither a schedule nor dependencies. The jobs must
// have been validated (spec.Parse). A dependency that is unknown or makes
// a cycle is a spec.Errors naming the field. Submit returns once the
// change is committed.
func (e *Engine) Submit(ctx context.Context, jobs []spec.Job, opt SubmitOptions) (record.SubmitResult, error) {
	now := e.clock.Now()
	e.mu.Lock()
	if err := e.checkDeps(jobs); err != nil {
		e.mu.Unlock()
		return record.SubmitResult{}, err
	}
	var res record.SubmitResult
	var started []*run
	for _, j := range jobs {
		js := e.jobs[j.Name]
		created := js == nil
		if created {
			js = &jobState{active: map[uint64]*run{}, rec: record.Job{Created: now}}
			e.jobs[j.Name] = js
		}
		oldSched := js.rec.Spec.Schedule
		js.rec.Spec = j
		js.rec.Version++
		js.rec.Updated = now
		fresh, err := newJobState(js.rec)
		if err != nil {
			// Validated specs parse; this is a bug, not bad input.
			e.mu.Unlock()
			return record.SubmitResult{}, fmt.Errorf("engine: job %s: %w", j.Name, err)
		}
		js.sched = fresh.sched
		if j.Schedule == nil {
			js.rec.ScheduleCursor = time.Time{}
		} else if oldSched == nil || oldSched.Cron != j.Schedule.Cron || oldSched.Timezone != j.Schedule.Timezone {
			js.rec.ScheduleCursor = now
		}
		e.markJob(js)
		res.Jobs = append(res.Jobs, record.SubmittedJob{Name: j.Name, Version: js.rec.Version, Created: created})
		if !opt.NoRun && j.Schedule == nil && len(j.DependsOn) == 0 {
			started = append(started, e.startRun(js, record.TriggerSubmit, "", time.Time{}, now))
		}
	}
	for _, r := range started {
		res.Runs = append(res.Runs, record.RunRef{ID: r.rec.ID, State: r.rec.State})
	}
	e.mu.Unlock()
	if err := e.flush(ctx); err != nil {
		return res, err
	}
	e.tick(ctx)
	return res, nil
}

// checkDeps checks that the jobs, with the stored ones, form a DAG.
// e.mu is held.
func (e *Engine) checkDeps(jobs []spec.Job) error {
	g := dag.Graph{}
	for name, js := range e.jobs {
		g[name] = js.rec.Spec.DependsOn
	}
	index := map[string]int{}
	for i, j := range jobs {
		g[j.Name] = j.DependsOn
		index[j.Name] = i
	}
	prefix := func(name string) string {
		if len(jobs) == 1 {
			return ""
		}
		return fmt.Sprintf("jobs[%d].", index[name])
	}
	err := dag.Check(g)
	var ue *dag.UnknownError
	var ce *dag.CycleError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ue):
		if _, ours := index[ue.Job]; !ours {
			// A stored job lost its parent: only if a submitted job
			// was renamed away, which Submit cannot do. Report it all
			// the same.
			return fmt.Errorf("%w: stored job %q depends on unknown job %q", spec.ErrInvalid, ue.Job, ue.Parent)
		}
		return spec.Errors{{Path: prefix(ue.Job) + "depends_on", Message: fmt.Sprintf("unknown job %q (submit it first, or in the same file)", ue.Parent)}}
	case errors.As(err, &ce):
		name := ce.Path[0]
		for _, n := range ce.Path {
			if _, ours := index[n]; ours {
				name = n
				break
			}
		}
		return spec.Errors{{Path: prefix(name) + "depends_on", Message: fmt.Sprintf("dependency cycle: %s", strings.Join(ce.Path, " → "))}}
	}
	return err
}

// Trigger starts a run of a job now, whatever its schedule, parents or
// concurrency policy.
func (e *Engine) Trigger(ctx context.Context, job string) (record.RunRef, error) {
	now := e.clock.Now()
	e.mu.Lock()
	js := e.jobs[job]
	if js == nil {
		e.mu.Unlock()
		return record.RunRef{}, fmt.Errorf("job %q: %w", job, ErrNotFound)
	}
	r := e.startRun(js, record.TriggerManual, "", time.Time{}, now)
	ref := record.RunRef{ID: r.rec.ID, State: r.rec.State}
	e.mu.Unlock()
	if err := e.flush(ctx); err != nil {
		return ref, err
	}
	e.tick(ctx)
	return ref, nil
}

// KillJob kills the job's active runs and returns their IDs.
func (e *Engine) KillJob(ctx context.Context, job string) ([]uint64, error) {
	now := e.clock.Now()
	e.mu.Lock()
	js := e.jobs[job]
	if js == nil {
		e.mu.Unlock()
		return nil, fmt.Errorf("job %q: %w", job, ErrNotFound)
	}
	ids := sortedRunIDs(js.active)
	for _, id := range ids {
		e.stopRun(js.active[id], record.RunKilled, "killed by the operator", now)
	}
	e.mu.Unlock()
	e.drain(ctx)
	return ids, e.flush(ctx)
}

// KillRun kills one active run.
func (e *Engine) KillRun(ctx context.Context, id uint64) error {
	now := e.clock.Now()
	e.mu.Lock()
	r := e.runs[id]
	if r == nil {
		e.mu.Unlock()
		return fmt.Errorf("active run %d: %w", id, ErrNotFound)
	}
	e.stopRun(r, record.RunKilled, "killed by the operator", now)
	e.mu.Unlock()
	e.drain(ctx)
	return e.flush(ctx)
}

// Remove deletes a job and its history. A job other jobs depend on
// cannot be removed; one with active runs only with force, which kills
// them first.
func (e *Engine) Remove(ctx context.Context, job string, force bool) error {
	now := e.clock.Now()
	e.mu.Lock()
	js := e.jobs[job]
	if js == nil {
		e.mu.Unlock()
		return fmt.Errorf("job %q: %w", job, ErrNotFound)
	}
	if kids := e.children(job); len(kids) > 0 {
		e.mu.Unlock()
		return fmt.Errorf("%w: jobs %s depend on %q; remove them first", ErrConflict, strings.Join(kids, ", "), job)
	}
	if len(js.active) > 0 && !force {
		e.mu.Unlock()
		return fmt.Errorf("%w: job %q has %d active runs; kill them first or force", ErrConflict, job, len(js.active))
	}
	for _, id := range sortedRunIDs(js.active) {
		r := js.active[id]
		e.stopRun(r, record.RunKilled, "job removed", now)
		if _, ok := e.runs[id]; ok {
			e.count.runs[r.rec.Outcome]++ // not finished by stopRun: ends here
		}
		for i := range r.inst {
			if a := r.inst[i].last(); a != nil {
				delete(e.attempts, a.TaskID)
			}
		}
		delete(e.runs, id)
	}
	delete(e.jobs, job)
	e.forgetJob(job)
	e.mu.Unlock()
	e.drain(ctx)
	return e.flush(ctx)
}

// Jobs returns every job's status, in name order.
func (e *Engine) Jobs() []record.JobStatus {
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]record.JobStatus, 0, len(e.jobs))
	for _, name := range e.jobNames() {
		out = append(out, e.jobStatus(e.jobs[name], now))
	}
	return out
}

// Job returns one job's status.
func (e *Engine) Job(name string) (record.JobStatus, error) {
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	js := e.jobs[name]
	if js == nil {
		return record.JobStatus{}, fmt.Errorf("job %q: %w", name, ErrNotFound)
	}
	return e.jobStatus(js, now), nil
}

func (e *Engine) jobStatus(js *jobState, now time.Time) record.JobStatus {
	st := record.JobStatus{Job: js.rec, Children: e.children(js.rec.Spec.Name)}
	for _, id := range sortedRunIDs(js.active) {
		r := js.active[id]
		st.Active = append(st.Active, record.RunStatus{Run: r.rec, Progress: r.progress()})
	}
	if js.sched != nil {
		st.NextScheduled = js.sched.Next(maxTime(js.rec.ScheduleCursor, now))
	}
	return st
}

// History returns up to limit runs of a job with IDs below before (0: the
// newest), newest first. It commits pending changes first, so that it
// shows everything already decided.
func (e *Engine) History(ctx context.Context, job string, limit int, before uint64) ([]record.RunStatus, error) {
	if err := e.flush(ctx); err != nil {
		return nil, err
	}
	e.mu.Lock()
	_, ok := e.jobs[job]
	e.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("job %q: %w", job, ErrNotFound)
	}
	runs, err := e.st.JobRuns(job, limit, before)
	if err != nil {
		return nil, err
	}
	out := make([]record.RunStatus, len(runs))
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, r := range runs {
		if live := e.runs[r.ID]; live != nil {
			out[i] = record.RunStatus{Run: live.rec, Progress: live.progress()}
			continue
		}
		out[i] = record.RunStatus{Run: r, Progress: record.ProgressOf(r)}
	}
	return out, nil
}

// RunStatus returns a run with its progress and, if attempts, its
// attempts (ordered by instance and attempt).
func (e *Engine) RunStatus(ctx context.Context, id uint64, attempts bool) (record.RunStatus, error) {
	if err := e.flush(ctx); err != nil {
		return record.RunStatus{}, err
	}
	e.mu.Lock()
	if r := e.runs[id]; r != nil {
		st := record.RunStatus{Run: r.rec, Progress: r.progress()}
		if attempts {
			for i := range r.inst {
				for _, a := range r.inst[i].attempts {
					st.Attempts = append(st.Attempts, *a)
				}
			}
		}
		e.mu.Unlock()
		return st, nil
	}
	e.mu.Unlock()
	r, err := e.st.Run(id)
	if errors.Is(err, store.ErrNotFound) {
		return record.RunStatus{}, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return record.RunStatus{}, err
	}
	st := record.RunStatus{Run: r, Progress: record.ProgressOf(r)}
	if attempts {
		if st.Attempts, err = e.st.Attempts(id); err != nil {
			return record.RunStatus{}, err
		}
	}
	return st, nil
}

func (e *Engine) jobNames() []string {
	names := make([]string, 0, len(e.jobs))
	for n := range e.jobs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func sortedRunIDs(m map[uint64]*run) []uint64 {
	ids := make([]uint64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func sortStrings(s []string) { sort.Strings(s) }

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
