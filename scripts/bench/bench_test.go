package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// TestMain lets the test binary serve as `agora bench agents`, so that the
// child-process path is tested too.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "bench" && os.Args[2] == "agents" {
		app := &cli.App{Name: "agora", Commands: []*cli.Command{Command()}}
		if err := app.Run(os.Args); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	flag.Parse()
	os.Exit(m.Run())
}

// tiny returns a scenario's options scaled down for a unit test.
func tiny(t *testing.T, s Scenario) Options {
	o := DefaultOptions(s)
	o.Agents, o.Frameworks, o.Tasks = 5, 2, 50
	o.Samples, o.Concurrency = 30, 2
	o.Dir = t.TempDir()
	o.Fast = true
	o.Timeout = 60 * time.Second
	o.Logger = sdktest.TestLogger(t)
	o.AgentProcs = 0
	return o
}

func run(t *testing.T, o Options) *Result {
	t.Helper()
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run(%s): %v", o.Scenario, err)
	}
	if res.Scenario != o.Scenario || len(res.Figures) == 0 {
		t.Fatalf("result of %s: scenario %s, %d figures", o.Scenario, res.Scenario, len(res.Figures))
	}
	var table, js bytes.Buffer
	if err := res.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Figures {
		if !strings.Contains(table.String(), f.Name) {
			t.Errorf("table lacks figure %q:\n%s", f.Name, table.String())
		}
	}
	if err := res.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Scenario != o.Scenario {
		t.Fatalf("JSON does not read back (%v):\n%s", err, js.String())
	}
	t.Logf("\n%s", table.String())
	return res
}

func TestOffers(t *testing.T) {
	o := tiny(t, ScenarioOffers)
	r := run(t, o).Offers
	if r == nil || r.Latency.N+r.Missed != o.Samples {
		t.Fatalf("offers: %+v; want %d samples in all", r, o.Samples)
	}
	if r.Missed != 0 || r.Latency.Min <= 0 || r.Latency.P50 > r.Latency.P99 || r.Latency.P99 > r.Latency.Max {
		t.Fatalf("offers latency: %+v (missed %d)", r.Latency, r.Missed)
	}
	if r.MasterOfferLatency.Count == 0 || r.AllocationPass.Count == 0 {
		t.Fatalf("master histograms not read: %+v %+v", r.MasterOfferLatency, r.AllocationPass)
	}
}

// TestOffersRateLimited: samples whose DECLINE the master refuses as over
// the framework's call rate are counted apart, and their offers still go
// back: every other sample is taken.
func TestOffersRateLimited(t *testing.T) {
	o := tiny(t, ScenarioOffers)
	o.masterConfig = func(mc *master.Config) { mc.CallRate, mc.CallBurst = 50, 5 }
	res := run(t, o)
	r := res.Offers
	if r == nil || r.Latency.N+r.Missed != o.Samples {
		t.Fatalf("offers: %+v; want %d samples in all", r, o.Samples)
	}
	if r.RateLimited == 0 || r.RateLimited != r.Missed || r.Latency.N == 0 {
		t.Fatalf("%d samples, %d missed, %d of them rate limited; want some of each, and every miss a rate-limited DECLINE", r.Latency.N, r.Missed, r.RateLimited)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "call rate") {
		t.Fatalf("notes do not explain the missed samples: %q", res.Notes)
	}
}

func TestLaunch(t *testing.T) {
	o := tiny(t, ScenarioLaunch)
	r := run(t, o).Launch
	c := r.Tasks
	if c.Created != o.Tasks || c.Launched != o.Tasks || c.Running != o.Tasks || c.Refused != 0 || c.Duplicated != 0 || c.NotLaunched != 0 {
		t.Fatalf("launch counts: %+v; want all %d launched and running", c, o.Tasks)
	}
	if r.Latency.N != o.Tasks || r.TasksPerSecond <= 0 || r.Seconds <= 0 {
		t.Fatalf("launch figures: %+v", r)
	}
}

func TestFailover(t *testing.T) {
	o := tiny(t, ScenarioFailover)
	o.Failovers, o.Rate, o.Duration, o.TaskDuration = 1, 100, 500*time.Millisecond, 200*time.Millisecond
	r := run(t, o).Failover
	if len(r.Samples) != 1 {
		t.Fatalf("failover samples: %+v", r.Samples)
	}
	s := r.Samples[0]
	if s.NewTerm <= s.OldTerm || s.ElectedMS <= 0 || s.OffersResumeMS <= 0 || s.AgentsReregisteredMS <= 0 || s.LaunchesResumeMS <= 0 {
		t.Fatalf("failover sample: %+v", s)
	}
	c := r.Tasks
	if c.Created == 0 || c.Lost != 0 || c.Duplicated != 0 || c.NotLaunched != 0 || c.Terminal != c.Launched || c.Launched != c.Created {
		t.Fatalf("failover counts: %+v; want every task launched and ended, none lost or duplicated", c)
	}
	if c.EndStates[wire.TaskFinished] != c.Terminal {
		t.Fatalf("failover end states: %v; want all FINISHED", c.EndStates)
	}
}

func TestScale(t *testing.T) {
	o := tiny(t, ScenarioScale)
	o.Masters, o.Duration, o.Revives = 3, time.Second, 2
	// Agents in two child processes: this test binary, as `bench agents`.
	o.AgentProcs, o.Executable = 2, os.Args[0]
	o.AgentNice = 5
	r := run(t, o).Scale
	if r.Steady.AgentProcsNice != 5 {
		t.Fatalf("agent processes ran at niceness %d, want 5 (--agent-nice)", r.Steady.AgentProcsNice)
	}
	if r.Agents != o.Agents || r.RunningTasks != o.Tasks || r.Tasks.Duplicated != 0 {
		t.Fatalf("scale: %d agents, %d running, %+v", r.Agents, r.RunningTasks, r.Tasks)
	}
	if r.Steady.RSSMB <= 0 || r.Steady.CPUCores < 0 || r.Steady.AgentProcsRSSMB <= 0 || r.Steady.IntervalSeconds < 1 {
		t.Fatalf("steady usage: %+v", r.Steady)
	}
	if r.ReviveToOffers.N != o.Revives || r.OffersPerPass != o.Agents {
		t.Fatalf("revive probes: %+v, %d offers per pass; want %d probes of %d offers", r.ReviveToOffers, r.OffersPerPass, o.Revives, o.Agents)
	}
	if r.AllocationPass.Count == 0 {
		t.Fatalf("no allocation passes read in the steady interval")
	}
	if f := r.Failover; f == nil || f.NewTerm <= f.OldTerm || f.AgentsReregisteredMS <= 0 {
		t.Fatalf("scale failover: %+v", r.Failover)
	}
}

// TestScaleAttached runs the scale scenario against a cluster it did not
// start: the steady usage is the leader's, read from its /metrics, not the
// benchmark process's.
func TestScaleAttached(t *testing.T) {
	c := sdktest.Start(t) // one master, no agents: the benchmark brings them
	o := tiny(t, ScenarioScale)
	o.Duration, o.Revives = time.Second, 1
	o.NATSURLs, o.MastersHTTP = c.NATSURLs(), []string{c.Leader().HTTPAddr()}
	r := run(t, o).Scale
	if r.Agents != o.Agents || r.RunningTasks != o.Tasks {
		t.Fatalf("scale attached: %d agents, %d running", r.Agents, r.RunningTasks)
	}
	st := r.Steady
	if !strings.HasPrefix(st.What, "the leader master's process") {
		t.Fatalf("steady usage covers %q; want the leader's process", st.What)
	}
	if st.RSSMB <= 0 || st.MaxRSSMB < st.RSSMB || st.HeapInuseMB <= 0 || st.StackInuseMB <= 0 || st.Goroutines <= 0 || st.CPUCores < 0 {
		t.Fatalf("steady usage from the leader's /metrics: %+v", st)
	}
}

// signalWriter closes seen the first time what is written contains want.
type signalWriter struct {
	want string
	once sync.Once
	seen chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

// TestScaleAttachedLeaderKilled: a leader killed from outside during the
// steady interval of an attached run; the result says when every agent
// was registered with the next leader.
func TestScaleAttachedLeaderKilled(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(3))
	o := tiny(t, ScenarioScale)
	o.Duration, o.Revives = 5*time.Second, 1
	o.AgentProcs, o.Executable = 2, os.Args[0] // child processes record the tenths
	o.NATSURLs = c.NATSURLs()
	for _, m := range c.Masters() {
		o.MastersHTTP = append(o.MastersHTTP, m.HTTPAddr())
	}
	steady := &signalWriter{want: "steady interval", seen: make(chan struct{})}
	o.Progress = steady
	type outcome struct {
		res *Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := Run(context.Background(), o)
		done <- outcome{res, err}
	}()
	var killedAt time.Time
	select {
	case <-steady.seen:
		killedAt = time.Now()
		c.KillLeader()
	case out := <-done:
		t.Fatalf("the run ended before its steady interval: %v", out.err)
	}
	out := <-done
	if out.err != nil {
		t.Fatal(out.err)
	}
	st := out.res.Scale.Steady
	if st.LeaderChanges == 0 || len(st.AllRegisteredAt) == 0 {
		t.Fatalf("leader killed during the steady interval: %d leader changes, all registered at %v", st.LeaderChanges, st.AllRegisteredAt)
	}
	for term, at := range st.AllRegisteredAt {
		if at.Before(killedAt) {
			t.Fatalf("term %d: every agent registered at %v, before the kill at %v", term, at, killedAt)
		}
		tenths := st.RegisteredTenths[term]
		if len(tenths) != 10 || !tenths[9].Equal(at) {
			t.Fatalf("term %d: tenths registered at %v; want 10 ending when all were (%v)", term, tenths, at)
		}
		for i, ti := range tenths {
			if ti.Before(killedAt) || i > 0 && ti.Before(tenths[i-1]) {
				t.Fatalf("term %d: tenths registered at %v: not in order after the kill at %v", term, tenths, killedAt)
			}
		}
	}
}

// TestTenths: a tenth is reached once n/total reaches it, and stays.
func TestTenths(t *testing.T) {
	var r tenths
	r.note(0, 3, 1)
	r.note(1, 3, 2) // 33%: the first 3 tenths
	r.note(2, 3, 3) // 67%: up to 6
	r.note(1, 3, 4) // fewer again: nothing changes
	r.note(3, 3, 5)
	want := tenths{2, 2, 2, 3, 3, 3, 5, 5, 5, 5}
	if r != want {
		t.Fatalf("tenths %v, want %v", r, want)
	}
}

func TestMetricsSample(t *testing.T) {
	page := `process_resident_memory_bytes 1.048576e+08
process_cpu_seconds_total 12.5
go_memstats_heap_inuse_bytes 4.194304e+07
go_memstats_heap_idle_bytes 3.145728e+07
go_memstats_heap_released_bytes 1.048576e+07
go_memstats_stack_inuse_bytes 2.097152e+06
go_memstats_sys_bytes 1.2e+08
go_goroutines 42
`
	_, plain := parseMetrics(strings.NewReader(page))
	s, err := metricsSample(time.Unix(10, 0), plain)
	if err != nil {
		t.Fatal(err)
	}
	if mb(s.rss) != 100 || s.cpu != 12.5 || mb(s.mem.HeapInuse) != 40 || mb(s.mem.HeapIdle-s.mem.HeapReleased) != 20 || mb(s.mem.StackInuse) != 2 || s.goroutines != 42 {
		t.Fatalf("sample from /metrics: %+v", s)
	}
	delete(plain, "go_goroutines")
	if _, err := metricsSample(time.Now(), plain); err == nil || !strings.Contains(err.Error(), "go_goroutines") {
		t.Fatalf("a page without go_goroutines: %v", err)
	}
}

func TestReal(t *testing.T) {
	for _, via := range []string{RealViaSDK, RealViaBatch} {
		t.Run(via, func(t *testing.T) {
			o := tiny(t, ScenarioReal)
			o.Tasks, o.RealVia = 20, via
			r := run(t, o).Real
			if r.Via != via || r.Tasks != o.Tasks || r.Succeeded != o.Tasks || r.Failed != 0 || r.TasksPerSecond <= 0 {
				t.Fatalf("real via %s: %+v", via, r)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, s := range Scenarios {
		o := DefaultOptions(s)
		if err := o.Validate(); err != nil {
			t.Errorf("defaults of %s: %v", s, err)
		}
	}
	bad := map[string]func(*Options){
		"scenario":   func(o *Options) { o.Scenario = "nope" },
		"masters":    func(o *Options) { o.Masters = 2 },
		"failover 1": func(o *Options) { o.Scenario, o.Masters, o.TaskHang = ScenarioFailover, 1, false },
		"attach failover": func(o *Options) {
			o.Scenario, o.Masters, o.NATSURLs, o.MastersHTTP = ScenarioFailover, 3, []string{"nats://x"}, []string{"x:1"}
		},
		"attach no http":  func(o *Options) { o.NATSURLs = []string{"nats://x"} },
		"task too big":    func(o *Options) { o.TaskResources = wire.Resources{CPUs: 1000, MemMB: 1} },
		"no agents":       func(o *Options) { o.Agents = 0 },
		"nice 20":         func(o *Options) { o.AgentProcs, o.AgentNice = 2, 20 },
		"nice in process": func(o *Options) { o.AgentNice = 10 }, // launch: 1,000 agents, in this process
	}
	for name, f := range bad {
		o := DefaultOptions(ScenarioLaunch)
		f(&o)
		if err := o.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, o)
		}
	}
}

func TestAgentProcsAuto(t *testing.T) {
	for _, tc := range []struct{ agents, want int }{{5, 0}, {MaxAgentsInProcess, 0}, {MaxAgentsInProcess + 1, 1}, {10000, 3}} {
		o := DefaultOptions(ScenarioScale)
		o.Agents = tc.agents
		if got := o.agentProcs(); got != tc.want {
			t.Errorf("%d agents: %d processes, want %d", tc.agents, got, tc.want)
		}
	}
}

func TestFitCount(t *testing.T) {
	have := wire.Resources{CPUs: 0.3, MemMB: 1000}
	if n := fitCount(have, wire.Resources{CPUs: 0.1, MemMB: 100}); n != 3 {
		t.Fatalf("fitCount: %d, want 3", n)
	}
	if n := fitCount(have, wire.Resources{CPUs: 0.1, MemMB: 400}); n != 2 {
		t.Fatalf("fitCount: %d, want 2", n)
	}
}

func TestSummarize(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	l := Summarize(d)
	if l.N != 100 || l.Min != 1 || l.P50 != 50 || l.P90 != 90 || l.P99 != 99 || l.Max != 100 || l.Mean != 50.5 {
		t.Fatalf("Summarize: %+v", l)
	}
	if (Summarize(nil) != Latency{}) {
		t.Fatal("Summarize(nil) is not zero")
	}
}

func TestParseMetrics(t *testing.T) {
	page := `# HELP x_seconds a histogram
# TYPE x_seconds histogram
x_seconds_bucket{le="0.001"} 5
x_seconds_bucket{le="0.01"} 9
x_seconds_bucket{le="+Inf"} 10
x_seconds_sum 0.05
x_seconds_count 10
y_total 3
z{label="a"} 7
`
	h, plain := parseMetrics(strings.NewReader(page))
	x := h["x_seconds"]
	if x == nil || x.count != 10 || len(x.buckets) != 3 || plain["y_total"] != 3 {
		t.Fatalf("parsed: %+v %v", x, plain)
	}
	s := x.summary()
	if s.Count != 10 || s.MeanMS != 5 || s.P50LeMS != 1 || s.P99LeMS != -1 {
		t.Fatalf("summary: %+v", s)
	}
	earlier := &histogram{count: 5, sum: 0.001, buckets: []bucket{{0.001, 5}, {0.01, 5}, {x.buckets[2].le, 5}}}
	d := x.minus(earlier).summary()
	if d.Count != 5 || d.P50LeMS != 10 || d.P99LeMS != -1 {
		t.Fatalf("delta: %+v", d)
	}
}

// flagOptions runs `agora bench` with args and returns the options its
// flags make.
func flagOptions(args ...string) (Options, error) {
	var got Options
	cmd := Command()
	cmd.Action = func(c *cli.Context) error {
		var err error
		got, err = optionsFromFlags(c)
		return err
	}
	app := &cli.App{Name: "agora", Commands: []*cli.Command{cmd}}
	err := app.Run(append([]string{"agora", "bench"}, args...))
	return got, err
}

func TestFlags(t *testing.T) {
	got, err := flagOptions("--scenario", "offers", "--agents", "7", "--task-duration", "3s",
		"--nats", "nats://a:1, nats://b:2", "--masters-http", "a:5050", "--agent-resources", "cpus:2;mem:512")
	if err != nil {
		t.Fatal(err)
	}
	if got.Scenario != ScenarioOffers || got.Agents != 7 || got.Frameworks != 10 || got.TaskHang || got.TaskDuration != 3*time.Second ||
		len(got.NATSURLs) != 2 || got.NATSURLs[1] != "nats://b:2" || got.AgentResources.CPUs != 2 {
		t.Fatalf("options from flags: %+v", got)
	}
	if _, err := flagOptions("--task-duration", "soon"); err == nil {
		t.Fatal("a bad --task-duration was accepted")
	}
}
