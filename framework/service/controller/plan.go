package controller

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/agora-cluster/agora/framework/service/events"
	"github.com/agora-cluster/agora/framework/service/spec"
	"github.com/agora-cluster/agora/framework/service/store"
	"github.com/agora-cluster/agora/sdk/wire"
)

// plan is what an app needs now.
type plan struct {
	want        int // instances wanted
	newActive   int // active instances of the target config
	newHealthy  int
	oldActive   int // active instances of other configs
	oldHealthy  int
	stopping    int // instances being killed, not yet ended
	minHealthy  int // during a rollout
	launch      int // instances to launch now (before backoff)
	killOld     int // old instances in kill
	kill        []*Instance
	killReasons []string
	done        bool
}

// plan computes what app a needs: which instances to kill and how many to
// launch, keeping — while old-config instances remain — at least
// ceil(instances × min_health_capacity) healthy and at most
// instances + floor(instances × max_over_capacity) active (one more if
// those bounds leave no room to replace anything, as Marathon does).
func (c *Controller) plan(a *app) plan {
	p := plan{want: a.spec.Instances}
	var olds, news []*Instance
	for _, inst := range c.instancesOf(a.rec.ID) {
		switch {
		case inst.Killing:
			if inst.State != wire.TaskUnreachable {
				p.stopping++
			}
		case inst.Inactive:
		case inst.Config == a.rec.Config:
			news = append(news, inst)
			if inst.healthy() {
				p.newHealthy++
			}
		default:
			olds = append(olds, inst)
			if inst.healthy() {
				p.oldHealthy++
			}
		}
	}
	p.newActive, p.oldActive = len(news), len(olds)
	kill := func(inst *Instance, reason string) {
		p.kill = append(p.kill, inst)
		p.killReasons = append(p.killReasons, reason)
	}
	if len(news) > p.want {
		for _, inst := range c.killOrder(a, news)[:len(news)-p.want] {
			kill(inst, fmt.Sprintf("scaled down to %d", p.want))
		}
		p.newActive = p.want
		p.newHealthy = 0
		for _, inst := range news {
			if inst.healthy() && !contains(p.kill, inst) {
				p.newHealthy++
			}
		}
	}
	if len(olds) == 0 {
		p.launch = max(0, p.want-p.newActive)
		p.done = p.newActive == p.want && p.newHealthy == p.want && p.stopping == 0
		return p
	}
	p.minHealthy = int(math.Ceil(float64(p.want)*a.spec.Upgrade.MinHealth() - 1e-9))
	maxTotal := p.want + int(math.Floor(float64(p.want)*a.spec.Upgrade.MaxOver()+1e-9))
	if maxTotal <= p.minHealthy {
		maxTotal = p.minHealthy + 1
	}
	// Unhealthy old instances go at once: they add nothing to capacity.
	// Healthy ones go as long as enough healthy instances remain.
	budget := p.oldHealthy + p.newHealthy - p.minHealthy
	remaining := len(olds)
	for _, inst := range c.killOrder(a, olds) {
		switch {
		case !inst.healthy():
			kill(inst, "replaced by the new version (old instance not healthy)")
		case budget > 0:
			budget--
			kill(inst, "replaced by the new version")
		default:
			continue
		}
		p.killOld++
		remaining--
	}
	p.launch = max(0, min(p.want-p.newActive, maxTotal-remaining-p.newActive))
	return p
}

func contains(list []*Instance, inst *Instance) bool {
	for _, x := range list {
		if x == inst {
			return true
		}
	}
	return false
}

// killOrder sorts instances in the order to kill them: those not running
// or not healthy first, then by the app's kill selection.
func (c *Controller) killOrder(a *app, list []*Instance) []*Instance {
	out := append([]*Instance(nil), list...)
	youngest := a.spec.KillSelection != spec.OldestFirst
	rank := func(i *Instance) int {
		switch {
		case i.State != wire.TaskRunning:
			return 0
		case !i.healthy():
			return 1
		}
		return 2
	}
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := rank(out[i]), rank(out[j])
		if ri != rj {
			return ri < rj
		}
		if youngest {
			return out[i].LaunchedAt.After(out[j].LaunchedAt)
		}
		return out[i].LaunchedAt.Before(out[j].LaunchedAt)
	})
	return out
}

// evaluate applies every app's plan: kills what must go, finishes,
// fails or rolls back deployments, finishes removals. It runs after
// every input.
func (c *Controller) evaluate(ctx context.Context) {
	ids := make([]string, 0, len(c.apps))
	for id := range c.apps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if a := c.apps[id]; a != nil {
			c.evaluateApp(ctx, a)
		}
	}
}

func (c *Controller) evaluateApp(ctx context.Context, a *app) {
	now := c.cfg.Now()
	if a.rec.Deleting {
		c.evaluateRemoval(ctx, a)
		return
	}
	p := c.plan(a)
	d := a.running()
	for i, inst := range p.kill {
		c.kill(ctx, inst, p.killReasons[i], false)
		c.step(d, "killing instance %s on %s: %s", inst.ID, inst.Hostname, p.killReasons[i])
	}
	if d == nil {
		return
	}
	d.Waiting = c.waiting(a, p)
	key := fmt.Sprintf("%d/%d/%d/%d/%d", p.newActive, p.newHealthy, p.oldActive, p.oldHealthy, p.stopping)
	if key != d.progressKey {
		d.progressKey, d.lastProgress = key, now
		if d.Stalled {
			d.Stalled = false
			c.step(d, "progressing again")
		}
	}
	switch {
	case p.oldActive == 0 && p.done:
		c.finishDeployment(a, d, DeploymentSucceeded, fmt.Sprintf("%d of %d instances healthy on version %d", p.newHealthy, p.want, d.ToVersion))
		a.rec.Stable = d.ToVersion
		_ = c.saveApp(a)
	case !d.Deadline.IsZero() && now.After(d.Deadline):
		c.deadlinePassed(ctx, a, d)
	case !d.Stalled && now.Sub(d.lastProgress) >= c.cfg.StallAfter:
		d.Stalled = true
		c.step(d, "stalled for %s: %s", c.cfg.StallAfter, d.Waiting)
		c.emit(events.Event{Type: events.DeploymentStalled, App: a.rec.ID, Version: d.ToVersion, Deployment: d.ID, Message: d.Waiting})
	}
}

// waiting says what an app waits for, for status and stalled deployments.
func (c *Controller) waiting(a *app, p plan) string {
	now := c.cfg.Now()
	var parts []string
	if missing := p.want - p.newActive; missing > 0 {
		switch {
		case now.Before(a.delayUntil):
			parts = append(parts, fmt.Sprintf("launch of %d instance(s) delayed by restart backoff until %s (%d failure(s) in a row)",
				missing, a.delayUntil.Format(time.TimeOnly), a.failures))
		case p.launch == 0:
			parts = append(parts, fmt.Sprintf("%d instance(s) wait for old instances to stop (max_over_capacity %g)", missing, a.spec.Upgrade.MaxOver()))
		default:
			msg := fmt.Sprintf("waiting for offers for %d instance(s)", p.launch)
			if s := a.placeSummary(); s != "" {
				msg += ": " + s
			} else if c.lastOffers.IsZero() || now.Sub(c.lastOffers) > c.cfg.ReviveAfter {
				msg += ": no offers received recently"
			}
			parts = append(parts, msg)
		}
	}
	if n := p.newActive - p.newHealthy; n > 0 {
		msg := fmt.Sprintf("waiting for %d instance(s) of version %d to become healthy", n, a.rec.Version)
		if failing, sample := c.failingChecks(a); failing > 0 {
			msg += fmt.Sprintf(" (%d failing health checks, e.g. %s)", failing, sample)
		}
		parts = append(parts, msg)
	}
	if kept := p.oldActive - p.killOld; kept > 0 {
		parts = append(parts, fmt.Sprintf("keeping %d old instance(s) until new ones are healthy (min_health_capacity needs %d healthy)", kept, p.minHealthy))
	}
	if p.stopping > 0 {
		parts = append(parts, fmt.Sprintf("waiting for %d instance(s) to stop", p.stopping))
	}
	return strings.Join(parts, "; ")
}

// failingChecks counts the app's current instances whose last check
// failed, and returns one of the failures.
func (c *Controller) failingChecks(a *app) (int, string) {
	n, sample := 0, ""
	for _, inst := range c.instancesOf(a.rec.ID) {
		if inst.Config != a.rec.Config || !inst.active() {
			continue
		}
		for _, cs := range c.checks[inst.ID] {
			if cs.lastErr != "" {
				n++
				if sample == "" {
					sample = cs.lastErr
				}
				break
			}
		}
	}
	return n, sample
}

func (c *Controller) finishDeployment(a *app, d *Deployment, state DeploymentState, msg string) {
	d.State, d.Finished, d.Message, d.Waiting = state, c.cfg.Now(), msg, ""
	c.count.deployments[state]++
	c.step(d, "%s: %s", state, msg)
	c.emit(events.Event{Type: events.DeploymentFinished, App: a.rec.ID, Version: d.ToVersion, Deployment: d.ID, State: string(state), Message: msg})
}

// deadlinePassed fails d, rolling back to the last stable version when
// the deployment asks for it.
func (c *Controller) deadlinePassed(ctx context.Context, a *app, d *Deployment) {
	why := fmt.Sprintf("deadline passed after %s", d.Deadline.Sub(d.Started).Round(time.Millisecond))
	if d.Waiting != "" {
		why += " while " + d.Waiting
	}
	if !d.AutoRollback {
		c.finishDeployment(a, d, DeploymentFailed, why)
		return
	}
	to := a.versions[a.rec.Stable]
	if to == nil || a.rec.Stable == a.rec.Version {
		c.finishDeployment(a, d, DeploymentFailed, why+"; no earlier good version to roll back to")
		return
	}
	c.finishDeployment(a, d, DeploymentRolledBack, why+fmt.Sprintf("; rolling back to version %d", to.Version))
	sp := to.Spec.Clone()
	res, err := c.newVersion(ctx, a, sp, to.Restart, KindAutoRollback, fmt.Sprintf("automatic rollback to version %d", to.Version))
	if err != nil {
		c.log.Error("automatic rollback failed", "app", a.rec.ID, "err", err)
		return
	}
	d.RolledBackBy = res.Deployment
	c.saveDeployment(d)
}

func (c *Controller) evaluateRemoval(ctx context.Context, a *app) {
	live := 0
	for _, inst := range c.instancesOf(a.rec.ID) {
		if inst.Inactive {
			continue
		}
		live++
		if !inst.Killing {
			c.kill(ctx, inst, "app removed", false)
		}
	}
	if live > 0 {
		return
	}
	err := c.cfg.Store.Update(func(tx *store.Tx) error {
		if err := tx.Delete(bucketApps, a.rec.ID); err != nil {
			return err
		}
		if err := tx.DeletePrefix(bucketVersions, a.rec.ID+"/"); err != nil {
			return err
		}
		for _, d := range a.deployments {
			if err := tx.Delete(bucketDeployments, d.ID); err != nil {
				return err
			}
		}
		for _, inst := range c.instancesOf(a.rec.ID) {
			if err := tx.Delete(bucketInstances, string(inst.ID)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.log.Error("cannot remove app from the store", "app", a.rec.ID, "err", err)
		return
	}
	for _, inst := range c.instancesOf(a.rec.ID) {
		c.forget(inst)
	}
	delete(c.apps, a.rec.ID)
	c.emit(events.Event{Type: events.AppRemoved, App: a.rec.ID, Message: "all instances stopped; app removed"})
}

// kill asks for an instance to be killed.
func (c *Controller) kill(ctx context.Context, inst *Instance, reason string, failure bool) {
	now := c.cfg.Now()
	inst.Killing, inst.KillReason, inst.KillSentAt = true, reason, now
	inst.KillIsFailure = inst.KillIsFailure || failure
	c.unwatch(inst)
	c.saveInstance(inst)
	c.emit(events.Event{Type: events.InstanceKilled, App: inst.App, Instance: string(inst.ID), Version: inst.Config, Message: reason})
	c.sendKill(ctx, inst)
}

func (c *Controller) sendKill(ctx context.Context, inst *Instance) {
	if c.drv() == nil {
		return
	}
	if err := c.drv().Kill(ctx, inst.ID, inst.AgentID); err != nil {
		c.log.Warn("kill failed; will retry", "instance", inst.ID, "err", err)
	}
}

// forget drops an instance from memory (the caller handles the store).
func (c *Controller) forget(inst *Instance) {
	c.unwatch(inst)
	delete(c.instances, inst.ID)
	delete(c.reconciled, inst.ID)
}
