// Package controller is the service framework's brain: it keeps each
// app's instances running and healthy, answers offers, restarts failed
// instances with backoff, replaces instances on unreachable agents, and
// rolls out new versions within the app's capacity bounds, rolling back
// when a deployment misses its deadline.
//
// The controller is a state machine driven by its inputs — scheduler
// events (offers, updates), health results, API calls and periodic
// ticks — and acting through two small interfaces, [Driver] and
// [HealthWatcher], so that tests drive it with fakes and a fake clock.
// Every method is safe for concurrent use; inputs are applied one at a
// time under one lock, and calls to the driver are made under it, in
// order.
package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/agora-cluster/agora/framework/service/events"
	"github.com/agora-cluster/agora/framework/service/health"
	"github.com/agora-cluster/agora/framework/service/spec"
	"github.com/agora-cluster/agora/framework/service/store"
	"github.com/agora-cluster/agora/sdk/constraint"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Errors callers branch on.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// Driver is what the controller asks of the master (an sdk.Driver
// through an adapter, or a fake in tests).
type Driver interface {
	Launch(ctx context.Context, offer wire.Offer, tasks ...wire.TaskInfo) error
	Decline(ctx context.Context, offers []wire.OfferID, refuseSeconds float64) error
	Kill(ctx context.Context, task wire.TaskID, agent wire.AgentID) error
	Revive(ctx context.Context) error
	Suppress(ctx context.Context) error
	Reconcile(ctx context.Context, tasks []wire.ReconcileTask) error
}

// HealthWatcher probes running instances (a *health.Runner, or a fake);
// results come back through [Controller.HealthResult].
type HealthWatcher interface {
	Watch(id string, checks []spec.HealthCheck, t health.Target)
	Unwatch(id string)
}

// Config configures a Controller.
type Config struct {
	Store  *store.Store
	Driver Driver
	Health HealthWatcher
	// Events receives every event (nil: none). It is called with the
	// controller's lock held and must not block or call back.
	Events func(events.Event)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// ProbeHost maps an agent's hostname to the host the framework
	// reaches it at, for health checks and endpoints (default: as is).
	ProbeHost func(hostname string) string
	// StallAfter marks a deployment stalled when it made no progress for
	// this long (default 15s).
	StallAfter time.Duration
	// ReviveAfter re-revives offers when launches are wanted and no
	// offer came for this long (default 3s).
	ReviveAfter time.Duration
	// ReconcileAfter asks the master about instances still staging after
	// this long (default 30s).
	ReconcileAfter time.Duration
	Logger         *slog.Logger
}

// Store buckets.
const (
	bucketApps        = "apps"
	bucketVersions    = "versions"
	bucketInstances   = "instances"
	bucketDeployments = "deployments"
)

// Controller keeps apps running. Build it with New, then Load.
type Controller struct {
	cfg Config
	log *slog.Logger

	mu         sync.Mutex
	apps       map[string]*app
	instances  map[wire.TaskID]*Instance
	checks     map[wire.TaskID][]checkState
	watched    map[wire.TaskID]bool
	reconciled map[wire.TaskID]time.Time
	connected  bool // subscribed: the driver may be called
	suppressed bool
	lastRevive time.Time
	lastOffers time.Time
	count      counters // for metrics (see Stats)
}

// app is an app's in-memory state.
type app struct {
	rec         appRecord
	spec        spec.App
	constraints []constraint.Constraint
	versions    map[int]*Version
	deployments []*Deployment // oldest first; the last may be running

	failures   int
	delayUntil time.Time
	placeFail  map[string]placeNote
	ended      []Instance
}

type placeNote struct {
	reason string
	at     time.Time
}

type checkState struct {
	passed   bool // ever passed
	ok       *bool
	failures int
	lastErr  string // the last failure, also within the grace period
}

// New builds a controller.
func New(cfg Config) (*Controller, error) {
	if cfg.Store == nil {
		return nil, errors.New("controller: Store is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ProbeHost == nil {
		cfg.ProbeHost = func(h string) string { return h }
	}
	if cfg.StallAfter <= 0 {
		cfg.StallAfter = 15 * time.Second
	}
	if cfg.ReviveAfter <= 0 {
		cfg.ReviveAfter = 3 * time.Second
	}
	if cfg.ReconcileAfter <= 0 {
		cfg.ReconcileAfter = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Controller{
		cfg:        cfg,
		log:        cfg.Logger,
		apps:       map[string]*app{},
		instances:  map[wire.TaskID]*Instance{},
		checks:     map[wire.TaskID][]checkState{},
		watched:    map[wire.TaskID]bool{},
		reconciled: map[wire.TaskID]time.Time{},
		count:      newCounters(),
	}, nil
}

// SetDriver sets the driver (it is usually built after the controller,
// since the driver needs the scheduler that wraps the controller).
func (c *Controller) SetDriver(d Driver) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg.Driver = d
}

// drv returns the driver while subscribed, else nil: calls made before
// the driver has subscribed would fail, and the controller makes them
// again (kills, revives) once it is subscribed.
func (c *Controller) drv() Driver {
	if !c.connected {
		return nil
	}
	return c.cfg.Driver
}

// Load reads the store: apps, versions, deployments and instances. It
// starts health checks of instances recorded as running.
func (c *Controller) Load() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.cfg.Store
	recs, err := store.List[appRecord](s, bucketApps, "")
	if err != nil {
		return err
	}
	for _, rec := range recs {
		a := &app{rec: rec, versions: map[int]*Version{}, placeFail: map[string]placeNote{}}
		vs, err := store.List[Version](s, bucketVersions, rec.ID+"/")
		if err != nil {
			return err
		}
		for i := range vs {
			a.versions[vs[i].Version] = &vs[i]
		}
		cur := a.versions[rec.Version]
		if cur == nil {
			return fmt.Errorf("controller: app %s: version %d missing from the store", rec.ID, rec.Version)
		}
		a.setSpec(cur.Spec)
		c.apps[rec.ID] = a
	}
	deps, err := store.List[Deployment](s, bucketDeployments, "")
	if err != nil {
		return err
	}
	sort.Slice(deps, func(i, j int) bool { return deps[i].Started.Before(deps[j].Started) })
	now := c.cfg.Now()
	for i := range deps {
		d := &deps[i]
		if a := c.apps[d.App]; a != nil {
			d.lastProgress = now
			a.deployments = append(a.deployments, d)
		}
	}
	insts, err := store.List[Instance](s, bucketInstances, "")
	if err != nil {
		return err
	}
	for i := range insts {
		inst := &insts[i]
		c.instances[inst.ID] = inst
		c.watchIfRunning(inst)
	}
	c.log.Info("state loaded", "apps", len(c.apps), "instances", len(c.instances))
	return nil
}

func (a *app) setSpec(sp spec.App) {
	a.spec = sp
	a.constraints, _ = constraint.ParseAll(sp.Constraints) // validated on deploy
}

// running returns the app's running deployment, or nil.
func (a *app) running() *Deployment {
	if n := len(a.deployments); n > 0 && a.deployments[n-1].State == DeploymentRunning {
		return a.deployments[n-1]
	}
	return nil
}

// configSpec returns the spec of config version cfg.
func (a *app) configSpec(cfg int) spec.App {
	if v := a.versions[cfg]; v != nil {
		return v.Spec
	}
	return a.spec
}

// instancesOf returns the app's instances ("": every instance), in
// launch order.
func (c *Controller) instancesOf(id string) []*Instance {
	var out []*Instance
	for _, inst := range c.instances {
		if id == "" || inst.App == id {
			out = append(out, inst)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].LaunchedAt.Equal(out[j].LaunchedAt) {
			return out[i].LaunchedAt.Before(out[j].LaunchedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// ---- persistence and events ----

func (c *Controller) saveInstance(inst *Instance) {
	if err := c.cfg.Store.Put(bucketInstances, string(inst.ID), inst); err != nil {
		c.log.Error("cannot store instance", "instance", inst.ID, "err", err)
	}
}

func (c *Controller) saveApp(a *app) error {
	if err := c.cfg.Store.Put(bucketApps, a.rec.ID, a.rec); err != nil {
		c.log.Error("cannot store app", "app", a.rec.ID, "err", err)
		return err
	}
	return nil
}

func (c *Controller) saveDeployment(d *Deployment) {
	if err := c.cfg.Store.Put(bucketDeployments, d.ID, d); err != nil {
		c.log.Error("cannot store deployment", "deployment", d.ID, "err", err)
	}
}

func versionKey(app string, v int) string { return fmt.Sprintf("%s/%08d", app, v) }

func (c *Controller) emit(e events.Event) {
	if e.Time.IsZero() {
		e.Time = c.cfg.Now()
	}
	if c.cfg.Events != nil {
		c.cfg.Events(e)
	}
}

// step records a deployment step, stores the deployment and emits it.
func (c *Controller) step(d *Deployment, format string, args ...any) {
	if d == nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	d.Steps = append(d.Steps, Step{Time: c.cfg.Now(), Message: msg})
	if len(d.Steps) > maxSteps {
		d.Steps = append(d.Steps[:0:0], d.Steps[len(d.Steps)-maxSteps:]...)
	}
	c.saveDeployment(d)
	c.emit(events.Event{Type: events.DeploymentStep, App: d.App, Version: d.ToVersion, Deployment: d.ID, Message: msg})
}

// ---- health watching ----

// watchIfRunning starts checks of a running instance whose config has
// any, and stops them otherwise. The framework probes HTTP and TCP checks
// through the HealthWatcher; the COMMAND check's results come with the
// agent's updates (see agentHealth), starting from the last one recorded.
func (c *Controller) watchIfRunning(inst *Instance) {
	want := inst.State == wire.TaskRunning && !inst.Killing && inst.HasChecks
	if want == c.watched[inst.ID] {
		return
	}
	if !want {
		c.unwatch(inst)
		return
	}
	a := c.apps[inst.App]
	if a == nil {
		return
	}
	sp := a.configSpec(inst.Config)
	cs := make([]checkState, len(sp.HealthChecks))
	if i := agentCheckIndex(sp); i >= 0 && inst.AgentHealthy != nil {
		if *inst.AgentHealthy {
			ok := true
			cs[i] = checkState{passed: true, ok: &ok}
		} else {
			// Counted by Tick once the grace period is over.
			cs[i] = checkState{lastErr: agentCheckFailing}
		}
	}
	c.checks[inst.ID] = cs
	c.watched[inst.ID] = true
	if c.cfg.Health != nil {
		c.cfg.Health.Watch(string(inst.ID), sp.HealthChecks, health.Target{
			Host:  c.cfg.ProbeHost(inst.Hostname),
			Ports: inst.Ports,
		})
	}
}

func (c *Controller) unwatch(inst *Instance) {
	if c.watched[inst.ID] && c.cfg.Health != nil {
		c.cfg.Health.Unwatch(string(inst.ID))
	}
	delete(c.watched, inst.ID)
	delete(c.checks, inst.ID)
}
