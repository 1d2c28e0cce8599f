package batch

import (
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
// 1,000 simulated agents. Each iteration is one run of the job; the
// state file is fsynced as in production. Run it with
//
//	go test -run '^$' -bench SubmitToFinished -benchtime 1x ./framework/batch/
//
// and read tasks/s and s/run.
func BenchmarkSubmitToFinished(b *testing.B) {
	b.Run("real-agent-5000-true", func(b *testing.B) {
		c := benchCluster(b, 1, "cpus:8;mem:16384;disk:100000", false)
		benchRuns(b, c, `{"name": "bench", "args": ["/bin/true"], "instances": 5000,
			"resources": {"cpus": 0.1, "mem": 16}}`)
	})
	b.Run("sim-1000-agents-5000", func(b *testing.B) {
		c := benchCluster(b, 1000, "cpus:4;mem:4096", true)
		benchRuns(b, c, `{"name": "bench", "command": "true", "instances": 5000,
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

func benchRuns(b *testing.B, c *sdktest.Cluster, job string) {
	s, err := Start(b.Context(), Config{NATSURLs: c.NATSURLs(), DataDir: b.TempDir(), HTTPAddr: "127.0.0.1:0", Logger: sdktest.TestLogger(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Stop()
	cl := api.NewClient(s.Addr())
	ctx := b.Context()
	if _, err := cl.Submit(ctx, []byte(job), spec.JSON, true); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	tasks := 0
	for range b.N {
		ref, err := cl.Trigger(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		var st record.RunStatus
		for st.Run.ID == 0 || !st.Run.State.Terminal() {
			if st, err = cl.Run(ctx, ref.ID, false, time.Second); err != nil {
				b.Fatal(err)
			}
		}
		if st.Run.State != record.RunSucceeded {
			b.Fatalf("run %d %s: %s", ref.ID, st.Run.State, st.Run.Message)
		}
		tasks += st.Progress.Succeeded
		if full, err := cl.Run(ctx, ref.ID, true, 0); err == nil {
			logTimeline(b, full)
		}
		b.Logf("run %d: %d tasks in %s (%d attempts)", ref.ID, st.Progress.Succeeded, st.Run.Finished.Sub(st.Run.Created), st.Progress.Attempts)
	}
	el := time.Since(start)
	b.ReportMetric(float64(tasks)/el.Seconds(), "tasks/s")
	b.ReportMetric(el.Seconds()/float64(b.N), "s/run")
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
