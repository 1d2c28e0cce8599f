package engine

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/framework/batch/spec"
	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/constraint"
	"github.com/agora-cluster/agora/sdk/wire"
)

// slot is an offer being filled.
type slot struct {
	offer wire.Offer
	left  wire.Resources
	tasks []wire.TaskInfo
	refs  []*attemptRef
}

// handleOffers places waiting instances on offers. Each attempt is
// committed (LAUNCHING, with its task ID) before its launch is sent. The
// commit and the launches happen off the driver's goroutine, so that a
// large batch of offers does not hold up the events behind it.
func (e *Engine) handleOffers(ctx context.Context, d Driver, offers []wire.Offer) {
	now := e.clock.Now()
	e.mu.Lock()
	e.count.offersReceived += uint64(len(offers))
	for _, o := range offers {
		attrs := make(map[string]string, len(o.Attributes)+1)
		for k, v := range o.Attributes {
			attrs[k] = v
		}
		attrs["hostname"] = o.Hostname
		e.agents[o.AgentID] = attrs
	}
	slots := make([]*slot, len(offers))
	for i, o := range offers {
		slots[i] = &slot{offer: o, left: o.Resources}
	}
	placed, unplaced := e.place(slots, now)
	if e.closed {
		// Shutting down: launch nothing.
		for _, s := range slots {
			for _, ref := range s.refs {
				e.unplace(ref)
			}
			s.tasks, s.refs = nil, nil
		}
		placed = 0
	}
	e.launches.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.launches.Done()
		e.launchAll(ctx, d, slots, placed, unplaced)
	}()
}

// launchAll commits the placed attempts, then launches them and declines
// the offers that got nothing.
func (e *Engine) launchAll(ctx context.Context, d Driver, slots []*slot, placed int, unplaced bool) {
	if placed > 0 {
		if err := e.flush(ctx); err != nil {
			// Not durable, so not launched: take the attempts back.
			e.log.Error("cannot store attempts; offers declined", "err", err)
			e.mu.Lock()
			for _, s := range slots {
				for _, ref := range s.refs {
					e.unplace(ref)
				}
				s.tasks, s.refs = nil, nil
			}
			e.mu.Unlock()
			unplaced = true
		}
	}
	refuse := e.cfg.DeclineRefuse
	if !unplaced {
		refuse = 30
	}
	var decline []wire.OfferID
	var used []*slot
	for _, s := range slots {
		if len(s.tasks) == 0 {
			decline = append(decline, s.offer.ID)
		} else {
			used = append(used, s)
		}
	}
	if len(decline) > 0 {
		if err := d.Decline(ctx, decline, refuse); err != nil {
			e.log.Debug("decline failed", "err", err)
		} else {
			e.mu.Lock()
			e.count.offersDeclined += uint64(len(decline))
			e.mu.Unlock()
		}
	}
	// Launch on several offers at once: each is one request to the master.
	const parallel = 8
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, s := range used {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			e.launch(ctx, d, s, refuse)
		}()
	}
	wg.Wait()
	e.drain(ctx)
	e.kickTick()
}

// launch sends one offer's tasks.
func (e *Engine) launch(ctx context.Context, d Driver, s *slot, refuse float64) {
	res, err := d.Accept(ctx, []wire.OfferID{s.offer.ID},
		[]wire.Operation{{Type: wire.OpLaunch, Tasks: s.tasks}}, sdk.Refuse(refuse))
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		// The master may or may not have them: reconciliation decides.
		e.log.Warn("launch failed; reconciling its tasks", "offer", s.offer.ID, "tasks", len(s.tasks), "err", err)
	} else {
		e.countLaunched(s, res)
	}
	for _, ref := range s.refs {
		ref.inflight = false
		ref.lastNews = now
		if err != nil {
			// Ask soon rather than after ReconcileAfter.
			ref.lastNews = now.Add(-e.cfg.ReconcileAfter + time.Second)
		}
		if ref.a.KillReason != "" && ref.a.Active() {
			e.sendKill(ref.a, now)
		}
	}
	for _, st := range res.Refused {
		e.applyStatus(st, now)
	}
}

// countLaunched counts an accepted offer and the tasks the master took
// from it. e.mu is held.
func (e *Engine) countLaunched(s *slot, res wire.AcceptResult) {
	e.count.offersAccepted++
	e.count.tasksLaunched += uint64(len(res.Launched))
	launched := make(map[wire.TaskID]bool, len(res.Launched))
	for _, id := range res.Launched {
		launched[id] = true
	}
	for _, ref := range s.refs {
		if ref.a.N > 1 && launched[ref.a.TaskID] {
			e.count.retries++
		}
	}
}

// place fills slots with waiting instances, oldest runs first. It
// returns how many attempts it created and whether work was left over.
// e.mu is held.
func (e *Engine) place(slots []*slot, now time.Time) (int, bool) {
	placed := 0
	unplaced := false
	for _, id := range e.activeRunIDs() {
		r := e.runs[id]
		if r.rec.State != record.RunRunning {
			continue
		}
		j := r.rec.Spec
		need := taskResources(j)
		placedOn := e.placedTargets(r)
		var keep []int
		stop := false
		for _, i := range r.pending {
			in := &r.inst[i]
			if in.state != instWaiting {
				continue
			}
			if stop || in.notBefore.After(now) {
				keep = append(keep, i)
				continue
			}
			if r.active >= j.Parallelism {
				stop = true
				keep = append(keep, i)
				continue
			}
			s := e.fit(slots, r, need, placedOn)
			if s == nil {
				stop, unplaced = true, true
				keep = append(keep, i)
				continue
			}
			ports, _ := s.left.Ports.Take(j.Resources.Ports)
			res := need
			res.Ports = ports
			s.left = s.left.Sub(res)
			ref := e.newAttempt(r, i, s.offer, now)
			s.tasks = append(s.tasks, e.taskInfo(r, ref.a, res))
			s.refs = append(s.refs, ref)
			if placedOn != nil {
				placedOn = append(placedOn, e.target(s.offer.AgentID))
			}
			placed++
		}
		r.pending = keep
	}
	return placed, unplaced
}

// fit returns the first slot the task fits in, or nil.
func (e *Engine) fit(slots []*slot, r *run, need wire.Resources, placedOn []constraint.Target) *slot {
	for _, s := range slots {
		if !s.left.Contains(need) || s.left.Ports.Count() < uint64(r.rec.Spec.Resources.Ports) {
			continue
		}
		if !e.satisfies(s.offer.AgentID, r, placedOn) {
			continue
		}
		return s
	}
	return nil
}

// target describes an agent for constraints, from its last offer.
func (e *Engine) target(agent wire.AgentID) constraint.Target {
	attrs := e.agents[agent]
	return constraint.Target{Hostname: attrs["hostname"], Attributes: attrs}
}

// placedTargets lists the agents of the run's active attempts, for
// constraints that look at where the run's tasks are; nil if the run has
// none.
func (e *Engine) placedTargets(r *run) []constraint.Target {
	if r.shared == nil {
		r.shared = []constraint.Constraint{}
		for _, c := range r.rec.Spec.Constraints {
			if sc, ok := c.Shared(); ok && sc.Validate() == nil {
				r.shared = append(r.shared, sc)
			}
		}
	}
	if len(r.shared) == 0 {
		return nil
	}
	out := []constraint.Target{}
	for i := range r.inst {
		if a := r.inst[i].last(); a != nil && a.Active() {
			out = append(out, e.target(a.AgentID))
		}
	}
	return out
}

// satisfies checks an agent against a run's constraints, given where the
// run's tasks already are.
func (e *Engine) satisfies(agent wire.AgentID, r *run, placedOn []constraint.Target) bool {
	attrs := e.agents[agent]
	for _, c := range r.rec.Spec.Constraints {
		v, ok := attrs[c.Attribute]
		switch c.Operator {
		case spec.OpEq:
			if !ok || v != c.Value {
				return false
			}
		case spec.OpNeq:
			if ok && v == c.Value {
				return false
			}
		case spec.OpExists:
			if !ok {
				return false
			}
		}
	}
	if len(r.shared) > 0 {
		return constraint.CheckAll(r.shared, e.target(agent), placedOn) == nil
	}
	return true
}

// newAttempt creates an instance's next attempt on an offer. e.mu is held.
func (e *Engine) newAttempt(r *run, i int, o wire.Offer, now time.Time) *attemptRef {
	in := &r.inst[i]
	n := len(in.attempts) + 1
	a := &record.Attempt{
		TaskID: record.TaskID(r.rec.Job, r.rec.ID, i, n), Run: r.rec.ID, Instance: i, N: n,
		AgentID: o.AgentID, Hostname: o.Hostname, State: record.AttemptLaunching, Launched: now,
	}
	in.attempts = append(in.attempts, a)
	in.state = instActive
	r.active++
	r.counts.Attempts++
	if n > 1 {
		r.counts.Retried++
	}
	ref := &attemptRef{run: r, inst: i, a: a, inflight: true, lastNews: now}
	e.attempts[a.TaskID] = ref
	e.markAttempt(a)
	return ref
}

// unplace takes back an attempt that was never sent. e.mu is held.
func (e *Engine) unplace(ref *attemptRef) {
	r, in := ref.run, &ref.run.inst[ref.inst]
	in.attempts = in.attempts[:len(in.attempts)-1]
	in.state = instWaiting
	r.active--
	r.counts.Attempts--
	if ref.a.N > 1 {
		r.counts.Retried--
	}
	r.pending = append([]int{ref.inst}, r.pending...)
	delete(e.attempts, ref.a.TaskID)
	delete(e.dirty.attempts, ref.a)
}

func taskResources(j spec.Job) wire.Resources {
	return wire.Resources{CPUs: j.Resources.CPUs, MemMB: j.Resources.MemMB, DiskMB: j.Resources.DiskMB}
}

// taskInfo builds the task of an attempt.
func (e *Engine) taskInfo(r *run, a *record.Attempt, res wire.Resources) wire.TaskInfo {
	j := r.rec.Spec
	t := wire.TaskInfo{
		TaskID:    a.TaskID,
		Name:      fmt.Sprintf("%s run %d instance %d", j.Name, r.rec.ID, a.Instance),
		AgentID:   a.AgentID,
		Resources: res,
		KillGrace: wire.Duration(j.KillGrace),
	}
	if j.Command != "" {
		t.Command = wire.CommandInfo{Value: j.Command, Shell: true}
	} else {
		t.Command = wire.CommandInfo{Value: j.Args[0], Args: j.Args[1:]}
	}
	t.Env = make(map[string]string, len(j.Env)+4)
	for k, v := range j.Env {
		t.Env[k] = v
	}
	t.Env["BATCH_JOB"] = j.Name
	t.Env["BATCH_RUN"] = strconv.FormatUint(r.rec.ID, 10)
	t.Env["BATCH_INSTANCE"] = strconv.Itoa(a.Instance)
	t.Env["BATCH_ATTEMPT"] = strconv.Itoa(a.N)
	t.Labels = make(map[string]string, len(j.Labels)+1)
	for k, v := range j.Labels {
		t.Labels[k] = v
	}
	t.Labels["agora.batch/job"] = j.Name
	if s := j.Simulate; s != nil {
		t.Sim = &wire.SimBehavior{Duration: wire.Duration(s.Duration), ExitCode: s.ExitCode, Hang: s.Hang}
	}
	return t
}
