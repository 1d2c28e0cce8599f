package batch

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/batch/api"
	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/framework/batch/spec"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// BenchmarkSubmitToFinished measures a job of 5,000 tasks from submit to
// all finished, (a) running /bin/true on one real local agent and (b) on
// 1,000 simulated agents. Each iteration submits a new job through the
// HTTP API (which starts its run) and waits until the run has ended; the
// state file is fsynced as in production. Run it with
//
//	go test -run '^$' -bench SubmitToFinished -benchtime 1x ./framework/batch/
//
// It reports
//
//   - s/submit-to-finished and tasks/s: wall time from sending the submit
//     request until the client sees the run ended (all tasks finished);
//   - s/created-to-finished: the run's own span, from its creation to its
//     end as the framework recorded them (what `agora bench --scenario
//     real --real-via batch` reports), without the submit request and
//     the client's polling.
func BenchmarkSubmitToFinished(b *testing.B) {
	b.Run("real-agent-5000-true", func(b *testing.B) {
		c := benchCluster(b, 1, "cpus:8;mem:16384;disk:100000", false)
		benchRuns(b, c, `{"name": %q, "args": ["/bin/true"], "instances": 5000,
			"resources": {"cpus": 0.1, "mem": 16}}`)
	})
	b.Run("sim-1000-agents-5000", func(b *testing.B) {
		c := benchCluster(b, 1000, "cpus:4;mem:4096", true)
		benchRuns(b, c, `{"name": %q, "command": "true", "instances": 5000,
			"resources": {"cpus": 0.1, "mem": 16}, "simulate": {"duration": "0s"}}`)
	})
}

// benchCluster starts a cluster with production timings (sdktest.Start
// uses test timings: 100 ms agent heartbeats, too many for 1,000 agents
// on a small machine).
func benchCluster(b *testing.B, agents int, res string, sim bool) *sdktest.Cluster {
	r, err := wire.ParseResources(res)
	if err != nil {
		b.Fatal(err)
	}
	cfg := sdktest.Config{Masters: 1, Simulated: sim, Dir: b.TempDir(), Logger: sdktest.TestLogger(b)}
	for range agents {
		cfg.AgentResources = append(cfg.AgentResources, r)
	}
	c, err := sdktest.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	if _, err := c.WaitLeader(30 * time.Second); err != nil {
		b.Fatal(err)
	}
	if err := c.WaitAgentsRegistered(60 * time.Second); err != nil {
		b.Fatal(err)
	}
	return c
}

// benchRuns submits job (a JSON spec with %q for the name) once per
// iteration under a new name and waits for the run it starts to end.
func benchRuns(b *testing.B, c *sdktest.Cluster, job string) {
	s, err := Start(b.Context(), Config{NATSURLs: c.NATSURLs(), DataDir: b.TempDir(), HTTPAddr: "127.0.0.1:0", Logger: sdktest.TestLogger(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Stop()
	cl := api.NewClient(s.Addr())
	ctx := b.Context()
	b.ResetTimer()
	var wall, span time.Duration
	tasks := 0
	for i := range b.N {
		start := time.Now()
		res, err := cl.Submit(ctx, fmt.Appendf(nil, job, fmt.Sprint("bench-", i)), spec.JSON, false)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Runs) != 1 {
			b.Fatalf("submit started %d runs, want 1", len(res.Runs))
		}
		id := res.Runs[0].ID
		var st record.RunStatus
		for st.Run.ID == 0 || !st.Run.State.Terminal() {
			if st, err = cl.Run(ctx, id, false, time.Second); err != nil {
				b.Fatal(err)
			}
		}
		took := time.Since(start)
		if st.Run.State != record.RunSucceeded {
			b.Fatalf("run %d %s: %s", id, st.Run.State, st.Run.Message)
		}
		wall += took
		span += st.Run.Finished.Sub(st.Run.Created)
		tasks += st.Progress.Succeeded
		b.StopTimer()
		if full, err := cl.Run(ctx, id, true, 0); err == nil {
			logTimeline(b, full)
		}
		b.StartTimer()
		b.Logf("run %d: %d tasks; submit → all finished %s; run created → finished %s (%d attempts)",
			id, st.Progress.Succeeded, took.Round(time.Millisecond), st.Run.Finished.Sub(st.Run.Created).Round(time.Millisecond), st.Progress.Attempts)
	}
	b.ReportMetric(float64(tasks)/wall.Seconds(), "tasks/s")
	b.ReportMetric(wall.Seconds()/float64(b.N), "s/submit-to-finished")
	b.ReportMetric(span.Seconds()/float64(b.N), "s/created-to-finished")
}

// logTimeline logs when tasks were launched and finished, relative to
// the run's start (percentiles).
func logTimeline(b *testing.B, st record.RunStatus) {
	var launched, finished []time.Duration
	why := map[string]int{}
	for _, a := range st.Attempts {
		if a.State != record.AttemptSucceeded {
			msg := a.Message
			if len(msg) > 60 {
				msg = msg[:60]
			}
			why[string(a.State)+" "+string(a.TaskState)+" "+string(a.Reason)+" "+msg]++
		}
		launched = append(launched, a.Launched.Sub(st.Run.Created))
		finished = append(finished, a.Finished.Sub(st.Run.Created))
	}
	sort.Slice(launched, func(i, j int) bool { return launched[i] < launched[j] })
	sort.Slice(finished, func(i, j int) bool { return finished[i] < finished[j] })
	pct := func(d []time.Duration, p int) time.Duration {
		if len(d) == 0 {
			return 0
		}
		return d[min(len(d)-1, len(d)*p/100)].Round(time.Millisecond)
	}
	for k, n := range why {
		b.Logf("%6d %s", n, k)
	}
	b.Logf("launched p10 %s p50 %s p90 %s p100 %s; finished p10 %s p50 %s p90 %s p100 %s",
		pct(launched, 10), pct(launched, 50), pct(launched, 90), pct(launched, 100),
		pct(finished, 10), pct(finished, 50), pct(finished, 90), pct(finished, 100))
}
