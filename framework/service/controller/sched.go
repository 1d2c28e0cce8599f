package controller

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/agora-cluster/agora/framework/service/events"
	"github.com/agora-cluster/agora/framework/service/health"
	"github.com/agora-cluster/agora/sdk/constraint"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Refusal times for declined offers.
const (
	refuseIdle   = 10.0 // nothing to launch
	refuseUnfit  = 1.0  // launches wanted, but the offer does not fit
	placeNoteTTL = 30 * time.Second
	maxEnded     = 10
)

// Subscribed is called after every (re-)subscription: the controller asks
// the master about every instance it knows, so that instances whose tasks
// the master does not know are replaced and running ones are adopted.
func (c *Controller) Subscribed(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.connected = true
	c.suppressed = false
	c.lastOffers = time.Time{}
	var tasks []wire.ReconcileTask
	for _, inst := range c.instances {
		tasks = append(tasks, wire.ReconcileTask{TaskID: inst.ID, AgentID: inst.AgentID})
		c.reconciled[inst.ID] = c.cfg.Now()
	}
	sort.Slice(tasks, func(i, j int) bool { return tasks[i].TaskID < tasks[j].TaskID })
	if len(tasks) > 0 && c.drv() != nil {
		if err := c.drv().Reconcile(ctx, tasks); err != nil {
			c.log.Warn("reconcile failed", "err", err)
		}
	}
	// Kills asked for while disconnected go out now.
	for _, inst := range c.instancesOf("") {
		if inst.Killing && inst.State != wire.TaskUnreachable {
			inst.KillSentAt = c.cfg.Now()
			c.sendKill(ctx, inst)
		}
	}
	c.wantOffers(ctx)
}

// Disconnected is called when the driver lost the master.
func (c *Controller) Disconnected() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.connected = false
	c.lastOffers = time.Time{}
}

// Rescind is called when an offer is withdrawn. Offers are answered as
// they arrive, so there is nothing to forget; it is only counted.
func (c *Controller) Rescind(wire.OfferID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count.offersRescinded++
}

// AgentFailure is called when an agent is lost; its instances' updates
// (TASK_UNREACHABLE) carry what the controller acts on.
func (c *Controller) AgentFailure(agent wire.AgentID) {
	c.log.Info("agent lost", "agent", agent)
}

// Offers answers offers: each is used for launches it fits (resources,
// ports and constraints) or declined; why an offer did not fit is kept
// for the app's status and its deployment's stall report.
func (c *Controller) Offers(ctx context.Context, offers []wire.Offer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	c.lastOffers = now
	c.count.offersReceived += uint64(len(offers))
	type demand struct {
		a      *app
		n      int
		placed []constraint.Target
	}
	var wants []*demand
	ids := make([]string, 0, len(c.apps))
	for id := range c.apps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		a := c.apps[id]
		for h, n := range a.placeFail {
			if now.Sub(n.at) > placeNoteTTL {
				delete(a.placeFail, h)
			}
		}
		if a.rec.Deleting || now.Before(a.delayUntil) {
			continue
		}
		p := c.plan(a)
		if p.launch == 0 {
			continue
		}
		d := &demand{a: a, n: p.launch}
		for _, inst := range c.instancesOf(id) {
			if inst.active() {
				d.placed = append(d.placed, inst.target())
			}
		}
		wants = append(wants, d)
	}
	sort.SliceStable(offers, func(i, j int) bool { return offers[i].Hostname < offers[j].Hostname })
	var decline []wire.OfferID
	for _, o := range offers {
		left := o.Resources
		var tasks []wire.TaskInfo
		var launched []*Instance
		here := constraint.Target{Hostname: o.Hostname, Attributes: o.Attributes}
		for _, d := range wants {
			for d.n > 0 {
				ports, reason := fit(d.a.spec, left)
				if reason == "" {
					if err := constraint.CheckAll(d.a.constraints, here, d.placed); err != nil {
						reason = err.Error()
					}
				}
				if reason != "" {
					d.a.placeFail[o.Hostname] = placeNote{reason: reason, at: now}
					break
				}
				delete(d.a.placeFail, o.Hostname)
				inst := &Instance{
					ID: wire.TaskID(wire.NewID(d.a.rec.ID + "_")), App: d.a.rec.ID, Config: d.a.rec.Config,
					AgentID: o.AgentID, Hostname: o.Hostname, Attributes: o.Attributes, Ports: ports,
					State: wire.TaskStaging, LaunchedAt: now, HasChecks: len(d.a.spec.HealthChecks) > 0,
				}
				info := taskInfo(d.a.spec, inst)
				left = left.Sub(info.Resources)
				tasks = append(tasks, info)
				launched = append(launched, inst)
				d.placed = append(d.placed, here)
				d.n--
			}
		}
		if len(tasks) == 0 {
			decline = append(decline, o.ID)
			continue
		}
		c.launch(ctx, o, tasks, launched)
	}
	if len(decline) > 0 && c.drv() != nil {
		refuse := refuseIdle
		for _, d := range wants {
			if d.n > 0 {
				refuse = refuseUnfit
			}
		}
		if err := c.drv().Decline(ctx, decline, refuse); err != nil {
			c.log.Debug("decline failed", "err", err)
		} else {
			c.count.offersDeclined += uint64(len(decline))
		}
	}
	c.evaluate(ctx)
}

// launch records the new instances, then asks for their tasks.
func (c *Controller) launch(ctx context.Context, o wire.Offer, tasks []wire.TaskInfo, insts []*Instance) {
	for _, inst := range insts {
		c.instances[inst.ID] = inst
		c.saveInstance(inst)
		c.reconciled[inst.ID] = inst.LaunchedAt
		a := c.apps[inst.App]
		c.step(a.running(), "launching instance %s on %s (ports %v)", inst.ID, inst.Hostname, inst.Ports)
		c.emit(events.Event{Type: events.InstanceStatus, App: inst.App, Instance: string(inst.ID), Version: inst.Config,
			State: string(wire.TaskStaging), Message: "launching on " + inst.Hostname})
	}
	if c.drv() == nil {
		return
	}
	if err := c.drv().Launch(ctx, o, tasks...); err != nil {
		// The master may or may not have the tasks: ask it. Tasks it
		// does not know come back TASK_UNKNOWN and are replaced.
		c.log.Warn("launch failed; reconciling", "agent", o.AgentID, "err", err)
		var rts []wire.ReconcileTask
		for _, t := range tasks {
			rts = append(rts, wire.ReconcileTask{TaskID: t.TaskID, AgentID: o.AgentID})
		}
		_ = c.drv().Reconcile(ctx, rts)
		return
	}
	c.count.offersAccepted++
	c.count.tasksLaunched += uint64(len(tasks))
}

// Update applies a task status update.
func (c *Controller) Update(ctx context.Context, st wire.TaskStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count.updates[st.State]++
	inst := c.instances[st.TaskID]
	if inst == nil {
		// A task the framework does not (or no longer) know: an instance
		// expunged after its agent came back, or one of a removed app.
		if !st.State.Terminal() && st.State != wire.TaskUnknown && st.State != wire.TaskUnreachable && c.drv() != nil {
			c.log.Info("killing unknown task", "task", st.TaskID, "state", st.State)
			if err := c.drv().Kill(ctx, st.TaskID, st.AgentID); err != nil {
				c.log.Warn("kill of unknown task failed", "task", st.TaskID, "err", err)
			}
		}
		return
	}
	delete(c.reconciled, inst.ID)
	now := c.cfg.Now()
	prev := inst.State
	a := c.apps[inst.App]
	if st.State.Terminal() || st.State == wire.TaskUnknown {
		c.ended(ctx, a, inst, st)
		c.evaluate(ctx)
		return
	}
	inst.State = st.State
	if st.Message != "" || st.State != prev {
		inst.Message = st.Message
	}
	switch st.State {
	case wire.TaskRunning:
		if inst.RunningAt.IsZero() {
			inst.RunningAt = now
		}
		if !inst.UnreachableAt.IsZero() {
			inst.UnreachableAt = time.Time{}
			if inst.Inactive && !inst.Killing {
				c.kill(ctx, inst, "came back after it was replaced", false)
			}
		}
	case wire.TaskUnreachable:
		if inst.UnreachableAt.IsZero() {
			inst.UnreachableAt = now
		}
	}
	if a != nil && a.rec.Deleting && !inst.Killing {
		c.kill(ctx, inst, "app removed", false)
	}
	c.watchIfRunning(inst)
	if st.State == wire.TaskRunning && st.Healthy != nil && a != nil {
		c.agentHealth(ctx, a, inst, *st.Healthy, st.Message)
	}
	if st.State != prev {
		c.saveInstance(inst)
		c.emit(events.Event{Type: events.InstanceStatus, App: inst.App, Instance: string(inst.ID), Version: inst.Config,
			State: string(st.State), Message: st.Message})
		if a != nil && st.State == wire.TaskRunning && !inst.HasChecks {
			c.step(a.running(), "instance %s running on %s", inst.ID, inst.Hostname)
		}
	}
	c.evaluate(ctx)
}

// ended handles the end of an instance's task.
func (c *Controller) ended(ctx context.Context, a *app, inst *Instance, st wire.TaskStatus) {
	inst.State, inst.Message = st.State, st.Message
	if st.State == wire.TaskUnknown {
		inst.Message = "the master does not know the task: " + st.Message
	}
	if st.Reason == wire.ReasonTaskUnhealthy {
		inst.Message = "killed by its agent: the COMMAND health check failed too many times in a row"
		if cs := c.checks[inst.ID]; a != nil {
			if i := agentCheckIndex(a.configSpec(inst.Config)); i >= 0 && i < len(cs) && cs[i].lastErr != "" {
				inst.Message += ": " + cs[i].lastErr
			}
		}
	}
	if err := c.cfg.Store.Delete(bucketInstances, string(inst.ID)); err != nil {
		c.log.Error("cannot delete instance", "instance", inst.ID, "err", err)
	}
	c.forget(inst)
	c.count.ended[st.State]++
	c.emit(events.Event{Type: events.InstanceStatus, App: inst.App, Instance: string(inst.ID), Version: inst.Config,
		State: string(st.State), Message: inst.Message})
	if a == nil {
		return
	}
	a.ended = append(a.ended, cloneInstance(inst))
	if len(a.ended) > maxEnded {
		a.ended = a.ended[1:]
	}
	if a.rec.Deleting {
		return
	}
	d := a.running()
	if inst.Killing && !inst.KillIsFailure {
		c.step(d, "instance %s stopped (%s)", inst.ID, inst.KillReason)
		return
	}
	c.step(d, "instance %s on %s ended: %s %s", inst.ID, inst.Hostname, st.State, inst.Message)
	c.count.restarts++
	if appFault(st, inst) && inst.Config == a.rec.Config {
		c.backoff(a, inst, st)
	}
	c.wantOffers(ctx)
}

// appFault reports whether an end counts against the app for restart
// backoff: it failed, exited, or failed its health checks — not when its
// agent was lost or the master never heard of it.
func appFault(st wire.TaskStatus, inst *Instance) bool {
	if inst.KillIsFailure {
		return true
	}
	switch st.State {
	case wire.TaskFailed, wire.TaskFinished, wire.TaskError:
		return true
	case wire.TaskKilled:
		return !inst.Killing
	}
	return false
}

func (c *Controller) backoff(a *app, inst *Instance, st wire.TaskStatus) {
	a.failures++
	b := a.spec.Backoff
	delay := float64(b.Initial.D()) * math.Pow(b.Factor, float64(a.failures-1))
	delay = min(delay, float64(b.Max.D()))
	a.delayUntil = c.cfg.Now().Add(time.Duration(delay))
	why := string(st.State)
	switch {
	case inst.KillIsFailure:
		why = inst.KillReason
	case st.Reason == wire.ReasonTaskUnhealthy:
		why = "unhealthy: " + inst.Message
	}
	c.emit(events.Event{Type: events.AppBackoff, App: a.rec.ID, Instance: string(inst.ID), Version: inst.Config,
		Message: fmt.Sprintf("instance failed (%s); next launch in %s (failure %d in a row)", why, time.Duration(delay), a.failures)})
}

// HealthResult applies one result of a check the framework probes (HTTP
// or TCP). An instance whose check fails max_consecutive_failures times in
// a row after its grace period is killed, and that counts as a failure
// for restart backoff.
func (c *Controller) HealthResult(ctx context.Context, r health.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	inst := c.instances[wireTaskID(r.Instance)]
	if inst == nil || inst.State != wire.TaskRunning || inst.Killing || !c.watched[inst.ID] {
		return
	}
	a := c.apps[inst.App]
	if a == nil || r.Check < 0 || r.Check >= len(c.checks[inst.ID]) || health.RunByAgent(a.configSpec(inst.Config).HealthChecks[r.Check]) {
		return
	}
	c.checkResult(ctx, a, inst, r.Check, r.OK, r.Message)
	c.evaluate(ctx)
}

// agentCheckFailing describes a failing COMMAND check the agent reported
// without a message (or before a restart, which keeps only the verdict).
const agentCheckFailing = "the agent reported the COMMAND check failing"

// agentHealth applies the health an agent reported on a RUNNING update:
// the result of the COMMAND check it runs for the instance. The agent
// reports changes only, and it kills the task itself (reason
// REASON_TASK_UNHEALTHY, which counts for restart backoff when the update
// comes) after max_consecutive_failures; the framework does not kill for
// this check, so a task is not killed twice.
func (c *Controller) agentHealth(ctx context.Context, a *app, inst *Instance, ok bool, msg string) {
	if inst.Killing || !c.watched[inst.ID] {
		return
	}
	i := agentCheckIndex(a.configSpec(inst.Config))
	if i < 0 || i >= len(c.checks[inst.ID]) {
		return
	}
	if inst.AgentHealthy == nil || *inst.AgentHealthy != ok {
		inst.AgentHealthy = &ok
		c.saveInstance(inst)
	}
	if !ok && msg == "" {
		msg = agentCheckFailing
	}
	c.checkResult(ctx, a, inst, i, ok, msg)
}

// checkResult records one outcome of the instance's check idx and
// updates the instance's health. Failures before the first success within
// the check's grace period (from when the instance was seen running) are
// not counted: the health stays unknown.
func (c *Controller) checkResult(ctx context.Context, a *app, inst *Instance, idx int, ok bool, msg string) {
	check := a.configSpec(inst.Config).HealthChecks[idx]
	now := c.cfg.Now()
	s := &c.checks[inst.ID][idx]
	if ok {
		s.passed, s.failures, s.lastErr = true, 0, ""
	} else {
		s.lastErr = msg
		if !s.passed && now.Before(inst.RunningAt.Add(check.GracePeriod.D())) {
			return // still starting
		}
		s.failures++
		c.count.healthFailures++
	}
	s.ok = &ok
	c.setHealth(a, inst, msg)
	if !ok && !health.RunByAgent(check) && check.MaxFailures() > 0 && s.failures >= check.MaxFailures() {
		c.kill(ctx, inst, fmt.Sprintf("unhealthy: %d consecutive %s check failures: %s", s.failures, check.Protocol, msg), true)
	}
}

// setHealth sets the instance's health from its checks' last results:
// healthy when all pass, unhealthy when one fails, unknown otherwise.
func (c *Controller) setHealth(a *app, inst *Instance, msg string) {
	h := HealthHealthy
	for _, x := range c.checks[inst.ID] {
		switch {
		case x.ok == nil:
			if h == HealthHealthy {
				h = HealthUnknown
			}
		case !*x.ok:
			h = HealthUnhealthy
		}
	}
	if h == inst.Health {
		return
	}
	inst.Health = h
	if h == HealthHealthy {
		inst.HealthySince = c.cfg.Now()
		msg = "all checks pass"
	}
	c.saveInstance(inst)
	c.emit(events.Event{Type: events.InstanceHealth, App: inst.App, Instance: string(inst.ID), Version: inst.Config, State: string(h), Message: msg})
	if h != HealthUnknown {
		c.step(a.running(), "instance %s on %s is %s", inst.ID, inst.Hostname, h)
	}
}

// countAgentFailures counts a failure the agent reported within the
// instance's grace period once that period is over: the agent reports
// only changes, so no later report would.
func (c *Controller) countAgentFailures(ctx context.Context, a *app, inst *Instance) {
	i := agentCheckIndex(a.configSpec(inst.Config))
	cs := c.checks[inst.ID]
	if i < 0 || i >= len(cs) || inst.Killing || inst.State != wire.TaskRunning {
		return
	}
	if s := cs[i]; s.ok == nil && !s.passed && s.lastErr != "" {
		c.checkResult(ctx, a, inst, i, false, s.lastErr)
	}
}

func wireTaskID(s string) wire.TaskID { return wire.TaskID(s) }

// Tick runs the timers: unreachable instances become inactive (and are
// replaced) and are later expunged; kills are resent; instances stuck
// staging are reconciled; backoff is reset after a healthy stretch;
// deployments are checked for deadlines and stalls; offers are revived
// or suppressed as launches are wanted or not.
func (c *Controller) Tick(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	var stale []wire.ReconcileTask
	ids := make([]wire.TaskID, 0, len(c.instances))
	for id := range c.instances {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		inst := c.instances[id]
		a := c.apps[inst.App]
		if a == nil {
			continue
		}
		sp := a.configSpec(inst.Config)
		c.countAgentFailures(ctx, a, inst)
		if inst.State == wire.TaskUnreachable && !inst.UnreachableAt.IsZero() {
			gone := now.Sub(inst.UnreachableAt)
			if gone >= sp.Unreachable.ExpungeAfter.D() {
				if err := c.cfg.Store.Delete(bucketInstances, string(inst.ID)); err != nil {
					c.log.Error("cannot expunge instance", "instance", inst.ID, "err", err)
					continue
				}
				c.forget(inst)
				inst.Message = fmt.Sprintf("expunged after %s unreachable", gone.Round(time.Second))
				a.ended = append(a.ended, cloneInstance(inst))
				c.emit(events.Event{Type: events.InstanceStatus, App: inst.App, Instance: string(inst.ID), Version: inst.Config, State: "EXPUNGED", Message: inst.Message})
				continue
			}
			if !inst.Inactive && gone >= sp.Unreachable.InactiveAfter.D() {
				inst.Inactive = true
				c.saveInstance(inst)
				msg := fmt.Sprintf("unreachable for %s on %s; replacing it", gone.Round(time.Millisecond), inst.Hostname)
				c.emit(events.Event{Type: events.InstanceInactive, App: inst.App, Instance: string(inst.ID), Version: inst.Config, Message: msg})
				c.step(a.running(), "instance %s %s", inst.ID, msg)
			}
		}
		if inst.Killing && inst.State != wire.TaskUnreachable && now.Sub(inst.KillSentAt) >= max(2*sp.KillGrace.D(), 5*time.Second) {
			inst.KillSentAt = now
			c.sendKill(ctx, inst)
		}
		if (inst.State == wire.TaskStaging || inst.State == wire.TaskStarting) && now.Sub(c.reconciledAt(inst)) >= c.cfg.ReconcileAfter {
			c.reconciled[inst.ID] = now
			stale = append(stale, wire.ReconcileTask{TaskID: inst.ID, AgentID: inst.AgentID})
		}
	}
	if len(stale) > 0 && c.drv() != nil {
		if err := c.drv().Reconcile(ctx, stale); err != nil {
			c.log.Debug("reconcile failed", "err", err)
		}
	}
	for _, a := range c.apps {
		if a.failures == 0 {
			continue
		}
		for _, inst := range c.instancesOf(a.rec.ID) {
			if inst.Config == a.rec.Config && inst.healthy() && !inst.upSince().IsZero() &&
				now.Sub(inst.upSince()) >= a.spec.Backoff.ResetAfter.D() {
				a.failures, a.delayUntil = 0, time.Time{}
				break
			}
		}
	}
	c.evaluate(ctx)
	c.wantOffers(ctx)
}

func (c *Controller) reconciledAt(inst *Instance) time.Time {
	if t, ok := c.reconciled[inst.ID]; ok {
		return t
	}
	return inst.LaunchedAt
}

// upSince is when the instance became healthy (or started running, for
// apps without checks).
func (i *Instance) upSince() time.Time {
	if i.HasChecks {
		return i.HealthySince
	}
	return i.RunningAt
}

// wantOffers revives offers when launches are wanted (and none came for
// a while) and suppresses them when nothing is wanted.
func (c *Controller) wantOffers(ctx context.Context) {
	if c.drv() == nil {
		return
	}
	now := c.cfg.Now()
	want := false
	for _, a := range c.apps {
		if a.rec.Deleting || now.Before(a.delayUntil) {
			continue
		}
		if c.plan(a).launch > 0 {
			want = true
			break
		}
	}
	switch {
	case want && (c.suppressed || (now.Sub(c.lastOffers) >= c.cfg.ReviveAfter && now.Sub(c.lastRevive) >= c.cfg.ReviveAfter)):
		if err := c.drv().Revive(ctx); err != nil {
			c.log.Debug("revive failed", "err", err)
			return
		}
		c.suppressed, c.lastRevive = false, now
	case !want && !c.suppressed:
		if err := c.drv().Suppress(ctx); err != nil {
			c.log.Debug("suppress failed", "err", err)
			return
		}
		c.suppressed = true
	}
}
