package controller

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"

	"github.com/agora-cluster/agora/framework/service/events"
	"github.com/agora-cluster/agora/framework/service/spec"
	"github.com/agora-cluster/agora/framework/service/store"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Deploy creates app sp.ID or moves it to a new version with a rolling
// deployment. Deploying a spec equal to the current one changes nothing.
// Invalid specs return a spec.Errors.
func (c *Controller) Deploy(ctx context.Context, sp spec.App) (DeployResult, error) {
	sp = sp.Clone()
	sp.SetDefaults()
	if err := sp.Validate(); err != nil {
		return DeployResult{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.apps[sp.ID]
	if a == nil {
		now := c.cfg.Now()
		a = &app{rec: appRecord{ID: sp.ID, Created: now}, versions: map[int]*Version{}, placeFail: map[string]placeNote{}}
		res, err := c.newVersion(ctx, a, sp, 0, KindDeploy, "created")
		if err != nil {
			return res, err
		}
		c.apps[sp.ID] = a
		c.evaluate(ctx)
		c.wantOffers(ctx)
		return res, nil
	}
	if a.rec.Deleting {
		return DeployResult{}, fmt.Errorf("app %s is being removed: %w", sp.ID, ErrConflict)
	}
	restart := a.versions[a.rec.Version].Restart
	return c.change(ctx, a, sp, restart, KindDeploy, "deployed")
}

// Scale sets an app's instances.
func (c *Controller) Scale(ctx context.Context, id string, instances int) (DeployResult, error) {
	if instances < 0 || instances > spec.MaxInstances {
		return DeployResult{}, spec.Errors{{Field: "instances", Message: fmt.Sprintf("must be between 0 and %d, got %d", spec.MaxInstances, instances)}}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	a, err := c.liveApp(id)
	if err != nil {
		return DeployResult{}, err
	}
	sp := a.spec.Clone()
	sp.Instances = instances
	return c.change(ctx, a, sp, a.versions[a.rec.Version].Restart, KindScale, fmt.Sprintf("scaled to %d", instances))
}

// Restart replaces every instance by a rolling deployment of the same spec.
func (c *Controller) Restart(ctx context.Context, id string) (DeployResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, err := c.liveApp(id)
	if err != nil {
		return DeployResult{}, err
	}
	most := 0
	for _, v := range a.versions {
		most = max(most, v.Restart)
	}
	return c.change(ctx, a, a.spec.Clone(), most+1, KindRestart, "restarted")
}

// Rollback deploys the spec of an earlier version as a new version; to 0
// means the version before the current one.
func (c *Controller) Rollback(ctx context.Context, id string, to int) (DeployResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, err := c.liveApp(id)
	if err != nil {
		return DeployResult{}, err
	}
	if to == 0 {
		to = a.rec.Version - 1
	}
	v := a.versions[to]
	if v == nil || to == a.rec.Version {
		return DeployResult{}, fmt.Errorf("app %s has no version %d to roll back to (current is %d): %w", id, to, a.rec.Version, ErrNotFound)
	}
	return c.change(ctx, a, v.Spec.Clone(), v.Restart, KindRollback, fmt.Sprintf("rolled back to version %d", to))
}

// Remove kills every instance of an app and then forgets it.
func (c *Controller) Remove(ctx context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, err := c.liveApp(id)
	if err != nil {
		return err
	}
	a.rec.Deleting = true
	if err := c.saveApp(a); err != nil {
		return err
	}
	if d := a.running(); d != nil {
		c.finishDeployment(a, d, DeploymentCancelled, "app removed")
	}
	c.emit(events.Event{Type: events.AppRemoved, App: id, State: "removing", Message: "stopping all instances"})
	c.evaluate(ctx)
	return nil
}

func (c *Controller) liveApp(id string) (*app, error) {
	a := c.apps[id]
	if a == nil {
		return nil, fmt.Errorf("app %s: %w", id, ErrNotFound)
	}
	if a.rec.Deleting {
		return nil, fmt.Errorf("app %s is being removed: %w", id, ErrConflict)
	}
	return a, nil
}

// change moves a to sp unless nothing differs.
func (c *Controller) change(ctx context.Context, a *app, sp spec.App, restart int, kind, cause string) (DeployResult, error) {
	cur := a.versions[a.rec.Version]
	if sp.ConfigHash() == cur.Hash && restart == cur.Restart && sp.Instances == a.spec.Instances {
		res := DeployResult{App: a.rec.ID, Version: a.rec.Version, NoChange: true}
		if d := a.running(); d != nil {
			res.Deployment = d.ID
		}
		return res, nil
	}
	res, err := c.newVersion(ctx, a, sp, restart, kind, cause)
	if err != nil {
		return res, err
	}
	c.evaluate(ctx)
	c.wantOffers(ctx)
	return res, nil
}

// newVersion stores a new version of a and starts its deployment,
// superseding a running one.
func (c *Controller) newVersion(_ context.Context, a *app, sp spec.App, restart int, kind, cause string) (DeployResult, error) {
	now := c.cfg.Now()
	v := &Version{Version: a.rec.Version + 1, Hash: sp.ConfigHash(), Restart: restart, Cause: cause, Created: now, Spec: sp}
	v.Config = v.Version
	for n := 1; n < v.Version; n++ { // the first version with this config
		if old := a.versions[n]; old != nil && old.Hash == v.Hash && old.Restart == restart {
			v.Config = old.Config
			break
		}
	}
	from := a.rec.Version
	prev := a.running()
	d := &Deployment{
		ID: wire.NewID("dep-"), App: a.rec.ID, Kind: kind, FromVersion: from, ToVersion: v.Version,
		Instances: sp.Instances, State: DeploymentRunning, Started: now, lastProgress: now,
		AutoRollback: sp.Upgrade.AutoRollback && kind != KindAutoRollback,
	}
	if dl := sp.Upgrade.Deadline.D(); dl > 0 {
		d.Deadline = now.Add(dl)
	}
	rec := a.rec
	rec.Version = v.Version
	configChanged := v.Config != rec.Config
	rec.Config = v.Config
	err := c.cfg.Store.Update(func(tx *store.Tx) error {
		if err := tx.Put(bucketVersions, versionKey(a.rec.ID, v.Version), v); err != nil {
			return err
		}
		if err := tx.Put(bucketDeployments, d.ID, d); err != nil {
			return err
		}
		return tx.Put(bucketApps, rec.ID, rec)
	})
	if err != nil {
		return DeployResult{}, fmt.Errorf("store version: %w", err)
	}
	a.rec = rec
	a.versions[v.Version] = v
	a.setSpec(sp)
	if configChanged {
		a.failures, a.delayUntil = 0, now
	}
	clear(a.placeFail)
	if prev != nil {
		c.finishDeployment(a, prev, DeploymentSuperseded, "superseded by "+d.ID)
	}
	a.deployments = append(a.deployments, d)
	if len(a.deployments) > 20 {
		old := a.deployments[0]
		a.deployments = a.deployments[1:]
		_ = c.cfg.Store.Delete(bucketDeployments, old.ID)
	}
	c.step(d, "%s: version %d (config %d, %d instance(s)) from version %d", kind, v.Version, v.Config, sp.Instances, from)
	c.emit(events.Event{Type: events.AppDeployed, App: a.rec.ID, Version: v.Version, Deployment: d.ID, Message: cause})
	return DeployResult{App: a.rec.ID, Version: v.Version, Deployment: d.ID}, nil
}

// ---- queries ----

// Apps returns every app's status, sorted by ID.
func (c *Controller) Apps() []AppStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]AppStatus, 0, len(c.apps))
	for _, a := range c.apps {
		out = append(out, c.status(a))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// App returns one app's status.
func (c *Controller) App(id string) (AppStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.apps[id]
	if a == nil {
		return AppStatus{}, fmt.Errorf("app %s: %w", id, ErrNotFound)
	}
	return c.status(a), nil
}

func (c *Controller) status(a *app) AppStatus {
	st := AppStatus{
		ID: a.rec.ID, Version: a.rec.Version, Config: a.rec.Config, Stable: a.rec.Stable,
		Deleting: a.rec.Deleting, Instances: a.spec.Instances, Spec: a.spec.Clone(), Tasks: []Instance{},
	}
	for _, inst := range c.instancesOf(a.rec.ID) {
		st.Tasks = append(st.Tasks, cloneInstance(inst))
		if !inst.active() {
			continue
		}
		switch inst.State {
		case wire.TaskRunning:
			st.Running++
		case wire.TaskStaging, wire.TaskStarting:
			st.Staged++
		}
		if inst.healthy() {
			st.Healthy++
		}
	}
	for i := len(a.ended) - 1; i >= 0; i-- {
		st.Ended = append(st.Ended, a.ended[i])
	}
	if a.failures > 0 {
		st.Backoff = &BackoffStatus{Failures: a.failures, Until: a.delayUntil}
	}
	if !a.rec.Deleting {
		st.Waiting = c.waiting(a, c.plan(a))
	}
	if n := len(a.deployments); n > 0 {
		d := cloneDeployment(a.deployments[n-1])
		st.Deployment = &d
	}
	return st
}

// Versions returns an app's versions, oldest first.
func (c *Controller) Versions(id string) ([]Version, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.apps[id]
	if a == nil {
		return nil, fmt.Errorf("app %s: %w", id, ErrNotFound)
	}
	out := make([]Version, 0, len(a.versions))
	for _, v := range a.versions {
		vv := *v
		vv.Spec = v.Spec.Clone()
		out = append(out, vv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Deployment returns a deployment by ID (kept for the app's last 20).
func (c *Controller) Deployment(id string) (Deployment, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.apps {
		for _, d := range a.deployments {
			if d.ID == id {
				return cloneDeployment(d), nil
			}
		}
	}
	return Deployment{}, fmt.Errorf("deployment %s: %w", id, ErrNotFound)
}

// Deployments returns an app's recent deployments, oldest first.
func (c *Controller) Deployments(appID string) ([]Deployment, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.apps[appID]
	if a == nil {
		return nil, fmt.Errorf("app %s: %w", appID, ErrNotFound)
	}
	out := make([]Deployment, 0, len(a.deployments))
	for _, d := range a.deployments {
		out = append(out, cloneDeployment(d))
	}
	return out, nil
}

// Endpoints lists where the app's healthy instances can be reached.
func (c *Controller) Endpoints(id string) ([]Endpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.apps[id]
	if a == nil {
		return nil, fmt.Errorf("app %s: %w", id, ErrNotFound)
	}
	out := []Endpoint{}
	for _, inst := range c.instancesOf(id) {
		if !inst.healthy() {
			continue
		}
		e := Endpoint{Instance: inst.ID, Host: inst.Hostname, Ports: append([]uint64(nil), inst.Ports...)}
		if len(inst.Ports) > 0 {
			e.Address = net.JoinHostPort(c.cfg.ProbeHost(inst.Hostname), strconv.FormatUint(inst.Ports[0], 10))
		}
		out = append(out, e)
	}
	return out, nil
}

func cloneInstance(inst *Instance) Instance {
	out := *inst
	out.Ports = append([]uint64(nil), inst.Ports...)
	if inst.Attributes != nil {
		out.Attributes = make(map[string]string, len(inst.Attributes))
		for k, v := range inst.Attributes {
			out.Attributes[k] = v
		}
	}
	return out
}

func cloneDeployment(d *Deployment) Deployment {
	out := *d
	out.Steps = append([]Step(nil), d.Steps...)
	return out
}
