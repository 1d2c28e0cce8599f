package health

import (
	"context"
	"sync"
	"time"

	"github.com/agora-cluster/agora/framework/service/spec"
)

// Result is the outcome of one probe.
type Result struct {
	Instance string
	// Check is the index of the check in the app's health_checks.
	Check   int
	OK      bool
	Message string
	Time    time.Time
}

// Runner probes instances periodically and reports every result. Report
// is called from the runner's goroutines; it may block briefly, but it
// must not call Watch, Unwatch or Close.
type Runner struct {
	report func(Result)

	mu      sync.Mutex
	watches map[string]context.CancelFunc
	closed  bool
	wg      sync.WaitGroup
}

// NewRunner returns a runner that sends results to report.
func NewRunner(report func(Result)) *Runner {
	return &Runner{report: report, watches: map[string]context.CancelFunc{}}
}

// Watch starts probing instance id with checks against t: each check at
// once and then every Interval. Checks the agent runs (COMMAND) are
// skipped; results name a check by its index in checks. It replaces an
// earlier watch of id.
func (r *Runner) Watch(id string, checks []spec.HealthCheck, t Target) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if cancel := r.watches[id]; cancel != nil {
		cancel()
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.watches[id] = cancel
	for i, c := range checks {
		if RunByAgent(c) {
			continue
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.loop(ctx, id, i, c, t)
		}()
	}
}

func (r *Runner) loop(ctx context.Context, id string, idx int, c spec.HealthCheck, t Target) {
	interval := c.Interval.D()
	if interval <= 0 {
		interval = spec.DefaultInterval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		err := Probe(ctx, c, t)
		if ctx.Err() != nil {
			return
		}
		res := Result{Instance: id, Check: idx, OK: err == nil, Time: time.Now()}
		if err != nil {
			res.Message = err.Error()
		}
		r.report(res)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Unwatch stops probing id. It does not wait for a probe in flight; a
// result may still be reported after it returns.
func (r *Runner) Unwatch(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cancel := r.watches[id]; cancel != nil {
		cancel()
		delete(r.watches, id)
	}
}

// Watching reports whether id is being probed.
func (r *Runner) Watching(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.watches[id] != nil
}

// Close stops every watch and waits for the probes to end. It is safe to
// call twice.
func (r *Runner) Close() {
	r.mu.Lock()
	r.closed = true
	for id, cancel := range r.watches {
		cancel()
		delete(r.watches, id)
	}
	r.mu.Unlock()
	r.wg.Wait()
}
