package bench

import (
	"context"
	"fmt"
	"time"
)

// LaunchResult is what the launch scenario measured.
type LaunchResult struct {
	Tasks TaskCounts `json:"tasks"`
	// Seconds is from the first ACCEPT to the last task's TASK_RUNNING.
	Seconds float64 `json:"seconds"`
	// TasksPerSecond is tasks that reached TASK_RUNNING per second over
	// Seconds.
	TasksPerSecond float64 `json:"tasks_per_second"`
	// Latency is from the ACCEPT that carried a task to its TASK_RUNNING
	// update reaching the framework (the SDK acknowledges it as the
	// callback returns).
	Latency Latency `json:"latency"`
	// AllocationPass is the master's allocation pass histogram over the
	// run.
	AllocationPass HistogramSummary `json:"allocation_pass"`
}

func runLaunch(ctx context.Context, e *env, prof *profiler, res *Result) error {
	o := e.opts
	t := newTracker()
	fws, stop, err := startOffered(ctx, e, t, o.Frameworks, e.cl == nil)
	if err != nil {
		return err
	}
	defer stop()
	h0, _, _ := e.leaderMetrics(ctx)
	if err := prof.start(); err != nil {
		return err
	}
	r, err := launchAll(ctx, e, t, fws, o.Tasks, "launch")
	prof.stop()
	if err != nil {
		return err
	}
	if h1, _, err := e.leaderMetrics(ctx); err == nil {
		r.AllocationPass = h1["agora_master_allocation_pass_seconds"].minus(h0["agora_master_allocation_pass_seconds"]).summary()
	}
	r.Tasks = t.taskCounts(false)
	res.Launch = r
	res.figure("tasks accepted → RUNNING", float64(r.Tasks.Running), fmt.Sprintf("of %d", o.Tasks), "", nil)
	res.figure("launch throughput", r.TasksPerSecond, "tasks/s", "≥ 20,000 tasks/s (1,000 agents)", ptr(r.TasksPerSecond >= 20000))
	res.figure("ACCEPT → RUNNING p50", r.Latency.P50, "ms", "", nil)
	res.figure("ACCEPT → RUNNING p99", r.Latency.P99, "ms", "", nil)
	res.figure("ACCEPT → RUNNING max", r.Latency.Max, "ms", "", nil)
	return nil
}

// launchAll queues n tasks over the frameworks, waits until all of them
// reached TASK_RUNNING (or ended) and returns throughput and latency.
func launchAll(ctx context.Context, e *env, t *tracker, fws []*framework, n int, what string) (*LaunchResult, error) {
	for i, f := range fws {
		share := n / len(fws)
		if i < n%len(fws) {
			share++
		}
		f.addTasks(share)
	}
	start := time.Now()
	c := t.counts()
	err := poll(ctx, e.opts.Timeout, func() bool {
		c = t.counts()
		el := time.Since(start).Seconds()
		e.prog.set(false, "%s: running %d/%d  %.0f tasks/s  (%s)", what, c.running, n, float64(c.running)/el, t.diag(fws))
		return c.running+c.refused >= n
	})
	if err != nil {
		return nil, fmt.Errorf("bench: %d of %d tasks running: %w", c.running, n, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	r := &LaunchResult{Latency: Summarize(append([]time.Duration(nil), t.runLatency...))}
	if span := t.lastRunning.Sub(t.firstAccept); span > 0 {
		r.Seconds = round3(span.Seconds())
		r.TasksPerSecond = round3(float64(t.running) / span.Seconds())
	}
	return r, nil
}
