package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/agora-cluster/agora/framework/batch"
	"github.com/agora-cluster/agora/framework/batch/api"
	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/framework/batch/spec"
)

// Ways the real scenario can run its tasks.
const (
	// RealViaBatch submits one job of M instances to the bundled batch
	// framework (framework/batch), with its state store fsynced as in
	// production.
	RealViaBatch = "batch"
	// RealViaSDK launches the tasks with the benchmark's own SDK
	// framework (no store), to separate the framework's cost from the
	// agent's.
	RealViaSDK = "sdk"
)

// RealResult is what the real scenario measured.
type RealResult struct {
	// Via is how tasks were launched: "batch" or "sdk".
	Via       string `json:"via"`
	Tasks     int    `json:"tasks"`
	Succeeded int    `json:"succeeded"`
	Failed    int    `json:"failed"`
	// Seconds is from the run's creation (batch) or the first ACCEPT
	// (sdk) to the last task's end.
	Seconds        float64 `json:"seconds"`
	TasksPerSecond float64 `json:"tasks_per_second"`
	// Attempts counts task attempts (batch retries failed ones).
	Attempts int `json:"attempts,omitempty"`
	// Message explains a run that did not succeed.
	Message string `json:"message,omitempty"`
}

func runReal(ctx context.Context, e *env, prof *profiler, res *Result) error {
	var r *RealResult
	var err error
	if e.opts.RealVia == RealViaSDK {
		r, err = realViaSDK(ctx, e, prof)
	} else {
		r, err = realViaBatch(ctx, e, prof)
	}
	if err != nil {
		return err
	}
	res.Real = r
	res.figure("/bin/true tasks succeeded", float64(r.Succeeded), fmt.Sprintf("of %d (via %s)", r.Tasks, r.Via), "", nil)
	res.figure("wall time", r.Seconds, "s", "", nil)
	res.figure("throughput", r.TasksPerSecond, "tasks/s", "as fast as the machine forks", nil)
	return nil
}

func realViaBatch(ctx context.Context, e *env, prof *profiler) (*RealResult, error) {
	o := e.opts
	s, err := batch.Start(ctx, batch.Config{
		NATSURLs: e.natsURLs,
		DataDir:  filepath.Join(e.dir, "batch"),
		HTTPAddr: "127.0.0.1:0",
		Logger:   e.log,
	})
	if err != nil {
		return nil, fmt.Errorf("bench: start the batch framework: %w", err)
	}
	defer s.Stop()
	job, err := json.Marshal(map[string]any{
		"name": "bench", "args": []string{"/bin/true"}, "instances": o.Tasks,
		"resources": map[string]float64{"cpus": o.TaskResources.CPUs, "mem": o.TaskResources.MemMB},
	})
	if err != nil {
		return nil, err
	}
	cl := api.NewClient(s.Addr())
	if _, err := cl.Submit(ctx, job, spec.JSON, true); err != nil {
		return nil, fmt.Errorf("bench: submit: %w", err)
	}
	if err := prof.start(); err != nil {
		return nil, err
	}
	defer prof.stop()
	ref, err := cl.Trigger(ctx, "bench")
	if err != nil {
		return nil, fmt.Errorf("bench: trigger: %w", err)
	}
	var st record.RunStatus
	for st.Run.ID == 0 || !st.Run.State.Terminal() {
		if st, err = cl.Run(ctx, ref.ID, false, time.Second); err != nil {
			return nil, fmt.Errorf("bench: run %d: %w", ref.ID, err)
		}
		p := st.Progress
		e.prog.set(false, "batch run %d: %d succeeded, %d running, %d waiting, %d failed", ref.ID, p.Succeeded, p.Running, p.Waiting, p.Failed)
	}
	prof.stop()
	r := &RealResult{Via: RealViaBatch, Tasks: o.Tasks, Succeeded: st.Progress.Succeeded, Failed: st.Progress.Failed,
		Attempts: st.Progress.Attempts}
	if st.Run.State != record.RunSucceeded {
		r.Message = fmt.Sprintf("run %s: %s", st.Run.State, st.Run.Message)
	}
	if span := st.Run.Finished.Sub(st.Run.Created); span > 0 {
		r.Seconds = round3(span.Seconds())
		r.TasksPerSecond = round3(float64(r.Succeeded) / span.Seconds())
	}
	return r, nil
}

func realViaSDK(ctx context.Context, e *env, prof *profiler) (*RealResult, error) {
	o := e.opts
	t := newTracker()
	fws, stop, err := startOffered(ctx, e, t, 1, false)
	if err != nil {
		return nil, err
	}
	defer stop()
	if err := prof.start(); err != nil {
		return nil, err
	}
	defer prof.stop()
	fws[0].addTasks(o.Tasks)
	c := t.taskCounts(true)
	err = poll(ctx, o.Timeout, func() bool {
		cn := t.counts()
		e.prog.set(false, "sdk: %d of %d /bin/true tasks ended", cn.terminal, o.Tasks)
		return cn.terminal+cn.refused >= o.Tasks
	})
	prof.stop()
	c = t.taskCounts(true)
	if err != nil {
		return nil, fmt.Errorf("bench: %d of %d tasks ended: %w", c.Terminal, o.Tasks, err)
	}
	r := &RealResult{Via: RealViaSDK, Tasks: o.Tasks, Succeeded: c.EndStates["TASK_FINISHED"]}
	r.Failed = c.Terminal - r.Succeeded
	t.mu.Lock()
	span := t.lastEnd.Sub(t.firstAccept)
	t.mu.Unlock()
	if span > 0 {
		r.Seconds = round3(span.Seconds())
		r.TasksPerSecond = round3(float64(r.Succeeded) / span.Seconds())
	}
	return r, nil
}
