package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/agora-cluster/agora/framework/batch/cron"
	"github.com/agora-cluster/agora/framework/batch/store"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Errors returned by the engine's API. Callers branch on them with
// errors.Is; spec.ErrInvalid marks bad submissions.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrClosed   = errors.New("engine closed")
)

// Driver is what the engine needs from the SDK driver; *sdk.Driver
// implements it, and tests use a fake.
type Driver interface {
	Accept(ctx context.Context, offers []wire.OfferID, ops []wire.Operation, filters wire.Filters) (wire.AcceptResult, error)
	Decline(ctx context.Context, offers []wire.OfferID, refuseSeconds float64) error
	Revive(ctx context.Context, roles ...string) error
	Suppress(ctx context.Context, roles ...string) error
	Kill(ctx context.Context, task wire.TaskID, agent wire.AgentID) error
	Reconcile(ctx context.Context, tasks ...wire.ReconcileTask) (wire.ReconcileResult, error)
	Acknowledge(ctx context.Context, s wire.TaskStatus) error
}

// Config configures an Engine.
type Config struct {
	Store *store.Store
	// Clock tells the time for retries, timeouts and cron (default: the
	// system clock).
	Clock  cron.Clock
	Logger *slog.Logger
	// HistoryLimit is how many runs (including MISSED and SKIPPED
	// records) are kept per job (default 100).
	HistoryLimit int
	// LostLimit is how many times one instance may be lost through no
	// fault of its own (agent gone, task unknown) before its run fails
	// (default 20).
	LostLimit int
	// TickInterval is how often timeouts, retries and cron are checked
	// (default 200 ms).
	TickInterval time.Duration
	// ReconcileAfter is how long an attempt may wait for news (launching,
	// or killed but not yet ended) before it is reconciled or killed
	// again (default 10 s).
	ReconcileAfter time.Duration
	// ReconcileEvery is how often every active attempt is reconciled
	// anyway (default 5 min).
	ReconcileEvery time.Duration
	// DeclineRefuse is the filter, in seconds, on offers (or leftovers)
	// declined while there is work waiting (default 1); with no work
	// waiting offers are declined for 30 s and offers are suppressed.
	DeclineRefuse float64
	// ReviveInterval is the least time between two revives (default 50 ms).
	ReviveInterval time.Duration
	// Roles are the framework's roles, for revive and suppress (none: all).
	Roles []string
}

func (c *Config) defaults() {
	if c.Clock == nil {
		c.Clock = cron.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.HistoryLimit <= 0 {
		c.HistoryLimit = 100
	}
	if c.LostLimit <= 0 {
		c.LostLimit = 20
	}
	if c.TickInterval <= 0 {
		c.TickInterval = 200 * time.Millisecond
	}
	if c.ReconcileAfter <= 0 {
		c.ReconcileAfter = 10 * time.Second
	}
	if c.ReconcileEvery <= 0 {
		c.ReconcileEvery = 5 * time.Minute
	}
	if c.DeclineRefuse <= 0 {
		c.DeclineRefuse = 1
	}
	if c.ReviveInterval <= 0 {
		c.ReviveInterval = 50 * time.Millisecond
	}
}

// Engine is the batch scheduler.
type Engine struct {
	cfg   Config
	st    *store.Store
	clock cron.Clock
	log   *slog.Logger

	// flushMu serialises flushes, so commits (and their acks) keep order.
	// launches counts offer batches being committed and launched.
	launches sync.WaitGroup
	flushMu  sync.Mutex

	mu        sync.Mutex
	closed    bool
	drv       Driver
	jobs      map[string]*jobState
	runs      map[uint64]*run // active runs
	attempts  map[wire.TaskID]*attemptRef
	lastRunID uint64
	agents    map[wire.AgentID]map[string]string // attributes (and hostname) from offers
	// offer flow control
	suppressed    bool
	wantRevive    bool
	lastRevive    time.Time
	lastFullRecon time.Time
	// persistence
	dirty dirtySet
	// ackq holds applied updates whose effect is not yet committed;
	// pendingAcks those committed and not yet acknowledged.
	ackq        []wire.TaskStatus
	pendingAcks []wire.TaskStatus
	outbox      []outMsg
	changed     chan struct{} // closed and replaced on every committed change
	kick        chan struct{}
	flushCh     chan struct{}
	// subscribed and count are for metrics (see Stats).
	subscribed bool
	count      counters
}

// New loads the engine's state from the store.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil {
		return nil, errors.New("engine: Store is required")
	}
	cfg.defaults()
	e := &Engine{
		cfg:      cfg,
		st:       cfg.Store,
		clock:    cfg.Clock,
		log:      cfg.Logger,
		jobs:     map[string]*jobState{},
		runs:     map[uint64]*run{},
		attempts: map[wire.TaskID]*attemptRef{},
		agents:   map[wire.AgentID]map[string]string{},
		dirty:    newDirtySet(),
		count:    newCounters(),
		changed:  make(chan struct{}),
		kick:     make(chan struct{}, 1),
		flushCh:  make(chan struct{}, 1),
	}
	if err := e.load(); err != nil {
		return nil, err
	}
	return e, nil
}

// load rebuilds the in-memory state from the store.
func (e *Engine) load() error {
	jobs, err := e.st.Jobs()
	if err != nil {
		return err
	}
	for _, j := range jobs {
		js, err := newJobState(j)
		if err != nil {
			return fmt.Errorf("engine: job %s: %w", j.Spec.Name, err)
		}
		if js.history, err = e.st.JobRunIDs(j.Spec.Name); err != nil {
			return err
		}
		e.jobs[j.Spec.Name] = js
	}
	if e.lastRunID, err = e.st.LastRunID(); err != nil {
		return err
	}
	runs, err := e.st.ActiveRuns()
	if err != nil {
		return err
	}
	now := e.clock.Now()
	for _, rec := range runs {
		js := e.jobs[rec.Job]
		if js == nil {
			e.log.Warn("active run of a job that no longer exists; dropped", "run", rec.ID, "job", rec.Job)
			continue
		}
		atts, err := e.st.Attempts(rec.ID)
		if err != nil {
			return err
		}
		r := e.restoreRun(rec, atts, now)
		e.runs[r.rec.ID] = r
		js.active[r.rec.ID] = r
		e.lastRunID = max(e.lastRunID, rec.ID)
	}
	for _, id := range e.activeRunIDs() {
		e.checkRunDone(e.runs[id], now)
	}
	e.wantRevive = true
	e.log.Info("state loaded", "jobs", len(e.jobs), "active_runs", len(e.runs), "active_attempts", len(e.attempts))
	return nil
}

func (e *Engine) activeRunIDs() []uint64 {
	ids := make([]uint64, 0, len(e.runs))
	for id := range e.runs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// Run runs the engine's background work (flushing, acknowledging,
// housekeeping) until ctx ends; it flushes once more before returning.
func (e *Engine) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); e.flushLoop(ctx) }()
	go func() { defer wg.Done(); e.tickLoop(ctx) }()
	wg.Wait()
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.launches.Wait()
	return e.flush(context.Background())
}

func (e *Engine) flushLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.flushCh:
		}
		if err := e.flush(ctx); err != nil {
			e.log.Error("commit failed; will retry", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
				e.requestFlush()
			}
			continue
		}
		e.sendAcks(ctx)
	}
}

func (e *Engine) tickLoop(ctx context.Context) {
	t := time.NewTicker(e.cfg.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.kick:
		}
		e.tick(ctx)
	}
}

// kickTick asks the housekeeping loop to run soon. e.mu may be held.
func (e *Engine) kickTick() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// Changed returns a channel that is closed at the next committed change;
// watchers (the API's wait) use it to avoid polling.
func (e *Engine) Changed() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changed
}
